// TODO(owner): MatMul ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterMatMulOps(Registry& r) {}

}  // namespace concord::ref
