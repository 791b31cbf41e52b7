// TODO(owner): Text ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterTextOps(Registry& r) {}

}  // namespace concord::ref
