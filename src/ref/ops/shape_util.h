// Dtype-agnostic element movement shared by the shape and gather/scatter kernels.
//
// Data-movement ops never look at element values, so they copy elements as raw bytes (or as
// std::string for string tensors) instead of instantiating a loop per dtype.
#pragma once

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "ref/ops/common.h"

namespace concord::ref {

// Copies elements between two tensors of the same dtype: dst[dst_i .. +n) = src[src_i .. +n).
// Callers validate indices; this only moves bytes.
class ElementCopier {
 public:
  ElementCopier(const Tensor& src, Tensor& dst)
      : is_string_(src.dtype() == DType::kString), elem_(DTypeSize(src.dtype())) {
    CONCORD_CHECK(src.dtype() == dst.dtype(), "ElementCopier dtype mismatch");
    if (is_string_) {
      src_str_ = src.data<std::string>();
      dst_str_ = dst.data<std::string>();
    } else {
      src_ = static_cast<const uint8_t*>(src.raw());
      dst_ = static_cast<uint8_t*>(dst.raw());
    }
  }
  void operator()(int64_t dst_i, int64_t src_i, int64_t n = 1) const {
    if (n <= 0) return;
    if (is_string_) {
      for (int64_t k = 0; k < n; ++k) dst_str_[dst_i + k] = src_str_[src_i + k];
    } else {
      std::memcpy(dst_ + static_cast<size_t>(dst_i) * elem_,
                  src_ + static_cast<size_t>(src_i) * elem_, static_cast<size_t>(n) * elem_);
    }
  }

 private:
  bool is_string_;
  size_t elem_;
  const uint8_t* src_ = nullptr;
  uint8_t* dst_ = nullptr;
  const std::string* src_str_ = nullptr;
  std::string* dst_str_ = nullptr;
};

// out[o] = in[base + sum_k idx_k * strides[k]] for every output coordinate idx of `out_shape`.
// Covers transpose (permuted strides), slicing (scaled strides) and broadcasting (zero strides).
inline Tensor StridedCopy(const Tensor& in, const Shape& out_shape, int64_t base,
                          const std::vector<int64_t>& strides) {
  Tensor out(in.dtype(), out_shape);
  ElementCopier copy(in, out);
  std::array<std::vector<int64_t>, 1> s = {strides};
  ForEachBroadcast<1>(
      out_shape, s, [&](int64_t o, const std::array<int64_t, 1>& off) { copy(o, base + off[0]); });
  return out;
}

// Calls f(index) for every coordinate of `shape` in row-major order.
template <typename F>
void ForEachIndex(const Shape& shape, F&& f) {
  int64_t total = NumElements(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    f(static_cast<const std::vector<int64_t>&>(idx));
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      size_t du = static_cast<size_t>(d);
      if (++idx[du] < shape[du]) break;
      idx[du] = 0;
    }
  }
}

}  // namespace concord::ref
