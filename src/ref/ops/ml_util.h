// Shared pieces of the ai.onnx.ml kernels (ml.cc, ml_tree.cc): the post_transform applied to
// classifier and regressor scores, and readers for the attributes that ml opset 3 doubled as
// tensors (nodes_values / nodes_values_as_tensor, ...).
//
// The score functions follow ONNX Runtime's ml_common.h, the implementation that converted models
// (skl2onnx, onnxmltools) are written and tested against: the logistic is 1 / (1 + e^-|x|)
// mirrored for negative x, PROBIT is sqrt(2) * ErfInv(2x - 1) with the 0.147 approximation of
// ErfInv (ONNX's reference uses the same one), SOFTMAX_ZERO leaves zero scores at zero. Scores are
// computed in double; kernels round to float once, at the output.
#pragma once

#include <string>
#include <vector>

#include "ref/kernel.h"

namespace concord::ref {

enum class PostTransform { kNone, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

// From the string attribute (TreeEnsembleRegressor/Classifier, Linear*): NONE, SOFTMAX, LOGISTIC,
// SOFTMAX_ZERO, PROBIT. Fails naming the value otherwise.
PostTransform PostTransformFromString(const KernelContext& ctx, const std::string& name);
// From TreeEnsemble-5's integer attribute: 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT.
PostTransform PostTransformFromInt(const KernelContext& ctx, int64_t v);

double Logistic(double x);
double Probit(double x);

// Applies `t` to one row of two or more scores (every element; SOFTMAX over the row).
void TransformRow(PostTransform t, std::vector<double>* row);

// A float-list attribute `name`, or its tensor twin `name`_as_tensor (any float type), as doubles;
// empty when neither is set.
std::vector<double> DoublesAttr(const KernelContext& ctx, const std::string& name);

// Input `i` as doubles in row-major order with its row count and row length: a [N, C] tensor, or
// a [C] vector read as one row. Fails for other ranks; numeric element types only.
struct Rows {
  std::vector<double> values;
  int64_t n = 0;
  int64_t c = 0;
  const double* row(int64_t r) const { return values.data() + r * c; }
};
Rows InputRows(const KernelContext& ctx, size_t i);

// A tensor [n, c] of a floating type from doubles (rounded once).
Tensor Matrix(DType dt, int64_t n, int64_t c, const std::vector<double>& v);
inline Tensor FloatMatrix(int64_t n, int64_t c, const std::vector<double>& v) {
  return Matrix(DType::kFloat32, n, c, v);
}

}  // namespace concord::ref
