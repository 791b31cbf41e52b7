// Element conversions for ONNX's low-precision types: float8 (E4M3FN, E4M3FNUZ, E5M2,
// E5M2FNUZ, E8M0), float6 (E2M3, E3M2), float4 (E2M1), int4/uint4 and int2/uint2.
//
// In a Tensor each element of these types is one byte, its "code": the bit pattern for the
// float types (float4 in the low nibble, float6 in the low six bits), the value for
// uint4/uint2, and the value as a two's-complement int8 for int4/int2 (sign-extended).
// TensorProto data packs 4-bit codes two to a byte, 2-bit codes four to a byte and 6-bit codes
// four to three bytes, as one bit stream, low bits first (tensor_io.cc does the packing).
//
// The rules are ONNX 1.23.2's reference (onnx.reference.ops.op_cast, onnx.numpy_helper, which
// use ml_dtypes):
//  - float -> float8/float4 rounds to nearest even. Out of range: with `saturate` the value
//    clamps to +-max (inf too); without it, it becomes inf where the type has one (E5M2) and NaN
//    otherwise. float4e2m1, float6e2m3 and float6e3m2 (OCP MX) have neither and always saturate
//    (inf too). NaN maps to the type's NaN; in the types without one, to zero with the NaN's sign
//    flipped (ml_dtypes: +NaN -> -0). The *FNUZ types have no negative zero: -0 and negative
//    underflow give +0.
//  - float -> int4/uint4/int2/uint2 (Cast): truncates toward zero and keeps the low bits
//    (wraps), as numpy's astype does; NaN and +-inf give 0. QuantizeLinear rounds and clamps
//    instead (ref/ops/quantization.cc).
//  - float -> float8e8m0: the exponent of the float32 value, rounded per `round_mode` ("up",
//    "down", "nearest"); NaN and inf give 0xFF (NaN).
#pragma once

#include <cstdint>
#include <string>

#include "ir/dtype.h"

namespace concord {

// Value of a code (exact: every low-precision value is a double).
double LowPrecisionToDouble(DType dt, uint8_t code);

// Code for v: nearest-even for the float types (with `saturate` as above), truncate-and-wrap for
// the integer types. Float8E8M0 uses round_mode "up"; see ToFloat8E8M0 for the others.
uint8_t LowPrecisionFromDouble(DType dt, double v, bool saturate);

enum class E8M0Rounding { kUp, kDown, kNearest };
// float32 -> float8e8m0 exactly as onnx.numpy_helper.to_float8e8m0.
uint8_t ToFloat8E8M0(float v, bool saturate, E8M0Rounding mode);

// True for the float8 kinds with a saturate attribute in Cast/QuantizeLinear (not E8M0).
bool IsFloat8(DType dt);
// True for the OCP MX element floats float4e2m1, float6e2m3 and float6e3m2: no inf, no NaN,
// conversions into them always saturate.
bool IsMxFloat(DType dt);
// Integer range of int4/uint4/int2/uint2 (lo, hi); false for other types.
bool LowPrecisionIntRange(DType dt, int* lo, int* hi);

}  // namespace concord
