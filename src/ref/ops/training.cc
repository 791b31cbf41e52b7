// TODO(owner): Training ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterTrainingOps(Registry& r) {}

}  // namespace concord::ref
