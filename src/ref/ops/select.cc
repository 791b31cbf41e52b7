// Ops whose output size depends on the values: Compress, NonZero, Unique (numpy.unique order,
// NaNs last) and ReverseSequence.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

std::vector<Value> Compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool) ctx.Fail("condition must be bool");
  if (cond.rank() != 1) ctx.Fail("condition must be 1-D");
  const bool* c = cond.data<bool>();
  Tensor src = x;
  int64_t axis = 0;
  if (ctx.has_attr("axis")) {
    axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  } else {
    src = x.Reshaped({x.numel()});
  }
  size_t ax = static_cast<size_t>(axis);
  int64_t dim = src.shape()[ax];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!c[i]) continue;
    if (i >= dim) ctx.Fail("condition selects index {} beyond axis size {}", i, dim);
    keep.push_back(i);
  }
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= src.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < src.shape().size(); ++d) inner *= src.shape()[d];
  Shape out_shape = src.shape();
  out_shape[ax] = static_cast<int64_t>(keep.size());
  Tensor out(x.dtype(), out_shape);
  ElementCopier copy(src, out);
  int64_t n = static_cast<int64_t>(keep.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      copy((o * n + k) * inner, (o * dim + keep[static_cast<size_t>(k)]) * inner, inner);
    }
  }
  return Out(std::move(out));
}

template <typename T>
bool IsNonZero(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return !v.empty();
  } else if constexpr (kIsHalf<T>) {
    return static_cast<float>(v) != 0.0f;
  } else {
    return v != T{};
  }
}

std::vector<Value> NonZero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape shape = x.rank() == 0 ? Shape{1} : x.shape();  // numpy treats a scalar as 1-D
  std::vector<int64_t> hits;
  DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (IsNonZero(p[i])) hits.push_back(i);
    }
    return 0;
  });
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t n = static_cast<int64_t>(hits.size());
  Tensor out(DType::kInt64, {rank, n});
  int64_t* po = out.data<int64_t>();
  std::vector<int64_t> strides = Strides(shape);
  for (int64_t j = 0; j < n; ++j) {
    int64_t flat = hits[static_cast<size_t>(j)];
    for (int64_t d = 0; d < rank; ++d) {
      po[d * n + j] = flat / strides[static_cast<size_t>(d)];
      flat %= strides[static_cast<size_t>(d)];
    }
  }
  return Out(std::move(out));
}

// Orders values as numpy.unique does (NaNs last).
template <typename T>
bool UniqueLess(const T& a, const T& b) {
  if constexpr (kIsFloatLike<T>) {
    double x = ToDouble(a), y = ToDouble(b);
    if (std::isnan(x)) return false;
    if (std::isnan(y)) return true;
    return x < y;
  } else if constexpr (kIsComplex<T>) {
    return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
  } else {
    return a < b;
  }
}

template <typename T>
bool UniqueEqual(const T& a, const T& b) {
  if constexpr (kIsFloatLike<T>) {
    double x = ToDouble(a), y = ToDouble(b);
    return x == y || (std::isnan(x) && std::isnan(y));
  } else {
    return a == b;
  }
}

// Unique over slices along `axis` (or over elements of the flattened input when axis is absent).
std::vector<Value> Unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool sorted = ctx.GetInt("sorted", 1) != 0;
  bool has_axis = ctx.has_attr("axis");
  Tensor src = has_axis ? x : x.Reshaped({x.numel()});
  int64_t axis = has_axis ? NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank()) : 0;
  size_t ax = static_cast<size_t>(axis);
  int64_t n = src.shape()[ax];
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= src.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < src.shape().size(); ++d) inner *= src.shape()[d];

  // Slice i consists of elements (o * n + i) * inner + k for o < outer, k < inner.
  std::vector<int64_t> order(static_cast<size_t>(n));  // slice ids sorted, stable
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> first;  // first occurrence of each unique slice
  std::vector<int64_t> inverse(static_cast<size_t>(n));
  std::vector<int64_t> counts;
  DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = src.data<T>();
    auto cmp = [&](int64_t a, int64_t b) -> int {  // lexicographic over the slice
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < inner; ++k) {
          const T& va = p[(o * n + a) * inner + k];
          const T& vb = p[(o * n + b) * inner + k];
          if (UniqueEqual(va, vb)) continue;
          return UniqueLess(va, vb) ? -1 : 1;
        }
      }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
        first.push_back(order[i]);  // stable sort: the first of a run is the earliest occurrence
        counts.push_back(0);
      }
      inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(first.size()) - 1;
      ++counts.back();
    }
    return 0;
  });
  size_t u = first.size();
  std::vector<size_t> rank(u);  // output position of the unique entry with sorted id i
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {
    std::vector<size_t> by_first(u);
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(),
              [&](size_t a, size_t b) { return first[a] < first[b]; });
    for (size_t pos = 0; pos < u; ++pos) rank[by_first[pos]] = pos;
  }
  std::vector<int64_t> indices_out(u), counts_out(u), inverse_out(static_cast<size_t>(n));
  for (size_t i = 0; i < u; ++i) {
    indices_out[rank[i]] = first[i];
    counts_out[rank[i]] = counts[i];
  }
  for (size_t i = 0; i < inverse.size(); ++i)
    inverse_out[i] = static_cast<int64_t>(rank[static_cast<size_t>(inverse[i])]);

  Shape y_shape = src.shape();
  y_shape[ax] = static_cast<int64_t>(u);
  Tensor y(x.dtype(), y_shape);
  ElementCopier copy(src, y);
  int64_t un = static_cast<int64_t>(u);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < un; ++j) {
      copy((o * un + j) * inner, (o * n + indices_out[static_cast<size_t>(j)]) * inner, inner);
    }
  }
  std::vector<Value> outs;
  outs.emplace_back(std::move(y));
  outs.emplace_back(Tensor::FromVector<int64_t>({un}, indices_out));
  outs.emplace_back(Tensor::FromVector<int64_t>({n}, inverse_out));
  outs.emplace_back(Tensor::FromVector<int64_t>({un}, counts_out));
  return outs;
}

std::vector<Value> ReverseSequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> lens = ToInt64Vector(ctx, ctx.input(1));
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2");
  int64_t time_axis = ctx.GetInt("time_axis", 0);
  int64_t batch_axis = ctx.GetInt("batch_axis", 1);
  if (!((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0))) {
    ctx.Fail("time_axis/batch_axis must be 0/1 or 1/0");
  }
  int64_t batch = x.dim(static_cast<int>(batch_axis)), time = x.dim(static_cast<int>(time_axis));
  if (static_cast<int64_t>(lens.size()) != batch)
    ctx.Fail("sequence_lens has {} entries for batch {}", lens.size(), batch);
  std::vector<int64_t> strides = Strides(x.shape());
  int64_t inner = strides[1];  // elements per (dim0, dim1) cell
  Tensor out = x;
  ElementCopier copy(x, out);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t len = lens[static_cast<size_t>(b)];
    if (len < 0 || len > time) ctx.Fail("sequence length {} out of range [0, {}]", len, time);
    for (int64_t t = 0; t < len; ++t) {
      int64_t src_t = len - 1 - t;
      int64_t dst = time_axis == 0 ? (t * batch + b) : (b * time + t);
      int64_t src = time_axis == 0 ? (src_t * batch + b) : (b * time + src_t);
      copy(dst * inner, src * inner, inner);
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterSelectOps(Registry& r) {
  r.Add("", "Compress", 9, Compress);
  r.Add("", "NonZero", 9, NonZero);
  r.Add("", "Unique", 11, Unique);
  r.Add("", "ReverseSequence", 10, ReverseSequence);
}

}  // namespace concord::ref
