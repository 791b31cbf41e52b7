// Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
//
// QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point), the division done in
// float for float inputs (as ONNX's reference and onnxruntime do) and in double for int32.
// DequantizeLinear: y = (float(x) - float(zero_point)) * scale. Both are per-tensor (scalar or
// 1-element scale) or per-axis (1-D scale along `axis`, opset 13+). NaN quantizes to the zero
// point (ONNX leaves it undefined).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// How a flat element index maps to its scale / zero-point index.
struct AxisMap {
  int64_t count = 1;  // number of scales
  int64_t inner = 1;  // elements per step along the axis
  int64_t Index(int64_t i) const { return count == 1 ? 0 : (i / inner) % count; }
};

AxisMap MapAxis(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp) {
  AxisMap m;
  if (scale.rank() > 1)
    ctx.Fail("scale must be a scalar or 1-D, got {}", ShapeToString(scale.shape()));
  if (zp && zp->shape() != scale.shape() && !(zp->numel() == 1 && scale.numel() == 1)) {
    ctx.Fail("zero point shape {} differs from scale shape {}", ShapeToString(zp->shape()),
             ShapeToString(scale.shape()));
  }
  if (scale.rank() == 0 || scale.numel() == 1) {
    if (scale.numel() != 1) ctx.Fail("scale is empty");
    return m;
  }
  const int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 1), x.rank());
  if (scale.numel() != x.dim(static_cast<int>(axis))) {
    ctx.Fail("scale has {} elements but input dim {} (axis) is {}", scale.numel(), axis,
             x.dim(static_cast<int>(axis)));
  }
  m.count = scale.numel();
  for (int d = static_cast<int>(axis) + 1; d < x.rank(); ++d) m.inner *= x.dim(d);
  return m;
}

// Integer range of a quantized type.
void QuantRange(const KernelContext& ctx, DType dt, double& lo, double& hi) {
  switch (dt) {
    case DType::kUInt8:
      lo = 0;
      hi = 255;
      return;
    case DType::kInt8:
      lo = -128;
      hi = 127;
      return;
    case DType::kUInt16:
      lo = 0;
      hi = 65535;
      return;
    case DType::kInt16:
      lo = -32768;
      hi = 32767;
      return;
    case DType::kInt32:
      lo = std::numeric_limits<int32_t>::min();
      hi = std::numeric_limits<int32_t>::max();
      return;
    default:
      ctx.Unsupported("quantized type {}", DTypeName(dt));
  }
}

// Writes saturate(q) into element i of an integer tensor of dtype `dt`.
void StoreQuantized(Tensor& y, int64_t i, double q) {
  VisitDType(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsIntLike<T>) y.data<T>()[i] = static_cast<T>(q);
  });
}

// rint(x / scale) + zp, saturated; float inputs divide in float.
template <typename T>
double QuantizeOne(T x, double scale, double zp, double lo, double hi) {
  double r;
  if constexpr (std::is_same_v<T, double> || std::is_integral_v<T>) {
    r = std::nearbyint(static_cast<double>(x) / scale);
  } else {
    r = std::nearbyint(static_cast<double>(static_cast<float>(x) / static_cast<float>(scale)));
  }
  if (std::isnan(r)) r = 0;
  return std::clamp(r + zp, lo, hi);
}

std::vector<Value> QuantizeLinear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  AxisMap m = MapAxis(ctx, x, scale, zp);
  DType out_dt = zp ? zp->dtype() : DType::kUInt8;
  double lo, hi;
  QuantRange(ctx, out_dt, lo, hi);
  Tensor y(out_dt, x.shape());
  DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloatLike<T> && !std::is_same_v<T, int32_t>) {
      ctx.Unsupported("QuantizeLinear input type {}", DTypeName(x.dtype()));
    } else {
      const T* px = x.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t k = m.Index(i);
        double s = scale.GetDouble(k), z = zp ? zp->GetDouble(k) : 0.0;
        StoreQuantized(y, i, QuantizeOne(px[i], s, z, lo, hi));
      }
    }
    return 0;
  });
  return Out(std::move(y));
}

std::vector<Value> DequantizeLinear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  if (!IsInteger(x.dtype()))
    ctx.Unsupported("DequantizeLinear input type {}", DTypeName(x.dtype()));
  if (zp && zp->dtype() != x.dtype()) ctx.Fail("x_zero_point must have x's element type");
  if (!IsFloating(scale.dtype()))
    ctx.Fail("x_scale must be a float type, got {}", DTypeName(scale.dtype()));
  AxisMap m = MapAxis(ctx, x, scale, zp);
  return Out(DispatchFloat(ctx, scale.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    using C = std::conditional_t<std::is_same_v<S, double>, double, float>;
    Tensor y(scale.dtype(), x.shape());
    S* py = y.data<S>();
    const S* ps = scale.data<S>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t k = m.Index(i);
      C z = zp ? static_cast<C>(zp->GetDouble(k)) : C(0);
      C v = (static_cast<C>(x.GetDouble(i)) - z) * static_cast<C>(Up(ps[k]));
      py[i] = Down<S>(static_cast<ComputeT<S>>(v));
    }
    return y;
  }));
}

// The ONNX function body, computed in float: scale = (max(0, max x) - min(0, min x)) / 255,
// zero_point = saturate(round(0 - min / scale)), y = QuantizeLinear(x, scale, zero_point).
std::vector<Value> DynamicQuantizeLinear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kFloat32)
    ctx.Unsupported("DynamicQuantizeLinear input type {}", DTypeName(x.dtype()));
  const float* px = x.data<float>();
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    mn = std::min(mn, px[i]);
    mx = std::max(mx, px[i]);
  }
  const float scale = (mx - mn) / 255.0f;
  float zp = 0.0f;
  if (scale != 0.0f) zp = std::clamp(std::nearbyint(0.0f - mn / scale), 0.0f, 255.0f);
  Tensor y(DType::kUInt8, x.shape());
  uint8_t* py = y.data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    py[i] = static_cast<uint8_t>(scale == 0.0f ? zp : QuantizeOne(px[i], scale, zp, 0.0, 255.0));
  }
  std::vector<Value> outs;
  outs.emplace_back(std::move(y));
  outs.emplace_back(Tensor::Scalar<float>(scale));
  outs.emplace_back(Tensor::Scalar<uint8_t>(static_cast<uint8_t>(zp)));
  return outs;
}

}  // namespace

void RegisterQuantizationOps(Registry& r) {
  // Opset 13 added per-axis scales (`axis`); the kernel handles both forms.
  for (int v : {10, 13}) {
    r.Add("", "QuantizeLinear", v, QuantizeLinear);
    r.Add("", "DequantizeLinear", v, DequantizeLinear);
  }
  r.Add("", "DynamicQuantizeLinear", 11, DynamicQuantizeLinear);
}

}  // namespace concord::ref
