// The reference interpreter: executes an ONNX model node by node with exact ONNX semantics.
//
// Construction decodes the main graph's initializers once; Run() may be called many times
// (not concurrently on one Interpreter). Nodes run in the graph's (topological) order. Each
// node gets the kernel with the highest since-version <= the model's opset for its domain;
// an op without a kernel but with an ONNX function body (schema function, context-dependent
// function, or model-local function) is run by expanding that body. An op with neither is
// Error(kUnsupported) naming the op, domain, opset and the versions we do have.
//
// Taps: when `taps` is non-null, every value produced by a main-graph node is recorded by its
// output name (the graph inputs and initializers are not). Without taps, intermediate values
// are freed after their last use, and a float32 Conv applies the Relu or Clip that alone reads
// its output (the next node) to its finished outputs: bitwise the same values, one memory pass
// fewer (fused_activation.h; last_timings marks the activation `fused`).
//
// Threads: kernels spread independent outputs over `threads` threads (a pool owned by the
// interpreter; see parallel.h); outputs are bitwise identical for every thread count. OpenBLAS
// runs single-threaded: GEMMs are split over the same pool (ops/gemm.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"
#include "ref/registry.h"

namespace concord::ref {

struct NodeTiming {
  std::string node_name;
  std::string op_type;
  double ms = 0;
  bool fused = false;  // a Relu or Clip computed inside the Conv before it
};

class Interpreter {
 public:
  explicit Interpreter(const Model& model, const Registry& registry = DefaultRegistry(),
                       int threads = 1);
  ~Interpreter();

  // Inputs by graph-input name. Missing required inputs, unknown names, and dtype or
  // fixed-dimension mismatches against the declared input types are Error(kInput).
  std::vector<Value> Run(const std::map<std::string, Value>& inputs,
                         std::map<std::string, Value>* taps = nullptr);

  // Per-node wall time of the last Run (main graph only).
  const std::vector<NodeTiming>& last_timings() const { return timings_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<NodeTiming> timings_;
};

// Checks a value against a declared ONNX type; Error(kInput) naming `what` on mismatch.
void CheckValueAgainstType(const Value& v, const onnx::TypeProto& type, const std::string& what);

}  // namespace concord::ref
