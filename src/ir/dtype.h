// Element types of tensors, numbered exactly as onnx::TensorProto::DataType so a DType converts
// to and from the protobuf enum by value. DTypeTraits maps a DType to its C++ storage type, and
// VisitDType calls a generic lambda with a TypeTag<T> for the runtime dtype: the one place
// where a runtime dtype turns into a compile-time type.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/error.h"
#include "ir/half.h"

namespace concord {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  // Low-precision types (see low_precision.h): one byte per element in memory, packed two
  // (4-bit), four (2-bit) or four to three bytes (6-bit) in TensorProto data. Not visited by
  // VisitDType.
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUInt2 = 25,
  kInt2 = 26,
  kFloat6E2M3 = 27,
  kFloat6E3M2 = 28,
};

// Name as ONNX spells it in type strings: "float", "int64", "float16", "bfloat16", ...
const char* DTypeName(DType dt);
// Parses DTypeName() output and common aliases (float32, f32, fp16, i64, ...).
DType DTypeFromName(const std::string& name);
// Bytes per element in memory; 0 for string and undefined (strings are stored out of line).
// Low-precision types take one byte per element in memory, including the 4- and 2-bit ones.
size_t DTypeSize(DType dt);
// Bytes that `numel` elements take in a TensorProto's raw_data (or external data) and .npy:
// numel * DTypeSize except for the packed types: ceil(numel * PackedBits / 8).
uint64_t StoredBytes(DType dt, uint64_t numel);
// Bits per element of the packed types (int4/uint4/float4e2m1: 4, int2/uint2: 2, float6: 6),
// whose TensorProto data is one LSB-first bit stream; 0 for every other type.
int PackedBits(DType dt);
bool IsValidDType(int32_t value);
bool IsFloating(DType dt);  // float16, bfloat16, float32, float64
bool IsInteger(DType dt);   // signed and unsigned integers (not bool, not int4/int2)
bool IsSigned(DType dt);
// float8 (four kinds, e8m0), float6 (e2m3, e3m2), float4e2m1, int4/uint4, int2/uint2: the types
// whose elements are one-byte codes (Tensor::codes()) rather than a C++ arithmetic type.
bool IsLowPrecision(DType dt);

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename T>
constexpr DType DTypeOf();
#define CONCORD_DTYPE_OF(T, D)   \
  template <>                    \
  constexpr DType DTypeOf<T>() { \
    return D;                    \
  }
CONCORD_DTYPE_OF(float, DType::kFloat32)
CONCORD_DTYPE_OF(double, DType::kFloat64)
CONCORD_DTYPE_OF(Float16, DType::kFloat16)
CONCORD_DTYPE_OF(BFloat16, DType::kBFloat16)
CONCORD_DTYPE_OF(int8_t, DType::kInt8)
CONCORD_DTYPE_OF(int16_t, DType::kInt16)
CONCORD_DTYPE_OF(int32_t, DType::kInt32)
CONCORD_DTYPE_OF(int64_t, DType::kInt64)
CONCORD_DTYPE_OF(uint8_t, DType::kUInt8)
CONCORD_DTYPE_OF(uint16_t, DType::kUInt16)
CONCORD_DTYPE_OF(uint32_t, DType::kUInt32)
CONCORD_DTYPE_OF(uint64_t, DType::kUInt64)
CONCORD_DTYPE_OF(bool, DType::kBool)
CONCORD_DTYPE_OF(std::string, DType::kString)
CONCORD_DTYPE_OF(std::complex<float>, DType::kComplex64)
CONCORD_DTYPE_OF(std::complex<double>, DType::kComplex128)
#undef CONCORD_DTYPE_OF

// Calls f(TypeTag<T>{}) for every dtype, including string. Unknown dtype -> Error(kInput).
template <typename F>
decltype(auto) VisitDType(DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      return f(TypeTag<float>{});
    case DType::kFloat64:
      return f(TypeTag<double>{});
    case DType::kFloat16:
      return f(TypeTag<Float16>{});
    case DType::kBFloat16:
      return f(TypeTag<BFloat16>{});
    case DType::kInt8:
      return f(TypeTag<int8_t>{});
    case DType::kInt16:
      return f(TypeTag<int16_t>{});
    case DType::kInt32:
      return f(TypeTag<int32_t>{});
    case DType::kInt64:
      return f(TypeTag<int64_t>{});
    case DType::kUInt8:
      return f(TypeTag<uint8_t>{});
    case DType::kUInt16:
      return f(TypeTag<uint16_t>{});
    case DType::kUInt32:
      return f(TypeTag<uint32_t>{});
    case DType::kUInt64:
      return f(TypeTag<uint64_t>{});
    case DType::kBool:
      return f(TypeTag<bool>{});
    case DType::kString:
      return f(TypeTag<std::string>{});
    case DType::kComplex64:
      return f(TypeTag<std::complex<float>>{});
    case DType::kComplex128:
      return f(TypeTag<std::complex<double>>{});
    default:
      break;
  }
  if (IsLowPrecision(dt)) {
    Fail(ErrorKind::kUnsupported, "element type {} is not supported by this operation",
         DTypeName(dt));
  }
  Fail(ErrorKind::kInput, "unknown tensor element type {}", static_cast<int>(dt));
}

// Type predicates usable in `if constexpr` inside VisitDType lambdas.
template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <typename T>
constexpr bool kIsFloatLike = std::is_floating_point_v<T> || kIsHalf<T>;
template <typename T>
constexpr bool kIsIntLike = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
constexpr bool kIsNumeric = kIsFloatLike<T> || kIsIntLike<T>;
template <typename T>
constexpr bool kIsComplex =
    std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>;

// Converts any numeric/bool element to double and back (halves go through float).
template <typename T>
inline double ToDouble(const T& v) {
  if constexpr (kIsHalf<T>) {
    return static_cast<double>(static_cast<float>(v));
  } else if constexpr (kIsComplex<T>) {
    return static_cast<double>(v.real());
  } else if constexpr (std::is_same_v<T, std::string>) {
    return 0.0;
  } else {
    return static_cast<double>(v);
  }
}

template <typename T>
inline T FromDouble(double v) {
  if constexpr (kIsHalf<T>) {
    return T(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::string();
  } else {
    return static_cast<T>(v);
  }
}

}  // namespace concord
