// TODO(owner): Conv ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterConvOps(Registry& r) {}

}  // namespace concord::ref
