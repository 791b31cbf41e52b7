// The plan's state, shared by the tracer (dnnl_plan.cc) and the primitive builders
// (dnnl_ops.cc). Every value has a slot: either oneDNN memory in a persistent buffer (its
// layout may be blocked) or a plain Value (graph inputs, values the reference interpreter
// produced). Steps are closures recorded while tracing; each runs once when recorded, so the
// trace itself computes the first run's results.
#pragma once

#include <deque>

#include "backends/dnnl_internal.h"

namespace concord::dnnl_internal {

using dnnl::memory;

struct Plan::Impl {
  Impl(const Rewritten& rw, const dnnl::engine& engine, bool keep_all);

  struct Slot {
    std::string name;
    bool in_dnnl = false;  // mem holds it (else plain)
    memory mem;
    Value plain;  // this run's plain value (graph inputs, ref outputs, copies)
    bool plain_valid = false;
    bool produced = false;  // by a step (tapped), not a graph input or constant
    // Reorders of this value into other layouts already recorded: (layout, buffer).
    std::vector<std::pair<memory::desc, memory>> converted;
    memory view;  // plain view over `plain`, rebound on each run
  };

  const Rewritten& rw;
  dnnl::engine engine;
  dnnl::stream stream;
  bool keep_all;
  std::vector<Slot> slots;
  std::unordered_map<std::string, int> ids;
  std::unordered_map<std::string, int> remaining_uses;  // groups still to read each value
  std::vector<void*> aliased;                           // buffers shared by several values
  std::vector<std::function<void()>> steps;
  std::deque<Tensor> owned;  // constants derived while planning (Gemm weights, zero biases)
  int primitives = 0, fallback_nodes = 0;

  const onnx::NodeProto& node(int i) const { return rw.model->graph().node(i); }
  int Id(const std::string& name);  // the slot of a value (created on first use)
  bool Known(const std::string& name) const;
  bool IsConstant(const std::string& name) const { return rw.constants.count(name) > 0; }
  const Tensor* Constant(const std::string& name) const;
  // A value's dims and whether it is a float32 tensor (slots, then constants).
  bool F32(const std::string& name) const;
  Shape Dims(const std::string& name) const;

  // Records a step and runs it once (the trace).
  void Step(std::function<void()> fn);
  // Executes a primitive in a recorded step.
  void Exec(dnnl::primitive prim, std::unordered_map<int, memory> args);
  // The value as oneDNN memory in layout `want` (recording a bind or reorder step when needed).
  memory Need(const std::string& name, const memory::desc& want);
  // The value's current layout (plain for plain slots), for ops that keep their input's layout.
  memory::desc LayoutOf(const std::string& name);
  // A constant as persistent memory in layout `want` (reordered once, now).
  memory ConstMem(const Tensor& t, const memory::desc& want, const Shape& dims);
  // A new persistent buffer holding `name`.
  memory Output(const std::string& name, const memory::desc& md);
  // `name` made to share `src`'s buffer with dims `dims` (a view op on a plain layout).
  void Alias(const std::string& name, const memory& src, const Shape& dims);
  // The value as a plain Value for this run (reorders a oneDNN value out on first use).
  const Value& Plain(const std::string& name);
  // True when no group after the current one reads `name`, and it is not kept for taps.
  bool DeadAfter(const std::string& name) const;
};

// Plain (row-major) layout of float32 dims: a, ab, abc, abcd, ...
memory::desc PlainMd(const Shape& dims);
memory::desc AnyMd(const Shape& dims);

// Tries to build a group as oneDNN primitives; false (nothing recorded) when oneDNN cannot run
// it exactly (unsupported op, attribute, dtype or shape), so it runs on the reference
// interpreter.
bool BuildDnnl(Plan::Impl& p, const Group& grp);

}  // namespace concord::dnnl_internal
