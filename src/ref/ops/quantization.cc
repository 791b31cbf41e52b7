// Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
//
// QuantizeLinear: q = x / scale, computed in the `precision` type when given (opset 23+: x and
// scale are first rounded to it), else in numpy's promotion of x and scale as ONNX's reference
// does (float32 / float32 in float32, float16 / float16 in float16, int32 inputs in double).
// Integer outputs (uint8/int8/uint16/int16/int32, uint4/int4, uint2/int2):
// saturate(round_half_even(q) + zero_point); NaN quantizes to the zero point (ONNX leaves it
// undefined). float8 outputs: q rounded to nearest even, clamped to +-max with `saturate`
// (default 1), else inf/NaN (ir/low_precision.h); the zero point (always 0) is not added.
// float4e2m1, float6e2m3, float6e3m2 (no inf/NaN): q + zero_point, added in numpy's promotion
// of the quotient type with the zero point's (float32, double for a double quotient), rounded
// to nearest even, always saturating (`saturate` changes nothing, as in ONNX's reference).
// The output type is the zero point's, else `output_dtype` (opset 21+), else uint8.
//
// DequantizeLinear: y = (float(x) - float(zero_point)) * scale in float32 (double for a double
// scale), written as `output_dtype` (opset 23+) or the scale's type. float8 zero points must be
// 0; float4's is ignored; float6's is subtracted and must have x's type, as in ONNX's reference.
//
// Scales: per tensor (scalar or one element), per axis (1-D along `axis`, opset 13+) or blocked
// (opset 21+, `block_size` > 0: scale has x's rank and shape except ceil(dim / block_size) along
// `axis`); a zero point has the scale's shape.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/low_precision.h"
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// How a flat element index of x maps to its scale / zero-point index.
struct ScaleMap {
  enum Kind { kTensor, kAxis, kBlocked } kind = kTensor;
  int64_t dim = 1;     // x's size along the axis
  int64_t inner = 1;   // elements per step along the axis
  int64_t block = 1;   // block size (blocked)
  int64_t blocks = 1;  // scale's size along the axis (blocked)
  int64_t Index(int64_t i) const {
    switch (kind) {
      case kTensor:
        return 0;
      case kAxis:
        return (i / inner) % dim;
      case kBlocked: {
        const int64_t outer = i / (dim * inner), j = (i / inner) % dim, in = i % inner;
        return (outer * blocks + j / block) * inner + in;
      }
    }
    return 0;
  }
};

ScaleMap MapScale(const KernelContext& ctx, const Tensor& x, const Tensor& scale,
                  const Tensor* zp) {
  ScaleMap m;
  if (zp && zp->shape() != scale.shape() && !(zp->numel() == 1 && scale.numel() == 1)) {
    ctx.Fail("zero point shape {} differs from scale shape {}", ShapeToString(zp->shape()),
             ShapeToString(scale.shape()));
  }
  if (scale.numel() == 1) return m;
  if (scale.numel() == 0) ctx.Fail("scale is empty");
  const int64_t block = ctx.GetInt("block_size", 0);
  if (block < 0) ctx.Fail("block_size must be >= 0, got {}", block);
  const int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 1), x.rank());
  const int a = static_cast<int>(axis);
  m.dim = x.dim(a);
  for (int d = a + 1; d < x.rank(); ++d) m.inner *= x.dim(d);
  if (block == 0) {
    if (scale.rank() != 1)
      ctx.Fail("scale must be a scalar or 1-D without block_size, got {}",
               ShapeToString(scale.shape()));
    if (scale.numel() != m.dim) {
      ctx.Fail("scale has {} elements but input dim {} (axis) is {}", scale.numel(), axis, m.dim);
    }
    m.kind = ScaleMap::kAxis;
    return m;
  }
  Shape want = x.shape();
  want[static_cast<size_t>(a)] = (m.dim + block - 1) / block;
  if (scale.shape() != want) {
    ctx.Fail("blocked scale shape {} must be {} (x {} with block_size {} along axis {})",
             ShapeToString(scale.shape()), ShapeToString(want), ShapeToString(x.shape()), block,
             axis);
  }
  m.kind = ScaleMap::kBlocked;
  m.block = block;
  m.blocks = want[static_cast<size_t>(a)];
  return m;
}

// Integer range of an integer quantized type; false for the float ones.
bool IntRange(DType dt, double& lo, double& hi) {
  int l = 0, h = 0;
  switch (dt) {
    case DType::kUInt8:
      lo = 0, hi = 255;
      return true;
    case DType::kInt8:
      lo = -128, hi = 127;
      return true;
    case DType::kUInt16:
      lo = 0, hi = 65535;
      return true;
    case DType::kInt16:
      lo = -32768, hi = 32767;
      return true;
    case DType::kInt32:
      lo = std::numeric_limits<int32_t>::min();
      hi = std::numeric_limits<int32_t>::max();
      return true;
    default:
      if (!LowPrecisionIntRange(dt, &l, &h)) return false;
      lo = l, hi = h;
      return true;
  }
}

bool IsQuantizedFloat(DType dt) { return IsFloat8(dt) || IsMxFloat(dt); }

// Rounds an exact double to the float type `dt` (the result of a division done in that type:
// division rounded to float then to a 16-bit type is rounded correctly, 24 >= 2 * 11 + 2).
double RoundTo(DType dt, double v) {
  switch (dt) {
    case DType::kFloat64:
      return v;
    case DType::kFloat16:
      return static_cast<float>(Float16(static_cast<float>(v)));
    case DType::kBFloat16:
      return static_cast<float>(BFloat16(static_cast<float>(v)));
    default:
      return static_cast<float>(v);
  }
}

// Rank of a float type in numpy's promotion: half < float < double.
int Width(DType dt) {
  switch (dt) {
    case DType::kFloat64:
      return 3;
    case DType::kFloat32:
      return 2;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 1;
    default:
      return 0;  // float8e8m0 scales promote to the other operand
  }
}

// The type x / scale is computed in (see the file comment).
DType QuotientType(const KernelContext& ctx, DType x, DType scale) {
  if (const int64_t p = ctx.GetInt("precision", 0); p != 0) {
    const DType dt = static_cast<DType>(p);
    if (!IsFloating(dt)) ctx.Fail("precision must be a float type, got {}", p);
    return dt;
  }
  if (x == DType::kInt32) return DType::kFloat64;
  if (x == scale || Width(scale) == 0) return x;
  if (Width(x) == Width(scale)) return DType::kFloat32;  // float16 with bfloat16
  return Width(x) > Width(scale) ? x : scale;
}

std::vector<Value> QuantizeLinear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  if (!IsFloating(x.dtype()) && x.dtype() != DType::kInt32)
    ctx.Unsupported("QuantizeLinear input type {}", DTypeName(x.dtype()));
  if (!IsFloating(scale.dtype()) && scale.dtype() != DType::kInt32 &&
      scale.dtype() != DType::kFloat8E8M0)
    ctx.Fail("y_scale must be a float type, got {}", DTypeName(scale.dtype()));
  const ScaleMap m = MapScale(ctx, x, scale, zp);
  const int64_t out_attr = ctx.GetInt("output_dtype", 0);
  DType out_dt = DType::kUInt8;
  if (zp) {
    out_dt = zp->dtype();
    if (out_attr != 0 && out_attr != static_cast<int64_t>(out_dt)) {
      ctx.Fail("output_dtype {} differs from the zero point's type {}", out_attr,
               DTypeName(out_dt));
    }
  } else if (out_attr != 0) {
    if (!IsValidDType(static_cast<int32_t>(out_attr)))
      ctx.Fail("invalid output_dtype {}", out_attr);
    out_dt = static_cast<DType>(out_attr);
  }
  double lo = 0, hi = 0;
  const bool integer = IntRange(out_dt, lo, hi);
  if (!integer && !IsQuantizedFloat(out_dt))
    ctx.Unsupported("quantized type {}", DTypeName(out_dt));
  const bool saturate = ctx.GetInt("saturate", 1) != 0;
  const DType qt = QuotientType(ctx, x.dtype(), scale.dtype());
  const bool cast_operands = ctx.GetInt("precision", 0) != 0;
  const DType sum_t = qt == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  Tensor y(out_dt, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t k = m.Index(i);
    double xv = x.GetDouble(i), sv = scale.GetDouble(k);
    if (cast_operands) xv = RoundTo(qt, xv), sv = RoundTo(qt, sv);
    const double q = RoundTo(qt, xv / sv);
    const double z = zp ? zp->GetDouble(k) : 0.0;
    if (integer) {
      double r = std::nearbyint(q);
      if (std::isnan(r)) r = 0;
      const double v = std::clamp(r + z, lo, hi);
      if (IsLowPrecision(out_dt)) {
        y.codes()[i] = static_cast<uint8_t>(static_cast<int8_t>(v));
      } else {
        VisitDType(out_dt, [&](auto tag) {
          using T = typename decltype(tag)::type;
          if constexpr (kIsIntLike<T>) y.data<T>()[i] = static_cast<T>(v);
        });
      }
    } else if (IsMxFloat(out_dt)) {
      // numpy adds an ml_dtypes zero point in float32 (double for a double quotient) first.
      y.codes()[i] = LowPrecisionFromDouble(out_dt, RoundTo(sum_t, q + z), true);
    } else {
      y.codes()[i] = LowPrecisionFromDouble(out_dt, q, saturate);
    }
  }
  return Out(std::move(y));
}

std::vector<Value> DequantizeLinear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.optional_input(2);
  double lo = 0, hi = 0;
  const bool integer = IntRange(x.dtype(), lo, hi);
  if (!integer && !IsQuantizedFloat(x.dtype()))
    ctx.Unsupported("DequantizeLinear input type {}", DTypeName(x.dtype()));
  if (!IsFloating(scale.dtype()) && scale.dtype() != DType::kFloat8E8M0)
    ctx.Fail("x_scale must be a float type, got {}", DTypeName(scale.dtype()));
  const bool subtract_zp =
      integer || x.dtype() == DType::kFloat6E2M3 || x.dtype() == DType::kFloat6E3M2;
  if (zp && subtract_zp && zp->dtype() != x.dtype())
    ctx.Fail("x_zero_point must have x's element type");
  if (zp && IsFloat8(x.dtype())) {
    for (int64_t i = 0; i < zp->numel(); ++i) {
      if (zp->codes()[i] != 0) ctx.Fail("x_zero_point must be 0 for float8 types");
    }
  }
  const Tensor* z = subtract_zp ? zp : nullptr;  // float8 zero points are 0, float4's ignored
  const ScaleMap m = MapScale(ctx, x, scale, zp);
  DType out_dt = scale.dtype();
  if (const int64_t o = ctx.GetInt("output_dtype", 0); o != 0) {
    out_dt = static_cast<DType>(o);
    if (!IsFloating(out_dt) || out_dt == DType::kFloat64)
      ctx.Fail("output_dtype must be float, float16 or bfloat16, got {}", o);
  }
  if (!IsFloating(out_dt))
    ctx.Fail("x_scale of type {} needs an output_dtype", DTypeName(scale.dtype()));
  // (float32(x) - zero_point) * scale in float32, or in double when the scale is double.
  const bool wide = scale.dtype() == DType::kFloat64;
  Tensor y(out_dt, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t k = m.Index(i);
    double v;
    if (wide) {
      v = (x.GetDouble(i) - (z ? z->GetDouble(k) : 0.0)) * scale.GetDouble(k);
    } else {
      const float d =
          static_cast<float>(x.GetDouble(i)) - static_cast<float>(z ? z->GetDouble(k) : 0.0);
      v = static_cast<double>(d * static_cast<float>(scale.GetDouble(k)));
    }
    DispatchFloat(ctx, out_dt, [&](auto tag) {
      using S = typename decltype(tag)::type;
      if constexpr (kIsHalf<S>) {
        y.data<S>()[i] = S(static_cast<float>(v));  // v is a float (scale not double)
      } else {
        y.data<S>()[i] = static_cast<S>(v);
      }
      return 0;
    });
  }
  return Out(std::move(y));
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
    if (scale == 0.0f) {
      py[i] = static_cast<uint8_t>(zp);
      continue;
    }
    float r = std::nearbyint(px[i] / scale);
    if (std::isnan(r)) r = 0;
    py[i] = static_cast<uint8_t>(std::clamp(r + zp, 0.0f, 255.0f));
  }
  std::vector<Value> outs;
  outs.emplace_back(std::move(y));
  outs.emplace_back(Tensor::Scalar<float>(scale));
  outs.emplace_back(Tensor::Scalar<uint8_t>(static_cast<uint8_t>(zp)));
  return outs;
}

}  // namespace

void RegisterQuantizationOps(Registry& r) {
  // The versions of ONNX's reference: per-axis scales (13), float8 and `saturate` (19), blocked
  // scales, int4 and `output_dtype` (21), `precision` and float4 (23), int2 and float8e8m0
  // scales (25); float6 came with 28 and needs no other kernel. Absent attributes take their
  // defaults, so one kernel serves them all.
  for (int v : {10, 13, 19, 21, 23, 25}) {
    r.Add("", "QuantizeLinear", v, QuantizeLinear);
    r.Add("", "DequantizeLinear", v, DequantizeLinear);
  }
  r.Add("", "DynamicQuantizeLinear", 11, DynamicQuantizeLinear);
}

}  // namespace concord::ref
