// com.microsoft contrib ops that ONNX Runtime's graph optimizers, exporters and transformer tools
// write into saved models: the Gelu family (Gelu, BiasGelu, FastGelu, QuickGelu), FusedConv,
// FusedMatMul, SkipLayerNormalization, SkipSimplifiedLayerNormalization and MatMulNBits. The
// quantized QLinear* ops live in contrib_qlinear.cc.
//
// Semantics are ONNX Runtime's contrib op specs (docs/ContribOperators.md), written out in exact
// arithmetic: element-wise math and normalization statistics in double, rounded once to the
// output type. ONNX Runtime itself uses float and polynomial approximations (erf, tanh,
// logistic), so it agrees to within float rounding, not bit for bit.
#include <cmath>

#include "ref/ops/common.h"
#include "ref/ops/contrib_util.h"
#include "ref/ops/gemm.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- Gelu family -----------------------------------------------------------------------------

double GeluErf(double x) { return 0.5 * x * (1 + std::erf(x * M_SQRT1_2)); }

// tanh approximation: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
double GeluTanh(double x) {
  const double k = M_2_SQRTPI * M_SQRT1_2;  // sqrt(2 / pi)
  return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

// y = f(x + bias), bias (optional, 1-D) broadcast along the last axis.
template <typename F>
Tensor MapWithBias(const KernelContext& ctx, const Tensor& x, const Tensor* bias, F&& f) {
  const int64_t h = x.rank() == 0 ? 1 : x.shape().back();
  if (bias && (bias->rank() != 1 || bias->dim(0) != h))
    ctx.Fail("bias must be 1-D of the last dimension {}, got {}", h, ShapeToString(bias->shape()));
  if (bias && bias->dtype() != x.dtype())
    ctx.Fail("bias is {} but the input is {}", DTypeName(bias->dtype()), DTypeName(x.dtype()));
  return DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), x.shape());
    const T* px = x.data<T>();
    const T* pb = bias ? bias->data<T>() : nullptr;
    T* py = y.data<T>();
    ctx.ParallelFor(x.numel(), kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        double v = ToDouble(px[i]) + (pb ? ToDouble(pb[i % h]) : 0.0);
        py[i] = FromDouble<T>(f(v));
      }
    });
    return y;
  });
}

std::vector<Value> Gelu(KernelContext& ctx) {
  return Out(MapWithBias(ctx, ctx.input(0), nullptr, GeluErf));
}

std::vector<Value> BiasGelu(KernelContext& ctx) {
  return Out(MapWithBias(ctx, ctx.input(0), &ctx.input(1), GeluErf));
}

std::vector<Value> FastGelu(KernelContext& ctx) {
  return Out(MapWithBias(ctx, ctx.input(0), ctx.optional_input(1), GeluTanh));
}

// x * sigmoid(alpha * x), alpha 1.702 by default.
std::vector<Value> QuickGelu(KernelContext& ctx) {
  const double alpha = ctx.GetFloat("alpha", 1.702f);
  return Out(MapWithBias(ctx, ctx.input(0), nullptr,
                         [&](double x) { return x / (1 + std::exp(-alpha * x)); }));
}

// ---- FusedConv -------------------------------------------------------------------------------

// The activation FusedConv applies after the (summed) convolution, with its parameters.
struct Activation {
  std::string name;  // "" or "Identity" for none
  std::vector<float> params;

  double operator()(double v) const {
    if (name == "Relu") return std::max(v, 0.0);
    if (name == "Sigmoid") return 1 / (1 + std::exp(-v));
    if (name == "Tanh") return std::tanh(v);
    if (name == "LeakyRelu") return v >= 0 ? v : params[0] * v;
    if (name == "Clip") return std::min<double>(std::max<double>(v, params[0]), params[1]);
    if (name == "HardSigmoid") return std::max(0.0, std::min(1.0, params[0] * v + params[1]));
    return v;
  }
};

Activation ReadActivation(const KernelContext& ctx) {
  Activation a{ctx.GetString("activation", ""), ctx.GetFloats("activation_params")};
  size_t want = 0;
  if (a.name == "LeakyRelu") {
    want = 1;
  } else if (a.name == "Clip" || a.name == "HardSigmoid") {
    want = 2;
  } else if (a.name != "" && a.name != "Identity" && a.name != "Relu" && a.name != "Sigmoid" &&
             a.name != "Tanh") {
    ctx.Unsupported("activation '{}' (Relu, Sigmoid, Tanh, LeakyRelu, Clip, HardSigmoid only)",
                    a.name);
  }
  if (a.params.size() < want)
    ctx.Fail("activation {} needs {} activation_params, got {}", a.name, want, a.params.size());
  return a;
}

// Y = activation(Conv(X, W, B) + Z): ONNX's Conv, then the optional sum input Z (same shape),
// then the activation.
std::vector<Value> FusedConv(KernelContext& ctx) {
  const Activation act = ReadActivation(ctx);
  onnx::NodeProto conv = OnnxNode(ctx, "Conv", {"activation", "activation_params"});
  std::vector<const Value*> ins = {&ctx.value(0), &ctx.value(1),
                                   ctx.has_input(2) ? &ctx.value(2) : nullptr};
  Tensor y = RunKernel(ctx, conv, 11, ins)[0].tensor;
  const Tensor* z = ctx.optional_input(3);
  if (z && z->shape() != y.shape())
    ctx.Fail("Z {} must have the convolution's output shape {}", ShapeToString(z->shape()),
             ShapeToString(y.shape()));
  DispatchFloat(ctx, y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    const T* pz = z ? z->data<T>() : nullptr;
    for (int64_t i = 0; i < y.numel(); ++i)
      py[i] = FromDouble<T>(act(ToDouble(py[i]) + (pz ? ToDouble(pz[i]) : 0.0)));
  });
  return Out(std::move(y));
}

// ---- FusedMatMul -----------------------------------------------------------------------------

// transBatch moves the first axis next to the last one ([1, ..., n-2, 0, n-1]); trans then swaps
// the last two. Both only apply to inputs of the ranks they need (3 and 2).
Value Arrange(const KernelContext& ctx, const Value& v, bool trans_batch, bool trans) {
  const int rank = v.tensor.rank();
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  if (trans_batch && rank >= 3) {
    for (int i = 0; i < rank - 2; ++i) perm[static_cast<size_t>(i)] = i + 1;
    perm[static_cast<size_t>(rank - 2)] = 0;
  }
  if (trans && rank >= 2) std::swap(perm[static_cast<size_t>(rank - 2)], perm.back());
  bool identity = true;
  for (int i = 0; i < rank; ++i) identity = identity && perm[static_cast<size_t>(i)] == i;
  if (identity) return v;
  onnx::NodeProto t = PlainNode(ctx, "Transpose");
  auto* a = t.add_attribute();
  a->set_name("perm");
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t p : perm) a->add_ints(p);
  return RunKernel(ctx, t, 13, {&v})[0];
}

// Y = alpha * MatMul(arranged A, arranged B), with ONNX's MatMul (broadcast batch axes).
std::vector<Value> FusedMatMul(KernelContext& ctx) {
  Value a = Arrange(ctx, ctx.value(0), ctx.GetInt("transBatchA", 0), ctx.GetInt("transA", 0));
  Value b = Arrange(ctx, ctx.value(1), ctx.GetInt("transBatchB", 0), ctx.GetInt("transB", 0));
  onnx::NodeProto mm =
      OnnxNode(ctx, "MatMul", {"alpha", "transA", "transB", "transBatchA", "transBatchB"});
  Tensor y = RunKernel(ctx, mm, 13, {&a, &b})[0].tensor;
  const double alpha = ctx.GetFloat("alpha", 1.0f);
  if (alpha != 1.0) {
    DispatchFloat(ctx, y.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) p[i] = FromDouble<T>(alpha * ToDouble(p[i]));
    });
  }
  return Out(std::move(y));
}

// ---- Skip(Simplified)LayerNormalization ------------------------------------------------------

// Input i as doubles laid onto `shape` (numpy broadcasting), checked to be of `dt`.
std::vector<double> Broadcast(const KernelContext& ctx, size_t i, const Shape& shape, DType dt) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != dt)
    ctx.Fail("input {} is {} but the input is {}", i, DTypeName(t.dtype()), DTypeName(dt));
  if (BroadcastShapes(ctx, {t.shape(), shape}) != shape)
    ctx.Fail("input {} {} does not broadcast onto {}", i, ShapeToString(t.shape()),
             ShapeToString(shape));
  std::vector<double> out(static_cast<size_t>(NumElements(shape)));
  std::array<std::vector<int64_t>, 1> strides = {BroadcastStrides(t.shape(), shape)};
  DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    ForEachBroadcast<1>(shape, strides, [&](int64_t o, const std::array<int64_t, 1>& off) {
      out[static_cast<size_t>(o)] = ToDouble(p[off[0]]);
    });
  });
  return out;
}

Tensor FromDoubles(const KernelContext& ctx, DType dt, const Shape& shape,
                   const std::vector<double>& v) {
  return DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor t(dt, shape);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = FromDouble<T>(v[i]);
    return t;
  });
}

// sum = input + skip (+ bias); over the last axis: LayerNorm (mean and variance) or, when
// `simplified`, RMS norm (no mean); then * gamma (+ beta). Outputs: the result, the mean and
// 1 / sqrt(variance + epsilon) per row ([..., 1], float), and the sum itself.
// Inputs: input, skip, gamma, then beta and bias (LayerNorm) or bias (simplified).
std::vector<Value> SkipNorm(KernelContext& ctx, bool simplified) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 1) ctx.Fail("input must have rank >= 1");
  const DType dt = x.dtype();
  const Shape& shape = x.shape();
  const int64_t h = shape.back(), rows = h == 0 ? 0 : x.numel() / h;
  const Shape row_shape = {h};
  std::vector<double> sum = Broadcast(ctx, 0, shape, dt);
  std::vector<double> skip = Broadcast(ctx, 1, shape, dt);
  std::vector<double> gamma = Broadcast(ctx, 2, row_shape, dt);
  const size_t bias_at = simplified ? 3 : 4;
  std::vector<double> beta, bias;
  if (!simplified && ctx.optional_input(3)) beta = Broadcast(ctx, 3, row_shape, dt);
  if (ctx.optional_input(bias_at)) bias = Broadcast(ctx, bias_at, row_shape, dt);
  const double eps = ctx.GetFloat("epsilon", 1e-12f);  // both ops default to 1e-12
  std::vector<double> y(sum.size()), mean(static_cast<size_t>(rows)), inv(mean.size());
  for (int64_t r = 0; r < rows; ++r) {
    double* s = sum.data() + r * h;
    double m = 0, var = 0;
    for (int64_t j = 0; j < h; ++j) {
      s[j] += skip[static_cast<size_t>(r * h + j)] + (bias.empty() ? 0.0 : bias[j]);
      m += s[j];
    }
    m = simplified ? 0.0 : m / static_cast<double>(h);
    for (int64_t j = 0; j < h; ++j) var += (s[j] - m) * (s[j] - m);
    double inv_std = 1 / std::sqrt(var / static_cast<double>(h) + eps);
    for (int64_t j = 0; j < h; ++j) {
      y[static_cast<size_t>(r * h + j)] =
          (s[j] - m) * inv_std * gamma[j] + (beta.empty() ? 0.0 : beta[j]);
    }
    mean[static_cast<size_t>(r)] = m;
    inv[static_cast<size_t>(r)] = inv_std;
  }
  Shape stat_shape = shape;
  stat_shape.back() = 1;
  std::vector<Value> out;
  out.emplace_back(FromDoubles(ctx, dt, shape, y));
  out.emplace_back(FromDoubles(ctx, DType::kFloat32, stat_shape, mean));
  out.emplace_back(FromDoubles(ctx, DType::kFloat32, stat_shape, inv));
  out.emplace_back(FromDoubles(ctx, dt, shape, sum));
  return out;
}

std::vector<Value> SkipLayerNorm(KernelContext& ctx) { return SkipNorm(ctx, false); }
std::vector<Value> SkipSimplifiedLayerNorm(KernelContext& ctx) { return SkipNorm(ctx, true); }

// ---- MatMulNBits -----------------------------------------------------------------------------

// `bits`-wide unsigned field `i` of a little-endian packed byte array (fields never straddle a
// byte for bits in {2, 4, 8}).
int Field(const uint8_t* bytes, int64_t i, int bits) {
  int64_t bit = i * bits;
  return (bytes[bit / 8] >> (bit % 8)) & ((1 << bits) - 1);
}

// B [N, blocks, blob] (uint8, `bits`-bit fields, low bits first), scales [N * blocks], optional
// zero points (packed like B, one per block, or one float per block), optional g_idx (block of
// each k) dequantized to W[N, K] = (q - zero_point) * scale; zero point 2^(bits-1) by default.
std::vector<double> DequantizeNBits(const KernelContext& ctx, int64_t n, int64_t k, int bits,
                                    int64_t block) {
  const Tensor& b = ctx.input(1);
  const int64_t blocks = (k + block - 1) / block, blob = block * bits / 8;
  if (b.dtype() != DType::kUInt8 || b.numel() != n * blocks * blob)
    ctx.Fail("B must be uint8 [{}, {}, {}], got {}", n, blocks, blob, b.Describe());
  const Tensor& scales = ctx.input(2);
  if (scales.numel() != n * blocks)
    ctx.Fail("scales must have {} elements, got {}", n * blocks, scales.numel());
  const Tensor* zp = ctx.optional_input(3);
  const int64_t zp_row = (blocks * bits + 7) / 8;
  if (zp && zp->dtype() == DType::kUInt8 && zp->numel() != n * zp_row)
    ctx.Fail("packed zero_points must have {} bytes, got {}", n * zp_row, zp->numel());
  if (zp && zp->dtype() != DType::kUInt8 && zp->numel() != n * blocks)
    ctx.Fail("zero_points must have {} elements, got {}", n * blocks, zp->numel());
  std::vector<int64_t> g_idx;
  if (const Tensor* g = ctx.optional_input(4)) g_idx = ToInt64Vector(ctx, *g);
  if (!g_idx.empty() && static_cast<int64_t>(g_idx.size()) != k)
    ctx.Fail("g_idx must have K = {} entries, got {}", k, g_idx.size());
  std::vector<double> w(static_cast<size_t>(n * k));
  const uint8_t* pb = b.data<uint8_t>();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      const int64_t blk = g_idx.empty() ? c / block : g_idx[static_cast<size_t>(c)];
      if (blk < 0 || blk >= blocks) ctx.Fail("g_idx[{}] = {} is not a block", c, blk);
      const double scale = scales.GetDouble(r * blocks + blk);
      double z = static_cast<double>(1 << (bits - 1));
      if (zp && zp->dtype() == DType::kUInt8)
        z = Field(zp->data<uint8_t>() + r * zp_row, blk, bits);
      if (zp && zp->dtype() != DType::kUInt8) z = zp->GetDouble(r * blocks + blk);
      const int q = Field(pb + (r * blocks + c / block) * blob, c % block, bits);
      w[static_cast<size_t>(r * k + c)] = (q - z) * scale;
    }
  }
  return w;
}

// Y[..., N] = A[..., K] * W^T (+ bias), W dequantized from the packed blocks.
std::vector<Value> MatMulNBits(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const int64_t k = ctx.RequireInt("K"), n = ctx.RequireInt("N");
  const int bits = static_cast<int>(ctx.GetInt("bits", 4));
  const int64_t block = ctx.RequireInt("block_size");
  if (bits != 2 && bits != 4 && bits != 8) ctx.Unsupported("bits={} (2, 4 and 8 only)", bits);
  if (block < 16 || (block & (block - 1)) != 0)
    ctx.Fail("block_size must be a power of two >= 16, got {}", block);
  if (a.rank() < 1 || a.shape().back() != k)
    ctx.Fail("A {} must end in K = {}", ShapeToString(a.shape()), k);
  std::vector<double> w = DequantizeNBits(ctx, n, k, bits, block);
  std::vector<double> bias;
  if (const Tensor* b = ctx.optional_input(5)) {
    if (b->numel() != n) ctx.Fail("bias must have N = {} elements, got {}", n, b->numel());
    for (int64_t j = 0; j < n; ++j) bias.push_back(b->GetDouble(j));
  }
  const int64_t m = a.numel() / k;
  std::vector<double> x(static_cast<size_t>(a.numel())), y(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < a.numel(); ++i) x[static_cast<size_t>(i)] = a.GetDouble(i);
  GemmF64(false, true, m, n, k, 1.0, x.data(), k, w.data(), k, 0.0, y.data(), n);
  if (!bias.empty()) {
    for (int64_t i = 0; i < m * n; ++i) y[static_cast<size_t>(i)] += bias[i % n];
  }
  Shape out_shape = a.shape();
  out_shape.back() = n;
  return Out(FromDoubles(ctx, a.dtype(), out_shape, y));
}

}  // namespace

void RegisterContribOps(Registry& r) {
  const std::string ms = "com.microsoft";
  r.Add(ms, "BiasGelu", 1, BiasGelu);
  r.Add(ms, "FastGelu", 1, FastGelu);
  r.Add(ms, "FusedConv", 1, FusedConv);
  r.Add(ms, "FusedMatMul", 1, FusedMatMul);
  r.Add(ms, "Gelu", 1, Gelu);
  r.Add(ms, "MatMulNBits", 1, MatMulNBits);
  r.Add(ms, "QuickGelu", 1, QuickGelu);
  r.Add(ms, "SkipLayerNormalization", 1, SkipLayerNorm);
  r.Add(ms, "SkipSimplifiedLayerNormalization", 1, SkipSimplifiedLayerNorm);
}

}  // namespace concord::ref
