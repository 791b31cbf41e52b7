// Re-judging a store's findings with today's oracle (`concord fuzz-report DB --recheck`): every
// wrong-value finding's stored repro (reduced model and inputs) runs again on its env and on ref.
// A difference the boundary oracle now explains (campaign/fuzz_oracle.h's BoundaryEffect) is
// relabelled "boundary"; one that still is a wrong value is generalised (campaign/reduce.h's
// IncidentalNodes, the env re-run with each element-wise node swapped for another op); then every
// root cause is dropped and the findings are clustered again (campaign/fuzz.h's
// ClusterUnassignedFindings, which reads the generalisation from the finding's details). A
// finding that no longer differs, or whose env now fails otherwise, keeps its label and says so
// in details.recheck. Stores from older campaigns thus count root causes as a new campaign would.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compare/compare.h"
#include "ir/model.h"
#include "ir/value.h"
#include "store/store.h"

namespace concord {

class EnvRunner;  // campaign/fuzz_runner.h

// How an env's outputs on a repro compare with ref's: the wrong-value oracle shared by
// reduction, generalisation and the recheck.
enum class ValueVerdict { kAgrees, kWrong, kBoundary, kUndefined, kEnvFailed, kRefFailed };
struct ValueCheck {
  ValueVerdict verdict = ValueVerdict::kAgrees;
  std::string reason;      // the disagreement, the boundary or undefined explanation, the failure
  std::string difference;  // the disagreement, whenever the outputs differ
};
// The verdict on outputs the env computed, against ref's outputs and taps on the same inputs:
// agrees, else undefined (spec-undefined behaviour), boundary, or wrong. `tol` is the campaign
// tolerance (scaled per output by OutputTolerances).
ValueCheck JudgeValues(const Model& model, const ValueMap& inputs,
                       const std::vector<Value>& ref_outputs, const ValueMap& ref_taps,
                       const std::vector<Value>& env_outputs, const Tolerance& tol,
                       int boundary_ulps);
// Runs the env and ref on (model, inputs) and judges them (JudgeValues); env or ref failing is
// its own verdict.
ValueCheck CheckValues(EnvRunner& env, const Model& model, const ValueMap& inputs,
                       const Tolerance& tol, int boundary_ulps);

struct RecheckOptions {
  double timeout_s = 60;
  int boundary_ulps = 4;
};

struct RecheckSummary {
  int64_t findings = 0;       // wrong-value findings with a stored repro
  int64_t still_wrong = 0;    // of which: still a wrong value
  int64_t generalised = 0;    //   ... with at least one incidental node
  int64_t boundary = 0;       // relabelled as boundary effects
  int64_t agrees_now = 0;     // ran clean this time (flaky or fixed): left as they were
  int64_t not_rechecked = 0;  // env or ref failed, repro unreadable: left as they were
  int64_t root_causes_before = 0, root_causes_after = 0;
  int64_t bug_root_causes_before = 0, bug_root_causes_after = 0;  // causes with a bug symptom
};

RecheckSummary RecheckFindings(Store& store, const RecheckOptions& options,
                               const std::function<void(const std::string&)>& log = nullptr);

// Root causes holding at least one finding whose symptom is not a label.
int64_t BugRootCauses(Store& store);

}  // namespace concord
