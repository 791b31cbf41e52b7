#include "campaign/fuzz_recheck.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "backends/ref_backend.h"
#include "campaign/fuzz.h"
#include "campaign/fuzz_oracle.h"
#include "campaign/fuzz_runner.h"
#include "campaign/reduce.h"
#include "ir/error.h"
#include "ir/tensor_io.h"

namespace concord {

namespace fs = std::filesystem;
using json = nlohmann::json;

ValueCheck CheckValues(EnvRunner& env, const Model& model, const ValueMap& inputs,
                       const Tolerance& tol, int boundary_ulps) {
  Outcome out = env.Run(model, inputs);
  if (!out.symptom.empty()) {
    return {ValueVerdict::kEnvFailed, out.symptom + ": " + out.message, ""};
  }
  std::vector<Value> want;
  ValueMap taps = inputs;
  try {
    ValueMap t;
    want = PrepareReference(model)->RunWithTaps(inputs, &t);
    for (auto& [k, v] : t) taps[k] = std::move(v);
  } catch (const Error& e) {
    return {ValueVerdict::kRefFailed, e.what(), ""};
  }
  return JudgeValues(model, inputs, want, taps, out.outputs, tol, boundary_ulps);
}

ValueCheck JudgeValues(const Model& model, const ValueMap& inputs,
                       const std::vector<Value>& ref_outputs, const ValueMap& ref_taps,
                       const std::vector<Value>& env_outputs, const Tolerance& tol,
                       int boundary_ulps) {
  std::string diff = Disagreement(ref_outputs, env_outputs, OutputTolerances(model, tol));
  if (diff.empty()) return {ValueVerdict::kAgrees, "", ""};
  if (auto why = SpecUndefinedReason(model, ref_taps)) {
    return {ValueVerdict::kUndefined, *why, diff};
  }
  if (auto why = BoundaryEffect(model, inputs, ref_taps, env_outputs, tol, boundary_ulps)) {
    return {ValueVerdict::kBoundary, *why, diff};
  }
  return {ValueVerdict::kWrong, diff, diff};
}

int64_t BugRootCauses(Store& store) {
  std::map<int64_t, bool> bug;
  for (const FindingRecord& f : store.Findings()) {
    if (f.root_cause) bug[*f.root_cause] |= !IsLabelSymptom(f.symptom);
  }
  int64_t n = 0;
  for (const auto& [id, b] : bug) n += b ? 1 : 0;
  return n;
}

namespace {

// The stored repro of a finding: its reduced model and inputs; nullopt when either is missing
// or unreadable.
std::optional<std::pair<Model, ValueMap>> StoredRepro(const FindingRecord& f) {
  if (!f.model) return std::nullopt;
  try {
    Model m = Model::FromBytes(std::string(f.model->begin(), f.model->end()), ".",
                               fmt::format("finding {}", f.id));
    ValueMap in;
    if (f.inputs) {
      fs::path npz = fs::temp_directory_path() / fmt::format("concord-recheck-{}.npz", getpid());
      WriteFileAtomic(npz.string(), std::string(f.inputs->begin(), f.inputs->end()));
      std::vector<NamedTensor> arrays;
      try {
        arrays = ReadNpz(npz.string());
      } catch (...) {
        fs::remove(npz);
        throw;
      }
      fs::remove(npz);
      for (auto& a : arrays) in[a.name] = std::move(a.tensor);
    }
    return std::make_pair(std::move(m), std::move(in));
  } catch (const Error&) {
    return std::nullopt;
  }
}

Tolerance StoredTolerance(const json& details) {
  Tolerance tol;
  if (details.contains("tolerance") && details["tolerance"].is_object()) {
    tol.rtol = details["tolerance"].value("rtol", tol.rtol);
    tol.atol = details["tolerance"].value("atol", tol.atol);
  }
  return tol;
}

// The bundle's finding.json follows the store (symptom and details), when there is one.
void UpdateBundle(const FindingRecord& f, const std::string& symptom, const json& details) {
  if (f.bundle.empty()) return;
  fs::path path = fs::path(f.bundle) / "finding.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return;
  try {
    json fj = json::parse(ReadFileBytes(path.string(), 1u << 26));
    fj["symptom"] = symptom;
    fj["details"] = details;
    WriteFileAtomic(path.string(), fj.dump(2) + "\n");
  } catch (const std::exception&) {
  }
}

}  // namespace

RecheckSummary RecheckFindings(Store& store, const RecheckOptions& o,
                               const std::function<void(const std::string&)>& log) {
  RecheckSummary s;
  s.root_causes_before = static_cast<int64_t>(store.RootCauses().size());
  s.bug_root_causes_before = BugRootCauses(store);
  std::map<std::string, EnvRunner> runners;
  std::vector<FindingRecord> findings = store.Findings();
  size_t done = 0, total = 0;
  for (const auto& f : findings) total += f.symptom == "inconsistent" ? 1 : 0;
  for (const FindingRecord& f : findings) {
    if (f.symptom != "inconsistent") continue;
    ++done;
    json details = json::object();
    try {
      details = json::parse(f.details_json);
    } catch (const json::exception&) {
    }
    auto repro = StoredRepro(f);
    if (!repro) {
      ++s.not_rechecked;
      continue;
    }
    ++s.findings;
    const auto& [model, inputs] = *repro;
    auto it = runners.find(f.env);
    if (it == runners.end()) it = runners.emplace(f.env, EnvRunner(f.env, o.timeout_s)).first;
    EnvRunner& env = it->second;
    const Tolerance tol = StoredTolerance(details);
    ValueCheck check = CheckValues(env, model, inputs, tol, o.boundary_ulps);
    std::string symptom = f.symptom, verdict;
    switch (check.verdict) {
      case ValueVerdict::kWrong: {
        ++s.still_wrong;
        auto wrong = [&](const Model& m, const ValueMap& in) {
          return CheckValues(env, m, in, tol, o.boundary_ulps).verdict == ValueVerdict::kWrong;
        };
        std::vector<int> incidental = IncidentalNodes(model, inputs, wrong);
        details["incidental"] = incidental;
        json names = json::array();
        for (int i : incidental) {
          names.push_back(model.graph().node(i).op_type() + " '" + model.graph().node(i).name() +
                          "'");
        }
        details["incidental_nodes"] = names;
        s.generalised += incidental.empty() ? 0 : 1;
        verdict = incidental.empty() ? "still wrong"
                                     : fmt::format("still wrong; {} incidental", names.dump());
        break;
      }
      case ValueVerdict::kBoundary:
        ++s.boundary;
        symptom = "boundary";
        details["boundary"] = check.reason;
        verdict = check.reason;
        break;
      case ValueVerdict::kAgrees:
        ++s.agrees_now;
        verdict = "agrees with ref now";
        break;
      default:
        ++s.not_rechecked;
        verdict = "not rechecked: " + check.reason.substr(0, 300);
    }
    details["recheck"] = verdict;
    store.SetFindingDetails(f.id, details.dump());
    if (symptom != f.symptom) store.RelabelFinding(f.id, symptom);
    UpdateBundle(f, symptom, details);
    if (log) {
      log(fmt::format("[{}/{}] #{} {} [{}]: {}", done, total, f.id, f.env, f.signature,
                      verdict.substr(0, 160)));
    }
  }
  store.ClearRootCauses();
  ClusterUnassignedFindings(store);
  s.root_causes_after = static_cast<int64_t>(store.RootCauses().size());
  s.bug_root_causes_after = BugRootCauses(store);
  return s;
}

}  // namespace concord
