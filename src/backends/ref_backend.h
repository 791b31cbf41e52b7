// The reference interpreter as a Backend ("ref"). Devices: cpu. opt is accepted and ignored
// (the oracle never optimizes). threads= sets both the interpreter's kernel threads (element-wise,
// depthwise, pooling, im2col) and OpenBLAS threads for GEMM-based kernels; outputs are bitwise
// identical for every thread count.
#pragma once

#include "backends/backend.h"

namespace concord {

std::unique_ptr<Backend> MakeRefBackend();

// The oracle in process, for code that needs the reference answer itself (constant folding,
// calibration, the generator's validity check, the fuzz oracle, the reducer): a ref session on
// cpu. The interpreter stays behind this interface; nothing above backends includes ref/.
std::unique_ptr<Session> PrepareReference(const Model& model);
// One run on the oracle: PrepareReference(model)->RunWithTaps(inputs, taps). Error(kInput) for
// inputs that do not match the model's signature.
std::vector<Value> RunReference(const Model& model, const ValueMap& inputs,
                                ValueMap* taps = nullptr);

}  // namespace concord
