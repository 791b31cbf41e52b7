// TODO(owner): Sequence ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterSequenceOps(Registry& r) {}

}  // namespace concord::ref
