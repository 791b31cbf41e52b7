#include "ir/dtype.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace concord {

const char* DTypeName(DType dt) {
  switch (dt) {
    case DType::kUndefined:
      return "undefined";
    case DType::kFloat32:
      return "float";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kUInt16:
      return "uint16";
    case DType::kInt16:
      return "int16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kString:
      return "string";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat64:
      return "double";
    case DType::kUInt32:
      return "uint32";
    case DType::kUInt64:
      return "uint64";
    case DType::kComplex64:
      return "complex64";
    case DType::kComplex128:
      return "complex128";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat8E4M3FN:
      return "float8e4m3fn";
    case DType::kFloat8E4M3FNUZ:
      return "float8e4m3fnuz";
    case DType::kFloat8E5M2:
      return "float8e5m2";
    case DType::kFloat8E5M2FNUZ:
      return "float8e5m2fnuz";
    case DType::kUInt4:
      return "uint4";
    case DType::kInt4:
      return "int4";
    case DType::kFloat4E2M1:
      return "float4e2m1";
    case DType::kFloat8E8M0:
      return "float8e8m0";
    case DType::kUInt2:
      return "uint2";
    case DType::kInt2:
      return "int2";
    case DType::kFloat6E2M3:
      return "float6e2m3";
    case DType::kFloat6E3M2:
      return "float6e3m2";
  }
  return "invalid";
}

DType DTypeFromName(const std::string& name) {
  static const std::map<std::string, DType> kNames = {
      {"float", DType::kFloat32},
      {"float32", DType::kFloat32},
      {"f32", DType::kFloat32},
      {"fp32", DType::kFloat32},
      {"double", DType::kFloat64},
      {"float64", DType::kFloat64},
      {"f64", DType::kFloat64},
      {"float16", DType::kFloat16},
      {"fp16", DType::kFloat16},
      {"half", DType::kFloat16},
      {"f16", DType::kFloat16},
      {"bfloat16", DType::kBFloat16},
      {"bf16", DType::kBFloat16},
      {"int8", DType::kInt8},
      {"i8", DType::kInt8},
      {"int16", DType::kInt16},
      {"int32", DType::kInt32},
      {"i32", DType::kInt32},
      {"int64", DType::kInt64},
      {"i64", DType::kInt64},
      {"uint8", DType::kUInt8},
      {"u8", DType::kUInt8},
      {"uint16", DType::kUInt16},
      {"uint32", DType::kUInt32},
      {"uint64", DType::kUInt64},
      {"bool", DType::kBool},
      {"string", DType::kString},
      {"complex64", DType::kComplex64},
      {"complex128", DType::kComplex128},
      {"float8e4m3fn", DType::kFloat8E4M3FN},
      {"float8e4m3fnuz", DType::kFloat8E4M3FNUZ},
      {"float8e5m2", DType::kFloat8E5M2},
      {"float8e5m2fnuz", DType::kFloat8E5M2FNUZ},
      {"float8e8m0", DType::kFloat8E8M0},
      {"float4e2m1", DType::kFloat4E2M1},
      {"float6e2m3", DType::kFloat6E2M3},
      {"float6e3m2", DType::kFloat6E3M2},
      {"int4", DType::kInt4},
      {"uint4", DType::kUInt4},
      {"int2", DType::kInt2},
      {"uint2", DType::kUInt2},
  };
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  auto it = kNames.find(lower);
  if (it == kNames.end()) Fail(ErrorKind::kUsage, "unknown dtype name '{}'", name);
  return it->second;
}

size_t DTypeSize(DType dt) {
  switch (dt) {
    case DType::kFloat32:
    case DType::kInt32:
    case DType::kUInt32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kComplex64:
      return 8;
    case DType::kComplex128:
      return 16;
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt16:
    case DType::kUInt16:
      return 2;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
    case DType::kFloat4E2M1:
    case DType::kFloat6E2M3:
    case DType::kFloat6E3M2:
    case DType::kUInt4:
    case DType::kInt4:
    case DType::kUInt2:
    case DType::kInt2:
      return 1;
    case DType::kString:
    case DType::kUndefined:
      return 0;
  }
  return 0;
}

int PackedBits(DType dt) {
  switch (dt) {
    case DType::kUInt4:
    case DType::kInt4:
    case DType::kFloat4E2M1:
      return 4;
    case DType::kUInt2:
    case DType::kInt2:
      return 2;
    case DType::kFloat6E2M3:
    case DType::kFloat6E3M2:
      return 6;
    default:
      return 0;
  }
}

uint64_t StoredBytes(DType dt, uint64_t numel) {
  const uint64_t bits = static_cast<uint64_t>(PackedBits(dt));
  // Eight elements take `bits` whole bytes; split so that numel * bits cannot overflow.
  if (bits > 0) return numel / 8 * bits + (numel % 8 * bits + 7) / 8;
  return numel * DTypeSize(dt);
}

bool IsValidDType(int32_t value) { return value >= 1 && value <= 28; }

bool IsLowPrecision(DType dt) {
  const int32_t v = static_cast<int32_t>(dt);
  return v >= 17 && v <= 28;
}

bool IsFloating(DType dt) {
  return dt == DType::kFloat32 || dt == DType::kFloat64 || dt == DType::kFloat16 ||
         dt == DType::kBFloat16;
}

bool IsInteger(DType dt) {
  switch (dt) {
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
      return true;
    default:
      return false;
  }
}

bool IsSigned(DType dt) {
  return dt == DType::kInt8 || dt == DType::kInt16 || dt == DType::kInt32 || dt == DType::kInt64 ||
         IsFloating(dt);
}

}  // namespace concord
