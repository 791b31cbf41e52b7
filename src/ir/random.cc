#include "ir/random.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "ir/low_precision.h"

namespace concord {

Tensor RandomTensor(DType dtype, const Shape& shape, Rng& rng, double lo, double hi) {
  Tensor t(dtype, shape);
  const auto ilo = static_cast<int64_t>(std::ceil(lo));
  const auto ihi = std::max(ilo, static_cast<int64_t>(std::floor(hi)));
  if (IsLowPrecision(dtype)) {
    // Integers drawn in [lo, hi] clamped to the type's range; floats rounded (saturating).
    int tlo = 0, thi = 0;
    const bool integer = LowPrecisionIntRange(dtype, &tlo, &thi);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v =
          integer ? static_cast<double>(std::clamp<int64_t>(RandInt(rng, ilo, ihi), tlo, thi))
                  : lo + (hi - lo) * RandUnit(rng);
      t.codes()[i] = LowPrecisionFromDouble(dtype, v, /*saturate=*/true);
    }
    return t;
  }
  VisitDType(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, std::string>) {
        p[i] = "s" + std::to_string(RandInt(rng, 0, 9));
      } else if constexpr (std::is_same_v<T, bool>) {
        p[i] = Coin(rng, 0.5);
      } else if constexpr (kIsFloatLike<T>) {
        p[i] = FromDouble<T>(lo + (hi - lo) * RandUnit(rng));
      } else if constexpr (kIsComplex<T>) {
        p[i] = T(static_cast<typename T::value_type>(lo + (hi - lo) * RandUnit(rng)), 0);
      } else {
        p[i] = static_cast<T>(RandInt(rng, ilo, ihi));
      }
    }
  });
  return t;
}

Tensor RandomTensor(DType dtype, const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  int lo = 0, hi = 0;
  const bool real = IsFloating(dtype) || dtype == DType::kComplex64 ||
                    dtype == DType::kComplex128 ||
                    (IsLowPrecision(dtype) && !LowPrecisionIntRange(dtype, &lo, &hi));
  return real ? RandomTensor(dtype, shape, rng, -1.0, 1.0) : RandomTensor(dtype, shape, rng, 0, 9);
}

}  // namespace concord
