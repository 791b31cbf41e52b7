// The contract between the interpreter and an op kernel.
//
// A kernel is a plain function `std::vector<Value>(KernelContext&)`. It reads inputs and
// attributes through the context and returns one Value per node output (it may return fewer
// when trailing optional outputs are not requested; an output the node names but the kernel
// did not produce is an error). A kernel never aborts on bad data: it calls ctx.Fail(...),
// which throws Error(kRuntime) naming the node, or Error(kUnsupported) via ctx.Unsupported()
// for valid inputs it does not implement (e.g. a dtype). Kernels are stateless and re-entrant.
//
// Kernels may spread independent outputs over the session's threads with ctx.ParallelFor (see
// parallel.h: results never depend on the thread count); without a pool it runs serially.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/error.h"
#include "ir/value.h"
#include "ref/fused_activation.h"
#include "ref/parallel.h"

namespace concord::ref {

class KernelContext;
using KernelFn = std::function<std::vector<Value>(KernelContext&)>;

// Implemented by the interpreter: runs a subgraph attribute in the scope of the calling node.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual std::vector<Value> RunSubgraph(const onnx::GraphProto& graph,
                                         const std::vector<Value>& inputs) = 0;
};

class KernelContext {
 public:
  KernelContext(const onnx::NodeProto& node, std::vector<const Value*> inputs, int64_t opset,
                SubgraphRunner* runner, const onnx::GraphProto* graph = nullptr,
                ThreadPool* pool = nullptr)
      : node_(node),
        inputs_(std::move(inputs)),
        opset_(opset),
        runner_(runner),
        graph_(graph),
        pool_(pool) {}

  const onnx::NodeProto& node() const { return node_; }
  // The graph containing the node (null inside function bodies). Only ops whose semantics are
  // defined over the graph itself (ai.onnx.preview.training Gradient) should need it.
  const onnx::GraphProto* graph() const { return graph_; }
  // Opset version of the node's domain in the model.
  int64_t opset() const { return opset_; }

  size_t num_inputs() const { return inputs_.size(); }
  // True when input i exists and is not the empty name (ONNX's "optional input omitted").
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  // Input i as a tensor; fails clearly if missing or not a tensor.
  const Tensor& input(size_t i) const;
  const Value& value(size_t i) const;
  // Input i if present, else nullptr.
  const Tensor* optional_input(size_t i) const;

  size_t num_outputs() const { return static_cast<size_t>(node_.output_size()); }
  bool has_output(size_t i) const {
    return i < num_outputs() && !node_.output(static_cast<int>(i)).empty();
  }

  const onnx::AttributeProto* attr(const std::string& name) const;
  bool has_attr(const std::string& name) const { return attr(name) != nullptr; }
  int64_t GetInt(const std::string& name, int64_t def) const;
  float GetFloat(const std::string& name, float def) const;
  std::string GetString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> GetInts(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> GetFloats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> GetStrings(const std::string& name,
                                      std::vector<std::string> def = {}) const;
  std::optional<Tensor> GetTensor(const std::string& name) const;
  const onnx::GraphProto* GetGraph(const std::string& name) const;
  int64_t RequireInt(const std::string& name) const;

  std::vector<Value> RunSubgraph(const onnx::GraphProto& graph, const std::vector<Value>& inputs);

  // Runs f(begin, end) over chunks of [0, n) of at least `grain` items on the session's threads
  // (ThreadPool::ParallelFor). Only for loops whose iterations write disjoint outputs.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) const {
    if (pool_ != nullptr) {
      pool_->ParallelFor(n, grain, f);
    } else if (n > 0) {
      f(0, n);
    }
  }
  int threads() const { return pool_ != nullptr ? pool_->threads() : 1; }
  // The session's threads (null when serial): for a kernel that runs another op's kernel on
  // them (ops/contrib_util.h RunKernel).
  ThreadPool* pool() const { return pool_; }

  // The Relu or Clip the interpreter fused into this Conv (fused_activation.h); kNone otherwise.
  // Only the Conv kernel reads it, and only for float32.
  const FusedActivation& fused_activation() const { return fused_; }
  void set_fused_activation(const FusedActivation& a) { fused_ = a; }

  // "node 'conv1' (Conv)": used to prefix error messages.
  std::string Where() const;
  template <typename... Args>
  [[noreturn]] void Fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(ErrorKind::kRuntime, Where() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  [[noreturn]] void Unsupported(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(ErrorKind::kUnsupported,
                Where() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  const onnx::NodeProto& node_;
  std::vector<const Value*> inputs_;
  int64_t opset_;
  SubgraphRunner* runner_;
  const onnx::GraphProto* graph_;
  ThreadPool* pool_;
  FusedActivation fused_;
};

// Helpers for kernels returning a single tensor.
inline std::vector<Value> Out(Tensor t) {
  std::vector<Value> v;
  v.emplace_back(std::move(t));
  return v;
}

}  // namespace concord::ref
