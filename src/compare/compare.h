// Tensor comparison: metrics and a verdict under a tolerance.
//
// The check follows ggml's test-backend-ops order — NaN placement first, then Inf placement
// and sign, then magnitude — and numpy.testing.assert_allclose's rule for the magnitude:
// |actual - expected| <= atol + rtol * |expected|. Integers, bools and strings must be equal.
// Dtype or shape mismatches are reported, never thrown. Maps (of a sequence of maps) compare by
// key.
#pragma once

#include <string>

#include "ir/tensor.h"
#include "ir/value.h"

namespace concord {

struct Tolerance {
  double rtol = 1e-3;  // ONNX backend-test defaults
  double atol = 1e-7;
};

struct TensorDiff {
  bool ok = false;
  bool dtype_mismatch = false;
  bool shape_mismatch = false;
  int64_t count = 0;           // elements compared
  int64_t mismatches = 0;      // elements beyond tolerance (or differing NaN/Inf)
  int64_t nan_mismatches = 0;  // NaN in one side only
  int64_t inf_mismatches = 0;  // Inf in one side only or of opposite sign
  double max_abs = 0;          // over finite pairs
  double max_rel = 0;          // |a-e| / |e| over finite pairs with e != 0
  double cosine = 1;           // over finite pairs (1 when both are all-zero)
  int64_t worst_index = -1;    // flat index of the largest violation
  double needed_rtol = 0;      // smallest rtol that would pass with the given atol
  double needed_atol = 0;      // smallest atol that would pass with the given rtol
  std::string message;         // one line, for humans
};

TensorDiff CompareTensors(const Tensor& expected, const Tensor& actual, const Tolerance& tol);

// One map of a sequence of maps against another: the same key set (order ignored; else
// dtype_mismatch for different key types, shape_mismatch for different keys, and a message naming
// a key one side lacks), then the values key by key as CompareTensors judges them (worst_index
// counts in expected's key order; the message names the key).
TensorDiff CompareMaps(const MapValue& expected, const MapValue& actual, const Tolerance& tol);

}  // namespace concord
