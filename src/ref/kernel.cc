#include "ref/kernel.h"

#include "ir/tensor_io.h"

namespace concord::ref {

std::string KernelContext::Where() const {
  std::string name = node_.name().empty()
                         ? (node_.output_size() ? "->" + node_.output(0) : std::string("?"))
                         : node_.name();
  return fmt::format("node '{}' ({})", name, node_.op_type());
}

const Value& KernelContext::value(size_t i) const {
  if (!has_input(i)) Fail("required input #{} is missing", i);
  return *inputs_[i];
}

const Tensor& KernelContext::input(size_t i) const {
  const Value& v = value(i);
  if (!v.is_tensor()) Fail("input #{} must be a tensor, got {}", i, v.Describe());
  return v.tensor;
}

const Tensor* KernelContext::optional_input(size_t i) const {
  if (!has_input(i)) return nullptr;
  const Value& v = *inputs_[i];
  if (v.is_none()) return nullptr;
  if (!v.is_tensor()) Fail("input #{} must be a tensor, got {}", i, v.Describe());
  return &v.tensor;
}

const onnx::AttributeProto* KernelContext::attr(const std::string& name) const {
  for (const auto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t KernelContext::GetInt(const std::string& name, int64_t def) const {
  const auto* a = attr(name);
  return a ? a->i() : def;
}

int64_t KernelContext::RequireInt(const std::string& name) const {
  const auto* a = attr(name);
  if (!a) Fail("required attribute '{}' is missing", name);
  return a->i();
}

float KernelContext::GetFloat(const std::string& name, float def) const {
  const auto* a = attr(name);
  return a ? a->f() : def;
}

std::string KernelContext::GetString(const std::string& name, const std::string& def) const {
  const auto* a = attr(name);
  return a ? a->s() : def;
}

std::vector<int64_t> KernelContext::GetInts(const std::string& name,
                                            std::vector<int64_t> def) const {
  const auto* a = attr(name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
}

std::vector<float> KernelContext::GetFloats(const std::string& name, std::vector<float> def) const {
  const auto* a = attr(name);
  return a ? std::vector<float>(a->floats().begin(), a->floats().end()) : def;
}

std::vector<std::string> KernelContext::GetStrings(const std::string& name,
                                                   std::vector<std::string> def) const {
  const auto* a = attr(name);
  return a ? std::vector<std::string>(a->strings().begin(), a->strings().end()) : def;
}

std::optional<Tensor> KernelContext::GetTensor(const std::string& name) const {
  const auto* a = attr(name);
  if (!a || !a->has_t()) return std::nullopt;
  return TensorFromProto(a->t(), "", Where() + " attribute '" + name + "'");
}

const onnx::GraphProto* KernelContext::GetGraph(const std::string& name) const {
  const auto* a = attr(name);
  return (a && a->has_g()) ? &a->g() : nullptr;
}

std::vector<Value> KernelContext::RunSubgraph(const onnx::GraphProto& graph,
                                              const std::vector<Value>& inputs) {
  CONCORD_CHECK(runner_ != nullptr, "no subgraph runner");
  return runner_->RunSubgraph(graph, inputs);
}

}  // namespace concord::ref
