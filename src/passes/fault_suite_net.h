// The fault-suite source net: the small conv net with ImageNet normalization at the input that
// the fault suite (tests, `concord localize` demos, scripts/make_fault_suite.py's C++ twin) is
// built on; every fault in FaultNames() (passes/fault_inject.h) applies to it.
#pragma once

#include <cstdint>

#include "ir/model.h"

namespace concord::passes {

// Input "image" float[1,3,hw,hw] -> Sub(mean)/Div(std) -> Conv+BN+Relu -> MaxPool ->
// Conv+LeakyRelu -> AveragePool(count_include_pad=0) -> two Conv branches -> Concat -> Relu ->
// GlobalAveragePool -> Flatten -> Gemm -> Relu -> Gemm -> Softmax. Weights are seeded; hw must
// be a multiple of 4 and >= 8 (Error(kUsage) otherwise).
Model BuildFaultSuiteSourceNet(int64_t hw = 32, uint64_t seed = 1);

}  // namespace concord::passes
