// TODO(owner): Activation ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterActivationOps(Registry& r) {}

}  // namespace concord::ref
