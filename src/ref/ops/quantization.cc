// TODO(owner): Quantization ops.
#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {

void RegisterQuantizationOps(Registry& r) {}

}  // namespace concord::ref
