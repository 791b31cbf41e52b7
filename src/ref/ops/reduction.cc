// Reduction ops: Reduce* (sum, mean, max, min, prod, L1, L2, log-sum, log-sum-exp, sum-square),
// ArgMax/ArgMin, CumSum, CumProd, TopK and Det.
//
// Every Reduce* op is one small reducer functor plus the shared axis handling below. Floating
// types accumulate in double; integer types accumulate in uint64 (two's complement wrap-around,
// which equals NumPy's wrapping integer arithmetic once cast back to the element type).
// Reducing over an empty set gives the ONNX-defined identity: 0 for sums, 1 for Prod, -inf (or
// the lowest value) for Max, +inf (or the highest value) for Min, -inf for LogSum/LogSumExp,
// NaN for Mean.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- shared helpers -----------------------------------------------------------------------------

template <typename T>
using AccT = std::conditional_t<kIsFloatLike<T>, double, uint64_t>;

template <typename T>
AccT<T> ToAcc(T v) {
  if constexpr (kIsFloatLike<T>)
    return ToDouble(v);
  else
    return static_cast<uint64_t>(v);
}

// double -> T; integers saturate (NaN -> 0) instead of overflowing.
template <typename T>
T FromDoubleSat(double v) {
  if constexpr (kIsFloatLike<T>) {
    return FromDouble<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <typename T>
T FromAcc(AccT<T> v) {
  if constexpr (kIsFloatLike<T>)
    return FromDouble<T>(v);
  else
    return static_cast<T>(v);  // wraps
}

template <typename T>
bool IsNan(const T& v) {
  if constexpr (kIsFloatLike<T>)
    return std::isnan(Up(v));
  else
    return false;
}

// Flat offsets of every index of `dims` (row-major order) under the given strides.
std::vector<int64_t> Offsets(const Shape& dims, const std::vector<int64_t>& strides) {
  int64_t n = NumElements(dims);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(off);
    for (size_t d = dims.size(); d-- > 0;) {
      ++idx[d];
      off += strides[d];
      if (idx[d] < dims[d]) break;
      off -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

// Which input elements feed each output element of a reduction.
struct ReducePlan {
  Shape out_shape;
  std::vector<int64_t> bases;    // per output element: input offset of its first contributor
  std::vector<int64_t> offsets;  // offsets of all contributors relative to the base
};

ReducePlan PlanReduce(const Shape& in, const std::vector<bool>& reduced, bool keepdims) {
  std::vector<int64_t> strides = Strides(in);
  Shape kept_dims, red_dims;
  std::vector<int64_t> kept_strides, red_strides;
  ReducePlan p;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) {
      red_dims.push_back(in[d]);
      red_strides.push_back(strides[d]);
      if (keepdims) p.out_shape.push_back(1);
    } else {
      kept_dims.push_back(in[d]);
      kept_strides.push_back(strides[d]);
      p.out_shape.push_back(in[d]);
    }
  }
  p.bases = Offsets(kept_dims, kept_strides);
  p.offsets = Offsets(red_dims, red_strides);
  return p;
}

// ---- reducers: T Reduce(const T* x, offsets) over x[offsets[i]] ---------------------------------

using Offs = std::vector<int64_t>;

struct SumR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    AccT<T> acc = 0;
    for (int64_t o : offs) acc += ToAcc(x[o]);
    return FromAcc<T>(acc);
  }
};
struct MeanR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    AccT<T> acc = 0;
    for (int64_t o : offs) acc += ToAcc(x[o]);
    if constexpr (kIsFloatLike<T>) {
      if (offs.empty()) return FromDouble<T>(std::numeric_limits<double>::quiet_NaN());
      return FromDouble<T>(acc / static_cast<double>(offs.size()));
    } else {
      if (offs.empty()) return T(0);
      if constexpr (std::is_signed_v<T>) {
        return static_cast<T>(static_cast<int64_t>(acc) / static_cast<int64_t>(offs.size()));
      } else {
        return static_cast<T>(acc / offs.size());
      }
    }
  }
};
struct ProdR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    AccT<T> acc = 1;
    for (int64_t o : offs) acc *= ToAcc(x[o]);
    return FromAcc<T>(acc);
  }
};
struct SumSquareR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    AccT<T> acc = 0;
    for (int64_t o : offs) acc += ToAcc(x[o]) * ToAcc(x[o]);
    return FromAcc<T>(acc);
  }
};
struct L1R {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    AccT<T> acc = 0;
    for (int64_t o : offs) {
      AccT<T> v = ToAcc(x[o]);
      if constexpr (kIsFloatLike<T>) {
        acc += std::fabs(v);
      } else if constexpr (std::is_signed_v<T>) {
        acc += x[o] < 0 ? AccT<T>(0) - v : v;
      } else {
        acc += v;
      }
    }
    return FromAcc<T>(acc);
  }
};
struct L2R {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    double acc = 0;
    for (int64_t o : offs) acc += ToDouble(x[o]) * ToDouble(x[o]);
    return FromDoubleSat<T>(std::sqrt(acc));
  }
};
struct LogSumR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    double acc = 0;
    for (int64_t o : offs) acc += ToDouble(x[o]);
    return FromDoubleSat<T>(std::log(acc));  // empty: log(0) = -inf
  }
};
struct LogSumExpR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    if (offs.empty()) return FromDoubleSat<T>(-std::numeric_limits<double>::infinity());
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t o : offs) {
      double v = ToDouble(x[o]);
      if (std::isnan(v)) return FromDoubleSat<T>(v);
      m = std::max(m, v);
    }
    double shift = std::isfinite(m) ? m : 0.0;  // shift by the max for stability
    double acc = 0;
    for (int64_t o : offs) acc += std::exp(ToDouble(x[o]) - shift);
    return FromDoubleSat<T>(std::log(acc) + shift);
  }
};
// Max/Min propagate NaN (as NumPy does); the empty set gives -inf/+inf or the type's limit.
template <bool kMax>
struct ExtremeR {
  template <typename T>
  static T Reduce(const T* x, const Offs& offs) {
    using C = ComputeT<T>;
    if (offs.empty()) {
      if constexpr (kIsFloatLike<T>) {
        C inf = std::numeric_limits<C>::infinity();
        return Down<T>(kMax ? -inf : inf);
      } else {
        return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
      }
    }
    C m = Up(x[offs[0]]);
    for (int64_t o : offs) {
      if (IsNan(x[o])) return x[o];
      C v = Up(x[o]);
      if (kMax ? v > m : v < m) m = v;
    }
    return Down<T>(m);
  }
};

// Reduces `x` over `axes` (empty = all axes, unless noop_with_empty_axes). kBool admits bool
// input (ReduceMax/ReduceMin-20: max is "any", min is "all"; the empty set gives false/true).
template <typename R, bool kBool = false>
std::vector<Value> ReduceOver(KernelContext& ctx, const std::vector<int64_t>& axes, bool noop) {
  const Tensor& x = ctx.input(0);
  bool keepdims = ctx.GetInt("keepdims", 1) != 0;
  if (axes.empty() && noop) return Out(x);
  int64_t rank = x.rank();
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) {
    int64_t d = NormalizeAxis(ctx, a, rank);
    if (rank == 0) continue;  // a scalar reduces to itself
    if (reduced[static_cast<size_t>(d)]) ctx.Fail("axis {} is listed more than once in axes", a);
    reduced[static_cast<size_t>(d)] = true;
  }
  ReducePlan plan = PlanReduce(x.shape(), reduced, keepdims);
  auto reduce = [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), plan.out_shape);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (size_t i = 0; i < plan.bases.size(); ++i)
      po[i] = R::Reduce(px + plan.bases[i], plan.offsets);
    return out;
  };
  if constexpr (kBool) {
    if (x.dtype() == DType::kBool) return Out(reduce(TypeTag<bool>{}));
  }
  return Out(DispatchNumeric(ctx, x.dtype(), reduce));
}

// Opset < 13 (ReduceSum) / < 18 (the others): axes is an attribute.
template <typename R>
std::vector<Value> ReduceAxesAttr(KernelContext& ctx) {
  return ReduceOver<R>(ctx, ctx.GetInts("axes"), false);
}

// Opset 13 (ReduceSum) / 18 (the others): axes is an optional input; noop_with_empty_axes.
template <typename R, bool kBool = false>
std::vector<Value> ReduceAxesInput(KernelContext& ctx) {
  std::vector<int64_t> axes;
  if (const Tensor* t = ctx.optional_input(1)) {
    if (t->rank() > 1) ctx.Fail("axes must be 1-D, got {}", t->Describe());
    axes = ToInt64Vector(ctx, *t);
  }
  return ReduceOver<R, kBool>(ctx, axes, ctx.GetInt("noop_with_empty_axes", 0) != 0);
}

// ---- ArgMax / ArgMin
// ------------------------------------------------------------------------------

// Views `shape` as [outer, shape[axis], inner].
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
AxisSplit SplitAt(const Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    int64_t n = shape[static_cast<size_t>(d)];
    if (d < axis)
      s.outer *= n;
    else if (d == axis)
      s.len = n;
    else
      s.inner *= n;
  }
  return s;
}

// NaN counts as the extreme value in both directions (NumPy's argmax/argmin return the first NaN).
template <bool kMax>
std::vector<Value> ArgExtreme(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.Fail("input must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  bool keepdims = ctx.GetInt("keepdims", 1) != 0;
  bool last = ctx.GetInt("select_last_index", 0) != 0;
  AxisSplit s = SplitAt(x.shape(), axis);
  if (s.len == 0) ctx.Fail("cannot take the arg{} over an empty axis", kMax ? "max" : "min");
  Shape out_shape = x.shape();
  if (keepdims)
    out_shape[static_cast<size_t>(axis)] = 1;
  else
    out_shape.erase(out_shape.begin() + axis);
  Tensor out(DType::kInt64, out_shape);
  int64_t* po = out.data<int64_t>();
  DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* p = px + o * s.len * s.inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < s.len; ++j) {
          auto b = Up(p[best * s.inner]);
          auto v = Up(p[j * s.inner]);
          bool better;
          if (IsNan(p[best * s.inner])) {
            better = last && IsNan(p[j * s.inner]);
          } else if (IsNan(p[j * s.inner])) {
            better = true;
          } else {
            better = kMax ? (v > b || (last && v == b)) : (v < b || (last && v == b));
          }
          if (better) best = j;
        }
        po[o * s.inner + i] = best;
      }
    }
    return 0;
  });
  return Out(std::move(out));
}

// ---- CumSum / CumProd ---------------------------------------------------------------------------

// Running sum (CumSum-11) or product (CumProd-26) along the axis given as input 1. Accumulates as
// the Reduce* ops do (double for floats, wrapping uint64 for integers); `exclusive` shifts by
// one (starting from 0 or 1), `reverse` runs from the end.
template <bool kProd>
std::vector<Value> CumScan(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& axis_t = ctx.input(1);
  if (axis_t.rank() > 1 || axis_t.numel() != 1)
    ctx.Fail("axis must be a scalar, got {}", axis_t.Describe());
  if (x.rank() == 0) ctx.Fail("input must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ToInt64Vector(ctx, axis_t)[0], x.rank());
  bool exclusive = ctx.GetInt("exclusive", 0) != 0;
  bool reverse = ctx.GetInt("reverse", 0) != 0;
  AxisSplit s = SplitAt(x.shape(), axis);
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), x.shape());
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        int64_t base = o * s.len * s.inner + i;
        AccT<T> acc = kProd ? 1 : 0;
        for (int64_t k = 0; k < s.len; ++k) {
          int64_t j = reverse ? s.len - 1 - k : k;
          int64_t at = base + j * s.inner;
          if (exclusive) po[at] = FromAcc<T>(acc);
          if constexpr (kProd) {
            acc *= ToAcc(px[at]);
          } else {
            acc += ToAcc(px[at]);
          }
          if (!exclusive) po[at] = FromAcc<T>(acc);
        }
      }
    }
    return out;
  }));
}

// ---- TopK ---------------------------------------------------------------------------------------

// Sorted top-k along an axis. Ties go to the lower index; NaN ranks above every number (as in
// the ONNX reference, which sorts with NumPy).
std::vector<Value> TopKImpl(KernelContext& ctx, int64_t k, int64_t axis_attr, bool largest) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.Fail("input must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, axis_attr, x.rank());
  AxisSplit s = SplitAt(x.shape(), axis);
  if (k < 0 || k > s.len) ctx.Fail("k = {} is out of range for axis of size {}", k, s.len);
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(axis)] = k;
  Tensor indices(DType::kInt64, out_shape);
  int64_t* pi = indices.data<int64_t>();
  Tensor values = DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), out_shape);
    const T* px = x.data<T>();
    T* pv = out.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(s.len));
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* p = px + o * s.len * s.inner + i;
        // true when element a comes before element b in the output order
        auto before = [&](int64_t a, int64_t b) {
          bool na = IsNan(p[a * s.inner]), nb = IsNan(p[b * s.inner]);
          if (na || nb) {
            if (na && nb) return a < b;
            return largest ? na : nb;  // NaN is the largest value
          }
          auto va = Up(p[a * s.inner]);
          auto vb = Up(p[b * s.inner]);
          if (va != vb) return largest ? va > vb : va < vb;
          return a < b;
        };
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          int64_t src = order[static_cast<size_t>(j)];
          int64_t dst = (o * k + j) * s.inner + i;
          pv[dst] = p[src * s.inner];
          pi[dst] = src;
        }
      }
    }
    return out;
  });
  std::vector<Value> result;
  result.emplace_back(std::move(values));
  result.emplace_back(std::move(indices));
  return result;
}

// TopK-1: k is an attribute; always largest.
std::vector<Value> TopK1(KernelContext& ctx) {
  return TopKImpl(ctx, ctx.RequireInt("k"), ctx.GetInt("axis", -1), true);
}

int64_t ReadK(KernelContext& ctx) {
  const Tensor& k = ctx.input(1);
  if (k.numel() != 1 || k.rank() > 1)
    ctx.Fail("K must be a 1-D tensor with one element, got {}", k.Describe());
  return ToInt64Vector(ctx, k)[0];
}

// TopK-10: k is an input.
std::vector<Value> TopK10(KernelContext& ctx) {
  return TopKImpl(ctx, ReadK(ctx), ctx.GetInt("axis", -1), true);
}

// TopK-11: adds `largest` and `sorted` (sorted=0 leaves the order unspecified; we sort anyway).
std::vector<Value> TopK11(KernelContext& ctx) {
  return TopKImpl(ctx, ReadK(ctx), ctx.GetInt("axis", -1), ctx.GetInt("largest", 1) != 0);
}

// ---- Det ----------------------------------------------------------------------------------------

// Determinant by LU decomposition with partial pivoting, in double.
double Determinant(std::vector<double> a, int64_t n) {
  double det = 1.0;
  for (int64_t c = 0; c < n; ++c) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < n; ++r) {
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    }
    if (a[piv * n + c] == 0.0) return 0.0;
    if (piv != c) {
      for (int64_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[piv * n + j]);
      det = -det;
    }
    double d = a[c * n + c];
    det *= d;
    for (int64_t r = c + 1; r < n; ++r) {
      double f = a[r * n + c] / d;
      if (f == 0.0) continue;
      for (int64_t j = c + 1; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return det;
}

std::vector<Value> Det(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2, got {}", x.Describe());
  int64_t n = x.dim(x.rank() - 1);
  if (x.dim(x.rank() - 2) != n)
    ctx.Fail("the last two dimensions must be equal, got {}", x.Describe());
  Shape out_shape(x.shape().begin(), x.shape().end() - 2);
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), out_shape);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    std::vector<double> m(static_cast<size_t>(n * n));
    for (int64_t b = 0; b < out.numel(); ++b) {
      for (int64_t i = 0; i < n * n; ++i) m[static_cast<size_t>(i)] = ToDouble(px[b * n * n + i]);
      po[b] = FromDouble<T>(Determinant(m, n));
    }
    return out;
  }));
}

}  // namespace

void RegisterReductionOps(Registry& r) {
  // ReduceSum took axes as an input from opset 13; the others from opset 18. Opset 11 only
  // allowed negative axes, which the same kernels accept. ReduceMax/ReduceMin-20 admit bool.
  r.Add("", "ReduceSum", 1, ReduceAxesAttr<SumR>);
  r.Add("", "ReduceSum", 13, ReduceAxesInput<SumR>);
  r.Add("", "ReduceMean", 1, ReduceAxesAttr<MeanR>);
  r.Add("", "ReduceMean", 18, ReduceAxesInput<MeanR>);
  r.Add("", "ReduceMax", 1, ReduceAxesAttr<ExtremeR<true>>);
  r.Add("", "ReduceMax", 18, ReduceAxesInput<ExtremeR<true>>);
  r.Add("", "ReduceMax", 20, ReduceAxesInput<ExtremeR<true>, true>);
  r.Add("", "ReduceMin", 1, ReduceAxesAttr<ExtremeR<false>>);
  r.Add("", "ReduceMin", 18, ReduceAxesInput<ExtremeR<false>>);
  r.Add("", "ReduceMin", 20, ReduceAxesInput<ExtremeR<false>, true>);
  r.Add("", "ReduceProd", 1, ReduceAxesAttr<ProdR>);
  r.Add("", "ReduceProd", 18, ReduceAxesInput<ProdR>);
  r.Add("", "ReduceL1", 1, ReduceAxesAttr<L1R>);
  r.Add("", "ReduceL1", 18, ReduceAxesInput<L1R>);
  r.Add("", "ReduceL2", 1, ReduceAxesAttr<L2R>);
  r.Add("", "ReduceL2", 18, ReduceAxesInput<L2R>);
  r.Add("", "ReduceLogSum", 1, ReduceAxesAttr<LogSumR>);
  r.Add("", "ReduceLogSum", 18, ReduceAxesInput<LogSumR>);
  r.Add("", "ReduceLogSumExp", 1, ReduceAxesAttr<LogSumExpR>);
  r.Add("", "ReduceLogSumExp", 18, ReduceAxesInput<LogSumExpR>);
  r.Add("", "ReduceSumSquare", 1, ReduceAxesAttr<SumSquareR>);
  r.Add("", "ReduceSumSquare", 18, ReduceAxesInput<SumSquareR>);

  // ArgMax/ArgMin: 11 allowed negative axis, 12 added select_last_index (default 0): one kernel.
  r.Add("", "ArgMax", 1, ArgExtreme<true>);
  r.Add("", "ArgMin", 1, ArgExtreme<false>);

  r.Add("", "CumSum", 11, CumScan<false>);
  r.Add("", "CumProd", 26, CumScan<true>);

  r.Add("", "TopK", 1, TopK1);
  r.Add("", "TopK", 10, TopK10);
  r.Add("", "TopK", 11, TopK11);

  r.Add("", "Det", 11, Det);
}

}  // namespace concord::ref
