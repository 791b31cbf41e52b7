// TODO(worker): ONNX Runtime and TVM worker backends.
#include "backends/worker_backend.h"

namespace concord {

std::vector<std::unique_ptr<Backend>> MakeWorkerBackends() { return {}; }

}  // namespace concord
