// Matrix products: MatMul, Gemm, Einsum, MatMulInteger, QLinearMatMul.
//
// MatMul follows numpy.matmul: 1-D operands are promoted to a matrix and the added dim is
// removed from the result; leading (batch) dims broadcast. float/double go through BLAS,
// float16/bfloat16 through float, integers through GemmGeneric with wrap-around arithmetic.
// Einsum is a direct loop over every label combination (clear rather than fast).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "ref/ops/common.h"
#include "ref/ops/gemm.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- shared batched-matmul driver -----------------------------------------------------------

struct MatMulPlan {
  int64_t m = 0, k = 0, n = 0;
  Shape batch;                        // broadcast batch shape
  std::vector<int64_t> a_off, b_off;  // per batch: offsets of the A / B matrices (elements)
  Shape out;                          // result shape (1-D operand dims removed)
};

MatMulPlan PlanMatMul(const KernelContext& ctx, const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) ctx.Fail("MatMul operands must have rank >= 1");
  Shape a = a_in, b = b_in;
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k) {
    ctx.Fail("inner dimensions differ: A {} and B {}", ShapeToString(a_in), ShapeToString(b_in));
  }
  Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  p.batch = BroadcastShapes(ctx, {ab, bb});
  // Batch strides in units of whole matrices, 0 on broadcast dims.
  std::array<std::vector<int64_t>, 2> strides = {BroadcastStrides(ab, p.batch),
                                                 BroadcastStrides(bb, p.batch)};
  const int64_t nb = NumElements(p.batch);
  p.a_off.reserve(nb);
  p.b_off.reserve(nb);
  ForEachBroadcast<2>(p.batch, strides, [&](int64_t, const std::array<int64_t, 2>& off) {
    p.a_off.push_back(off[0] * p.m * p.k);
    p.b_off.push_back(off[1] * p.k * p.n);
  });
  p.out = p.batch;
  if (!a1) p.out.push_back(p.m);
  if (!b1) p.out.push_back(p.n);
  return p;
}

// Runs y[batch] = a[batch] * b[batch] for every batch entry with the given GEMM.
template <typename TA, typename TB, typename TY, typename G>
void RunBatched(const MatMulPlan& p, const TA* a, const TB* b, TY* y, G&& gemm) {
  for (size_t i = 0; i < p.a_off.size(); ++i) {
    gemm(a + p.a_off[i], b + p.b_off[i], y + static_cast<int64_t>(i) * p.m * p.n);
  }
}

template <typename T>
std::vector<float> ToFloat(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  const T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<float>(p[i]);
  return v;
}

// Accumulator with wrap-around semantics for integer products.
template <typename T>
using IntAcc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

// ---- MatMul ---------------------------------------------------------------------------------

std::vector<Value> MatMul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype()) ctx.Fail("A and B must have the same element type");
  MatMulPlan p = PlanMatMul(ctx, a.shape(), b.shape());
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y(a.dtype(), p.out);
    const int64_t m = p.m, n = p.n, k = p.k;
    if (k == 0) return y;  // empty sum: zeros
    if constexpr (std::is_same_v<T, float>) {
      RunBatched(p, a.data<float>(), b.data<float>(), y.data<float>(),
                 [&](const float* pa, const float* pb, float* py) {
                   GemmF32(ctx, false, false, m, n, k, 1.0f, pa, k, pb, n, 0.0f, py, n);
                 });
    } else if constexpr (std::is_same_v<T, double>) {
      RunBatched(p, a.data<double>(), b.data<double>(), y.data<double>(),
                 [&](const double* pa, const double* pb, double* py) {
                   GemmF64(false, false, m, n, k, 1.0, pa, k, pb, n, 0.0, py, n);
                 });
    } else if constexpr (kIsHalf<T>) {
      std::vector<float> fa = ToFloat<T>(a), fb = ToFloat<T>(b), fy(static_cast<size_t>(y.numel()));
      RunBatched(p, fa.data(), fb.data(), fy.data(),
                 [&](const float* pa, const float* pb, float* py) {
                   GemmF32(ctx, false, false, m, n, k, 1.0f, pa, k, pb, n, 0.0f, py, n);
                 });
      T* py = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = T(fy[i]);
    } else {
      RunBatched(p, a.data<T>(), b.data<T>(), y.data<T>(), [&](const T* pa, const T* pb, T* py) {
        GemmGeneric<uint64_t>(false, false, m, n, k, pa, k, pb, n, py, n);
      });
    }
    return y;
  }));
}

// ---- Gemm -----------------------------------------------------------------------------------

std::vector<Value> Gemm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* c = ctx.optional_input(2);
  if (a.rank() != 2 || b.rank() != 2) {
    ctx.Fail("A and B must be 2-D, got {} and {}", ShapeToString(a.shape()),
             ShapeToString(b.shape()));
  }
  if (a.dtype() != b.dtype() || (c && c->dtype() != a.dtype()))
    ctx.Fail("A, B and C must have the same element type");
  const bool ta = ctx.GetInt("transA", 0) != 0, tb = ctx.GetInt("transB", 0) != 0;
  const float alpha = ctx.GetFloat("alpha", 1.0f), beta = ctx.GetFloat("beta", 1.0f);
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  if (k != kb)
    ctx.Fail("inner dimensions differ: A {} (transA={}) and B {} (transB={})",
             ShapeToString(a.shape()), ta, ShapeToString(b.shape()), tb);
  Shape y_shape = {m, n};
  if (c && c->rank() > 2) ctx.Fail("C must have rank <= 2, got {}", ShapeToString(c->shape()));
  if (c && BroadcastShapes(ctx, {c->shape(), y_shape}) != y_shape) {
    ctx.Fail("C shape {} does not broadcast to [{}, {}]", ShapeToString(c->shape()), m, n);
  }
  const int64_t lda = a.dim(1), ldb = b.dim(1);
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Cmp = std::conditional_t<std::is_same_v<T, double>, double,
                                   std::conditional_t<kIsFloatLike<T>, float, double>>;
    // ab = alpha * op(A) * op(B) in the compute type
    std::vector<Cmp> ab(static_cast<size_t>(m * n), Cmp(0));
    if (k > 0) {
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        if constexpr (std::is_same_v<T, float>) {
          GemmF32(ctx, ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, 0.0f, ab.data(),
                  n);
        } else {
          GemmF64(ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, 0.0, ab.data(), n);
        }
      } else if constexpr (kIsHalf<T>) {
        std::vector<float> fa = ToFloat<T>(a), fb = ToFloat<T>(b);
        GemmF32(ctx, ta, tb, m, n, k, alpha, fa.data(), lda, fb.data(), ldb, 0.0f, ab.data(), n);
      } else {
        std::vector<T> raw(static_cast<size_t>(m * n));
        GemmGeneric<uint64_t>(ta, tb, m, n, k, a.data<T>(), lda, b.data<T>(), ldb, raw.data(), n);
        for (int64_t i = 0; i < m * n; ++i)
          ab[i] = static_cast<double>(alpha) * static_cast<double>(raw[i]);
      }
    }
    Tensor y(a.dtype(), y_shape);
    T* py = y.data<T>();
    if (c) {
      std::array<std::vector<int64_t>, 1> st = {BroadcastStrides(c->shape(), y_shape)};
      const T* pc = c->data<T>();
      ForEachBroadcast<1>(y_shape, st, [&](int64_t o, const std::array<int64_t, 1>& off) {
        Cmp v = ab[o] + static_cast<Cmp>(beta) * static_cast<Cmp>(Up(pc[off[0]]));
        py[o] = Down<T>(static_cast<ComputeT<T>>(v));
      });
    } else {
      for (int64_t i = 0; i < m * n; ++i) py[i] = Down<T>(static_cast<ComputeT<T>>(ab[i]));
    }
    return y;
  }));
}

// ---- Einsum ---------------------------------------------------------------------------------

// Labels: letters map to 0..51; ellipsis dims to 52 + j (right-aligned across operands).
constexpr int kEllipsisBase = 52;

int LetterId(const KernelContext& ctx, char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return 26 + (ch - 'a');
  ctx.Fail("invalid character '{}' in einsum equation", ch);
}

// Splits a term into letter ids with -1 marking the ellipsis position.
std::vector<int> ParseTerm(const KernelContext& ctx, const std::string& term) {
  std::vector<int> out;
  bool seen_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') {
      if (term.compare(i, 3, "...") != 0 || seen_ellipsis)
        ctx.Fail("malformed ellipsis in einsum term '{}'", term);
      seen_ellipsis = true;
      out.push_back(-1);
      i += 2;
    } else {
      out.push_back(LetterId(ctx, term[i]));
    }
  }
  return out;
}

// Replaces the ellipsis marker with the last `count` of `total` ellipsis labels.
std::vector<int> ExpandEllipsis(const std::vector<int>& term, int count, int total) {
  std::vector<int> out;
  for (int id : term) {
    if (id != -1) {
      out.push_back(id);
      continue;
    }
    for (int j = total - count; j < total; ++j) out.push_back(kEllipsisBase + j);
  }
  return out;
}

std::vector<Value> Einsum(KernelContext& ctx) {
  std::string eq;
  for (char ch : ctx.GetString("equation", "")) {
    if (ch != ' ') eq += ch;
  }
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  // parse the input terms
  std::vector<std::vector<int>> raw_terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    raw_terms.push_back(ParseTerm(
        ctx, lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const size_t ninputs = ctx.num_inputs();
  if (raw_terms.size() != ninputs)
    ctx.Fail("equation has {} terms but the node has {} inputs", raw_terms.size(), ninputs);
  DType dt = ctx.input(0).dtype();
  // ellipsis widths
  std::vector<int> ell_count(ninputs, 0);
  int ell_total = 0;
  for (size_t i = 0; i < ninputs; ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != dt) ctx.Fail("all inputs must have the same element type");
    const auto& term = raw_terms[i];
    bool has_ell = std::find(term.begin(), term.end(), -1) != term.end();
    int explicit_dims = static_cast<int>(term.size()) - (has_ell ? 1 : 0);
    int extra = t.rank() - explicit_dims;
    if (extra < 0 || (!has_ell && extra != 0)) {
      ctx.Fail("term {} has {} labels but input {} has rank {}", i, explicit_dims, i, t.rank());
    }
    ell_count[i] = extra;
    ell_total = std::max(ell_total, extra);
  }
  std::vector<std::vector<int>> terms(ninputs);
  for (size_t i = 0; i < ninputs; ++i)
    terms[i] = ExpandEllipsis(raw_terms[i], ell_count[i], ell_total);

  // label sizes (size-1 dims broadcast)
  std::map<int, int64_t> size;
  std::map<int, int> occurrences;
  for (size_t i = 0; i < ninputs; ++i) {
    for (size_t ax = 0; ax < terms[i].size(); ++ax) {
      int l = terms[i][ax];
      int64_t d = ctx.input(i).dim(static_cast<int>(ax));
      ++occurrences[l];
      auto it = size.find(l);
      if (it == size.end() || it->second == 1) {
        size[l] = d;
      } else if (d != 1 && d != it->second) {
        ctx.Fail("einsum label has inconsistent sizes {} and {}", it->second, d);
      }
    }
  }

  // output labels: explicit, or implicit = ellipsis dims then labels seen once, sorted
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    std::vector<int> raw_out = ParseTerm(ctx, eq.substr(arrow + 2));
    out_labels = ExpandEllipsis(raw_out, ell_total, ell_total);
    for (size_t i = 0; i < out_labels.size(); ++i) {
      if (!size.count(out_labels[i])) ctx.Fail("output label does not appear in any input");
      if (std::count(out_labels.begin(), out_labels.end(), out_labels[i]) > 1)
        ctx.Fail("output label repeated");
    }
  } else {
    for (int j = 0; j < ell_total; ++j) out_labels.push_back(kEllipsisBase + j);
    // ASCII order: uppercase (ids 0..25) before lowercase (26..51), as numpy sorts
    for (const auto& [l, cnt] : occurrences) {
      if (l < kEllipsisBase && cnt == 1) out_labels.push_back(l);
    }
  }
  // loop labels: output labels first, then the summed ones
  std::vector<int> labels = out_labels;
  for (const auto& [l, sz] : size) {
    if (std::find(out_labels.begin(), out_labels.end(), l) == out_labels.end()) labels.push_back(l);
  }
  const size_t nl = labels.size();
  std::vector<int64_t> dims(nl);
  for (size_t j = 0; j < nl; ++j) dims[j] = size[labels[j]];
  // per input, the element stride of each loop label (repeated labels add: diagonals)
  std::vector<std::vector<int64_t>> strides(ninputs, std::vector<int64_t>(nl, 0));
  for (size_t i = 0; i < ninputs; ++i) {
    std::vector<int64_t> st = Strides(ctx.input(i).shape());
    for (size_t ax = 0; ax < terms[i].size(); ++ax) {
      if (ctx.input(i).dim(static_cast<int>(ax)) == 1) continue;  // broadcast
      size_t j = std::find(labels.begin(), labels.end(), terms[i][ax]) - labels.begin();
      strides[i][j] += st[ax];
    }
  }
  Shape out_shape(dims.begin(), dims.begin() + static_cast<long>(out_labels.size()));
  int64_t out_count = NumElements(out_shape);
  int64_t sum_count = 1;
  for (size_t j = out_labels.size(); j < nl; ++j) sum_count *= dims[j];

  return Out(DispatchNumeric(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = IntAcc<T>;
    Tensor y(dt, out_shape);
    T* py = y.data<T>();
    std::vector<const T*> in(ninputs);
    for (size_t i = 0; i < ninputs; ++i) in[i] = ctx.input(i).template data<T>();
    if (out_count == 0 || sum_count == 0) return y;  // empty output, or empty sums (zeros)
    std::vector<int64_t> idx(nl, 0), off(ninputs, 0);
    for (int64_t o = 0; o < out_count; ++o) {
      Acc acc = 0;
      for (int64_t s = 0; s < sum_count; ++s) {
        // product of the operands at the current label values
        Acc p = 1;
        for (size_t i = 0; i < ninputs; ++i) {
          if constexpr (std::is_integral_v<T>)
            p *= static_cast<Acc>(in[i][off[i]]);
          else
            p *= ToDouble(in[i][off[i]]);
        }
        acc += p;
        // advance the odometer over all labels (the last labels vary fastest)
        for (size_t jj = nl; jj-- > 0;) {
          for (size_t i = 0; i < ninputs; ++i) off[i] += strides[i][jj];
          if (++idx[jj] < dims[jj]) break;
          for (size_t i = 0; i < ninputs; ++i) off[i] -= strides[i][jj] * dims[jj];
          idx[jj] = 0;
        }
      }
      if constexpr (std::is_integral_v<T>)
        py[o] = static_cast<T>(acc);
      else
        py[o] = FromDouble<T>(acc);
    }
    return y;
  }));
}

// ---- MatMulInteger / QLinearMatMul ----------------------------------------------------------

// A as int32 minus its zero point: scalar or one per row (M) of the [..., M, K] operand.
std::vector<int32_t> ShiftRows(const KernelContext& ctx, const Tensor& t, const Tensor* zp,
                               bool per_row, int64_t rows_or_cols, const char* what) {
  if (t.dtype() != DType::kUInt8 && t.dtype() != DType::kInt8) {
    ctx.Unsupported("{} has element type {} (expected uint8 or int8)", what, DTypeName(t.dtype()));
  }
  if (zp && zp->dtype() != t.dtype()) ctx.Fail("zero point of {} must have its element type", what);
  if (zp && zp->numel() != 1 && zp->numel() != rows_or_cols) {
    ctx.Unsupported("zero point of {} with shape {} (only per-tensor or per-{} supported)", what,
                    ShapeToString(zp->shape()), per_row ? "row" : "column");
  }
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  const int64_t cols = t.rank() >= 2 ? t.dim(t.rank() - 1) : t.numel();
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t zi = 0;
    if (zp && zp->numel() > 1) zi = per_row ? (i / cols) % rows_or_cols : i % cols;
    int32_t z = zp ? static_cast<int32_t>(zp->GetDouble(zi)) : 0;
    v[i] = static_cast<int32_t>(t.GetDouble(i)) - z;
  }
  return v;
}

Tensor IntegerMatMul(const KernelContext& ctx, const Tensor& a, const Tensor* a_zp, const Tensor& b,
                     const Tensor* b_zp, MatMulPlan& p) {
  p = PlanMatMul(ctx, a.shape(), b.shape());
  std::vector<int32_t> ia = ShiftRows(ctx, a, a_zp, true, p.m, "A");
  std::vector<int32_t> ib = ShiftRows(ctx, b, b_zp, false, p.n, "B");
  Tensor y(DType::kInt32, p.out);
  const int64_t m = p.m, n = p.n, k = p.k;
  RunBatched(p, ia.data(), ib.data(), y.data<int32_t>(),
             [&](const int32_t* pa, const int32_t* pb, int32_t* py) {
               GemmGeneric<int64_t>(false, false, m, n, k, pa, k, pb, n, py, n);
             });
  return y;
}

std::vector<Value> MatMulInteger(KernelContext& ctx) {
  MatMulPlan p;
  return Out(IntegerMatMul(ctx, ctx.input(0), ctx.optional_input(2), ctx.input(1),
                           ctx.optional_input(3), p));
}

std::vector<Value> QLinearMatMul(KernelContext& ctx) {
  MatMulPlan p;
  Tensor acc = IntegerMatMul(ctx, ctx.input(0), &ctx.input(2), ctx.input(3), &ctx.input(5), p);
  const Tensor& as = ctx.input(1);
  const Tensor& bs = ctx.input(4);
  const Tensor& ys = ctx.input(6);
  const Tensor& yzp = ctx.input(7);
  for (const Tensor* s : {&as, &bs, &ys}) {
    if (!IsFloating(s->dtype()))
      ctx.Fail("scales must be a float type, got {}", DTypeName(s->dtype()));
  }
  // scales are read as float (float16/bfloat16 scales convert exactly)
  auto scale_at = [](const Tensor& t, int64_t i) { return static_cast<float>(t.GetDouble(i)); };
  if (ys.numel() != 1 || yzp.numel() != 1) ctx.Unsupported("per-axis y_scale / y_zero_point");
  if (as.numel() != 1 && as.numel() != p.m)
    ctx.Unsupported("a_scale with shape {}", ShapeToString(as.shape()));
  if (bs.numel() != 1 && bs.numel() != p.n)
    ctx.Unsupported("b_scale with shape {}", ShapeToString(bs.shape()));
  if (yzp.dtype() != DType::kUInt8 && yzp.dtype() != DType::kInt8)
    ctx.Unsupported("y_zero_point type {}", DTypeName(yzp.dtype()));
  const double lo = yzp.dtype() == DType::kUInt8 ? 0 : -128,
               hi = yzp.dtype() == DType::kUInt8 ? 255 : 127;
  const double zp = yzp.GetDouble(0);
  const float y_scale = scale_at(ys, 0);
  Tensor y(yzp.dtype(), acc.shape());
  const int32_t* pa = acc.data<int32_t>();
  for (int64_t i = 0; i < acc.numel(); ++i) {
    const int64_t col = i % p.n, row = (i / p.n) % p.m;
    const float scale =
        scale_at(as, as.numel() == 1 ? 0 : row) * scale_at(bs, bs.numel() == 1 ? 0 : col) / y_scale;
    double v = std::clamp(std::nearbyint(static_cast<double>(pa[i]) * scale) + zp, lo, hi);
    if (yzp.dtype() == DType::kUInt8)
      y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    else
      y.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  return Out(std::move(y));
}

}  // namespace

void RegisterMatMulOps(Registry& r) {
  r.Add("", "MatMul", 1, MatMul);
  r.Add("", "Gemm", 1, Gemm);
  r.Add("", "Einsum", 12, Einsum);
  r.Add("", "MatMulInteger", 10, MatMulInteger);
  r.Add("", "QLinearMatMul", 10, QLinearMatMul);
}

}  // namespace concord::ref
