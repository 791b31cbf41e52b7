// TODO(owner): Signal ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterSignalOps(Registry& r) {}

}  // namespace concord::ref
