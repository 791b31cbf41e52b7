// Random generators: RandomUniform(Like), RandomNormal(Like), Bernoulli, Multinomial.
//
// ONNX leaves the generator unspecified, so only shapes, dtypes and distributions are
// contractual. We use std::mt19937_64 seeded from the float `seed` attribute's bit pattern
// (same seed -> same output on every platform, since the engine and our transforms are fully
// specified); without a seed the engine is seeded from std::random_device.
#include <bit>
#include <cmath>
#include <random>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

std::mt19937_64 MakeEngine(const KernelContext& ctx) {
  if (ctx.has_attr("seed"))
    return std::mt19937_64(std::bit_cast<uint32_t>(ctx.GetFloat("seed", 0.0f)));
  std::random_device rd;
  return std::mt19937_64((static_cast<uint64_t>(rd()) << 32) | rd());
}

// Uniform double in [0, 1) with 53 random bits (std::generate_canonical is not bit-identical
// across standard libraries).
double Uniform01(std::mt19937_64& eng) { return static_cast<double>(eng() >> 11) * 0x1.0p-53; }

// Standard normal via Box-Muller (fully specified, unlike std::normal_distribution).
double StandardNormal(std::mt19937_64& eng) {
  double u1 = Uniform01(eng);
  double u2 = Uniform01(eng);
  return std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * M_PI * u2);
}

DType FloatDTypeAttr(const KernelContext& ctx, DType def) {
  auto dt = static_cast<DType>(ctx.GetInt("dtype", static_cast<int64_t>(def)));
  if (!IsFloating(dt))
    ctx.Fail("dtype must be a floating-point type, got {}", static_cast<int>(dt));
  return dt;
}

template <typename Gen>
Tensor Fill(const KernelContext& ctx, DType dt, const Shape& shape, Gen&& gen) {
  Tensor out(dt, shape);
  DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = Down<T>(static_cast<ComputeT<T>>(gen()));
  });
  return out;
}

Shape ShapeAttr(const KernelContext& ctx) {
  if (!ctx.has_attr("shape")) ctx.Fail("required attribute 'shape' is missing");
  Shape s = ctx.GetInts("shape");
  for (int64_t d : s) {
    if (d < 0) ctx.Fail("shape dimensions must be non-negative, got {}", ShapeToString(s));
  }
  return s;
}

template <bool kLike>
std::vector<Value> RandomUniform(KernelContext& ctx) {
  DType dt =
      kLike ? FloatDTypeAttr(ctx, ctx.input(0).dtype()) : FloatDTypeAttr(ctx, DType::kFloat32);
  Shape shape = kLike ? ctx.input(0).shape() : ShapeAttr(ctx);
  double lo = ctx.GetFloat("low", 0.0f), hi = ctx.GetFloat("high", 1.0f);
  auto eng = MakeEngine(ctx);
  return Out(Fill(ctx, dt, shape, [&] { return lo + (hi - lo) * Uniform01(eng); }));
}

template <bool kLike>
std::vector<Value> RandomNormal(KernelContext& ctx) {
  DType dt =
      kLike ? FloatDTypeAttr(ctx, ctx.input(0).dtype()) : FloatDTypeAttr(ctx, DType::kFloat32);
  Shape shape = kLike ? ctx.input(0).shape() : ShapeAttr(ctx);
  double mean = ctx.GetFloat("mean", 0.0f), scale = ctx.GetFloat("scale", 1.0f);
  auto eng = MakeEngine(ctx);
  return Out(Fill(ctx, dt, shape, [&] { return mean + scale * StandardNormal(eng); }));
}

// Output 1 with probability p (the input), else 0, in `dtype` (default: the input's type).
std::vector<Value> Bernoulli(KernelContext& ctx) {
  const Tensor& p = ctx.input(0);
  if (!IsFloating(p.dtype())) ctx.Fail("input must be a floating-point tensor");
  auto dt = static_cast<DType>(ctx.GetInt("dtype", static_cast<int64_t>(p.dtype())));
  auto eng = MakeEngine(ctx);
  Tensor out(dt, p.shape());
  DispatchAll(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
      T* po = out.data<T>();
      for (int64_t i = 0; i < p.numel(); ++i) {
        double prob = p.GetDouble(i);
        if (!(prob >= 0.0 && prob <= 1.0)) ctx.Fail("probability {} is outside [0, 1]", prob);
        po[i] = FromDouble<T>(Uniform01(eng) < prob ? 1.0 : 0.0);
      }
    } else {
      ctx.Fail("unsupported output dtype {}", DTypeName(dt));
    }
  });
  return Out(std::move(out));
}

// input: [batch, classes] unnormalized log-probabilities; output: [batch, sample_size] indices.
std::vector<Value> Multinomial(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!IsFloating(x.dtype())) ctx.Fail("input must be a floating-point tensor");
  if (x.rank() != 2)
    ctx.Fail("input must be [batch_size, class_size], got {}", ShapeToString(x.shape()));
  const int64_t samples = ctx.GetInt("sample_size", 1);
  if (samples < 0) ctx.Fail("sample_size must be non-negative");
  auto dt = static_cast<DType>(ctx.GetInt("dtype", static_cast<int64_t>(DType::kInt32)));
  if (dt != DType::kInt32 && dt != DType::kInt64) ctx.Fail("dtype must be int32 or int64");
  const int64_t batch = x.dim(0), classes = x.dim(1);
  if (classes == 0 && samples > 0) ctx.Fail("class_size must be positive");
  auto eng = MakeEngine(ctx);
  Tensor out(dt, {batch, samples});
  std::vector<double> cdf(static_cast<size_t>(classes));
  for (int64_t b = 0; b < batch; ++b) {
    double mx = -INFINITY;
    for (int64_t c = 0; c < classes; ++c) mx = std::max(mx, x.GetDouble(b * classes + c));
    double total = 0;
    for (int64_t c = 0; c < classes; ++c) {
      total += std::exp(x.GetDouble(b * classes + c) - mx);
      cdf[static_cast<size_t>(c)] = total;
    }
    for (int64_t s = 0; s < samples; ++s) {
      double u = Uniform01(eng) * total;
      int64_t k = 0;
      while (k + 1 < classes && cdf[static_cast<size_t>(k)] <= u) ++k;
      if (dt == DType::kInt32) {
        out.data<int32_t>()[b * samples + s] = static_cast<int32_t>(k);
      } else {
        out.data<int64_t>()[b * samples + s] = k;
      }
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterRandomOps(Registry& r) {
  r.Add("", "RandomUniform", 1, RandomUniform<false>);
  r.Add("", "RandomNormal", 1, RandomNormal<false>);
  r.Add("", "RandomUniformLike", 1, RandomUniform<true>);
  r.Add("", "RandomNormalLike", 1, RandomNormal<true>);
  r.Add("", "Bernoulli", 15, Bernoulli);
  r.Add("", "Multinomial", 7, Multinomial);
}

}  // namespace concord::ref
