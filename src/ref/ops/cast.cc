// TODO(owner): Cast ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterCastOps(Registry& r) {}

}  // namespace concord::ref
