#include "ir/low_precision.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace concord {
namespace {

// How a minifloat encodes NaN and infinity.
enum class Specials {
  kAllOnes,  // E4M3FN: S.1111.111 is NaN, no infinity
  kIeee,     // E5M2: exponent all ones is inf (mantissa 0) or NaN
  kNegZero,  // *FNUZ: 0x80 (the negative-zero pattern) is the only NaN, no infinity
  kNone,     // E2M1, E2M3, E3M2: neither
};

struct MiniFloat {
  int exp_bits;
  int mant_bits;
  int bias;
  Specials specials;
  uint8_t max_code;  // largest finite magnitude code
};

const MiniFloat* Format(DType dt) {
  static const MiniFloat kE4M3FN{4, 3, 7, Specials::kAllOnes, 0x7E};
  static const MiniFloat kE4M3FNUZ{4, 3, 8, Specials::kNegZero, 0x7F};
  static const MiniFloat kE5M2{5, 2, 15, Specials::kIeee, 0x7B};
  static const MiniFloat kE5M2FNUZ{5, 2, 16, Specials::kNegZero, 0x7F};
  static const MiniFloat kE2M1{2, 1, 1, Specials::kNone, 0x7};
  static const MiniFloat kE2M3{2, 3, 1, Specials::kNone, 0x1F};
  static const MiniFloat kE3M2{3, 2, 3, Specials::kNone, 0x1F};
  switch (dt) {
    case DType::kFloat8E4M3FN:
      return &kE4M3FN;
    case DType::kFloat8E4M3FNUZ:
      return &kE4M3FNUZ;
    case DType::kFloat8E5M2:
      return &kE5M2;
    case DType::kFloat8E5M2FNUZ:
      return &kE5M2FNUZ;
    case DType::kFloat4E2M1:
      return &kE2M1;
    case DType::kFloat6E2M3:
      return &kE2M3;
    case DType::kFloat6E3M2:
      return &kE3M2;
    default:
      return nullptr;
  }
}

int SignShift(const MiniFloat& f) { return f.exp_bits + f.mant_bits; }

double DecodeMagnitude(const MiniFloat& f, uint8_t magnitude) {
  const int e = magnitude >> f.mant_bits;
  const int m = magnitude & ((1 << f.mant_bits) - 1);
  if (e == 0) return std::ldexp(static_cast<double>(m), 1 - f.bias - f.mant_bits);
  return std::ldexp(static_cast<double>((1 << f.mant_bits) + m), e - f.bias - f.mant_bits);
}

double DecodeMiniFloat(const MiniFloat& f, uint8_t code) {
  const int s = SignShift(f);
  const bool neg = (code >> s) & 1;
  const uint8_t mag = code & static_cast<uint8_t>((1 << s) - 1);
  const int e = mag >> f.mant_bits;
  const int m = mag & ((1 << f.mant_bits) - 1);
  const int e_max = (1 << f.exp_bits) - 1;
  // NaNs keep the code's sign bit (ml_dtypes does; it shows in casts to float16/bfloat16).
  const double nan = std::copysign(std::numeric_limits<double>::quiet_NaN(), neg ? -1.0 : 1.0);
  switch (f.specials) {
    case Specials::kAllOnes:
      if (e == e_max && m == (1 << f.mant_bits) - 1) return nan;
      break;
    case Specials::kIeee:
      if (e == e_max) {
        if (m != 0) return nan;
        return neg ? -std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::infinity();
      }
      break;
    case Specials::kNegZero:
      if (neg && mag == 0) return nan;
      break;
    case Specials::kNone:
      break;
  }
  const double v = DecodeMagnitude(f, mag);
  return neg ? -v : v;
}

uint8_t NaNCode(const MiniFloat& f, bool neg) {
  const uint8_t sign = static_cast<uint8_t>(neg ? 1u << SignShift(f) : 0u);
  switch (f.specials) {
    case Specials::kAllOnes:
      return sign | 0x7F;
    case Specials::kIeee:
      return sign | 0x7E;
    case Specials::kNegZero:
      return 0x80;
    case Specials::kNone:
      // ml_dtypes maps NaN to zero with the sign bit flipped.
      return static_cast<uint8_t>(neg ? 0u : 1u << SignShift(f));
  }
  return 0;
}

// Code of +-max (saturate), or of the overflow result: inf, else NaN.
uint8_t OverflowCode(const MiniFloat& f, bool neg, bool saturate) {
  const uint8_t sign = static_cast<uint8_t>(neg ? 1u << SignShift(f) : 0u);
  if (saturate || f.specials == Specials::kNone) return sign | f.max_code;
  if (f.specials == Specials::kIeee) return sign | static_cast<uint8_t>(f.max_code + 1);
  return NaNCode(f, neg);
}

uint8_t EncodeMiniFloat(const MiniFloat& f, double v, bool saturate) {
  const bool neg = std::signbit(v);
  if (std::isnan(v)) return NaNCode(f, neg);
  if (std::isinf(v)) return OverflowCode(f, neg, saturate);
  const uint8_t sign = static_cast<uint8_t>(neg ? 1u << SignShift(f) : 0u);
  const uint8_t zero = f.specials == Specials::kNegZero ? 0 : sign;
  const double a = std::fabs(v);
  if (a == 0) return zero;
  // Round |v| to the grid of the target: spacing 2^(e - mant) for a normal of exponent e, the
  // subnormal spacing below the smallest normal. Scaling by a power of two is exact, and
  // nearbyint rounds to nearest even in the default rounding mode.
  const int emin = 1 - f.bias;
  int e;
  std::frexp(a, &e);  // a = frac * 2^e, frac in [0.5, 1): exponent of a is e - 1
  int exponent = std::max(e - 1, emin);
  const int quantum = exponent - f.mant_bits;
  const double units = std::nearbyint(std::ldexp(a, -quantum));
  const double r = std::ldexp(units, quantum);
  if (r == 0) return zero;
  if (r > DecodeMagnitude(f, f.max_code)) return OverflowCode(f, neg, saturate);
  uint8_t mag;
  if (r < std::ldexp(1.0, emin)) {
    mag = static_cast<uint8_t>(units);  // subnormal: exponent field 0
  } else {
    int re;
    std::frexp(r, &re);
    const int biased = re - 1 + f.bias;
    const int m = static_cast<int>(std::ldexp(r, -(re - 1) + f.mant_bits)) - (1 << f.mant_bits);
    mag = static_cast<uint8_t>((biased << f.mant_bits) | m);
  }
  return sign | mag;
}

// numpy's float -> int conversion through int32 (out of range and NaN give INT_MIN on x86,
// whose low bits are 0), then the low bits.
uint8_t WrapInteger(DType dt, double v) {
  const double t = std::trunc(v);
  int64_t i = 0;
  if (t >= -2147483648.0 && t < 2147483648.0) i = static_cast<int64_t>(t);
  const int bits = PackedBits(dt);
  const int64_t low = i & ((int64_t{1} << bits) - 1);
  if (dt == DType::kInt4 || dt == DType::kInt2) {
    const int64_t half = int64_t{1} << (bits - 1);
    return static_cast<uint8_t>(static_cast<int8_t>(low >= half ? low - 2 * half : low));
  }
  return static_cast<uint8_t>(low);
}

}  // namespace

bool IsFloat8(DType dt) {
  return dt == DType::kFloat8E4M3FN || dt == DType::kFloat8E4M3FNUZ || dt == DType::kFloat8E5M2 ||
         dt == DType::kFloat8E5M2FNUZ;
}

bool IsMxFloat(DType dt) {
  return dt == DType::kFloat4E2M1 || dt == DType::kFloat6E2M3 || dt == DType::kFloat6E3M2;
}

bool LowPrecisionIntRange(DType dt, int* lo, int* hi) {
  switch (dt) {
    case DType::kInt4:
      *lo = -8, *hi = 7;
      return true;
    case DType::kUInt4:
      *lo = 0, *hi = 15;
      return true;
    case DType::kInt2:
      *lo = -2, *hi = 1;
      return true;
    case DType::kUInt2:
      *lo = 0, *hi = 3;
      return true;
    default:
      return false;
  }
}

double LowPrecisionToDouble(DType dt, uint8_t code) {
  if (const MiniFloat* f = Format(dt)) return DecodeMiniFloat(*f, code);
  switch (dt) {
    case DType::kFloat8E8M0:
      if (code == 0xFF) return std::numeric_limits<double>::quiet_NaN();
      return std::ldexp(1.0, static_cast<int>(code) - 127);
    case DType::kInt4:
    case DType::kInt2:
      return static_cast<double>(static_cast<int8_t>(code));
    case DType::kUInt4:
    case DType::kUInt2:
      return static_cast<double>(code);
    default:
      Fail(ErrorKind::kInput, "{} is not a low-precision type", DTypeName(dt));
  }
}

uint8_t LowPrecisionFromDouble(DType dt, double v, bool saturate) {
  if (const MiniFloat* f = Format(dt)) return EncodeMiniFloat(*f, v, saturate);
  switch (dt) {
    case DType::kFloat8E8M0:
      return ToFloat8E8M0(static_cast<float>(v), saturate, E8M0Rounding::kUp);
    case DType::kInt4:
    case DType::kInt2:
    case DType::kUInt4:
    case DType::kUInt2:
      return WrapInteger(dt, v);
    default:
      Fail(ErrorKind::kInput, "{} is not a low-precision type", DTypeName(dt));
  }
}

uint8_t ToFloat8E8M0(float v, bool saturate, E8M0Rounding mode) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  uint32_t exponent = (bits >> 23) & 0xFF;
  if (exponent == 0xFF) return 0xFF;  // NaN and inf
  bool round_up = false;
  if (mode == E8M0Rounding::kNearest) {
    const bool g = (bits & 0x400000u) != 0;
    const bool r = (bits & 0x200000u) != 0;
    const bool s = (bits & 0x1FFFFFu) != 0;
    const bool lsb = exponent > 0;
    round_up = g && (r || s || lsb);
  } else if (mode == E8M0Rounding::kUp) {
    round_up = (bits & 0x7FFFFFu) != 0;
  }
  if (saturate && exponent == 0xFE) round_up = false;
  if (round_up) ++exponent;
  return static_cast<uint8_t>(exponent);  // 0x100 wraps to 0, as the reference's uint8 cast
}

}  // namespace concord
