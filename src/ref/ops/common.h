// Shared helpers for reference kernels: axis handling, broadcasting, dtype dispatch.
//
// Kernels stay plain loops over these helpers. Broadcasting follows NumPy/ONNX multidirectional
// rules; an incompatible pair of shapes is a kernel failure naming both shapes.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "ref/kernel.h"

namespace concord::ref {

// Normalizes a possibly negative axis against `rank`; fails (naming the node) when out of range.
int64_t NormalizeAxis(const KernelContext& ctx, int64_t axis, int64_t rank);

// Normalizes a list of axes against `rank`, failing on an out-of-range or repeated axis.
std::vector<int64_t> NormalizeAxes(const KernelContext& ctx, const std::vector<int64_t>& axes,
                                   int64_t rank);

// Multidirectional broadcast of several shapes.
Shape BroadcastShapes(const KernelContext& ctx, const std::vector<Shape>& shapes);

// Strides of `in` (rank <= out rank) laid onto `out`: 0 on broadcast (size-1 or missing) dims.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Reads an int64 vector from a 0-D/1-D integer tensor (int32 or int64).
std::vector<int64_t> ToInt64Vector(const KernelContext& ctx, const Tensor& t);

// An integer list from optional input #i (nullopt when omitted).
std::optional<std::vector<int64_t>> IntsInput(const KernelContext& ctx, size_t i);

// An integer list from an optional attribute (nullopt when absent).
std::optional<std::vector<int64_t>> IntsAttr(const KernelContext& ctx, const std::string& name);

// Calls f(out_index, offsets...) for every element of `out_shape`, with per-input flat offsets
// computed from broadcast strides. Inner dimension is a tight loop.
template <size_t N, typename F>
void ForEachBroadcast(const Shape& out_shape, const std::array<std::vector<int64_t>, N>& strides,
                      F&& f) {
  int64_t total = NumElements(out_shape);
  if (total == 0) return;
  int rank = static_cast<int>(out_shape.size());
  if (rank == 0) {
    std::array<int64_t, N> off{};
    f(int64_t{0}, off);
    return;
  }
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  std::array<int64_t, N> off{};
  int64_t inner = out_shape[static_cast<size_t>(rank - 1)];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][static_cast<size_t>(rank - 1)];
  for (int64_t o = 0; o < total; o += inner) {
    std::array<int64_t, N> cur = off;
    for (int64_t j = 0; j < inner; ++j) {
      f(o + j, cur);
      for (size_t k = 0; k < N; ++k) cur[k] += inner_stride[k];
    }
    // advance the odometer over dims [0, rank-1)
    for (int d = rank - 2; d >= 0; --d) {
      size_t du = static_cast<size_t>(d);
      ++idx[du];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][du];
      if (idx[du] < out_shape[du]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][du] * idx[du];
      idx[du] = 0;
    }
  }
}

// out[i] = f(a[i], b[i]) with broadcasting. TA/TB/TO are the storage types.
template <typename TA, typename TB, typename TO, typename F>
Tensor BroadcastBinary(const KernelContext& ctx, const Tensor& a, const Tensor& b, DType out_dtype,
                       F&& f) {
  Shape out_shape = BroadcastShapes(ctx, {a.shape(), b.shape()});
  Tensor out(out_dtype, out_shape);
  const TA* pa = a.data<TA>();
  const TB* pb = b.data<TB>();
  TO* po = out.data<TO>();
  if (a.shape() == b.shape()) {
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  if (b.numel() == 1 && a.shape() == out_shape) {
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[0]);
    return out;
  }
  std::array<std::vector<int64_t>, 2> strides = {BroadcastStrides(a.shape(), out_shape),
                                                 BroadcastStrides(b.shape(), out_shape)};
  ForEachBroadcast<2>(out_shape, strides, [&](int64_t o, const std::array<int64_t, 2>& off) {
    po[o] = f(pa[off[0]], pb[off[1]]);
  });
  return out;
}

// Element-wise unary map with the same storage type in and out.
template <typename T, typename F>
Tensor MapUnary(const Tensor& x, DType out_dtype, F&& f) {
  Tensor out(out_dtype, x.shape());
  const T* px = x.data<T>();
  using TO = std::remove_reference_t<decltype(f(px[0]))>;
  TO* po = out.data<TO>();
  for (int64_t i = 0; i < x.numel(); ++i) po[i] = f(px[i]);
  return out;
}

// Dispatch helpers restricted to common type sets. `f` gets a TypeTag<T>.
template <typename F>
decltype(auto) DispatchFloat(const KernelContext& ctx, DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      return f(TypeTag<float>{});
    case DType::kFloat64:
      return f(TypeTag<double>{});
    case DType::kFloat16:
      return f(TypeTag<Float16>{});
    case DType::kBFloat16:
      return f(TypeTag<BFloat16>{});
    default:
      ctx.Unsupported("element type {} is not supported here (float types only)", DTypeName(dt));
  }
}

template <typename F>
decltype(auto) DispatchNumeric(const KernelContext& ctx, DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      return f(TypeTag<float>{});
    case DType::kFloat64:
      return f(TypeTag<double>{});
    case DType::kFloat16:
      return f(TypeTag<Float16>{});
    case DType::kBFloat16:
      return f(TypeTag<BFloat16>{});
    case DType::kInt8:
      return f(TypeTag<int8_t>{});
    case DType::kInt16:
      return f(TypeTag<int16_t>{});
    case DType::kInt32:
      return f(TypeTag<int32_t>{});
    case DType::kInt64:
      return f(TypeTag<int64_t>{});
    case DType::kUInt8:
      return f(TypeTag<uint8_t>{});
    case DType::kUInt16:
      return f(TypeTag<uint16_t>{});
    case DType::kUInt32:
      return f(TypeTag<uint32_t>{});
    case DType::kUInt64:
      return f(TypeTag<uint64_t>{});
    default:
      ctx.Unsupported("element type {} is not supported here (numeric types only)", DTypeName(dt));
  }
}

// Every dtype including bool and string (for data-movement ops).
template <typename F>
decltype(auto) DispatchAll(const KernelContext& ctx, DType dt, F&& f) {
  if (dt == DType::kUndefined) ctx.Fail("undefined element type");
  return VisitDType(dt, std::forward<F>(f));
}

// Arithmetic type used to compute on storage type T (halves compute in float).
template <typename T>
using ComputeT = std::conditional_t<kIsHalf<T>, float, T>;

template <typename T>
inline ComputeT<T> Up(const T& v) {
  if constexpr (kIsHalf<T>)
    return static_cast<float>(v);
  else
    return v;
}
template <typename T>
inline T Down(const ComputeT<T>& v) {
  if constexpr (kIsHalf<T>)
    return T(v);
  else
    return static_cast<T>(v);
}

}  // namespace concord::ref
