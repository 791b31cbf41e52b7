// TODO(owner): ObjectDetection ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterObjectDetectionOps(Registry& r) {}

}  // namespace concord::ref
