// TODO(owner): ControlFlow ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterControlFlowOps(Registry& r) {}

}  // namespace concord::ref
