// Conversion between OpenCV blobs and Concord tensors. OpenCV computes in float32 and keeps
// blobs at rank >= 2, so outputs are read back in the shape and dtype the model declares.
#include <cstring>

#include "backends/opencv_internal.h"

namespace concord::opencv_internal {

namespace {

DType DTypeOfDepth(int depth) {
  switch (depth) {
    case CV_8U:
      return DType::kUInt8;
    case CV_8S:
      return DType::kInt8;
    case CV_16U:
      return DType::kUInt16;
    case CV_16S:
      return DType::kInt16;
    case CV_32S:
      return DType::kInt32;
    case CV_32F:
      return DType::kFloat32;
    case CV_64F:
      return DType::kFloat64;
    case CV_16F:
      return DType::kFloat16;
    default:
      return DType::kUndefined;
  }
}

// OpenCV blobs have rank >= 2 (a 1-D tensor is N x 1, a scalar 1 x 1) and may drop or add
// unit dims; the model's declared shape (after shape inference) decides what we return. A
// blob that fits no reading of the declared shape keeps OpenCV's shape, so the comparison
// reports the mismatch instead of us hiding it.
Shape ReconcileShape(const Shape& got, const ValueInfo* declared) {
  if (declared == nullptr || !declared->has_shape) return got;
  const Shape& want = declared->shape;
  int64_t n = 1;
  for (int64_t d : got) n *= d;
  int64_t known = 1;
  int unknown = 0;
  for (int64_t d : want) {
    if (d < 0) {
      ++unknown;
    } else {
      known *= d;
    }
  }
  if (unknown == 0) return known == n ? want : got;
  if (got.size() == want.size()) return got;
  if (unknown == 1 && known > 0 && n % known == 0) {
    Shape s = want;
    for (int64_t& d : s) {
      if (d < 0) d = n / known;
    }
    return s;
  }
  Shape s = got;
  while (s.size() > want.size() && !s.empty() && s.front() == 1) s.erase(s.begin());
  while (s.size() > want.size() && !s.empty() && s.back() == 1) s.pop_back();
  return s.size() == want.size() ? s : got;
}

}  // namespace

Tensor MatToTensor(const cv::Mat& mat, const ValueInfo* declared, const std::string& what) {
  DType dt = DTypeOfDepth(mat.depth());
  if (dt == DType::kUndefined) {
    Fail(ErrorKind::kRuntime, "opencv returned {} with OpenCV depth {}, which Concord cannot read",
         what, mat.depth());
  }
  Shape shape;
  for (int i = 0; i < mat.dims; ++i) shape.push_back(mat.size[i]);
  if (mat.empty()) shape.assign(1, 0);
  Tensor t(dt, ReconcileShape(shape, declared));
  if (t.numel() > 0) {
    cv::Mat cont = mat.isContinuous() ? mat : mat.clone();
    std::memcpy(t.raw(), cont.data, t.nbytes());
  }
  if (declared != nullptr && declared->dtype != DType::kUndefined && declared->dtype != dt) {
    return t.CastTo(declared->dtype);
  }
  return t;
}

cv::Mat FloatTensorAsMat(const Tensor& t) {
  std::vector<int> dims;
  for (int64_t d : t.shape()) dims.push_back(static_cast<int>(d));
  if (dims.empty()) dims.push_back(1);
  return cv::Mat(static_cast<int>(dims.size()), dims.data(), CV_32F, const_cast<void*>(t.raw()));
}

}  // namespace concord::opencv_internal
