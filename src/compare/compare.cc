#include "compare/compare.h"

#include <fmt/format.h>

#include <cmath>
#include <complex>
#include <set>
#include <vector>

#include "ir/low_precision.h"

namespace concord {

namespace {

// 1 where elements of two integer or bool tensors of one dtype differ, compared in their own
// type: int64 and uint64 values above 2^53 collapse onto one double.
std::vector<uint8_t> ExactDiffers(const Tensor& e, const Tensor& a) {
  std::vector<uint8_t> differs(static_cast<size_t>(e.numel()), 0);
  if (IsLowPrecision(e.dtype())) {  // int4/uint4/int2/uint2: one code per element
    for (size_t i = 0; i < differs.size(); ++i) differs[i] = e.codes()[i] != a.codes()[i];
    return differs;
  }
  VisitDType(e.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsIntLike<T> || std::is_same_v<T, bool>) {
      const T* ep = e.data<T>();
      const T* ap = a.data<T>();
      for (size_t i = 0; i < differs.size(); ++i) differs[i] = ep[i] != ap[i];
    }
  });
  return differs;
}

// Imaginary part of element i of a complex tensor (0 for every other dtype).
double Imag(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::kComplex64) return t.data<std::complex<float>>()[i].imag();
  if (t.dtype() == DType::kComplex128) return t.data<std::complex<double>>()[i].imag();
  return 0;
}

// Element i as written in messages: integers exactly, complex numbers as (re+imi).
std::string ElementString(const Tensor& t, int64_t i) {
  if (IsLowPrecision(t.dtype())) return fmt::format("{}", t.GetDouble(i));
  return VisitDType(t.dtype(), [&](auto tag) -> std::string {
    using T = typename decltype(tag)::type;
    if constexpr (kIsComplex<T>) {
      return fmt::format("({}{:+}i)", t.data<T>()[i].real(), t.data<T>()[i].imag());
    } else if constexpr (kIsIntLike<T>) {
      return fmt::format("{}", t.data<T>()[i]);
    } else {
      return fmt::format("{}", t.GetDouble(i));
    }
  });
}

// Map key i as written in messages: strings quoted, integers exactly.
std::string KeyString(const Tensor& keys, int64_t i) {
  if (keys.dtype() == DType::kString) return fmt::format("'{}'", keys.data<std::string>()[i]);
  return ElementString(keys, i);
}

// Why two maps' key sets differ, in words: a key one side lacks.
std::string KeysDiffer(const Tensor& expected, const Tensor& actual) {
  if (expected.dtype() != actual.dtype()) {
    return fmt::format("map key types differ: expected {}, got {}", DTypeName(expected.dtype()),
                       DTypeName(actual.dtype()));
  }
  std::set<std::string> e, a;
  for (int64_t i = 0; i < expected.numel(); ++i) e.insert(KeyString(expected, i));
  for (int64_t i = 0; i < actual.numel(); ++i) a.insert(KeyString(actual, i));
  for (const auto& k : e)
    if (!a.count(k)) return fmt::format("map keys differ: key {} is missing", k);
  for (const auto& k : a)
    if (!e.count(k)) return fmt::format("map keys differ: unexpected key {}", k);
  return fmt::format("map keys differ: {} keys expected, got {} (repeated keys)", expected.numel(),
                     actual.numel());
}

}  // namespace

TensorDiff CompareMaps(const MapValue& expected, const MapValue& actual, const Tolerance& tol) {
  std::optional<Tensor> aligned = MapValuesInKeyOrder(actual, expected.keys);
  if (!aligned) {
    TensorDiff d;
    d.dtype_mismatch = expected.keys.dtype() != actual.keys.dtype();
    d.shape_mismatch = !d.dtype_mismatch;
    d.message = KeysDiffer(expected.keys, actual.keys);
    return d;
  }
  TensorDiff d = CompareTensors(expected.values, *aligned, tol);
  if (!d.ok && d.worst_index >= 0) {
    d.message =
        fmt::format("{} (worst at key {})", d.message, KeyString(expected.keys, d.worst_index));
  }
  return d;
}

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
  const bool complex =
      expected.dtype() == DType::kComplex64 || expected.dtype() == DType::kComplex128;
  // The float8/float4 kinds compare by value like the other floats (their spacing is far
  // coarser than any tolerance, so only an equal value passes); int4/int2 exactly.
  int lo = 0, hi = 0;
  const bool low_float =
      IsLowPrecision(expected.dtype()) && !LowPrecisionIntRange(expected.dtype(), &lo, &hi);
  const bool exact = !IsFloating(expected.dtype()) && !complex && !low_float;
  // Integers are judged in their own type; doubles below only feed the metrics.
  const std::vector<uint8_t> differs =
      exact ? ExactDiffers(expected, actual) : std::vector<uint8_t>();
  double dot = 0, ne = 0, na = 0, worst = 0;
  for (int64_t i = 0; i < d.count; ++i) {
    double e = expected.GetDouble(i);
    double a = actual.GetDouble(i);
    // Complex values: NaN or Inf in either part counts; the magnitude check is on the
    // complex difference |a - e| against |e| (numpy's allclose on complex arrays).
    double ei_part = complex ? Imag(expected, i) : 0, ai_part = complex ? Imag(actual, i) : 0;
    bool en = std::isnan(e) || std::isnan(ei_part), an = std::isnan(a) || std::isnan(ai_part);
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
    bool ei = std::isinf(e) || std::isinf(ei_part), ai = std::isinf(a) || std::isinf(ai_part);
    if (ei || ai) {
      if (e != a || ei_part != ai_part) {
        ++d.inf_mismatches;
        ++d.mismatches;
        worst = INFINITY;
        d.worst_index = i;
      }
      continue;
    }
    double diff = complex ? std::hypot(a - e, ai_part - ei_part) : std::fabs(a - e);
    double mag = complex ? std::hypot(e, ei_part) : std::fabs(e);
    dot += a * e + ai_part * ei_part;
    ne += e * e + ei_part * ei_part;
    na += a * a + ai_part * ai_part;
    d.max_abs = std::max(d.max_abs, diff);
    if (mag != 0) d.max_rel = std::max(d.max_rel, diff / mag);
    bool bad = exact ? differs[static_cast<size_t>(i)] != 0 : diff > tol.atol + tol.rtol * mag;
    if (!exact) {
      if (mag != 0) d.needed_rtol = std::max(d.needed_rtol, (diff - tol.atol) / mag);
      d.needed_atol = std::max(d.needed_atol, diff - tol.rtol * mag);
    }
    if (bad) {
      ++d.mismatches;
      double excess = diff - (tol.atol + tol.rtol * mag);
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
        ElementString(expected, i), ElementString(actual, i));
  }
  return d;
}

}  // namespace concord
