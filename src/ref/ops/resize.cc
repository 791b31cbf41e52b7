// TODO(owner): Resize ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterResizeOps(Registry& r) {}

}  // namespace concord::ref
