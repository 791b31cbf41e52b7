// The one table of conformance tolerance overrides and skips. Every entry has a reason; keep
// it short and specific. A skipped case counts as not passed.
#include "campaign/conformance.h"

namespace concord {

const std::vector<CaseRule>& ConformanceRules() {
  static const std::vector<CaseRule> kRules = {
      // backend, case regex, skip, rtol, atol, reason
  };
  return kRules;
}

}  // namespace concord
