// Internals of the oneDNN backend (dnnl_backend.h), in three steps:
//
//   Rewrite (dnnl_rewrite.cc)  the opt level's graph transformations on the ONNX graph: which
//                              values are constants, constant folding, BatchNorm folded into
//                              Conv, and which nodes fuse into an anchor as oneDNN post-ops.
//   Plan (dnnl_plan.cc)        traced on the first run with a given input signature: every group
//                              becomes a oneDNN primitive (dnnl_ops.cc) or joins a segment of
//                              nodes run by the reference interpreter; reorders sit only where
//                              a layout changes. Later runs replay the recorded steps.
//   Session (dnnl_backend.cc)  plans by input signature, threads, timing, taps.
#pragma once

#include <onnx/onnx_pb.h>

#include <dnnl.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace concord::dnnl_internal {

// An element-wise op as oneDNN's eltwise algorithm (standalone primitive or post-op).
struct Eltwise {
  dnnl::algorithm alg = dnnl::algorithm::undef;
  float alpha = 0, beta = 0;
};

// One post-op applied to an anchor's result, in order.
struct PostOp {
  enum class Kind { kEltwise, kSum, kDepthwise };
  Kind kind = Kind::kEltwise;
  Eltwise eltwise;                  // kEltwise
  std::string addend;               // kSum: the value added to the anchor's result (a residual)
  int dw_node = -1;                 // kDepthwise: the depthwise Conv fused after a 1x1 Conv
  std::string dw_weights, dw_bias;  // kDepthwise: its parameters in Rewritten::constants
};

// What the planner schedules: one ONNX node, or an anchor with the nodes fused into it.
struct Group {
  int node = -1;              // anchor node (index into the graph's nodes)
  std::vector<int> fused;     // nodes folded or fused into the anchor, in graph order
  std::vector<PostOp> post;   // post-ops (opt >= 2)
  std::string output;         // the value the group produces (its last node's output)
  std::string weights, bias;  // Conv: names in Rewritten::constants (BN-folded at opt >= 1)
};

// The graph as the planner sees it after the opt level's rewrites.
struct Rewritten {
  const Model* model = nullptr;
  int opt = 3;
  std::map<std::string, Tensor> constants;  // initializers, Constant outputs, folded values
  std::vector<Group> groups;                // in execution order
  std::vector<std::string> passes;          // the transformations that ran, for the record
  int folded_nodes = 0;                     // nodes removed by constant folding
  bool blocked = false;  // activations in oneDNN's blocked layouts end to end (opt 3)
  // Ops defined over the graph itself (ai.onnx.preview.training Gradient) see the whole graph
  // only when every node runs in one reference segment.
  bool whole_graph_on_ref = false;
  // Consumers of each value among the groups (a fused group counts once); graph outputs count.
  std::unordered_map<std::string, int> uses;
};

// Applies opt level `opt`'s rewrites. Never fails on an unsupported op: such nodes stay plain
// groups and run on the reference interpreter.
Rewritten Rewrite(const Model& model, int opt);

// The eltwise algorithm of a node (Relu, Clip with constant bounds, Sigmoid, Tanh, ...), or none
// when oneDNN has no exact equivalent.
std::optional<Eltwise> EltwiseOf(const onnx::NodeProto& node, const Rewritten& rw);

// Runs nodes of the model on the reference interpreter as one sub-model whose inputs are the
// values the nodes read from outside (typed from the values themselves) and whose outputs are
// every value they produce.
class RefSegment {
 public:
  RefSegment(const Model& model, const std::vector<int>& nodes,
             const std::map<std::string, Tensor>& constants,
             const std::map<std::string, Value>& external_inputs);
  const std::vector<std::string>& inputs() const { return inputs_; }
  const std::vector<std::string>& outputs() const { return outputs_; }
  // Inputs by name (those of inputs()); returns outputs() in order.
  std::vector<Value> Run(const std::map<std::string, Value>& inputs);

 private:
  std::vector<std::string> inputs_, outputs_;
  std::shared_ptr<void> session_;  // concord::Session, kept opaque to keep this header light
};

// Names read by a node, including outer-scope names read inside its subgraphs.
std::vector<std::string> NodeReads(const onnx::NodeProto& node);

// The model's signature changed under a plan (a fallback produced a new shape): plan again.
struct ReplanNeeded {};

// A plan traced for one input signature.
class Plan {
 public:
  // Traces: builds each step and runs it once on `inputs`; the outputs of that run are kept
  // for TakeTraceOutputs(). keep_all keeps every produced value for taps (no in-place reuse).
  Plan(const Rewritten& rw, const dnnl::engine& engine, const ValueMap& inputs, bool keep_all);
  ~Plan();
  std::vector<Value> Run(const ValueMap& inputs, ValueMap* taps);
  std::vector<Value> TakeTraceOutputs(ValueMap* taps);
  int primitives() const;
  int fallback_nodes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace concord::dnnl_internal
