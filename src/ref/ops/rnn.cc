// TODO(owner): Rnn ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterRnnOps(Registry& r) {}

}  // namespace concord::ref
