// OpenCV DNN as a native in-process backend: opencv@cpu, opencv@opencl.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace concord {

std::unique_ptr<Backend> MakeOpenCvBackend();

}  // namespace concord
