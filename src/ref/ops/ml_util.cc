#include "ref/ops/ml_util.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"

namespace concord::ref {

PostTransform PostTransformFromString(const KernelContext& ctx, const std::string& name) {
  if (name == "NONE") return PostTransform::kNone;
  if (name == "SOFTMAX") return PostTransform::kSoftmax;
  if (name == "LOGISTIC") return PostTransform::kLogistic;
  if (name == "SOFTMAX_ZERO") return PostTransform::kSoftmaxZero;
  if (name == "PROBIT") return PostTransform::kProbit;
  ctx.Fail("post_transform '{}' is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT", name);
}

PostTransform PostTransformFromInt(const KernelContext& ctx, int64_t v) {
  switch (v) {
    case 0:
      return PostTransform::kNone;
    case 1:
      return PostTransform::kSoftmax;
    case 2:
      return PostTransform::kLogistic;
    case 3:
      return PostTransform::kSoftmaxZero;
    case 4:
      return PostTransform::kProbit;
    default:
      ctx.Fail("post_transform {} is not in 0..4", v);
  }
}

double Logistic(double x) {
  double v = 1 / (1 + std::exp(-std::fabs(x)));
  return x < 0 ? 1 - v : v;
}

namespace {

// Winitzki's approximation with a = 0.147, as ONNX Runtime and ONNX's reference compute it.
double ErfInv(double x) {
  double sgn = x < 0 ? -1.0 : 1.0;
  x = (1 - x) * (1 + x);
  if (x == 0) return 0;
  double log = std::log(x);
  double v = 2 / (M_PI * 0.147) + 0.5 * log;
  double v2 = 1 / 0.147 * log;
  double v3 = -v + std::sqrt(v * v - v2);
  return sgn * std::sqrt(v3);
}

void Softmax(std::vector<double>* row, bool skip_zeros) {
  double vmax = -std::numeric_limits<double>::max();
  for (double v : *row) vmax = std::max(vmax, v);
  double exp_neg_max = std::exp(-vmax);
  double sum = 0;
  for (double& v : *row) {
    if (skip_zeros && !(v > 1e-7 || v < -1e-7)) {
      v *= exp_neg_max;
    } else {
      v = std::exp(v - vmax);
      sum += v;
    }
  }
  for (double& v : *row) v /= sum;
}

}  // namespace

double Probit(double x) { return M_SQRT2 * ErfInv(2 * x - 1); }

void TransformRow(PostTransform t, std::vector<double>* row) {
  switch (t) {
    case PostTransform::kNone:
      return;
    case PostTransform::kSoftmax:
      return Softmax(row, false);
    case PostTransform::kSoftmaxZero:
      return Softmax(row, true);
    case PostTransform::kLogistic:
      for (double& v : *row) v = Logistic(v);
      return;
    case PostTransform::kProbit:
      for (double& v : *row) v = Probit(v);
      return;
  }
}

std::vector<double> DoublesAttr(const KernelContext& ctx, const std::string& name) {
  std::vector<double> out;
  if (const auto* a = ctx.attr(name)) {
    out.assign(a->floats().begin(), a->floats().end());
    return out;
  }
  if (auto t = ctx.GetTensor(name + "_as_tensor")) {
    if (!IsFloating(t->dtype()))
      ctx.Fail("attribute '{}_as_tensor' must hold floats, got {}", name, DTypeName(t->dtype()));
    out.resize(static_cast<size_t>(t->numel()));
    for (int64_t i = 0; i < t->numel(); ++i) out[static_cast<size_t>(i)] = t->GetDouble(i);
  }
  return out;
}

Rows InputRows(const KernelContext& ctx, size_t i) {
  const Tensor& x = ctx.input(i);
  if (x.rank() != 1 && x.rank() != 2)
    ctx.Fail("input {} must be [N, C] or [C], got {}", i, ShapeToString(x.shape()));
  if (x.dtype() == DType::kString || x.dtype() == DType::kBool || IsLowPrecision(x.dtype()) ||
      x.dtype() == DType::kComplex64 || x.dtype() == DType::kComplex128) {
    ctx.Unsupported("input {} has element type {}; numeric types only", i, DTypeName(x.dtype()));
  }
  Rows r;
  r.n = x.rank() == 1 ? 1 : x.dim(0);
  r.c = x.rank() == 1 ? x.dim(0) : x.dim(1);
  r.values.resize(static_cast<size_t>(x.numel()));
  for (int64_t k = 0; k < x.numel(); ++k) r.values[static_cast<size_t>(k)] = x.GetDouble(k);
  return r;
}

Tensor Matrix(DType dt, int64_t n, int64_t c, const std::vector<double>& v) {
  Tensor t(dt, {n, c});
  VisitDType(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsHalf<T>) {
      T* p = t.data<T>();
      for (size_t k = 0; k < v.size(); ++k) p[k] = static_cast<T>(v[k]);
    } else {
      CONCORD_CHECK(false, "Matrix: {} is not a floating type", DTypeName(dt));
    }
  });
  return t;
}

}  // namespace concord::ref
