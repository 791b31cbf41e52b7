// The fault-suite source net: the small conv net with ImageNet normalization at the input
// that fault-injection, localize and repair tests (unit and end-to-end) build their models on;
// every fault in FaultNames() applies to it.
//
// Test support: linked only into tests (CMake target concord_fault_suite_net), never into the
// tool. Deterministic: the same (hw, seed) gives the same model bytes on every run of a build.
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
