// Differential fuzzing of runtimes (NNSmith's loop): generate a model -> run it on `ref` (the
// oracle) and on every env -> classify what happened -> reduce and deduplicate findings ->
// record them in the results store and as self-contained repro bundles.
//
// Envs run in worker processes (ort/tvm always; ref/opencv with isolate=1), one persistent
// worker per env that receives each new model with Session::Reload, so a crash or hang kills
// only that worker (a fresh one is started for the next model) and the campaign goes on.
//
// Oracles, per (model, env):
//   crash       the worker died (signal, exit) during prepare or run;
//   timeout     the worker did not answer within timeout_s and was killed;
//   error       the env raised an error on a valid model (kinds other than "unsupported");
//   inconsistent an output differs from ref beyond its tolerance |env - ref| <= atol * max(1,
//               max|ref|) + rtol * |ref| (atol scales with the output's magnitude, so rounding
//               cancellation near zero is not a bug) or in NaN/Inf placement (ref outputs are
//               finite by construction of the generator). Each output's rtol/atol is derived
//               from the ops on its path (campaign/fuzz_oracle.h: exact for pure data movement,
//               up to 4x the campaign tolerance after long reduction/exp/pow chains);
//   undefined   the same, but spec-undefined behaviour explains it (ties into ArgMax/ArgMin/
//               TopK, float->integer Cast of out-of-range values): recorded, labelled, not a bug;
//   boundary    the same, but a discontinuous op (Floor, Ceil, Round, Cast to integer, Sign, Mod,
//               comparisons, ArgMax/ArgMin/TopK) was fed a value within boundary_ulps ULPs of
//               its discontinuity and ref with that value moved across agrees with the env
//               (fuzz_oracle.h's BoundaryEffect): recorded, labelled, not a bug, not reduced;
//   perf        the env's time relative to ref is > perf_factor x its running median ratio
//               (after >= 20 models, >= 10 ms), confirmed only by re-timing: perf_runs (>= 3)
//               more runs on each side whose 95% confidence intervals (env vs ref x threshold)
//               do not overlap; otherwise it is recorded as perf_unconfirmed (a label).
// "unsupported" (an op/dtype the env does not implement) is counted, never a finding.
//
// Triage of a finding (but perf and timeout): it is reduced by delta debugging over nodes, then
// its inputs are frozen where they can be (campaign/reduce.h), while it keeps the same symptom
// and, for crash/error, the same normalised error message (so a reduction cannot drift to
// another bug). Its message is then taken from the reduced repro, run again. It is deduplicated
// by (env, symptom, signature = sorted op types of the reduced model), and is assigned a root
// cause in the store (AssignRootCause): the reduced repro's node kinds (op type, key attributes,
// dtype), env and symptom class, merged with an existing cause when one's node kinds contain
// the other's. A cause that existed before this run (from an earlier campaign on the same store)
// is counted as known. When every other env that ran the
// model agrees with this one against ref, the finding is flagged details["possible_ref_bug"] and
// the reduced repro is re-checked with ONNX's own reference implementation (onnx.reference in
// the Python venv); the verdict is recorded in details["onnx_reference"].
//
// A new finding is written to OUT/<id>-<env>-<symptom>/ as an ONNX test case (model.onnx,
// test_data_set_0/{input,output}_K.pb with ref's expected outputs, actual_K.pb, finding.json,
// repro.sh: `concord conformance --suite OUT --filter ^NAME$ --env ENV`, or for perf
// `concord bench` on ref and the env; it calls the concord binary that wrote it by absolute
// path, or `concord` on PATH when that binary is gone).
// Store errors propagate; everything else becomes a counted outcome. Single-threaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "campaign/fuzz_oracle.h"
#include "campaign/shard.h"
#include "compare/compare.h"
#include "store/store.h"

namespace concord {

struct FuzzCase {
  Model model;
  ValueMap inputs;
  std::vector<std::string> op_types;
  uint64_t seed = 0;
};
// Relative weight of each op type for the next model (coverage feedback); empty = uniform.
using OpWeights = std::map<std::string, double>;
// Makes the model for a seed (gen::Generate in `concord fuzz`), its single-op picks weighted by
// `weights`; throws Error when it cannot.
using FuzzGenerator = std::function<FuzzCase(uint64_t seed, const OpWeights& weights)>;

// Coverage feedback: op type -> 1 / (1 + tried / mean tried), where tried counts the models
// that contained the op (this store's campaigns included) and the mean is over the ops tried
// so far; ops never tried are absent (weight 1). Rarely drawn ops (those whose constraints often
// fail to place, or that guards and patterns never add) are favoured, common ones damped.
OpWeights CoverageWeights(const std::map<std::string, int64_t>& tried);

struct FuzzOptions {
  std::vector<std::string> envs;
  uint64_t seed = 0;
  int64_t iterations = 0;  // models of the whole campaign (all shards); 0 = until time_s
  // This process tries only the seeds seed + i whose i the shard owns (campaign/shard.h), so
  // shards with the same seed and iterations together try exactly the seeds of one run.
  Shard shard;
  double time_s = 0;
  Tolerance tol{1e-2, 1e-3};       // generated graphs chain many ops: float32 error accumulates
  Tolerance fp16_tol{5e-2, 1e-2};  // models with float16 tensors
  double timeout_s = 20;
  double perf_factor = 10;
  int perf_runs = 3;      // re-timing runs on each side that must confirm a perf finding
  int boundary_ulps = 4;  // a discontinuous op's input this close to its boundary may flip
  bool check_ref = true;  // re-check possible ref bugs with onnx.reference
  bool reduce = true;
  int reduce_tests = 120;
  bool coverage_feedback = false;  // weight the generator's op picks by CoverageWeights
  std::filesystem::path out_dir = "fuzz_findings";
  std::string campaign = "fuzz";
};

struct FuzzProgress {
  int64_t models = 0;
  int64_t tests = 0;     // (model, env) executions
  int64_t hits = 0;      // findings of any kind, before deduplication
  int64_t distinct = 0;  // new distinct findings
  double elapsed_s = 0;
  std::string last;  // last event, for the progress line
};
using FuzzProgressFn = std::function<void(const FuzzProgress&)>;

struct FuzzEnvStats {
  int64_t tests = 0, ok = 0, unsupported = 0;
  std::map<std::string, int64_t> symptoms;  // symptom -> hits
};

struct FuzzSummary {
  int64_t models = 0, tests = 0, hits = 0, distinct = 0, generator_failures = 0;
  // Findings of bug symptoms this run touched (raw: one per env, symptom and reduced op
  // signature), the root causes they belong to, and those causes known before this run.
  std::set<int64_t> raw_findings, root_causes, known_root_causes;
  std::map<std::string, int64_t> labels;  // undefined / boundary / perf_unconfirmed -> hits
  double seconds = 0;
  std::map<std::string, FuzzEnvStats> envs;
  std::vector<int64_t> new_finding_ids;
};

FuzzSummary RunFuzz(const FuzzOptions& options, const FuzzGenerator& generate, Store& store,
                    const FuzzProgressFn& progress = nullptr);

// Spec-undefined behaviour on ref's values of `model` (ties into ArgMax/ArgMin/TopK, Cast of
// NaN/out-of-range floats to integers): a reason, or nullopt.
std::optional<std::string> SpecUndefinedReason(const Model& model, const ValueMap& values);

// Puts finding `finding_id` under a root cause: the cause whose signature explains it (the
// smallest), else a cause it explains (narrowed to its nodes; other such causes merge into it),
// else a new one. Returns the cause's id.
int64_t AssignRootCause(Store& store, int64_t finding_id, const RootCauseSignature& signature,
                        const std::string& campaign, const std::string& when);
// Assigns a root cause to every finding of the store that has none (stores written before root
// causes existed, merged shards): nodes from its stored model, else its op signature. Returns
// how many it assigned.
int64_t ClusterUnassignedFindings(Store& store);

// Operator support inference (NNSmith's dtype test): for every (op, dtype) the callback can make
// a one-op model for, run it on each env and record ok / unsupported / error in the store.
// Returns, per env, the (op, dtype) pairs it did not run (unsupported or error); an env that ran
// every pair has an empty set. With time_limit_s > 0 it stops probing when that many seconds
// have passed (pairs not probed are neither recorded nor excluded). `log` gets one line per
// pair, prefixed with "[k/total]".
using SupportCaseFn =
    std::function<std::optional<FuzzCase>(const std::string& op, const std::string& dtype)>;
using OpDtypeSet = std::set<std::pair<std::string, std::string>>;
std::map<std::string, OpDtypeSet> InferOpSupport(
    const std::vector<std::string>& envs, const std::vector<std::string>& ops,
    const std::vector<std::string>& dtypes, const SupportCaseFn& make_case, Store& store,
    double timeout_s, const std::function<void(const std::string&)>& log = nullptr,
    double time_limit_s = 0);

}  // namespace concord
