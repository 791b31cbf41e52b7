// TODO(owner): Shape ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterShapeOps(Registry& r) {}

}  // namespace concord::ref
