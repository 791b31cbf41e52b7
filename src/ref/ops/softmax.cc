// Softmax, LogSoftmax and Hardmax.
//
// Opset 1/11 coerce the input to 2-D [prod(dims[:axis]), prod(dims[axis:])] (default axis 1) and
// normalize each row; opset 13 normalizes along the single dimension `axis` (default -1). Both
// reduce to the same loop over (outer, n, inner) blocks: element (o, j, i) sits at
// o * n * inner + j * inner + i. The 2-D form is the case inner == 1.
//
// float/double Softmax computes in double and rounds once. float16/bfloat16 Softmax rounds where
// ONNX's reference (onnx/reference/ops/op_softmax.py) does: its numpy steps x - max, exp, sum and
// the division each produce the element type, and at half precision those roundings show at the
// backend tests' tolerance (Attention's function body runs this Softmax on half inputs).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

struct Blocks {
  int64_t outer = 1, n = 1, inner = 1;
};

Blocks BlocksFor(const KernelContext& ctx, const Shape& shape, bool coerce_2d) {
  int64_t rank = static_cast<int64_t>(shape.size());
  Blocks b;
  if (coerce_2d) {
    int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 1), rank);
    for (int64_t d = 0; d < rank; ++d) (d < axis ? b.outer : b.n) *= shape[static_cast<size_t>(d)];
  } else {
    int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -1), rank);
    for (int64_t d = 0; d < rank; ++d) {
      int64_t dim = shape[static_cast<size_t>(d)];
      if (d < axis)
        b.outer *= dim;
      else if (d == axis)
        b.n = dim;
      else
        b.inner *= dim;
    }
  }
  return b;
}

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

// Softmax of one half-precision slice, rounding each numpy step to T. The sum: ml_dtypes'
// bfloat16 add rounds after every addition; numpy's float16 add.reduce sums a contiguous axis
// (inner == 1) pairwise in float and rounds once, a strided one element by element in float16.
template <typename T>
void HalfSoftmaxSlice(const T* x, T* y, int64_t n, int64_t inner) {
  float mx = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t j = 0; j < n; ++j) {
    float v = static_cast<float>(x[j * inner]);
    nan = nan || std::isnan(v);
    mx = std::max(mx, v);
  }
  if (nan) mx = std::numeric_limits<float>::quiet_NaN();  // numpy's max propagates NaN
  for (int64_t j = 0; j < n; ++j) {
    T d(static_cast<float>(x[j * inner]) - mx);
    y[j * inner] = T(std::exp(static_cast<float>(d)));
  }
  T sum;
  if (std::is_same_v<T, Float16> && inner == 1) {
    sum = T(NumpyPairwiseSum<float>(0, n, [&](int64_t j) { return static_cast<float>(y[j]); }));
  } else {
    sum = T(0.0f);
    for (int64_t j = 0; j < n; ++j)
      sum = T(static_cast<float>(sum) + static_cast<float>(y[j * inner]));
  }
  for (int64_t j = 0; j < n; ++j)
    y[j * inner] = T(static_cast<float>(y[j * inner]) / static_cast<float>(sum));
}

// One slice of n values (stride `inner`): computes in double, max subtracted for stability.
template <typename T>
void NormalizeSlice(Kind kind, const T* x, T* y, int64_t n, int64_t inner) {
  if (n == 0) return;
  if constexpr (kIsHalf<T>) {
    if (kind == Kind::kSoftmax) return HalfSoftmaxSlice(x, y, n, inner);
  }
  if (kind == Kind::kHardmax) {
    // First index of the maximum (NaN counts as the maximum, as numpy's argmax does).
    int64_t best = 0;
    double best_v = ToDouble(x[0]);
    for (int64_t j = 1; j < n && !std::isnan(best_v); ++j) {
      double v = ToDouble(x[j * inner]);
      if (v > best_v || std::isnan(v)) {
        best = j;
        best_v = v;
      }
    }
    for (int64_t j = 0; j < n; ++j) y[j * inner] = FromDouble<T>(j == best ? 1.0 : 0.0);
    return;
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, ToDouble(x[j * inner]));
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += std::exp(ToDouble(x[j * inner]) - mx);
  if (kind == Kind::kSoftmax) {
    for (int64_t j = 0; j < n; ++j)
      y[j * inner] = FromDouble<T>(std::exp(ToDouble(x[j * inner]) - mx) / sum);
  } else {
    double log_sum = std::log(sum);
    for (int64_t j = 0; j < n; ++j)
      y[j * inner] = FromDouble<T>(ToDouble(x[j * inner]) - mx - log_sum);
  }
}

template <Kind kKind, bool kCoerce2D>
std::vector<Value> Normalize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Blocks b = BlocksFor(ctx, x.shape(), kCoerce2D);
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < b.outer; ++o) {
      for (int64_t i = 0; i < b.inner; ++i) {
        int64_t base = o * b.n * b.inner + i;
        NormalizeSlice<T>(kKind, px + base, py + base, b.n, b.inner);
      }
    }
    return y;
  }));
}

}  // namespace

void RegisterSoftmaxOps(Registry& r) {
  r.Add("", "Softmax", 1, Normalize<Kind::kSoftmax, true>);
  r.Add("", "Softmax", 13, Normalize<Kind::kSoftmax, false>);
  r.Add("", "LogSoftmax", 1, Normalize<Kind::kLogSoftmax, true>);
  r.Add("", "LogSoftmax", 13, Normalize<Kind::kLogSoftmax, false>);
  r.Add("", "Hardmax", 1, Normalize<Kind::kHardmax, true>);
  r.Add("", "Hardmax", 13, Normalize<Kind::kHardmax, false>);
}

}  // namespace concord::ref
