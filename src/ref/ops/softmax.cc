// TODO(owner): Softmax ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterSoftmaxOps(Registry& r) {}

}  // namespace concord::ref
