// Shared helpers for reference kernels: axis handling, broadcasting, dtype dispatch.
//
// Kernels stay plain loops over these helpers. Broadcasting follows NumPy/ONNX multidirectional
// rules; an incompatible pair of shapes is a kernel failure naming both shapes.
#pragma once

#include <algorithm>
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

// Elements per chunk for cheap element-wise loops: below this, waking threads costs more than
// the loop itself.
inline constexpr int64_t kElementwiseGrain = 32768;

// Calls f(out_index, offsets...) for the elements [row_begin * inner, row_end * inner) of
// `out_shape` (inner = its last dim; rows are all the other dims), with per-input flat offsets
// computed from broadcast strides. Inner dimension is a tight loop.
template <size_t N, typename F>
void ForEachBroadcastRows(const Shape& out_shape,
                          const std::array<std::vector<int64_t>, N>& strides, int64_t row_begin,
                          int64_t row_end, F&& f) {
  int rank = static_cast<int>(out_shape.size());
  if (row_begin >= row_end) return;  // also keeps the odometer's % off zero-size dims
  if (rank == 0) {
    std::array<int64_t, N> off{};
    f(int64_t{0}, off);
    return;
  }
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  std::array<int64_t, N> off{};
  // the odometer over dims [0, rank-1) starts at row_begin
  for (int64_t rem = row_begin, d = rank - 2; d >= 0; --d) {
    size_t du = static_cast<size_t>(d);
    idx[du] = rem % out_shape[du];
    rem /= out_shape[du];
    for (size_t k = 0; k < N; ++k) off[k] += strides[k][du] * idx[du];
  }
  int64_t inner = out_shape[static_cast<size_t>(rank - 1)];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = strides[k][static_cast<size_t>(rank - 1)];
  for (int64_t row = row_begin; row < row_end; ++row) {
    std::array<int64_t, N> cur = off;
    for (int64_t j = 0; j < inner; ++j) {
      f(row * inner + j, cur);
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

// Number of rows ForEachBroadcastRows walks for `out_shape` (0 when it has no elements).
inline int64_t BroadcastRows(const Shape& out_shape) {
  if (out_shape.empty()) return 1;
  int64_t inner = out_shape.back();
  return inner == 0 ? 0 : NumElements(out_shape) / inner;
}

// Calls f(out_index, offsets...) for every element of `out_shape`, serially.
template <size_t N, typename F>
void ForEachBroadcast(const Shape& out_shape, const std::array<std::vector<int64_t>, N>& strides,
                      F&& f) {
  ForEachBroadcastRows<N>(out_shape, strides, 0, BroadcastRows(out_shape), f);
}

// out[i] = f(a[i], b[i]) with broadcasting, spread over the session's threads (f must be free
// of side effects other than ctx.Fail). TA/TB/TO are the storage types.
template <typename TA, typename TB, typename TO, typename F>
Tensor BroadcastBinary(const KernelContext& ctx, const Tensor& a, const Tensor& b, DType out_dtype,
                       F&& f) {
  Shape out_shape = BroadcastShapes(ctx, {a.shape(), b.shape()});
  Tensor out = Tensor::Uninitialized(out_dtype, out_shape);  // every element written below
  const TA* pa = a.data<TA>();
  const TB* pb = b.data<TB>();
  TO* po = out.data<TO>();
  if (a.shape() == b.shape()) {
    ctx.ParallelFor(out.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
    });
    return out;
  }
  if (b.numel() == 1 && a.shape() == out_shape) {
    ctx.ParallelFor(out.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[0]);
    });
    return out;
  }
  std::array<std::vector<int64_t>, 2> strides = {BroadcastStrides(a.shape(), out_shape),
                                                 BroadcastStrides(b.shape(), out_shape)};
  const int64_t rows = BroadcastRows(out_shape);
  const int64_t inner = out_shape.empty() ? 1 : std::max<int64_t>(1, out_shape.back());
  ctx.ParallelFor(rows, std::max<int64_t>(1, kElementwiseGrain / inner),
                  [&](int64_t begin, int64_t end) {
                    ForEachBroadcastRows<2>(out_shape, strides, begin, end,
                                            [&](int64_t o, const std::array<int64_t, 2>& off) {
                                              po[o] = f(pa[off[0]], pb[off[1]]);
                                            });
                  });
  return out;
}

// Element-wise unary map, spread over the session's threads (f must be free of side effects
// other than ctx.Fail).
template <typename T, typename F>
Tensor MapUnary(const KernelContext& ctx, const Tensor& x, DType out_dtype, F&& f) {
  Tensor out = Tensor::Uninitialized(out_dtype, x.shape());  // every element written below
  const T* px = x.data<T>();
  using TO = std::remove_reference_t<decltype(f(px[0]))>;
  TO* po = out.data<TO>();
  ctx.ParallelFor(x.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = f(px[i]);
  });
  return out;
}

// numpy's pairwise summation (umath/loops_utils.h.src), which its add.reduce applies along a
// contiguous axis: under 8 terms a plain loop, up to 128 eight interleaved partial sums, beyond
// that the two halves recursively. term(i) is term i as Acc. For kernels that must round like
// ONNX's numpy reference.
template <typename Acc, typename Term>
Acc NumpyPairwiseSum(int64_t begin, int64_t n, const Term& term) {
  if (n < 8) {
    Acc r = 0;
    for (int64_t i = 0; i < n; ++i) r += term(begin + i);
    return r;
  }
  if (n <= 128) {
    Acc r[8];
    for (int j = 0; j < 8; ++j) r[j] = term(begin + j);
    int64_t i = 8;
    for (; i < n - n % 8; i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += term(begin + i + j);
    }
    Acc res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += term(begin + i);
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return NumpyPairwiseSum<Acc>(begin, n2, term) + NumpyPairwiseSum<Acc>(begin + n2, n - n2, term);
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
