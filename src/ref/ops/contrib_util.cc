#include "ref/ops/contrib_util.h"

#include "ref/registry.h"

namespace concord::ref {

onnx::NodeProto OnnxNode(const KernelContext& ctx, const std::string& op_type,
                         const std::set<std::string>& drop) {
  onnx::NodeProto node;
  node.set_name(ctx.node().name());
  node.set_op_type(op_type);
  for (const auto& a : ctx.node().attribute()) {
    if (!drop.count(a.name())) *node.add_attribute() = a;
  }
  return node;
}

onnx::NodeProto PlainNode(const KernelContext& ctx, const std::string& op_type) {
  onnx::NodeProto node;
  node.set_name(ctx.node().name());
  node.set_op_type(op_type);
  return node;
}

std::vector<Value> RunKernel(const KernelContext& ctx, const onnx::NodeProto& node, int64_t opset,
                             const std::vector<const Value*>& inputs) {
  const KernelDef* k = DefaultRegistry().Find(node.domain(), node.op_type(), opset);
  if (k == nullptr) ctx.Fail("no reference kernel for {} at opset {}", node.op_type(), opset);
  // Kernels read input and output names for optional-input and optional-output checks.
  onnx::NodeProto named = node;
  named.clear_input();
  named.clear_output();
  for (size_t i = 0; i < inputs.size(); ++i)
    named.add_input(inputs[i] ? "in" + std::to_string(i) : std::string());
  named.add_output("out");
  KernelContext inner(named, inputs, opset, nullptr, nullptr, ctx.pool());
  return k->fn(inner);
}

double ScalarInput(const KernelContext& ctx, size_t i, double def) {
  const Tensor* t = ctx.optional_input(i);
  if (t == nullptr) return def;
  if (t->numel() != 1)
    ctx.Unsupported("input {} has {} elements; only per-tensor scales and zero points", i,
                    t->numel());
  return t->GetDouble(0);
}

std::vector<double> Dequantize(const KernelContext& ctx, const Tensor& x, double scale,
                               double zero_point) {
  std::vector<double> v(static_cast<size_t>(x.numel()));
  DispatchQuantized(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i)
      v[static_cast<size_t>(i)] = scale * (static_cast<double>(p[i]) - zero_point);
  });
  return v;
}

Tensor DoubleTensor(const Shape& shape, std::vector<double> v) {
  Tensor t(DType::kFloat64, shape);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t;
}

}  // namespace concord::ref
