// Cast, CastLike and BitCast.
//
// Numeric <-> numeric conversions use Tensor::CastTo (C++ conversions, NaN -> 0 for float ->
// int, nonzero -> true for bool), except conversions into float16/bfloat16 from wider types,
// which round once, directly to the 16-bit type, as numpy does (see NarrowToFloat).
// Strings follow the ONNX spec and numpy (which produced the test data):
//  - number -> string: floats print as numpy's str() does — the shortest decimal that reads
//    back to the same value, positional for 1e-4 <= |x| < 1e16 ("0.1", "100.0") and scientific
//    otherwise ("1e-05", "1.5e+16"); NaN/+-inf use the spec's literals "NaN", "INF", "-INF";
//    integers print in decimal; bool as "True"/"False" (numpy's str).
//  - string -> number: plain or scientific notation ("3.14", "1e-5", "1E8"); "NaN", "INF",
//    "+INF", "-INF" case-insensitively. Integer targets read an integer literal exactly, or
//    truncate a float literal ("100.5" -> 100). Bool targets read "true"/"false" or a number.
//    Anything else is a runtime failure (the spec leaves it undefined).
// float8, float6, float4, int4/uint4, int2/uint2 and float8e8m0 convert through the exact double
// value of each element with ONNX's rules (ir/low_precision.h): `saturate` (opset 19+, default 1)
// clamps float8 overflow (float4 and float6 always saturate), `round_mode` (opset 24+, default
// "up") rounds into float8e8m0.
// Narrowing into float16/bfloat16 rounds once from that value. They have no string form here.
#include <onnx/onnx_pb.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "ir/low_precision.h"
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- number -> string
// ----------------------------------------------------------------------------

// Parses a decimal string back into T (used to find the shortest round-tripping form).
template <typename T>
T ParseAs(const char* s) {
  if constexpr (std::is_same_v<T, double>) {
    return std::strtod(s, nullptr);
  } else if constexpr (std::is_same_v<T, float>) {
    return std::strtof(s, nullptr);
  } else {
    return T(std::strtof(s, nullptr));  // float16/bfloat16
  }
}

template <typename T>
bool SameBits(const T& a, const T& b) {
  if constexpr (kIsHalf<T>)
    return a.bits == b.bits;
  else
    return a == b;
}

// numpy's str() of a finite float: shortest round-trip digits laid out positionally when
// 1e-4 <= |v| < 1e16, else in scientific notation with a two-digit-minimum exponent.
template <typename T>
std::string FloatToString(T v) {
  double d = ToDouble(v);
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
  std::string sign = std::signbit(d) ? "-" : "";
  if (d == 0) return sign + "0.0";
  // Shortest precision p whose correctly rounded %.{p-1}e form reads back to v.
  T target;  // |v| (exact: d holds v exactly)
  if constexpr (kIsHalf<T>)
    target = T(static_cast<float>(std::fabs(d)));
  else
    target = static_cast<T>(std::fabs(d));
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, std::fabs(d));
    if (SameBits(ParseAs<T>(buf), target)) break;
  }
  // buf = "D.DDDDe[+-]XX": split into the digit string and the decimal exponent.
  std::string s(buf);
  size_t e = s.find('e');
  std::string digits = s.substr(0, 1) + (e > 2 ? s.substr(2, e - 2) : "");
  int exp10 = std::atoi(s.c_str() + e + 1);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  double a = std::fabs(d);
  if (a >= 1e-4 && a < 1e16) {
    std::string out;
    if (exp10 < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
    } else {
      size_t int_len = static_cast<size_t>(exp10) + 1;
      if (digits.size() <= int_len) {
        out = digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    }
    return sign + out;
  }
  std::string mant = digits.size() > 1 ? digits.substr(0, 1) + "." + digits.substr(1) : digits;
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return sign + mant + ebuf;
}

template <typename T>
std::string ToStringValue(const T& v) {
  if constexpr (kIsFloatLike<T>) {
    return FloatToString(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "True" : "False";
  } else {
    return std::to_string(v);
  }
}

// ---- string -> number
// ----------------------------------------------------------------------------

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses a float literal (strtod accepts "INF", "+inf", "NaN", "1E8", ...) into double, or
// into float directly for float targets so that rounding happens once.
template <typename T>
T ParseFloat(const KernelContext& ctx, const std::string& str) {
  std::string s = Trim(str);
  const char* b = s.c_str();
  char* end = nullptr;
  T out;
  if constexpr (std::is_same_v<T, float> || kIsHalf<T>) {
    float f = std::strtof(b, &end);
    if constexpr (kIsHalf<T>)
      out = T(f);
    else
      out = f;
  } else {
    out = static_cast<T>(std::strtod(b, &end));
  }
  if (s.empty() || end != b + s.size()) ctx.Fail("cannot convert string \"{}\" to a number", str);
  return out;
}

template <typename T>
T FromStringValue(const KernelContext& ctx, const std::string& str) {
  if constexpr (kIsFloatLike<T>) {
    return ParseFloat<T>(ctx, str);
  } else if constexpr (std::is_same_v<T, bool>) {
    std::string l = Lower(Trim(str));
    if (l == "true") return true;
    if (l == "false") return false;
    double d = ParseFloat<double>(ctx, str);
    return d != 0.0;
  } else {
    static_assert(kIsIntLike<T>);
    std::string s = Trim(str);
    const char* b = s.c_str();
    char* end = nullptr;
    errno = 0;
    if constexpr (std::is_signed_v<T>) {
      long long v = std::strtoll(b, &end, 10);
      if (!s.empty() && end == b + s.size() && errno == 0) return static_cast<T>(v);
    } else {
      if (!s.empty() && s[0] != '-') {
        unsigned long long v = std::strtoull(b, &end, 10);
        if (end == b + s.size() && errno == 0) return static_cast<T>(v);
      }
    }
    // Not a plain integer: read a float literal and truncate toward zero.
    double d = ParseFloat<double>(ctx, str);
    if (std::isnan(d)) return T(0);
    if (d <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (d >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(d);
  }
}

// ---- numeric -> float16/bfloat16
// -----------------------------------------------------------------

// Rounds a double to float with round-to-odd: the float keeps enough information (24 bits vs
// the 16-bit types' 11/8) that rounding it to nearest-even once more gives the same result as
// rounding the double directly, which is what numpy does for float64 -> float16.
float RoundToOddFloat(double d) {
  float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 1u) == 0)
      f = std::nextafter(f, d > static_cast<double>(f) ? std::numeric_limits<float>::infinity()
                                                       : -std::numeric_limits<float>::infinity());
  }
  return f;
}

template <typename To, typename From>
To NarrowToHalf(const From& v) {
  if constexpr (kIsHalf<From>) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_same_v<From, float>) {
    return To(v);
  } else if constexpr (std::is_same_v<From, bool>) {
    return To(v ? 1.0f : 0.0f);
  } else {
    return To(RoundToOddFloat(static_cast<double>(v)));
  }
}

// ---- low-precision types
// -------------------------------------------------------------------------

struct CastOptions {
  bool saturate = true;
  E8M0Rounding round_mode = E8M0Rounding::kUp;
};

// Casts where either side is a low-precision type, through each element's exact double value
// (integer sources into int4/int2 wrap from their integer value, Tensor::CastTo).
Tensor CastLowPrecision(const KernelContext& ctx, const Tensor& x, DType to,
                        const CastOptions& opt) {
  if (x.dtype() == DType::kString || to == DType::kString)
    ctx.Unsupported("Cast between {} and {} is not supported", DTypeName(x.dtype()), DTypeName(to));
  int lo = 0, hi = 0;
  if (IsLowPrecision(to)) {
    if (IsInteger(x.dtype()) && LowPrecisionIntRange(to, &lo, &hi)) return x.CastTo(to);
    Tensor out(to, x.shape());
    uint8_t* dst = out.codes();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = x.GetDouble(i);
      dst[i] = to == DType::kFloat8E8M0
                   ? ToFloat8E8M0(static_cast<float>(v), opt.saturate, opt.round_mode)
                   : LowPrecisionFromDouble(to, v, opt.saturate);
    }
    return out;
  }
  if (to == DType::kFloat16 || to == DType::kBFloat16) {
    Tensor out(to, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = x.GetDouble(i);
      if (to == DType::kFloat16) {
        out.data<Float16>()[i] = NarrowToHalf<Float16>(v);
      } else {
        out.data<BFloat16>()[i] = NarrowToHalf<BFloat16>(v);
      }
    }
    return out;
  }
  return x.CastTo(to);
}

// ---- the cast
// ------------------------------------------------------------------------------------

Tensor CastTensor(const KernelContext& ctx, const Tensor& x, DType to,
                  const CastOptions& opt = {}) {
  if (to == x.dtype()) return x;
  auto check_supported = [&](DType dt) {
    if (dt == DType::kUndefined || dt == DType::kComplex64 || dt == DType::kComplex128) {
      ctx.Unsupported("Cast to or from {} is not supported", DTypeName(dt));
    }
  };
  check_supported(x.dtype());
  check_supported(to);
  if (IsLowPrecision(x.dtype()) || IsLowPrecision(to)) return CastLowPrecision(ctx, x, to, opt);
  if (x.dtype() == DType::kString) {
    return DispatchAll(ctx, to, [&](auto tag) {
      using T = typename decltype(tag)::type;
      Tensor out(to, x.shape());
      if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
        const std::string* src = x.data<std::string>();
        T* dst = out.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) dst[i] = FromStringValue<T>(ctx, src[i]);
      }
      return out;
    });
  }
  if (to == DType::kString) {
    return DispatchAll(ctx, x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      Tensor out(to, x.shape());
      if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
        const T* src = x.data<T>();
        std::string* dst = out.data<std::string>();
        for (int64_t i = 0; i < x.numel(); ++i) dst[i] = ToStringValue<T>(src[i]);
      }
      return out;
    });
  }
  if (to == DType::kFloat16 || to == DType::kBFloat16) {
    return DispatchAll(ctx, x.dtype(), [&](auto tag) {
      using From = typename decltype(tag)::type;
      Tensor out(to, x.shape());
      if constexpr (kIsNumeric<From> || std::is_same_v<From, bool>) {
        const From* src = x.data<From>();
        for (int64_t i = 0; i < x.numel(); ++i) {
          if (to == DType::kFloat16) {
            out.data<Float16>()[i] = NarrowToHalf<Float16>(src[i]);
          } else {
            out.data<BFloat16>()[i] = NarrowToHalf<BFloat16>(src[i]);
          }
        }
      }
      return out;
    });
  }
  return x.CastTo(to);
}

// The `to` attribute. Cast-1 names the target as a string ("FLOAT"); Cast-6+ and BitCast as the
// TensorProto enum value.
DType TargetType(const KernelContext& ctx) {
  const onnx::AttributeProto* a = ctx.attr("to");
  if (a == nullptr) ctx.Fail("missing required attribute 'to'");
  int32_t v = 0;
  if (a->type() == onnx::AttributeProto::STRING) {
    onnx::TensorProto_DataType parsed;
    if (!onnx::TensorProto_DataType_Parse(a->s(), &parsed))
      ctx.Fail("unknown target type \"{}\"", a->s());
    v = static_cast<int32_t>(parsed);
  } else {
    v = static_cast<int32_t>(ctx.RequireInt("to"));
  }
  if (!IsValidDType(v) || v == 0) ctx.Fail("invalid target type {}", v);
  return static_cast<DType>(v);
}

CastOptions Options(const KernelContext& ctx) {
  CastOptions opt;
  opt.saturate = ctx.GetInt("saturate", 1) != 0;
  const std::string mode = ctx.GetString("round_mode", "up");
  if (mode == "up") {
    opt.round_mode = E8M0Rounding::kUp;
  } else if (mode == "down") {
    opt.round_mode = E8M0Rounding::kDown;
  } else if (mode == "nearest") {
    opt.round_mode = E8M0Rounding::kNearest;
  } else {
    ctx.Fail("round_mode must be \"up\", \"down\" or \"nearest\", got \"{}\"", mode);
  }
  return opt;
}

std::vector<Value> Cast(KernelContext& ctx) {
  return Out(CastTensor(ctx, ctx.input(0), TargetType(ctx), Options(ctx)));
}

std::vector<Value> CastLike(KernelContext& ctx) {
  return Out(CastTensor(ctx, ctx.input(0), ctx.input(1).dtype(), Options(ctx)));
}

// ---- BitCast-26 ---------------------------------------------------------------------------------

int BitWidth(DType dt) {
  if (const int bits = PackedBits(dt); bits > 0) return bits;
  return static_cast<int>(DTypeSize(dt) * 8);
}

// Reinterprets the bits of each element as `to`, which must have the same bit width (little
// endian, as the spec says and as this machine stores them). Sub-byte types travel as one-byte
// codes (low_precision.h): their low bits are the bit pattern, and int4/int2 codes are
// sign-extended. A bool takes any nonzero byte as true.
std::vector<Value> BitCast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  DType to = TargetType(ctx);
  if (x.dtype() == DType::kString || to == DType::kString)
    ctx.Fail("BitCast does not take strings ({} to {})", DTypeName(x.dtype()), DTypeName(to));
  const int bits = BitWidth(x.dtype());
  if (bits != BitWidth(to)) {
    ctx.Fail("BitCast needs types of one bit width: {} has {} bits, {} has {}",
             DTypeName(x.dtype()), bits, DTypeName(to), BitWidth(to));
  }
  Tensor out(to, x.shape());
  if (bits > 8) {
    std::memcpy(out.raw(), x.raw(), x.nbytes());
    return Out(std::move(out));
  }
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  const uint8_t mask = static_cast<uint8_t>((1u << bits) - 1);
  const bool sign_extend = to == DType::kInt4 || to == DType::kInt2;
  const uint8_t sign = static_cast<uint8_t>(1u << (bits - 1));
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint8_t v = static_cast<uint8_t>(src[i] & mask);
    if (to == DType::kBool) {
      v = v != 0;
    } else if (sign_extend && (v & sign) != 0) {
      v = static_cast<uint8_t>(v | ~mask);
    }
    dst[i] = v;
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterCastOps(Registry& r) {
  // The versions that added attributes, as ONNX's reference lists them: `saturate` (19),
  // `round_mode` (24). Absent attributes take their defaults, so one kernel serves them all;
  // the type lists that grew in between (int4 21, float4 23, int2 25, float6 28) need no other
  // change.
  for (int v : {1, 19, 24}) r.Add("", "Cast", v, Cast);
  for (int v : {15, 19, 24}) r.Add("", "CastLike", v, CastLike);
  r.Add("", "BitCast", 26, BitCast);
}

}  // namespace concord::ref
