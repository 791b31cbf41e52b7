// Tensor: an element type, a shape and an owned, contiguous, row-major buffer.
//
// A Tensor owns its data (value semantics: copying copies the buffer; move is cheap). Strings
// are held as std::string elements; every other dtype as packed little-endian bytes. A rank-0
// tensor (scalar) has one element; a tensor with a zero dimension has none. Construction checks
// the element count against kMaxTensorBytes so that a hostile shape never triggers a huge
// allocation: it throws Error(kInput) naming the shape instead. Not thread-safe for writes.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/dtype.h"

namespace concord {

using Shape = std::vector<int64_t>;

// Largest tensor we agree to allocate (bytes). Anything larger in a model or file is treated
// as corrupt input rather than an out-of-memory crash.
inline constexpr uint64_t kMaxTensorBytes = 8ull << 30;

// Product of dims; Error(kInput) on negative dims or overflow past kMaxTensorBytes elements.
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[1, 3, 224, 224]"

// std::allocator whose value-less construct leaves bytes uninitialized, so that a buffer can be
// sized without being zeroed (Tensor::Uninitialized).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}  // NOLINT: as std::allocator
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialized tensor (empty strings for kString).
  Tensor(DType dtype, Shape shape);
  // A tensor whose elements are unspecified (strings empty), for kernels that write every one:
  // no zeroing pass over a buffer about to be overwritten. Same checks as the constructor.
  static Tensor Uninitialized(DType dtype, Shape shape);

  template <typename T>
  static Tensor FromVector(Shape shape, const std::vector<T>& values) {
    Tensor t(DTypeOf<T>(), std::move(shape));
    CONCORD_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "FromVector size mismatch");
    if constexpr (std::is_same_v<T, std::string>) {
      t.strings_ = values;
    } else if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) {
        t.data<bool>()[i] = values[i];
      }
    } else if (!values.empty()) {
      std::memcpy(t.bytes_.data(), values.data(), values.size() * sizeof(T));
    }
    return t;
  }
  template <typename T>
  static Tensor Scalar(T value) {
    return FromVector<T>({}, std::vector<T>{value});
  }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i)); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }
  bool defined() const { return dtype_ != DType::kUndefined; }
  size_t nbytes() const { return bytes_.size(); }

  template <typename T>
  T* data() {
    CheckType<T>();
    if constexpr (std::is_same_v<T, std::string>) {
      return strings_.data();
    } else {
      return reinterpret_cast<T*>(bytes_.data());
    }
  }
  template <typename T>
  const T* data() const {
    return const_cast<Tensor*>(this)->data<T>();
  }
  // One-byte element codes of a low-precision tensor (float8, float4, int4, int2; see
  // low_precision.h).
  uint8_t* codes() {
    CONCORD_CHECK(IsLowPrecision(dtype_), "tensor is {}, accessed as low-precision codes",
                  DTypeName(dtype_));
    return bytes_.data();
  }
  const uint8_t* codes() const { return const_cast<Tensor*>(this)->codes(); }
  // Raw bytes of a non-string tensor.
  void* raw() { return bytes_.data(); }
  const void* raw() const { return bytes_.data(); }

  // Element i converted to double (numeric and bool tensors).
  double GetDouble(int64_t i) const;
  // Same data, new shape with equal element count (no -1 resolution here).
  Tensor Reshaped(Shape shape) const;
  // Element-wise conversion with ONNX Cast semantics for numeric types (float8 targets
  // saturate, as Cast's default).
  Tensor CastTo(DType to) const;
  // Whole-tensor equality: dtype, shape, and bytes (NaN payloads compared bitwise).
  bool BitwiseEqual(const Tensor& other) const;
  // Short human description: "float[1, 1000]".
  std::string Describe() const;

 private:
  template <typename T>
  void CheckType() const {
    CONCORD_CHECK(DTypeOf<T>() == dtype_, "tensor is {}, accessed as {}", DTypeName(dtype_),
                  DTypeName(DTypeOf<T>()));
  }

  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<uint8_t, DefaultInitAllocator<uint8_t>> bytes_;
  std::vector<std::string> strings_;
};

// Row-major strides (in elements) of a shape.
std::vector<int64_t> Strides(const Shape& shape);

}  // namespace concord
