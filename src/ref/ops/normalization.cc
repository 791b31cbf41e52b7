// TODO(owner): Normalization ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterNormalizationOps(Registry& r) {}

}  // namespace concord::ref
