// Softmax, LogSoftmax and Hardmax.
//
// Opset 1/11 coerce the input to 2-D [prod(dims[:axis]), prod(dims[axis:])] (default axis 1) and
// normalize each row; opset 13 normalizes along the single dimension `axis` (default -1). Both
// reduce to the same loop over (outer, n, inner) blocks: element (o, j, i) sits at
// o * n * inner + j * inner + i. The 2-D form is the case inner == 1.
#include <cmath>
#include <limits>

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

// One slice of n values (stride `inner`): computes in double, max subtracted for stability.
template <typename T>
void NormalizeSlice(Kind kind, const T* x, T* y, int64_t n, int64_t inner) {
  if (n == 0) return;
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
