// Concat and Split along one axis. Split's sizes come from an attribute (<13), an input (>=13)
// or, when absent, equal parts with a smaller last part (num_outputs at opset 18).
#include <optional>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

template <bool kAxisRequired>
std::vector<Value> Concat(KernelContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.Fail("Concat needs at least one input");
  const Tensor& first = ctx.input(0);
  int64_t axis = NormalizeAxis(ctx, kAxisRequired ? ctx.RequireInt("axis") : ctx.GetInt("axis", 1),
                               first.rank());
  size_t ax = static_cast<size_t>(axis);
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype()) ctx.Fail("inputs have different element types");
    if (t.rank() != first.rank())
      ctx.Fail("input #{} has rank {}, expected {}", i, t.rank(), first.rank());
    for (size_t d = 0; d < out_shape.size(); ++d) {
      if (d != ax && t.shape()[d] != first.shape()[d]) {
        ctx.Fail("input #{} has shape {}, incompatible with {}", i, ShapeToString(t.shape()),
                 ShapeToString(first.shape()));
      }
    }
    out_shape[ax] += t.shape()[ax];
  }
  Tensor out(first.dtype(), out_shape);
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= out_shape[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  int64_t out_row = out_shape[ax] * inner;
  int64_t offset = 0;  // within an output row
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    ElementCopier copy(t, out);
    int64_t row = t.shape()[ax] * inner;
    for (int64_t o = 0; o < outer; ++o) copy(o * out_row + offset, o * row, row);
    offset += row;
  }
  return Out(std::move(out));
}

// Splits `x` along `axis` into pieces of the given sizes.
std::vector<Value> SplitInto(const KernelContext& ctx, const Tensor& x, int64_t axis,
                             const std::vector<int64_t>& sizes) {
  size_t ax = static_cast<size_t>(axis);
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= x.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < x.shape().size(); ++d) inner *= x.shape()[d];
  int64_t in_row = x.shape()[ax] * inner;
  std::vector<Value> outs;
  int64_t offset = 0;
  for (int64_t n : sizes) {
    if (n < 0) ctx.Fail("negative split size {}", n);
    Shape s = x.shape();
    s[ax] = n;
    Tensor t(x.dtype(), s);
    ElementCopier copy(x, t);
    for (int64_t o = 0; o < outer; ++o) copy(o * n * inner, o * in_row + offset, n * inner);
    offset += n * inner;
    outs.emplace_back(std::move(t));
  }
  return outs;
}

// Split: `split` comes from an attribute (<13) or an input (>=13); absent means equal parts
// (ceil-sized with a smaller last part, as the reference does for num_outputs at opset 18).
template <int kVersion>
std::vector<Value> Split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  int64_t dim = x.shape()[static_cast<size_t>(axis)];
  std::optional<std::vector<int64_t>> given;
  if constexpr (kVersion == 1) {
    given = IntsInput(ctx, 1);
    if (!given) given = IntsAttr(ctx, "split");
  } else if constexpr (kVersion < 13) {
    given = IntsAttr(ctx, "split");
  } else {
    given = IntsInput(ctx, 1);
  }
  if (given && given->empty()) given.reset();  // an empty list means "not given"
  std::vector<int64_t> split;
  if (given) {
    split = *given;
    if (kVersion >= 18 && ctx.has_attr("num_outputs"))
      ctx.Fail("both 'split' and 'num_outputs' are given");
    int64_t sum = 0;
    for (int64_t s : split) sum += s;
    if (sum != dim) ctx.Fail("split sizes sum to {} but the axis has size {}", sum, dim);
    if (split.size() != ctx.num_outputs()) {
      ctx.Fail("split has {} entries for {} outputs", split.size(), ctx.num_outputs());
    }
  } else {
    int64_t n = static_cast<int64_t>(ctx.num_outputs());
    if (kVersion >= 18 && ctx.has_attr("num_outputs")) {
      n = ctx.GetInt("num_outputs", n);
      if (n != static_cast<int64_t>(ctx.num_outputs())) {
        ctx.Fail("num_outputs={} but the node has {} outputs", n, ctx.num_outputs());
      }
    }
    if (n <= 0) ctx.Fail("Split needs at least one output");
    int64_t chunk = dim % n == 0 ? dim / n : dim / n + 1;
    split.assign(static_cast<size_t>(n), chunk);
    split.back() = dim - chunk * (n - 1);
    if (split.back() < 0) ctx.Fail("cannot split an axis of size {} into {} parts", dim, n);
  }
  return SplitInto(ctx, x, axis, split);
}

}  // namespace

void RegisterConcatSplitOps(Registry& r) {
  r.Add("", "Concat", 1, Concat<false>);
  r.Add("", "Concat", 4, Concat<true>);
  r.Add("", "Split", 1, Split<1>);
  r.Add("", "Split", 2, Split<2>);
  r.Add("", "Split", 13, Split<13>);
  r.Add("", "Split", 18, Split<18>);
}

}  // namespace concord::ref
