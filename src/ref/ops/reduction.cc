// TODO(owner): Reduction ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterReductionOps(Registry& r) {}

}  // namespace concord::ref
