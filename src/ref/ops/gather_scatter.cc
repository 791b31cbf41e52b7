// TODO(owner): GatherScatter ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterGatherScatterOps(Registry& r) {}

}  // namespace concord::ref
