// Ops that make a tensor from a shape or a few scalars: ConstantOfShape, EyeLike, Range, Trilu,
// OneHot. They look at values, so they dispatch on the element type.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

std::vector<Value> ConstantOfShape(KernelContext& ctx) {
  Shape shape = ToInt64Vector(ctx, ctx.input(0));
  for (int64_t d : shape) {
    if (d < 0) ctx.Fail("negative dimension {}", d);
  }
  std::optional<Tensor> value = ctx.GetTensor("value");
  if (!value) return Out(Tensor(DType::kFloat32, shape));
  if (value->numel() != 1) ctx.Fail("value must have exactly one element");
  Tensor out(value->dtype(), shape);
  Tensor src = value->Reshaped({1});
  ElementCopier copy(src, out);
  for (int64_t i = 0; i < out.numel(); ++i) copy(i, 0);
  return Out(std::move(out));
}

std::vector<Value> EyeLike(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) ctx.Fail("input must be 2-D, got {}", ShapeToString(x.shape()));
  DType dt = ctx.has_attr("dtype") ? static_cast<DType>(ctx.GetInt("dtype", 0)) : x.dtype();
  if (!IsValidDType(static_cast<int32_t>(dt))) ctx.Fail("invalid dtype attribute");
  int64_t k = ctx.GetInt("k", 0);
  int64_t rows = x.dim(0), cols = x.dim(1);
  return Out(DispatchAll(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(dt, x.shape());
    if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
      T* p = out.data<T>();
      for (int64_t i = 0; i < rows; ++i) {
        int64_t j = i + k;
        if (j >= 0 && j < cols) p[i * cols + j] = FromDouble<T>(1.0);
      }
    } else {
      ctx.Unsupported("EyeLike of type {}", DTypeName(dt));
    }
    return out;
  }));
}

std::vector<Value> Range(KernelContext& ctx) {
  const Tensor& start = ctx.input(0);
  const Tensor& limit = ctx.input(1);
  const Tensor& delta = ctx.input(2);
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1)
    ctx.Fail("inputs must be scalars");
  if (start.dtype() != limit.dtype() || start.dtype() != delta.dtype())
    ctx.Fail("inputs differ in type");
  return Out(DispatchNumeric(ctx, start.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    C s = Up(start.data<T>()[0]), l = Up(limit.data<T>()[0]), d = Up(delta.data<T>()[0]);
    if (d == C(0)) ctx.Fail("delta cannot be 0");
    double n_d =
        std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
    if (!(n_d > 0)) n_d = 0;
    if (n_d > static_cast<double>(kMaxTensorBytes)) ctx.Fail("range has too many elements");
    int64_t n = static_cast<int64_t>(n_d);
    Tensor out(start.dtype(), {n});
    T* p = out.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = Down<T>(static_cast<C>(s + static_cast<C>(i) * d));
    return out;
  }));
}

std::vector<Value> Trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2");
  int64_t k = 0;
  if (const Tensor* kt = ctx.optional_input(1)) {
    std::vector<int64_t> kv = ToInt64Vector(ctx, *kt);
    if (kv.size() != 1) ctx.Fail("k must be a scalar");
    k = kv[0];
  }
  bool upper = ctx.GetInt("upper", 1) != 0;
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Tensor out(x.dtype(), x.shape());  // zero (or empty string) where not kept
  ElementCopier copy(x, out);
  int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? (j - i >= k) : (j - i <= k);
        int64_t off = (m * rows + i) * cols + j;
        if (keep) copy(off, off);
      }
    }
  }
  return Out(std::move(out));
}

std::vector<Value> OneHot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.numel() != 1) ctx.Fail("depth must have one element");
  if (values.numel() != 2) ctx.Fail("values must have two elements [off, on]");
  double depth_d = DispatchNumeric(ctx, depth_t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return ToDouble(depth_t.data<T>()[0]);
  });
  if (!(depth_d >= 1) || depth_d > static_cast<double>(kMaxTensorBytes))
    ctx.Fail("invalid depth {}", depth_d);
  int64_t depth = static_cast<int64_t>(depth_d);
  int64_t rank = indices.rank();
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -1), rank + 1);
  // Non-integer indices are cast to int64 (truncation), as the spec says; values that do not
  // fit (or NaN) can never match and give an all-off row.
  std::vector<int64_t> idx(static_cast<size_t>(indices.numel()));
  DispatchNumeric(ctx, indices.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < indices.numel(); ++i) {
      const T& v = indices.data<T>()[i];
      if constexpr (std::is_integral_v<T>) {
        bool fits = static_cast<uint64_t>(v) <=
                        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
                    std::is_signed_v<T>;
        idx[static_cast<size_t>(i)] =
            fits ? static_cast<int64_t>(v) : std::numeric_limits<int64_t>::min();
      } else {
        double d = ToDouble(v);
        idx[static_cast<size_t>(i)] =
            std::fabs(d) < 9.0e18 ? static_cast<int64_t>(d) : std::numeric_limits<int64_t>::min();
      }
    }
    return 0;
  });
  Shape out_shape = indices.shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= indices.shape()[static_cast<size_t>(d)];
  int64_t inner = indices.numel() / std::max<int64_t>(outer, 1);
  Tensor out(values.dtype(), out_shape);
  Tensor vals = values.Reshaped({2});
  ElementCopier put(vals, out);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t d = 0; d < depth; ++d) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = idx[static_cast<size_t>(o * inner + i)];
        if (v < 0) v += depth;
        put((o * depth + d) * inner + i, v == d ? 1 : 0);
      }
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterGeneratorOps(Registry& r) {
  r.Add("", "ConstantOfShape", 9, ConstantOfShape);
  r.Add("", "EyeLike", 9, EyeLike);
  r.Add("", "Range", 11, Range);
  r.Add("", "Trilu", 14, Trilu);
  r.Add("", "OneHot", 9, OneHot);
}

}  // namespace concord::ref
