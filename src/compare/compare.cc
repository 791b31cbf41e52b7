#include "compare/compare.h"

#include <fmt/format.h>

#include <cmath>

namespace concord {

TensorDiff CompareTensors(const Tensor& expected, const Tensor& actual, const Tolerance& tol) {
  TensorDiff d;
  if (expected.dtype() != actual.dtype()) {
    d.dtype_mismatch = true;
    d.message = fmt::format("dtype differs: expected {}, got {}", DTypeName(expected.dtype()),
                            DTypeName(actual.dtype()));
    return d;
  }
  if (expected.shape() != actual.shape()) {
    d.shape_mismatch = true;
    d.message = fmt::format("shape differs: expected {}, got {}", ShapeToString(expected.shape()),
                            ShapeToString(actual.shape()));
    return d;
  }
  d.count = expected.numel();
  if (expected.dtype() == DType::kString) {
    const std::string* e = expected.data<std::string>();
    const std::string* a = actual.data<std::string>();
    for (int64_t i = 0; i < d.count; ++i) {
      if (e[i] != a[i]) {
        if (d.mismatches == 0) {
          d.worst_index = i;
          d.message = fmt::format("string at {} differs: expected '{}', got '{}'", i, e[i], a[i]);
        }
        ++d.mismatches;
      }
    }
    d.ok = d.mismatches == 0;
    return d;
  }
  bool exact = !IsFloating(expected.dtype()) && expected.dtype() != DType::kComplex64 &&
               expected.dtype() != DType::kComplex128;
  double dot = 0, ne = 0, na = 0, worst = 0;
  for (int64_t i = 0; i < d.count; ++i) {
    double e = expected.GetDouble(i);
    double a = actual.GetDouble(i);
    bool en = std::isnan(e), an = std::isnan(a);
    if (en || an) {
      if (en != an) {
        ++d.nan_mismatches;
        ++d.mismatches;
        if (d.worst_index < 0 || worst < INFINITY) {
          worst = INFINITY;
          d.worst_index = i;
        }
      }
      continue;
    }
    bool ei = std::isinf(e), ai = std::isinf(a);
    if (ei || ai) {
      if (e != a) {
        ++d.inf_mismatches;
        ++d.mismatches;
        worst = INFINITY;
        d.worst_index = i;
      }
      continue;
    }
    double diff = std::fabs(a - e);
    dot += a * e;
    ne += e * e;
    na += a * a;
    d.max_abs = std::max(d.max_abs, diff);
    if (e != 0) d.max_rel = std::max(d.max_rel, diff / std::fabs(e));
    bool bad = exact ? diff != 0 : diff > tol.atol + tol.rtol * std::fabs(e);
    if (!exact) {
      if (e != 0) d.needed_rtol = std::max(d.needed_rtol, (diff - tol.atol) / std::fabs(e));
      d.needed_atol = std::max(d.needed_atol, diff - tol.rtol * std::fabs(e));
    }
    if (bad) {
      ++d.mismatches;
      double excess = diff - (tol.atol + tol.rtol * std::fabs(e));
      if (d.worst_index < 0 || excess > worst) {
        worst = excess;
        d.worst_index = i;
      }
    }
  }
  d.needed_rtol = std::max(0.0, d.needed_rtol);
  d.needed_atol = std::max(0.0, d.needed_atol);
  if (ne == 0 && na == 0) {
    d.cosine = 1;
  } else if (ne == 0 || na == 0) {
    d.cosine = 0;
  } else {
    d.cosine = dot / (std::sqrt(ne) * std::sqrt(na));
  }
  d.ok = d.mismatches == 0;
  if (!d.ok) {
    int64_t i = d.worst_index;
    d.message = fmt::format(
        "{} of {} elements differ (NaN {}, Inf {}); max abs {:.3g}, max rel {:.3g}; worst at {}: "
        "expected {}, got {}",
        d.mismatches, d.count, d.nan_mismatches, d.inf_mismatches, d.max_abs, d.max_rel, i,
        expected.GetDouble(i), actual.GetDouble(i));
  }
  return d;
}

}  // namespace concord
