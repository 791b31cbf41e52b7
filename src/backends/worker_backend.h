// Backends for runtimes that only have a Python API (ONNX Runtime "ort", Apache TVM "tvm"):
// each Prepare() starts a worker process (an adapter under adapters/) speaking the runtime
// protocol over stdio, so a crash or hang in the runtime is a per-run error, not ours.
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.h"

namespace concord {

std::vector<std::unique_ptr<Backend>> MakeWorkerBackends();

}  // namespace concord
