// The reference interpreter as a Backend ("ref"). Devices: cpu. opt is accepted and ignored
// (the oracle never optimizes). threads= sets OpenBLAS threads for GEMM-based kernels.
#pragma once

#include "backends/backend.h"

namespace concord {

std::unique_ptr<Backend> MakeRefBackend();

}  // namespace concord
