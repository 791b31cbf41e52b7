// Deterministic randomness: seeded tensors that hold the same bytes on every standard library.
//
// Only raw 64-bit draws of mt19937_64 (whose sequence the C++ standard fixes) and our own
// mappings are used; std::uniform_*_distribution differ across library implementations, so a
// seed would mean different inputs on another machine.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "ir/tensor.h"

namespace concord {

using Rng = std::mt19937_64;

// Uniform integer in [lo, hi] (inclusive).
inline int64_t RandInt(Rng& rng, int64_t lo, int64_t hi) {
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(span == 0 ? rng() : rng() % span);
}
// Uniform double in [0, 1) with 53 random bits.
inline double RandUnit(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
inline bool Coin(Rng& rng, double p) { return RandUnit(rng) < p; }
template <typename T>
const T& RandPick(Rng& rng, const std::vector<T>& v) {
  return v[static_cast<size_t>(RandInt(rng, 0, static_cast<int64_t>(v.size()) - 1))];
}

// A tensor of `dtype` and `shape` drawn from `rng`: floating types uniform in [lo, hi) (rounded
// to the type), integers uniform in [ceil(lo), floor(hi)], bools fair coins, strings "s0".."s9",
// complex numbers with a uniform real part and zero imaginary part.
Tensor RandomTensor(DType dtype, const Shape& shape, Rng& rng, double lo, double hi);

// Generated input data when a user gives none: floating types in [-1, 1), integers in [0, 9],
// from a generator seeded with `seed`.
Tensor RandomTensor(DType dtype, const Shape& shape, uint64_t seed);

}  // namespace concord
