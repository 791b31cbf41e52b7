// Ops that change only the shape, never the elements: Identity, Shape, Size, Reshape, Flatten,
// Squeeze, Unsqueeze. Results share the input's element order (Reshaped views of it).
#include <algorithm>
#include <optional>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

Tensor ShapeTensor(const Shape& s) {
  return Tensor::FromVector<int64_t>({static_cast<int64_t>(s.size())}, s);
}

std::vector<Value> Identity(KernelContext& ctx) { return {ctx.value(0)}; }

template <bool kHasStartEnd>
std::vector<Value> ShapeOp(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = 0, end = rank;
  if constexpr (kHasStartEnd) {
    auto clamp = [&](int64_t v) {
      if (v < 0) v += rank;
      return std::clamp<int64_t>(v, 0, rank);
    };
    start = clamp(ctx.GetInt("start", 0));
    end = ctx.has_attr("end") ? clamp(ctx.GetInt("end", rank)) : rank;
  }
  Shape out;
  for (int64_t i = start; i < end; ++i) out.push_back(s[static_cast<size_t>(i)]);
  return Out(ShapeTensor(out));
}

std::vector<Value> Size(KernelContext& ctx) {
  return Out(Tensor::Scalar<int64_t>(ctx.input(0).numel()));
}

Shape ResolveReshape(const KernelContext& ctx, const Shape& in, const std::vector<int64_t>& spec,
                     bool allowzero) {
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) ctx.Fail("more than one -1 in the target shape");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < -1) ctx.Fail("invalid target dimension {}", d);
    if (d == 0) {
      has_zero = true;
      if (!allowzero) {
        if (i >= in.size()) ctx.Fail("target dim {} is 0 but the input has rank {}", i, in.size());
        d = in[i];
      }
    }
    out[i] = d;
    known *= d;
  }
  if (allowzero && has_zero && infer >= 0)
    ctx.Fail("allowzero=1 forbids 0 and -1 in the same shape");
  int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      ctx.Fail("cannot reshape {} to {}", ShapeToString(in), ShapeToString(spec));
    }
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (NumElements(out) != total)
    ctx.Fail("cannot reshape {} to {}", ShapeToString(in), ShapeToString(spec));
  return out;
}

std::vector<Value> Reshape1(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return Out(x.Reshaped(ResolveReshape(ctx, x.shape(), ctx.GetInts("shape"), false)));
}

std::vector<Value> Reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool allowzero = ctx.GetInt("allowzero", 0) != 0;
  return Out(
      x.Reshaped(ResolveReshape(ctx, x.shape(), ToInt64Vector(ctx, ctx.input(1)), allowzero)));
}

std::vector<Value> Flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  int64_t axis = ctx.GetInt("axis", 1);
  if (axis < -rank || axis > rank) ctx.Fail("axis {} is out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape()[static_cast<size_t>(i)];
  int64_t inner = 1;
  for (int64_t i = axis; i < rank; ++i) inner *= x.shape()[static_cast<size_t>(i)];
  return Out(x.Reshaped({outer, inner}));
}

template <bool kAxesInput>
std::vector<Value> Squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::optional<std::vector<int64_t>> axes = kAxesInput ? IntsInput(ctx, 1) : IntsAttr(ctx, "axes");
  Shape out;
  if (!axes) {
    for (int64_t d : x.shape()) {
      if (d != 1) out.push_back(d);
    }
  } else {
    std::vector<int64_t> ax = NormalizeAxes(ctx, *axes, x.rank());
    for (int i = 0; i < x.rank(); ++i) {
      if (std::find(ax.begin(), ax.end(), i) != ax.end()) {
        if (x.dim(i) != 1) ctx.Fail("cannot squeeze axis {} of size {}", i, x.dim(i));
      } else {
        out.push_back(x.dim(i));
      }
    }
  }
  return Out(x.Reshaped(out));
}

template <bool kAxesInput>
std::vector<Value> Unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = kAxesInput ? ToInt64Vector(ctx, ctx.input(1)) : ctx.GetInts("axes");
  int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  axes = NormalizeAxes(ctx, axes, out_rank);
  Shape out;
  size_t src = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      out.push_back(1);
    } else {
      out.push_back(x.shape()[src++]);
    }
  }
  return Out(x.Reshaped(out));
}

}  // namespace

void RegisterReshapeOps(Registry& r) {
  r.Add("", "Identity", 1, Identity);
  r.Add("", "Shape", 1, ShapeOp<false>);
  r.Add("", "Shape", 15, ShapeOp<true>);
  r.Add("", "Size", 1, Size);
  r.Add("", "Reshape", 1, Reshape1);
  r.Add("", "Reshape", 5, Reshape);
  r.Add("", "Flatten", 1, Flatten);
  r.Add("", "Squeeze", 1, Squeeze<false>);
  r.Add("", "Squeeze", 13, Squeeze<true>);
  r.Add("", "Unsqueeze", 1, Unsqueeze<false>);
  r.Add("", "Unsqueeze", 13, Unsqueeze<true>);
}

}  // namespace concord::ref
