#include "ir/tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/low_precision.h"

namespace concord {

int64_t NumElements(const Shape& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      Fail(ErrorKind::kInput, "negative dimension {} in shape {}", d, ShapeToString(shape));
    if (d == 0) return 0;
    if (n > kMaxTensorBytes / static_cast<uint64_t>(d)) {
      Fail(ErrorKind::kInput, "shape {} has too many elements (limit {} bytes)",
           ShapeToString(shape), kMaxTensorBytes);
    }
    n *= static_cast<uint64_t>(d);
  }
  return static_cast<int64_t>(n);
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

Tensor::Tensor(DType dtype, Shape shape) : Tensor(Uninitialized(dtype, std::move(shape))) {
  std::fill(bytes_.begin(), bytes_.end(), uint8_t{0});
}

Tensor Tensor::Uninitialized(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = NumElements(t.shape_);
  if (dtype == DType::kString) {
    t.strings_.resize(static_cast<size_t>(t.numel_));
    return t;
  }
  size_t elem = DTypeSize(dtype);
  if (elem == 0) Fail(ErrorKind::kInput, "cannot create a tensor of type {}", DTypeName(dtype));
  if (static_cast<uint64_t>(t.numel_) > kMaxTensorBytes / elem) {
    Fail(ErrorKind::kInput, "tensor {}{} exceeds the {}-byte limit", DTypeName(dtype),
         ShapeToString(t.shape_), kMaxTensorBytes);
  }
  t.bytes_.resize(static_cast<size_t>(t.numel_) * elem);  // default-initialized: not zeroed
  return t;
}

double Tensor::GetDouble(int64_t i) const {
  if (IsLowPrecision(dtype_)) return LowPrecisionToDouble(dtype_, bytes_[static_cast<size_t>(i)]);
  return VisitDType(dtype_, [&](auto tag) -> double {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string>) {
      Fail(ErrorKind::kRuntime, "string tensor has no numeric value");
    } else {
      return ToDouble(data<T>()[i]);
    }
  });
}

Tensor Tensor::Reshaped(Shape shape) const {
  CONCORD_CHECK(NumElements(shape) == numel_, "reshape {} -> {}", ShapeToString(shape_),
                ShapeToString(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

namespace {

template <typename To, typename From>
To CastValue(const From& v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, std::string>) {
    if constexpr (kIsFloatLike<From>) {
      double d = ToDouble(v);
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
      float f = static_cast<float>(d);
      char buf[64];
      if constexpr (std::is_same_v<From, double>) {
        std::snprintf(buf, sizeof buf, "%.17g", d);
      } else {
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(f));
      }
      return buf;
    } else if constexpr (std::is_same_v<From, bool>) {
      return v ? "1" : "0";
    } else if constexpr (kIsComplex<From>) {
      return std::to_string(v.real());
    } else {
      return std::to_string(v);
    }
  } else if constexpr (std::is_same_v<From, std::string>) {
    const char* s = v.c_str();
    double d;
    std::string lower;
    for (char c : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "nan" || lower == "+nan" || lower == "-nan") {
      d = std::numeric_limits<double>::quiet_NaN();
    } else if (lower == "inf" || lower == "+inf" || lower == "infinity" || lower == "+infinity") {
      d = std::numeric_limits<double>::infinity();
    } else if (lower == "-inf" || lower == "-infinity") {
      d = -std::numeric_limits<double>::infinity();
    } else {
      if constexpr (kIsIntLike<To>) {
        if constexpr (std::is_signed_v<To>) {
          return static_cast<To>(std::strtoll(s, nullptr, 10));
        } else {
          return static_cast<To>(std::strtoull(s, nullptr, 10));
        }
      }
      d = std::strtod(s, nullptr);
    }
    if constexpr (kIsHalf<To>) {
      return To(static_cast<float>(d));
    } else if constexpr (kIsComplex<To>) {
      return To(d, 0);
    } else {
      return static_cast<To>(d);
    }
  } else if constexpr (kIsHalf<To>) {
    if constexpr (kIsHalf<From>) {
      return To(static_cast<float>(v));
    } else if constexpr (kIsComplex<From>) {
      return To(static_cast<float>(v.real()));
    } else {
      return To(static_cast<float>(v));
    }
  } else if constexpr (kIsHalf<From>) {
    return static_cast<To>(static_cast<float>(v));
  } else if constexpr (kIsComplex<From> && !kIsComplex<To>) {
    return static_cast<To>(v.real());
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (kIsIntLike<To> && std::is_floating_point_v<From>) {
    // Out-of-range float->int is undefined in C++; ONNX leaves it undefined too. Clamp NaN to 0
    // so the result is at least deterministic.
    if (std::isnan(v)) return To(0);
    return static_cast<To>(static_cast<long double>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace

Tensor Tensor::CastTo(DType to) const {
  Tensor out(to, shape_);
  if (IsLowPrecision(to)) {
    if (dtype_ == DType::kString || dtype_ == DType::kComplex64 || dtype_ == DType::kComplex128)
      Fail(ErrorKind::kUnsupported, "cannot convert {} to {}", DTypeName(dtype_), DTypeName(to));
    // Integer sources wrap into the integer targets from their exact value.
    int lo = 0, hi = 0;
    const bool wrap_int = IsInteger(dtype_) && LowPrecisionIntRange(to, &lo, &hi);
    for (int64_t i = 0; i < numel_; ++i) {
      double v = GetDouble(i);
      if (wrap_int) {
        const int64_t low_bits = (int64_t{1} << PackedBits(to)) - 1;
        int64_t iv = dtype_ == DType::kUInt64  ? static_cast<int64_t>(data<uint64_t>()[i] & 0xFF)
                     : dtype_ == DType::kInt64 ? data<int64_t>()[i]
                                               : static_cast<int64_t>(v);
        v = static_cast<double>(iv & low_bits);
      }
      out.bytes_[static_cast<size_t>(i)] = LowPrecisionFromDouble(to, v, /*saturate=*/true);
    }
    return out;
  }
  if (IsLowPrecision(dtype_)) {
    if (to == DType::kString || to == DType::kComplex64 || to == DType::kComplex128)
      Fail(ErrorKind::kUnsupported, "cannot convert {} to {}", DTypeName(dtype_), DTypeName(to));
    VisitDType(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      if constexpr (kIsNumeric<To> || std::is_same_v<To, bool>) {
        To* dst = out.data<To>();
        for (int64_t i = 0; i < numel_; ++i) dst[i] = CastValue<To, double>(GetDouble(i));
      }
    });
    return out;
  }
  VisitDType(dtype_, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    VisitDType(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* src = data<From>();
      To* dst = out.data<To>();
      for (int64_t i = 0; i < numel_; ++i) dst[i] = CastValue<To, From>(src[i]);
    });
  });
  return out;
}

bool Tensor::BitwiseEqual(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && bytes_ == other.bytes_ &&
         strings_ == other.strings_;
}

std::string Tensor::Describe() const {
  return std::string(DTypeName(dtype_)) + ShapeToString(shape_);
}

}  // namespace concord
