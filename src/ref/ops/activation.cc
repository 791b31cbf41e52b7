// Activation functions (Relu family, sigmoids, Clip, Shrink) and Dropout in inference form.
//
// Float activations apply a small functor in ComputeT (float for float16/bfloat16, else the
// storage type) — the same shape as elementwise.cc. Attributes are read once per node and
// captured by the functor.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/low_precision.h"
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Applies f (a generic lambda over the compute type) to every element of a float tensor.
template <typename F>
Tensor MapFloat(const KernelContext& ctx, const Tensor& x, F&& f) {
  return DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    return MapUnary<T>(ctx, x, x.dtype(), [&](T v) { return Down<T>(static_cast<C>(f(Up(v)))); });
  });
}

// Same over every numeric type (ints too).
template <typename F>
Tensor MapNumeric(const KernelContext& ctx, const Tensor& x, F&& f) {
  return DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    return MapUnary<T>(ctx, x, x.dtype(), [&](T v) { return Down<T>(static_cast<C>(f(Up(v)))); });
  });
}

// ---- Relu family ------------------------------------------------------------------------------

std::vector<Value> Relu(KernelContext& ctx) {
  // Relu-14 added signed integer types; the formula is the same for every type.
  return Out(MapNumeric(ctx, ctx.input(0), [](auto x) { return ReluValue<decltype(x)>(x); }));
}

std::vector<Value> LeakyRelu(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 0.01f);
  return Out(MapFloat(ctx, ctx.input(0), [alpha](auto x) {
    using C = decltype(x);
    return x < C(0) ? static_cast<C>(alpha) * x : x;
  }));
}

// y = x < 0 ? slope * x : x, slope broadcast unidirectionally to X's shape (PRelu-7+).
Tensor PReluCompute(const KernelContext& ctx, const Tensor& x, const Tensor& slope) {
  if (x.dtype() != slope.dtype()) {
    ctx.Fail("X and slope have different element types: {} and {}", DTypeName(x.dtype()),
             DTypeName(slope.dtype()));
  }
  Shape out_shape = BroadcastShapes(ctx, {x.shape(), slope.shape()});
  if (out_shape != x.shape()) {
    ctx.Fail("slope {} is not unidirectionally broadcastable to X {}", ShapeToString(slope.shape()),
             ShapeToString(x.shape()));
  }
  return DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    return BroadcastBinary<T, T, T>(ctx, x, slope, x.dtype(), [](T xv, T sv) {
      C v = Up(xv);
      return v < C(0) ? Down<T>(static_cast<C>(Up(sv) * v)) : xv;
    });
  });
}

std::vector<Value> PRelu7(KernelContext& ctx) {
  return Out(PReluCompute(ctx, ctx.input(0), ctx.input(1)));
}

// PRelu-1/6 predate numpy broadcasting: the slope is one value or one value per channel (X's
// dim 1, with any trailing dims of the slope matching X's). Laid out as [C, 1, ..., 1] it then
// broadcasts the same way as PRelu-7.
std::vector<Value> PRelu1(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  Shape s = slope.shape();
  bool channelwise = x.rank() >= 2 && slope.rank() >= 1 && slope.rank() < x.rank() &&
                     slope.numel() > 1 && std::equal(s.begin(), s.end(), x.shape().begin() + 1);
  if (!channelwise) return Out(PReluCompute(ctx, x, slope));
  s.resize(static_cast<size_t>(x.rank() - 1), 1);
  return Out(PReluCompute(ctx, x, slope.Reshaped(s)));
}

std::vector<Value> Elu(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 1.0f);
  return Out(MapFloat(ctx, ctx.input(0), [alpha](auto x) {
    using C = decltype(x);
    return x < C(0) ? static_cast<C>(alpha) * (std::exp(x) - C(1)) : x;
  }));
}

std::vector<Value> Selu(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 1.67326319217681884765625f);
  float gamma = ctx.GetFloat("gamma", 1.05070102214813232421875f);
  return Out(MapFloat(ctx, ctx.input(0), [alpha, gamma](auto x) {
    using C = decltype(x);
    C a = static_cast<C>(alpha), g = static_cast<C>(gamma);
    return x > C(0) ? g * x : g * (a * std::exp(x) - a);
  }));
}

// Celu is a function op in ONNX; a direct kernel avoids the expansion and reads the same.
std::vector<Value> Celu(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 1.0f);
  if (alpha == 0.0f) ctx.Fail("alpha must not be 0");
  return Out(MapFloat(ctx, ctx.input(0), [alpha](auto x) {
    using C = decltype(x);
    C a = static_cast<C>(alpha);
    return std::max(C(0), x) + std::min(C(0), a * (std::exp(x / a) - C(1)));
  }));
}

std::vector<Value> ThresholdedRelu(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 1.0f);
  return Out(MapFloat(ctx, ctx.input(0), [alpha](auto x) {
    using C = decltype(x);
    return x > static_cast<C>(alpha) ? x : C(0);
  }));
}

// ---- sigmoid-like -------------------------------------------------------------------------------

std::vector<Value> Sigmoid(KernelContext& ctx) {
  // Two branches so that exp never overflows (as ONNX's reference implementation does).
  return Out(MapFloat(ctx, ctx.input(0), [](auto x) {
    using C = decltype(x);
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    C e = std::exp(x);
    return e / (C(1) + e);
  }));
}

std::vector<Value> HardSigmoid(KernelContext& ctx) {
  float alpha = ctx.GetFloat("alpha", 0.2f);
  float beta = ctx.GetFloat("beta", 0.5f);
  return Out(MapFloat(ctx, ctx.input(0), [alpha, beta](auto x) {
    using C = decltype(x);
    C y = static_cast<C>(alpha) * x + static_cast<C>(beta);
    return std::max(C(0), std::min(C(1), y));
  }));
}

// y = x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
std::vector<Value> HardSwish(KernelContext& ctx) {
  return Out(MapFloat(ctx, ctx.input(0), [](auto x) {
    using C = decltype(x);
    C y = x / C(6) + C(0.5);
    return x * std::max(C(0), std::min(C(1), y));
  }));
}

// log(1 + exp(x)), written so that exp never overflows for large x.
std::vector<Value> Softplus(KernelContext& ctx) {
  return Out(MapFloat(ctx, ctx.input(0), [](auto x) {
    using C = decltype(x);
    if (std::isnan(x)) return x;
    return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }));
}

std::vector<Value> Softsign(KernelContext& ctx) {
  return Out(MapFloat(ctx, ctx.input(0), [](auto x) {
    using C = decltype(x);
    return x / (C(1) + std::abs(x));
  }));
}

// ---- Shrink: all numeric types; integers compute in double and convert back -----------------

std::vector<Value> Shrink(KernelContext& ctx) {
  double lambd = ctx.GetFloat("lambd", 0.5f);
  double bias = ctx.GetFloat("bias", 0.0f);
  const Tensor& x = ctx.input(0);
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, x.dtype(), [&](T v) {
      double d = ToDouble(v);
      double y = d < -lambd ? d + bias : (d > lambd ? d - bias : 0.0);
      if constexpr (kIsFloatLike<T>) {
        return FromDouble<T>(static_cast<double>(static_cast<ComputeT<T>>(y)));
      } else {
        return static_cast<T>(y);
      }
    });
  }));
}

// ---- Clip -------------------------------------------------------------------------------------

// ClipValue (fused_activation.h: the interpreter fuses a Clip after a Conv with the same formula)
// Clip-1/6: float bounds from the `min`/`max` attributes.
std::vector<Value> ClipAttr(KernelContext& ctx) {
  float lo = ctx.GetFloat("min", std::numeric_limits<float>::lowest());
  float hi = ctx.GetFloat("max", std::numeric_limits<float>::max());
  return Out(MapFloat(ctx, ctx.input(0), [lo, hi](auto x) {
    using C = decltype(x);
    return ClipValue<C>(x, static_cast<C>(lo), static_cast<C>(hi));
  }));
}

// Clip-11+: optional scalar `min`/`max` inputs of X's type; missing bound = type's range.
std::vector<Value> ClipInputs(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor* tmin = ctx.optional_input(1);
  const Tensor* tmax = ctx.optional_input(2);
  for (const Tensor* b : {tmin, tmax}) {
    if (b == nullptr) continue;
    if (b->dtype() != x.dtype()) {
      ctx.Fail("bound has element type {}, input has {}", DTypeName(b->dtype()),
               DTypeName(x.dtype()));
    }
    if (b->numel() != 1)
      ctx.Fail("min/max must be scalars, got shape {}", ShapeToString(b->shape()));
  }
  if (ctx.opset() < 12 && !IsFloating(x.dtype())) {
    ctx.Fail("Clip-11 supports float types only, got {}", DTypeName(x.dtype()));
  }
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    C lo = tmin ? Up(tmin->data<T>()[0]) : std::numeric_limits<C>::lowest();
    C hi = tmax ? Up(tmax->data<T>()[0]) : std::numeric_limits<C>::max();
    return MapUnary<T>(ctx, x, x.dtype(),
                       [lo, hi](T v) { return Down<T>(ClipValue<C>(Up(v), lo, hi)); });
  }));
}

// ---- Dropout (inference; training only with ratio == 0, which is deterministic) --------------

// Mask of ones: bool from opset 10, else the input's own type.
Tensor OnesMask(const KernelContext& ctx, const Tensor& x, bool bool_mask) {
  if (bool_mask) {
    Tensor m(DType::kBool, x.shape());
    bool* p = m.data<bool>();
    for (int64_t i = 0; i < m.numel(); ++i) p[i] = true;
    return m;
  }
  return DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, x.dtype(), [](T) { return Down<T>(ComputeT<T>(1)); });
  });
}

std::vector<Value> DropoutResult(const KernelContext& ctx, const Tensor& x, bool bool_mask) {
  std::vector<Value> out;
  out.emplace_back(x);
  if (ctx.has_output(1)) out.emplace_back(OnesMask(ctx, x, bool_mask));
  return out;
}

// Dropout-1/6/7/10: no training-mode input. Opset 1/6's is_test=0 (the default) asks for
// training behaviour, but a model run for inference is what every runtime (and this oracle)
// means; opset 7 removed the attribute and defined the op as identity at inference.
std::vector<Value> DropoutOld(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!IsFloating(x.dtype())) ctx.Fail("Dropout needs a float input, got {}", DTypeName(x.dtype()));
  return DropoutResult(ctx, x, ctx.opset() >= 10);
}

// Dropout-12/13/22: optional `ratio` and `training_mode` inputs; opset 22 admits float8 (x and
// ratio), which only ever pass through (training with ratio > 0 is refused below).
std::vector<Value> Dropout12(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!IsFloating(x.dtype()) && !IsFloat8(x.dtype()))
    ctx.Fail("Dropout needs a float input, got {}", DTypeName(x.dtype()));
  double ratio = 0.5;
  if (const Tensor* r = ctx.optional_input(1)) {
    if (r->numel() != 1 || !(IsFloating(r->dtype()) || IsFloat8(r->dtype())))
      ctx.Fail("ratio must be a float scalar, got {}", r->Describe());
    ratio = r->GetDouble(0);
  }
  bool training = false;
  if (const Tensor* t = ctx.optional_input(2)) {
    if (t->numel() != 1 || t->dtype() != DType::kBool) {
      ctx.Fail("training_mode must be a bool scalar, got {}", t->Describe());
    }
    training = t->data<bool>()[0];
  }
  if (training) {
    if (!(ratio >= 0.0 && ratio < 1.0)) ctx.Fail("ratio must be in [0, 1), got {}", ratio);
    if (ratio > 0.0) {
      ctx.Unsupported("training-mode Dropout with ratio {} depends on a random number generator",
                      ratio);
    }
  }
  return DropoutResult(ctx, x, true);
}

}  // namespace

void RegisterActivationOps(Registry& r) {
  r.Add("", "Relu", 1, Relu);
  r.Add("", "LeakyRelu", 1, LeakyRelu);
  r.Add("", "PRelu", 1, PRelu1);
  r.Add("", "PRelu", 7, PRelu7);
  r.Add("", "Elu", 1, Elu);
  r.Add("", "Selu", 1, Selu);
  r.Add("", "Celu", 12, Celu);
  r.Add("", "ThresholdedRelu", 10, ThresholdedRelu);
  r.Add("", "Sigmoid", 1, Sigmoid);
  r.Add("", "HardSigmoid", 1, HardSigmoid);
  r.Add("", "HardSwish", 14, HardSwish);
  r.Add("", "Softplus", 1, Softplus);
  r.Add("", "Softsign", 1, Softsign);
  r.Add("", "Shrink", 9, Shrink);
  r.Add("", "Clip", 1, ClipAttr);
  r.Add("", "Clip", 11, ClipInputs);
  r.Add("", "Dropout", 1, DropoutOld);
  r.Add("", "Dropout", 12, Dropout12);
  // Gelu (opset 20) and Mish (opset 18) are not in ONNX 1.12's schemas (max opset 17).
}

}  // namespace concord::ref
