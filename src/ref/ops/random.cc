// TODO(owner): Random ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterRandomOps(Registry& r) {}

}  // namespace concord::ref
