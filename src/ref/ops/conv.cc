// Convolution ops: Conv, ConvTranspose, ConvInteger, QLinearConv.
//
// Conv is im2col + one GEMM per (image, group): Y_g[Mg, O] = W_g[Mg, Cg*K] * col[Cg*K, O]; a 1x1
// unit-stride unpadded kernel skips im2col, and a 2-D depthwise conv (group == C) is a direct
// loop (one GEMM per channel would be 1 x O x K, mostly call overhead).
// ConvTranspose is the adjoint: col[Mg*K, I] = W_g^T * X_g, then col2im scatter-adds into the
// output. float16/bfloat16 compute in float; double in double. The integer variants use the
// same im2col with int32 values already shifted by their zero points (padding = zero point,
// i.e. 0 after the shift).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/ops/conv_util.h"
#include "ref/ops/gemm.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- shared helpers -------------------------------------------------------------------------

inline void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (k == 0) return;  // c stays as initialized (zeros)
  GemmF32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
inline void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
                 const double* b, int64_t ldb, double* c, int64_t ldc) {
  if (k == 0) return;
  GemmF64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}
inline void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const int32_t* a, int64_t lda,
                 const int32_t* b, int64_t ldb, int32_t* c, int64_t ldc) {
  // int64 accumulation, wrapped to int32 like the usual int32-accumulating kernels
  GemmGeneric<int64_t>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}

// Reads a tensor of storage type T into a vector of compute type C.
template <typename C, typename T>
std::vector<C> ToCompute(const Tensor& t) {
  std::vector<C> v(static_cast<size_t>(t.numel()));
  const T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<C>(Up(p[i]));
  return v;
}

template <typename T, typename C>
Tensor FromCompute(DType dt, const Shape& shape, const std::vector<C>& v) {
  Tensor t(dt, shape);
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = Down<T>(static_cast<ComputeT<T>>(v[i]));
  return t;
}

// Channel/group bookkeeping shared by Conv, ConvInteger and QLinearConv.
struct ConvShapes {
  int64_t n = 0, c = 0, m = 0, group = 1;
  ConvGeom g;
  Shape y_shape;
};

ConvShapes ConvSetup(const KernelContext& ctx, const Tensor& x, const Tensor& w) {
  ConvShapes s;
  s.g.in = SpatialDims(ctx, x.shape(), "input X");
  if (w.rank() != x.rank()) {
    ctx.Fail("weight W has shape {}, expected rank {} like X {}", ShapeToString(w.shape()),
             x.rank(), ShapeToString(x.shape()));
  }
  s.n = x.dim(0);
  s.c = x.dim(1);
  s.m = w.dim(0);
  s.group = ctx.GetInt("group", 1);
  if (s.group <= 0) ctx.Fail("group must be positive, got {}", s.group);
  if (s.c % s.group != 0 || s.m % s.group != 0) {
    ctx.Fail("channels C={} and M={} must both be divisible by group={}", s.c, s.m, s.group);
  }
  if (w.dim(1) * s.group != s.c) {
    ctx.Fail("W has {} input channels per group but X has C={} with group={}", w.dim(1), s.c,
             s.group);
  }
  s.g.kernel.assign(w.shape().begin() + 2, w.shape().end());
  if (ctx.has_attr("kernel_shape") && ctx.GetInts("kernel_shape") != s.g.kernel) {
    ctx.Fail("kernel_shape attribute does not match W shape {}", ShapeToString(w.shape()));
  }
  ResolveConvGeom(ctx, s.g, /*ceil_mode=*/false);
  s.y_shape = {s.n, s.m};
  s.y_shape.insert(s.y_shape.end(), s.g.out.begin(), s.g.out.end());
  return s;
}

// True when im2col would be the identity (1x1 kernel, unit strides, no padding).
bool IsPointwise(const ConvGeom& g) {
  for (int d = 0; d < g.nd; ++d) {
    if (g.kernel[d] != 1 || g.strides[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0)
      return false;
  }
  return true;
}

// True for a 2-D convolution where each output channel reads one input channel (group == C,
// any channel multiplier): DepthwiseConv2D computes it directly instead of a GEMM per channel.
bool IsDepthwise2D(const ConvShapes& s) { return s.g.nd == 2 && s.group > 1 && s.group == s.c; }

// y[i] += w * x[i * stride] for i in [0, n): the inner loop of the depthwise kernel. On x86-64
// GCC/Clang also build AVX-512 and AVX2 clones picked at load time; the library is built with
// -ffp-contract=off (AVX-512 has FMA), so every clone rounds exactly like the baseline one.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CONCORD_REF_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CONCORD_REF_SIMD_CLONES
#endif
CONCORD_REF_SIMD_CLONES
void AxpyRow(float w, const float* __restrict x, int64_t stride, int64_t n, float* __restrict y) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] += w * x[i * stride];
  }
}
CONCORD_REF_SIMD_CLONES
void AxpyRow(double w, const double* __restrict x, int64_t stride, int64_t n,
             double* __restrict y) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] += w * x[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] += w * x[i * stride];
  }
}

// Elements of a depthwise output row block: 2048 floats (8 KB) next to the input rows it reads.
constexpr int64_t kDepthwiseBlock = 2048;

// Direct depthwise convolution. Output channel m reads input channel m / (M / C):
//   y[oh, ow] = sum over (kh, kw), in that order, of w[kh, kw] * xp[oh*sh + kh*dh, ow*sw + kw*dw]
// where xp is the input plane with its zero padding written out. Padding taps are multiplied
// like the others (0 * inf is NaN, as with im2col + GEMM). Planes are spread over threads; each
// output is accumulated in the same order whatever the thread count. `bias` (or null): bias[m]
// added to each finished sum while the plane is still in cache, as AddBias would after, then
// `act` (the fused activation, or the identity) applied.
template <typename C, typename Act>
void DepthwiseConv2D(const KernelContext& ctx, const ConvShapes& s, const C* x, const C* w,
                     const C* bias, const Act& act, C* y) {
  const ConvGeom& g = s.g;
  const int64_t H = g.in[0], W = g.in[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t OH = g.out[0], OW = g.out[1], sh = g.strides[0], sw = g.strides[1];
  const int64_t dh = g.dilations[0], dw = g.dilations[1];
  const int64_t pt = g.pad_begin[0], pl = g.pad_begin[1];
  const int64_t PH = H + pt + g.pad_end[0], PW = W + pl + g.pad_end[1];
  const int64_t multiplier = s.m / s.c;
  const int64_t planes = s.n * s.m;
  const int64_t per_plane = std::max<int64_t>(1, OH * OW * KH * KW);
  ctx.ParallelFor(
      planes, std::max<int64_t>(1, kElementwiseGrain / per_plane), [&](int64_t begin, int64_t end) {
        // slack after the plane: the unit-stride path below reads up to (KW-1)*dw
        // past its last row
        std::vector<C> xp(static_cast<size_t>(NumElements({PH * PW + (KW - 1) * dw})), C(0));
        const bool unit = sh == 1 && sw == 1;
        std::vector<C> wide(unit ? static_cast<size_t>(OH * PW) : 0);
        for (int64_t nm = begin; nm < end; ++nm) {
          const int64_t n = nm / s.m, m = nm % s.m;
          const C* xc = x + (n * s.c + m / multiplier) * H * W;
          for (int64_t h = 0; h < H; ++h) {
            std::copy(xc + h * W, xc + (h + 1) * W, xp.data() + (h + pt) * PW + pl);
          }
          const C* wm = w + m * KH * KW;
          C* ym = y + nm * OH * OW;
          if (unit) {
            // Output rows computed PW wide, so each tap is one long row operation;
            // columns OW..PW-1 are discarded. Blocks of rows small enough to stay in L1
            // while every tap adds into them (each output still sums its taps in order).
            const int64_t block = std::max<int64_t>(1, kDepthwiseBlock / PW);
            for (int64_t r0 = 0; r0 < OH; r0 += block) {
              const int64_t len = (std::min(OH, r0 + block) - r0) * PW;
              C* acc = wide.data() + r0 * PW;
              std::fill(acc, acc + len, C(0));
              for (int64_t kh = 0; kh < KH; ++kh) {
                for (int64_t kw = 0; kw < KW; ++kw) {
                  AxpyRow(wm[kh * KW + kw], xp.data() + (r0 + kh * dh) * PW + kw * dw, 1, len, acc);
                }
              }
            }
            for (int64_t oh = 0; oh < OH; ++oh) {
              const C* row = wide.data() + oh * PW;
              C* out = ym + oh * OW;
              if (bias) {
                const C bm = bias[m];
                for (int64_t ow = 0; ow < OW; ++ow) out[ow] = act(row[ow] + bm);
              } else {
                for (int64_t ow = 0; ow < OW; ++ow) out[ow] = act(row[ow]);
              }
            }
            continue;
          }
          std::fill(ym, ym + OH * OW, C(0));
          for (int64_t oh = 0; oh < OH; ++oh) {
            C* yrow = ym + oh * OW;
            for (int64_t kh = 0; kh < KH; ++kh) {
              const C* xrow = xp.data() + (oh * sh + kh * dh) * PW;
              for (int64_t kw = 0; kw < KW; ++kw) {
                AxpyRow(wm[kh * KW + kw], xrow + kw * dw, sw, OW, yrow);
              }
            }
          }
          if (bias) {
            const C bm = bias[m];
            for (int64_t i = 0; i < OH * OW; ++i) ym[i] = act(ym[i] + bm);
          } else if constexpr (!std::is_same_v<Act, NoActivation>) {
            for (int64_t i = 0; i < OH * OW; ++i) ym[i] = act(ym[i]);
          }
        }
      });
}

// y[n, m, :] = sum over the group of W * im2col(x). x, w, y are dense compute-type buffers.
// im2col and the GEMM's columns are spread over threads. A depthwise convolution adds `bias`
// and applies `act` itself (returns true); otherwise the caller does (FinishOutputs).
template <typename C>
bool ConvCore(const KernelContext& ctx, const ConvShapes& s, const C* x, const C* w, C* y,
              const C* bias = nullptr, const FusedActivation& act = {}) {
  const ConvGeom& g = s.g;
  if constexpr (std::is_floating_point_v<C>) {
    if (IsDepthwise2D(s)) {
      WithActivation<C>(act, [&](auto f) { DepthwiseConv2D(ctx, s, x, w, bias, f, y); });
      return true;
    }
  }
  const int64_t cg = s.c / s.group, mg = s.m / s.group;
  const int64_t K = g.kernel_size(), I = g.in_size(), O = g.out_size();
  const bool pointwise = IsPointwise(g);
  // NumElements rejects a column buffer past the tensor size limit instead of exhausting memory
  // (Im2Col writes every element, padding included: not zeroed first)
  std::vector<C, DefaultInitAllocator<C>> col(
      pointwise ? 0 : static_cast<size_t>(NumElements({cg * K, O})));
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t gi = 0; gi < s.group; ++gi) {
      const C* xg = x + (n * s.c + gi * cg) * I;
      const C* wg = w + gi * mg * cg * K;
      C* yg = y + (n * s.m + gi * mg) * O;
      const C* colp = xg;
      if (!pointwise) {
        ctx.ParallelFor(cg, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, K * O)),
                        [&](int64_t c0, int64_t c1) {
                          Im2Col(xg + c0 * I, c1 - c0, g, col.data() + c0 * K * O, C(0));
                        });
        colp = col.data();
      }
      if constexpr (std::is_same_v<C, float>) {
        if (cg * K > 0)
          GemmF32(ctx, false, false, mg, O, cg * K, 1.0f, wg, cg * K, colp, O, 0.0f, yg, O);
      } else {
        Gemm(false, false, mg, O, cg * K, wg, cg * K, colp, O, yg, O);
      }
    }
  }
  return false;
}

// y[n, m, :] = act(y[n, m, :] + bias[m]) (no sum without a bias), spread over (n, m) planes.
template <typename T, typename C>
void FinishOutputs(const KernelContext& ctx, const T* bias, const FusedActivation& act, int64_t n,
                   int64_t m, int64_t size, C* y) {
  WithActivation<C>(act, [&](auto f) {
    ctx.ParallelFor(n * m, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, size)),
                    [&](int64_t begin, int64_t end) {
                      for (int64_t nm = begin; nm < end; ++nm) {
                        C* row = y + nm * size;
                        if (bias) {
                          C b = static_cast<C>(Up(bias[nm % m]));
                          for (int64_t o = 0; o < size; ++o) row[o] = f(row[o] + b);
                        } else {
                          for (int64_t o = 0; o < size; ++o) row[o] = f(row[o]);
                        }
                      }
                    });
  });
}

// y[n, m, :] += bias[m].
template <typename T, typename C>
void AddBias(const KernelContext& ctx, const T* bias, int64_t n, int64_t m, int64_t size, C* y) {
  FinishOutputs(ctx, bias, FusedActivation{}, n, m, size, y);
}

// ---- Conv -----------------------------------------------------------------------------------

template <typename T, typename C>
Tensor ConvTyped(const KernelContext& ctx, const Tensor& x, const Tensor& w, const Tensor* b) {
  ConvShapes s = ConvSetup(ctx, x, w);
  if (b && (b->rank() != 1 || b->dim(0) != s.m)) {
    ctx.Fail("bias B has shape {}, expected [{}]", ShapeToString(b->shape()), s.m);
  }
  const int64_t O = s.g.out_size();
  // float/double run in place on the output; halves go through float buffers. The GEMM and the
  // depthwise kernel write every output element unless a group has no input channels.
  const bool writes_all = s.c / s.group * s.g.kernel_size() > 0;
  Tensor out =
      writes_all ? Tensor::Uninitialized(x.dtype(), s.y_shape) : Tensor(x.dtype(), s.y_shape);
  // The interpreter fuses an activation only into float32 Convs (fused_activation.h).
  const FusedActivation& act = ctx.fused_activation();
  if (!std::is_same_v<T, float> && act.kind != FusedActivation::Kind::kNone) {
    throw Error(ErrorKind::kInternal, ctx.Where() + ": a fused activation on a non-float32 Conv");
  }
  std::vector<C> scratch;
  C* y = nullptr;
  bool finished = false;
  if constexpr (std::is_same_v<T, C>) {
    y = out.data<T>();
    finished = ConvCore<C>(ctx, s, x.data<T>(), w.data<T>(), y, b ? b->data<T>() : nullptr, act);
  } else {
    scratch.assign(static_cast<size_t>(out.numel()), C(0));
    y = scratch.data();
    std::vector<C> xc = ToCompute<C, T>(x), wc = ToCompute<C, T>(w);
    ConvCore<C>(ctx, s, xc.data(), wc.data(), y);
  }
  if (!finished && (b || act.kind != FusedActivation::Kind::kNone))
    FinishOutputs(ctx, b ? b->data<T>() : nullptr, act, s.n, s.m, O, y);
  if constexpr (!std::is_same_v<T, C>) out = FromCompute<T, C>(x.dtype(), s.y_shape, scratch);
  return out;
}

// Conv and ConvTranspose share their inputs (X, W, optional B of one float type) and their
// dtype dispatch: T is the storage type, C the compute type (double for double, else float).
template <typename F>
std::vector<Value> DispatchConvLike(KernelContext& ctx, F&& typed) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.optional_input(2);
  if (w.dtype() != x.dtype() || (b && b->dtype() != x.dtype())) {
    ctx.Fail("X, W and B must have the same element type");
  }
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
    return typed(TypeTag<T>{}, TypeTag<C>{}, x, w, b);
  }));
}

std::vector<Value> Conv(KernelContext& ctx) {
  return DispatchConvLike(
      ctx, [&](auto t, auto c, const Tensor& x, const Tensor& w, const Tensor* b) {
        return ConvTyped<typename decltype(t)::type, typename decltype(c)::type>(ctx, x, w, b);
      });
}

// ---- ConvTranspose --------------------------------------------------------------------------

template <typename T, typename C>
Tensor ConvTransposeTyped(const KernelContext& ctx, const Tensor& x, const Tensor& w,
                          const Tensor* b) {
  std::vector<int64_t> in = SpatialDims(ctx, x.shape(), "input X");
  const int nd = static_cast<int>(in.size());
  if (w.rank() != x.rank()) {
    ctx.Fail("weight W has shape {}, expected rank {}", ShapeToString(w.shape()), x.rank());
  }
  const int64_t N = x.dim(0), Cin = x.dim(1);
  int64_t group = ctx.GetInt("group", 1);
  if (group <= 0) ctx.Fail("group must be positive, got {}", group);
  if (w.dim(0) != Cin || Cin % group != 0) {
    ctx.Fail("W has shape {} but X has C={} (group={}); W must be [C, M/group, k...]",
             ShapeToString(w.shape()), Cin, group);
  }
  const int64_t mg = w.dim(1), M = mg * group, cg = Cin / group;
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  if (ctx.has_attr("kernel_shape") && ctx.GetInts("kernel_shape") != kernel) {
    ctx.Fail("kernel_shape attribute does not match W shape {}", ShapeToString(w.shape()));
  }
  if (b && (b->rank() != 1 || b->dim(0) != M)) {
    ctx.Fail("bias B has shape {}, expected [{}]", ShapeToString(b->shape()), M);
  }
  auto per_dim = [&](const char* name, int64_t def, int64_t min) {
    std::vector<int64_t> v = ctx.GetInts(name, std::vector<int64_t>(nd, def));
    if (static_cast<int>(v.size()) != nd) ctx.Fail("attribute '{}' needs {} values", name, nd);
    for (int64_t e : v) {
      if (e < min || e > (int64_t{1} << 31))
        ctx.Fail("attribute '{}' has invalid value {}", name, e);
    }
    return v;
  };
  std::vector<int64_t> strides = per_dim("strides", 1, 1);
  std::vector<int64_t> dilations = per_dim("dilations", 1, 1);
  std::vector<int64_t> out_pad = per_dim("output_padding", 0, 0);
  for (int d = 0; d < nd; ++d) {
    if (kernel[d] <= 0) ctx.Fail("kernel dims must be positive");
  }
  std::string auto_pad = ctx.GetString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID") {
    ctx.Fail("unknown auto_pad value '{}'", auto_pad);
  }
  std::vector<int64_t> out_shape = ctx.GetInts("output_shape");
  if (static_cast<int>(out_shape.size()) == nd + 2)
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && static_cast<int>(out_shape.size()) != nd) {
    ctx.Fail("output_shape has {} values, expected {}", out_shape.size(), nd);
  }

  // In the adjoint geometry the "image" is the output and the "output positions" are X's.
  ConvGeom g;
  g.nd = nd;
  g.kernel = kernel;
  g.strides = strides;
  g.dilations = dilations;
  g.out = in;
  g.in.assign(nd, 0);
  g.pad_begin.assign(nd, 0);
  g.pad_end.assign(nd, 0);
  std::vector<int64_t> pads = ctx.GetInts("pads", std::vector<int64_t>(2 * nd, 0));
  if (static_cast<int>(pads.size()) != 2 * nd) ctx.Fail("attribute 'pads' needs {} values", 2 * nd);
  for (int d = 0; d < nd; ++d) {
    int64_t full = strides[d] * (in[d] - 1) + out_pad[d] + (kernel[d] - 1) * dilations[d] + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t target = !out_shape.empty() ? out_shape[d] : in[d] * strides[d];
      if (target < 0 || target > (int64_t{1} << 31))
        ctx.Fail("output_shape value {} is invalid", target);
      int64_t total = std::max<int64_t>(0, full - target);
      // ONNX spec: SAME_UPPER puts the smaller half at the beginning.
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[d] = total - g.pad_begin[d];
      g.in[d] = target;
    } else {
      if (auto_pad == "NOTSET") {
        g.pad_begin[d] = pads[d];
        g.pad_end[d] = pads[d + nd];
        if (pads[d] < 0 || pads[d + nd] < 0 || pads[d] > full || pads[d + nd] > full) {
          ctx.Fail("pads ({}, {}) are invalid for spatial dim {}", pads[d], pads[d + nd], d);
        }
      }
      g.in[d] = full - g.pad_begin[d] - g.pad_end[d];
      if (g.in[d] < 0) ctx.Fail("pads are larger than the output in spatial dim {}", d);
    }
  }

  Shape y_shape = {N, M};
  y_shape.insert(y_shape.end(), g.in.begin(), g.in.end());
  std::vector<C> y(static_cast<size_t>(NumElements(y_shape)), C(0));
  std::vector<C> xc = ToCompute<C, T>(x), wc = ToCompute<C, T>(w);
  const int64_t K = g.kernel_size(), I = g.out_size() /* X positions */, O = g.in_size();
  std::vector<C> col(static_cast<size_t>(NumElements({mg * K, I})));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      const C* xg = xc.data() + (n * Cin + gi * cg) * I;
      const C* wg = wc.data() + gi * cg * mg * K;
      std::fill(col.begin(), col.end(), C(0));
      Gemm(true, false, mg * K, I, cg, wg, mg * K, xg, I, col.data(), I);
      Col2Im(col.data(), mg, g, y.data() + (n * M + gi * mg) * O);
    }
  }
  if (b) AddBias(ctx, b->data<T>(), N, M, O, y.data());
  return FromCompute<T, C>(x.dtype(), y_shape, y);
}

std::vector<Value> ConvTranspose(KernelContext& ctx) {
  return DispatchConvLike(ctx, [&](auto t, auto c, const Tensor& x, const Tensor& w,
                                   const Tensor* b) {
    return ConvTransposeTyped<typename decltype(t)::type, typename decltype(c)::type>(ctx, x, w, b);
  });
}

// ---- ConvInteger / QLinearConv --------------------------------------------------------------

// Reads a uint8/int8 tensor as int32 values minus a per-tensor zero point.
std::vector<int32_t> Shifted(const KernelContext& ctx, const Tensor& t, int32_t zp) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::kUInt8) {
    const uint8_t* p = t.data<uint8_t>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<int32_t>(p[i]) - zp;
  } else if (t.dtype() == DType::kInt8) {
    const int8_t* p = t.data<int8_t>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<int32_t>(p[i]) - zp;
  } else {
    ctx.Unsupported("element type {} (expected uint8 or int8)", DTypeName(t.dtype()));
  }
  return v;
}

// Zero point(s): absent -> 0; scalar / 1-element -> broadcast; otherwise one per output channel.
std::vector<int32_t> ZeroPoints(const KernelContext& ctx, const Tensor* zp, DType expect,
                                int64_t count, const char* what) {
  std::vector<int32_t> v(static_cast<size_t>(count), 0);
  if (!zp) return v;
  if (zp->dtype() != expect) {
    ctx.Fail("{} has type {}, expected {}", what, DTypeName(zp->dtype()), DTypeName(expect));
  }
  if (zp->numel() != 1 && zp->numel() != count) {
    ctx.Fail("{} has {} elements, expected 1 or {}", what, zp->numel(), count);
  }
  for (int64_t i = 0; i < count; ++i) {
    v[i] = static_cast<int32_t>(zp->GetDouble(zp->numel() == 1 ? 0 : i));
  }
  return v;
}

// Integer convolution of (x - x_zp) and (w - w_zp[m]) into int32 [N, M, out...].
Tensor IntegerConv(const KernelContext& ctx, const Tensor& x, const Tensor* x_zp, const Tensor& w,
                   const Tensor* w_zp) {
  ConvShapes s = ConvSetup(ctx, x, w);
  std::vector<int32_t> xzp = ZeroPoints(ctx, x_zp, x.dtype(), 1, "x_zero_point");
  std::vector<int32_t> wzp = ZeroPoints(ctx, w_zp, w.dtype(), s.m, "w_zero_point");
  std::vector<int32_t> xs = Shifted(ctx, x, xzp[0]);
  std::vector<int32_t> ws = Shifted(ctx, w, 0);
  const int64_t per_m = w.numel() / std::max<int64_t>(1, s.m);
  for (int64_t m = 0; m < s.m; ++m) {
    for (int64_t i = 0; i < per_m; ++i) ws[m * per_m + i] -= wzp[m];
  }
  Tensor y(DType::kInt32, s.y_shape);
  ConvCore<int32_t>(ctx, s, xs.data(), ws.data(), y.data<int32_t>());
  return y;
}

std::vector<Value> ConvInteger(KernelContext& ctx) {
  return Out(
      IntegerConv(ctx, ctx.input(0), ctx.optional_input(2), ctx.input(1), ctx.optional_input(3)));
}

// Per-tensor or per-channel float scale.
std::vector<float> Scales(const KernelContext& ctx, const Tensor& t, int64_t count,
                          const char* what) {
  if (t.dtype() != DType::kFloat32)
    ctx.Fail("{} must be float, got {}", what, DTypeName(t.dtype()));
  if (t.numel() != 1 && t.numel() != count) {
    ctx.Fail("{} has {} elements, expected 1 or {}", what, t.numel(), count);
  }
  std::vector<float> v(static_cast<size_t>(count));
  const float* p = t.data<float>();
  for (int64_t i = 0; i < count; ++i) v[i] = p[t.numel() == 1 ? 0 : i];
  return v;
}

std::vector<Value> QLinearConv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(3);
  const Tensor& y_zp_t = ctx.input(7);
  Tensor acc = IntegerConv(ctx, x, &ctx.input(2), w, &ctx.input(5));
  const int64_t M = acc.dim(1);
  const int64_t O = acc.numel() / std::max<int64_t>(1, acc.dim(0) * M);
  std::vector<float> x_scale = Scales(ctx, ctx.input(1), 1, "x_scale");
  std::vector<float> w_scale = Scales(ctx, ctx.input(4), M, "w_scale");
  std::vector<float> y_scale = Scales(ctx, ctx.input(6), 1, "y_scale");
  if (y_zp_t.numel() != 1) ctx.Fail("y_zero_point must be a scalar");
  if (y_zp_t.dtype() != DType::kUInt8 && y_zp_t.dtype() != DType::kInt8) {
    ctx.Unsupported("y_zero_point type {} (expected uint8 or int8)", DTypeName(y_zp_t.dtype()));
  }
  const double y_zp = y_zp_t.GetDouble(0);
  const Tensor* b = ctx.optional_input(8);
  if (b && (b->dtype() != DType::kInt32 || b->numel() != M)) {
    ctx.Fail("bias B must be int32 of shape [{}]", M);
  }
  double lo = y_zp_t.dtype() == DType::kUInt8 ? 0 : -128,
         hi = y_zp_t.dtype() == DType::kUInt8 ? 255 : 127;
  Tensor y(y_zp_t.dtype(), acc.shape());
  const int32_t* pa = acc.data<int32_t>();
  for (int64_t nm = 0; nm < acc.dim(0) * M; ++nm) {
    const int64_t m = nm % M;
    const float scale = x_scale[0] * w_scale[m] / y_scale[0];
    const int32_t bias = b ? b->data<int32_t>()[m] : 0;
    for (int64_t o = 0; o < O; ++o) {
      int64_t i = nm * O + o;
      double v =
          std::nearbyint(static_cast<double>(static_cast<int64_t>(pa[i]) + bias) * scale) + y_zp;
      v = std::clamp(v, lo, hi);
      if (y.dtype() == DType::kUInt8)
        y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      else
        y.data<int8_t>()[i] = static_cast<int8_t>(v);
    }
  }
  return Out(std::move(y));
}

}  // namespace

void RegisterConvOps(Registry& r) {
  r.Add("", "Conv", 1, Conv);
  r.Add("", "ConvTranspose", 1, ConvTranspose);
  r.Add("", "ConvInteger", 10, ConvInteger);
  r.Add("", "QLinearConv", 10, QLinearConv);
}

}  // namespace concord::ref
