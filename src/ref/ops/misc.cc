// Constant and other ops that produce values from attributes alone.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

std::vector<Value> Constant(KernelContext& ctx) {
  if (auto t = ctx.GetTensor("value")) return Out(std::move(*t));
  if (const auto* a = ctx.attr("value_float")) return Out(Tensor::Scalar<float>(a->f()));
  if (const auto* a = ctx.attr("value_int")) return Out(Tensor::Scalar<int64_t>(a->i()));
  if (const auto* a = ctx.attr("value_string")) return Out(Tensor::Scalar<std::string>(a->s()));
  if (const auto* a = ctx.attr("value_floats")) {
    std::vector<float> v(a->floats().begin(), a->floats().end());
    return Out(Tensor::FromVector<float>({static_cast<int64_t>(v.size())}, v));
  }
  if (const auto* a = ctx.attr("value_ints")) {
    std::vector<int64_t> v(a->ints().begin(), a->ints().end());
    return Out(Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v));
  }
  if (const auto* a = ctx.attr("value_strings")) {
    std::vector<std::string> v(a->strings().begin(), a->strings().end());
    return Out(Tensor::FromVector<std::string>({static_cast<int64_t>(v.size())}, v));
  }
  if (ctx.has_attr("sparse_value")) ctx.Unsupported("sparse_value constants are not supported");
  ctx.Fail("Constant has no value attribute");
}

}  // namespace

void RegisterMiscOps(Registry& r) { r.Add("", "Constant", 1, Constant); }

}  // namespace concord::ref
