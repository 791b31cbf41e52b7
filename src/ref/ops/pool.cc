// TODO(owner): Pool ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterPoolOps(Registry& r) {}

}  // namespace concord::ref
