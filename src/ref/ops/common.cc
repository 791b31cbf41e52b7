#include "ref/ops/common.h"

#include <algorithm>

namespace concord::ref {

int64_t NormalizeAxis(const KernelContext& ctx, int64_t axis, int64_t rank) {
  int64_t lo = rank == 0 ? -1 : -rank;
  int64_t hi = rank == 0 ? 0 : rank - 1;
  if (axis < lo || axis > hi) ctx.Fail("axis {} is out of range for rank {}", axis, rank);
  if (rank == 0) return 0;  // a scalar has one (virtual) axis
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> NormalizeAxes(const KernelContext& ctx, const std::vector<int64_t>& axes,
                                   int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = NormalizeAxis(ctx, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end()) ctx.Fail("axis {} is repeated", a);
    out.push_back(n);
  }
  return out;
}

Shape BroadcastShapes(const KernelContext& ctx, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const auto& s : shapes) {
    size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t d = s[i];
      int64_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string all;
      for (const auto& x : shapes) all += ShapeToString(x) + " ";
      ctx.Fail("shapes are not broadcastable: {}", all);
    }
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  std::vector<int64_t> in_strides = Strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) strides[off + i] = in[i] == 1 ? 0 : in_strides[i];
  return strides;
}

std::vector<int64_t> ToInt64Vector(const KernelContext& ctx, const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kInt64) {
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.data<int64_t>()[i];
  } else if (t.dtype() == DType::kInt32) {
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.data<int32_t>()[i];
  } else {
    ctx.Fail("expected an int32/int64 tensor, got {}", t.Describe());
  }
  return v;
}

std::optional<std::vector<int64_t>> IntsInput(const KernelContext& ctx, size_t i) {
  if (const Tensor* t = ctx.optional_input(i)) return ToInt64Vector(ctx, *t);
  return std::nullopt;
}

std::optional<std::vector<int64_t>> IntsAttr(const KernelContext& ctx, const std::string& name) {
  if (ctx.has_attr(name)) return ctx.GetInts(name);
  return std::nullopt;
}

}  // namespace concord::ref
