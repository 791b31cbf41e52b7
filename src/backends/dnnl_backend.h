// oneDNN as a Backend ("dnnl"): a native in-process CPU backend on the oneDNN primitive API.
//
// Conv (grouped, depthwise, dilated, asymmetric pads), Gemm/MatMul, pooling, BatchNormalization,
// element-wise, binary, Concat and Softmax run as oneDNN primitives; every other node runs on
// the reference interpreter, with reorders only at those edges. opt selects real graph
// transformations (dnnl_internal.h): 0 one primitive per node in plain layouts; 1 + constant
// folding, BatchNorm folded into Conv, weights in oneDNN's layout; 2 + post-op fusion
// (activations, residual sum) with channels-last activations; 3 + blocked activation layouts
// end to end and 1x1 + depthwise Conv fusion. threads= sets oneDNN's OpenMP threads. Taps are every
// value the plan materializes (values inside a fused chain are not).
#pragma once

#include "backends/backend.h"

namespace concord {

std::unique_ptr<Backend> MakeDnnlBackend();

}  // namespace concord
