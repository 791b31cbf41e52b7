#include "campaign/fuzz.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "backends/convert_tools.h"
#include "backends/ref_backend.h"
#include "backends/worker_backend.h"
#include "campaign/fuzz_recheck.h"
#include "campaign/fuzz_runner.h"
#include "campaign/reduce.h"
#include "ir/clock.h"
#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// What `ref` computed for a model: its outputs, every intermediate value and its time.
struct RefRun {
  std::vector<Value> outputs;
  ValueMap taps;  // inputs and intermediates by tensor name
  double ms = 0;
};

RefRun RunRef(const Model& model, const ValueMap& inputs) {
  auto oracle = PrepareReference(model);
  RefRun r;
  ValueMap t;
  auto t0 = Clock::now();
  r.outputs = oracle->RunWithTaps(inputs, &t);
  r.ms = SecondsSince(t0) * 1000;
  r.taps = inputs;
  for (auto& [k, v] : t) r.taps[k] = std::move(v);
  return r;
}

// The error signature a crash/error reduction must keep: the normalised message (for a crash,
// its first line: the stderr tail that follows varies with the model).
std::string ErrorSignature(const std::string& symptom, const std::string& message) {
  std::string text = message;
  if (symptom == "crash" || symptom == "timeout") text = text.substr(0, text.find('\n'));
  return NormalizeMessage(text.substr(0, 2000));
}

// The concord binary writing repro scripts: its absolute path, `concord` when unknown.
std::string SelfBinary() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.filename() != "concord") return "concord";
  return exe.string();
}

// Runs adapters/onnx_reference_check.py on a bundle: onnx.reference computes the reduced
// model's outputs and compares them with ref's expected ones and the env's actual ones.
json OnnxReferenceVerdict(const fs::path& bundle, const Tolerance& tol) {
  return RunPythonJson(
      fmt::format("{} {} {} --rtol {} --atol {}", ShellQuote(WorkerPythonPath()),
                  ShellQuote((fs::path(WorkerAdaptersDir()) / "onnx_reference_check.py").string()),
                  ShellQuote(bundle.string()), tol.rtol, tol.atol),
      "verdict");
}

// Runs adapters/upstream_report.py on a bundle: it adds the standalone reproducer (the
// target's own Python API only), inputs/expected .npz files and the upstream bug report, runs
// the reproducer once with the env's Python and says whether it reproduces.
json UpstreamReport(const fs::path& bundle, const std::string& env) {
  std::string backend = EnvSpec::Parse(env).backend;
  return RunPythonJson(
      fmt::format("{} {} {} --python-for {}", ShellQuote(WorkerPythonPath()),
                  ShellQuote((fs::path(WorkerAdaptersDir()) / "upstream_report.py").string()),
                  ShellQuote(bundle.string()),
                  ShellQuote(backend + "=" + WorkerPythonFor(backend))),
      "repro");
}

// A reduced repro of one finding.
struct Repro {
  Model model;
  ValueMap inputs;
  int original_nodes = 0, reduced_nodes = 0, frozen_inputs = 0, tests = 0;
  std::vector<int> incidental;  // nodes the symptom does not depend on (IncidentalNodes)
};

struct FindingDraft {
  std::string env, symptom, message;
  Tolerance tol;
  json details = json::object();
};

void WriteBundle(const fs::path& dir, const std::string& symptom, const json& finding,
                 const Model& model, const ValueMap& inputs, const std::vector<Value>& expected,
                 const std::vector<Value>& actual) {
  const std::string env = finding.value("env", "");
  fs::path tmp = dir.string() + ".part";
  fs::remove_all(tmp);
  fs::create_directories(tmp / "test_data_set_0");
  model.Save((tmp / "model.onnx").string());
  int k = 0;
  for (const auto& in : model.Inputs()) {
    auto it = inputs.find(in.name);
    if (it != inputs.end()) {
      WriteValuePb((tmp / "test_data_set_0" / fmt::format("input_{}.pb", k)).string(), it->second,
                   in.name);
    }
    ++k;
  }
  std::vector<ValueInfo> outs = model.Outputs();
  for (size_t i = 0; i < expected.size() && i < outs.size(); ++i) {
    WriteValuePb((tmp / "test_data_set_0" / fmt::format("output_{}.pb", i)).string(), expected[i],
                 outs[i].name);
  }
  for (size_t i = 0; i < actual.size() && i < outs.size(); ++i) {
    WriteValuePb((tmp / fmt::format("actual_{}.pb", i)).string(), actual[i], outs[i].name);
  }
  std::ofstream(tmp / "finding.json") << finding.dump(2) << "\n";
  std::string run_env = env;
  if (symptom == "crash" || symptom == "timeout") run_env = WorkerEnv(env, 20).ToString();
  {
    std::ofstream sh(tmp / "repro.sh");
    sh << "#!/bin/sh\n# " << env << ": " << symptom << " — see finding.json\n"
       << "# The concord that wrote this bundle; `concord` on PATH when it is gone.\n"
       << "CONCORD=" << ShellQuote(SelfBinary()) << "\n"
       << "[ -x \"$CONCORD\" ] || CONCORD=concord\n"
       << "here=\"$(dirname \"$0\")\"\n";
    if (symptom == "perf") {
      sh << "# A performance finding is a timing: compare the medians of ref and " << env
         << " (ratio_vs_first)\n# with finding.json's details.perf.\n"
         << "\"$CONCORD\" bench \"$here/model.onnx\" --envs " << ShellQuote("ref;" + env)
         << " --inputs \"$here/test_data_set_0\" --repeat 5 \"$@\"\n";
    } else {
      sh << "# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference "
            "interpreter;\n# actual_*.pb is what "
         << env << " returned.\n"
         << "\"$CONCORD\" conformance --suite \"$here/..\" --filter '^" << dir.filename().string()
         << "$' --env " << ShellQuote(run_env) << " --verbose\n";
    }
  }
  fs::permissions(tmp / "repro.sh",
                  fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

namespace {

// Integer arithmetic that can leave its type's range (ONNX leaves the result undefined: runtimes
// wrap, saturate or compute in floating point).
bool MayOverflowIntegers(const std::string& op) {
  static const std::set<std::string> kOps = {"Add",
                                             "Sub",
                                             "Mul",
                                             "Pow",
                                             "Neg",
                                             "Abs",
                                             "MatMul",
                                             "Gemm",
                                             "ReduceSum",
                                             "ReduceProd",
                                             "ReduceSumSquare",
                                             "ReduceL1",
                                             "ReduceMean"};
  return kOps.count(op) > 0;
}

// Whether integer node `n` overflows on `values`: the node alone is re-run on ref in float64
// (its integer operands converted; shape-like operands such as reduce axes kept) and any result
// outside the int32/int64 range counts.
bool IntegerNodeOverflows(const Model& model, const onnx::NodeProto& n, const ValueMap& values) {
  if (!MayOverflowIntegers(n.op_type()) || n.input_size() == 0 || n.output_size() == 0) {
    return false;
  }
  auto first = values.find(n.input(0));
  if (first == values.end() || !first->second.is_tensor()) return false;
  DType dt = first->second.tensor.dtype();
  if (dt != DType::kInt32 && dt != DType::kInt64) return false;
  double limit = dt == DType::kInt32 ? 2147483647.0 : 9.2e18;
  bool reduce = n.op_type().rfind("Reduce", 0) == 0;
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  for (const auto& o : model.proto().opset_import()) *proto.add_opset_import() = o;
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("overflow_check");
  *g->add_node() = n;
  ValueMap feeds;
  for (int i = 0; i < n.input_size(); ++i) {
    const std::string& name = n.input(i);
    if (name.empty()) continue;
    auto it = values.find(name);
    if (it == values.end() || !it->second.is_tensor()) return false;
    Tensor t = it->second.tensor;
    bool operand = !(reduce && i == 1);  // a reduce's axes stay int64
    if (operand && t.dtype() != DType::kFloat64) t = t.CastTo(DType::kFloat64);
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(operand ? static_cast<int32_t>(onnx::TensorProto::DOUBLE)
                              : static_cast<int32_t>(t.dtype()));
    for (int64_t d : t.shape()) tt->mutable_shape()->add_dim()->set_dim_value(d);
    feeds[name] = Value(std::move(t));
  }
  g->add_output()->set_name(n.output(0));
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::DOUBLE);
  try {
    Model m = Model::FromProto(proto, "", "overflow check",
                               {/*run_checker=*/false, /*infer_shapes=*/false});
    std::vector<Value> out = RunReference(m, feeds);
    if (out.empty() || !out[0].is_tensor()) return false;
    const Tensor& r = out[0].tensor;
    for (int64_t i = 0; i < r.numel(); ++i) {
      double x = r.data<double>()[i];
      if (!std::isfinite(x) || x > limit || x < -limit - 1) return true;
    }
  } catch (const std::exception&) {
    return false;  // the node has no float64 kernel: no verdict
  }
  return false;
}

}  // namespace

std::optional<std::string> SpecUndefinedReason(const Model& model, const ValueMap& values) {
  for (const auto& n : model.graph().node()) {
    const std::string& op = n.op_type();
    if (IntegerNodeOverflows(model, n, values)) {
      return fmt::format(
          "{} '{}' overflows its integer type (ONNX leaves the result undefined: "
          "runtimes wrap, saturate or compute in floating point)",
          op, n.name());
    }
    if ((op == "ArgMax" || op == "ArgMin" || op == "TopK") && n.input_size() > 0) {
      auto it = values.find(n.input(0));
      if (it == values.end() || !it->second.is_tensor()) continue;
      const Tensor& t = it->second.tensor;
      // Any duplicated value makes the chosen index depend on the tie-break rule.
      std::vector<double> v;
      VisitDType(t.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (kIsNumeric<T>) {
          for (int64_t i = 0; i < t.numel(); ++i) v.push_back(ToDouble(t.data<T>()[i]));
        }
      });
      std::sort(v.begin(), v.end());
      if (std::adjacent_find(v.begin(), v.end()) != v.end()) {
        return fmt::format("{} '{}' sees tied values (which index wins is unspecified)", op,
                           n.name());
      }
    }
    if (op == "Cast" && n.input_size() > 0) {
      int64_t to = 0;
      for (const auto& a : n.attribute()) {
        if (a.name() == "to") to = a.i();
      }
      bool to_int = to == onnx::TensorProto::INT32 || to == onnx::TensorProto::INT64 ||
                    to == onnx::TensorProto::INT8 || to == onnx::TensorProto::UINT8 ||
                    to == onnx::TensorProto::INT16 || to == onnx::TensorProto::UINT16 ||
                    to == onnx::TensorProto::UINT32 || to == onnx::TensorProto::UINT64;
      auto it = values.find(n.input(0));
      if (!to_int || it == values.end() || !it->second.is_tensor()) continue;
      const Tensor& t = it->second.tensor;
      double lo = to == onnx::TensorProto::INT32 ? -2147483648.0 : -9.2e18;
      double hi = to == onnx::TensorProto::INT32 ? 2147483647.0 : 9.2e18;
      if (to == onnx::TensorProto::UINT8 || to == onnx::TensorProto::UINT16 ||
          to == onnx::TensorProto::UINT32 || to == onnx::TensorProto::UINT64) {
        lo = 0;
      }
      bool bad = false;
      VisitDType(t.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (kIsFloatLike<T>) {
          for (int64_t i = 0; i < t.numel() && !bad; ++i) {
            double x = ToDouble(t.data<T>()[i]);
            bad = !std::isfinite(x) || x < lo || x > hi;
          }
        }
      });
      if (bad) {
        return fmt::format(
            "Cast '{}' converts NaN/Inf or out-of-range floats to an integer type "
            "(undefined in ONNX)",
            n.name());
      }
    }
  }
  return std::nullopt;
}

namespace {

// RunFuzz's state and its steps: set up -> per seed: next case -> oracle -> run every env ->
// judge each outcome -> triage each hit (reduce, rerun the repro, check possible ref bugs) ->
// record.
class FuzzLoop {
 public:
  FuzzLoop(const FuzzOptions& o, const FuzzGenerator& generate, Store& store,
           const FuzzProgressFn& progress)
      : o_(o), generate_(generate), store_(store), progress_(progress) {}

  FuzzSummary Run() {
    SetUp();
    const auto stride = static_cast<uint64_t>(o_.shard.count);
    for (auto i = static_cast<uint64_t>(o_.shard.index); !Done(i); i += stride) {
      uint64_t seed = o_.seed + i;
      std::optional<FuzzCase> c = NextCase(seed);
      if (!c) continue;
      std::optional<RefRun> ref = RunOracle(*c);
      if (!ref) continue;
      TestCase(*c, *ref);
      Report("");
      Tick(false);
    }
    Tick(true);
    CurrentRootCauses();
    summary_.seconds = SecondsSince(t0_);
    return summary_;
  }

  // The root causes of this run's findings as the store has them now: a cause counted when a
  // finding was recorded may since have been merged into another (a later, smaller repro
  // explained it), so the summary never counts more causes than findings.
  void CurrentRootCauses() {
    summary_.root_causes.clear();
    summary_.known_root_causes.clear();
    for (const FindingRecord& f : store_.Findings()) {
      if (!summary_.raw_findings.count(f.id) || !f.root_cause) continue;
      summary_.root_causes.insert(*f.root_cause);
      if (causes_before_.count(*f.root_cause)) summary_.known_root_causes.insert(*f.root_cause);
    }
  }

 private:
  void SetUp() {
    if (o_.envs.empty()) Fail(ErrorKind::kUsage, "fuzz needs at least one env (--envs)");
    if (o_.iterations <= 0 && o_.time_s <= 0) {
      Fail(ErrorKind::kUsage, "fuzz needs --iterations N or --time SECONDS");
    }
    fs::create_directories(o_.out_dir);
    for (const auto& e : o_.envs) {
      runners_.emplace_back(e, o_.timeout_s);
      EnvSpec spec = EnvSpec::Parse(e);
      try {
        BackendInfo info = FindBackend(spec.backend)->Info();
        versions_[e] = json{{"backend", info.name}, {"version", info.version}}.dump();
      } catch (const Error& err) {
        Fail(ErrorKind::kUsage, "fuzz env '{}': {}", e, err.what());
      }
      summary_.envs[e];
    }
    if (o_.coverage_feedback) {
      tried_ = store_.OpCoverage();  // earlier campaigns on this store count too
      weights_ = CoverageWeights(tried_);
    }
    ClusterUnassignedFindings(store_);
    for (const auto& rc : store_.RootCauses()) causes_before_.insert(rc.id);
  }

  // A bug finding of this run and its root cause, for the summary's counts.
  void Count(const std::string& symptom, int64_t finding, int64_t cause) {
    if (IsLabelSymptom(symptom)) return;
    summary_.raw_findings.insert(finding);
    summary_.root_causes.insert(cause);
    if (causes_before_.count(cause)) summary_.known_root_causes.insert(cause);
  }

  bool Done(uint64_t i) const {
    if (o_.iterations > 0) return static_cast<int64_t>(i) >= o_.iterations;
    return SecondsSince(t0_) >= o_.time_s;
  }

  void Report(const std::string& what) {
    prog_.elapsed_s = SecondsSince(t0_);
    prog_.last = what;
    if (progress_) progress_(prog_);
  }

  void Tick(bool force) {
    double now = SecondsSince(t0_);
    if (!force && now - last_tick_ < 5) return;
    last_tick_ = now;
    store_.RecordFuzzTick(o_.campaign, now, summary_.models, summary_.tests, summary_.distinct,
                          op_counts_, kind_counts_);
    op_counts_.clear();
    kind_counts_.clear();
  }

  std::optional<FuzzCase> NextCase(uint64_t seed) {
    std::optional<FuzzCase> c;
    try {
      c = generate_(seed, weights_);
    } catch (const Error& e) {
      ++summary_.generator_failures;
      Report(fmt::format("seed {}: generator failed: {}", seed, e.what()));
      return std::nullopt;
    }
    ++summary_.models;
    ++prog_.models;
    for (const auto& op : std::set<std::string>(c->op_types.begin(), c->op_types.end())) {
      ++op_counts_[op];
      ++tried_[op];
    }
    if (o_.coverage_feedback) weights_ = CoverageWeights(tried_);
    return c;
  }

  std::optional<RefRun> RunOracle(const FuzzCase& c) {
    try {
      return RunRef(c.model, c.inputs);
    } catch (const Error& e) {
      ++summary_.generator_failures;  // the generator promised a ref-runnable model
      Report(fmt::format("seed {}: ref failed: {}", c.seed, e.what()));
      return std::nullopt;
    }
  }

  // Every env runs the model first, so each outcome can be judged against the others too.
  void TestCase(const FuzzCase& c, const RefRun& ref) {
    Tolerance tol = HasFloat16(c.model) ? o_.fp16_tol : o_.tol;
    std::vector<Outcome> outs;
    for (auto& runner : runners_) {
      outs.push_back(runner.Run(c.model, c.inputs));
      ++summary_.envs[runner.env()].tests;
      ++summary_.tests;
      ++prog_.tests;
    }
    std::vector<json> perf(outs.size());
    for (size_t k = 0; k < outs.size(); ++k) Judge(k, c, ref, tol, &outs[k], &perf[k]);
    CountKinds(c, outs);
    for (size_t k = 0; k < outs.size(); ++k) {
      const std::string& env = runners_[k].env();
      FuzzEnvStats& st = summary_.envs[env];
      if (outs[k].symptom == "unsupported") {
        ++st.unsupported;
        continue;
      }
      if (outs[k].symptom.empty()) {
        ++st.ok;
        continue;
      }
      ++st.symptoms[outs[k].symptom];
      if (IsLabelSymptom(outs[k].symptom)) ++summary_.labels[outs[k].symptom];
      ++summary_.hits;
      ++prog_.hits;
      FindingDraft d{env, outs[k].symptom, outs[k].message, tol};
      if (!perf[k].is_null()) d.details["perf"] = perf[k];
      if (auto why = AgreedAgainstRef(k, outs, OutputTolerances(c.model, tol)))
        d.details["possible_ref_bug"] = *why;
      Triage(c, std::move(d));
    }
  }

  // Coverage: each env that ran the model (not "unsupported") tested every node kind in it.
  void CountKinds(const FuzzCase& c, const std::vector<Outcome>& outs) {
    std::vector<std::string> kinds = RootCauseNodes(c.model);
    std::set<std::string> unique(kinds.begin(), kinds.end());
    for (size_t k = 0; k < outs.size(); ++k) {
      if (outs[k].symptom == "unsupported") continue;
      for (const std::string& kind : unique) {
        auto& counts = kind_counts_[{runners_[k].env(), kind}];
        ++counts.first;
        if (outs[k].symptom.empty()) ++counts.second;
      }
    }
  }

  // Classifies an env's successful run: inconsistent / undefined against ref, or perf.
  void Judge(size_t k, const FuzzCase& c, const RefRun& ref, const Tolerance& tol, Outcome* out,
             json* perf) {
    if (!out->symptom.empty()) return;
    ValueCheck v =
        JudgeValues(c.model, c.inputs, ref.outputs, ref.taps, out->outputs, tol, o_.boundary_ulps);
    if (v.verdict != ValueVerdict::kAgrees) {
      out->symptom = v.verdict == ValueVerdict::kUndefined  ? "undefined"
                     : v.verdict == ValueVerdict::kBoundary ? "boundary"
                                                            : "inconsistent";
      out->message =
          v.verdict == ValueVerdict::kWrong ? v.difference : v.difference + " — " + v.reason;
      return;
    }
    // Performance: env time relative to ref, against this env's running median.
    double ratio = out->ms / std::max(ref.ms, 0.05);
    auto& rs = ratios_[runners_[k].env()];
    if (rs.size() >= 20 && out->ms >= 10) {
      double median = Median(rs);
      if (ratio > o_.perf_factor * median) ConfirmPerf(runners_[k], c, median, out, perf);
    }
    rs.push_back(ratio);
  }

  // A slow run is a finding only when perf_runs more timed runs on each side, compared by
  // their medians, still show it.
  void ConfirmPerf(EnvRunner& runner, const FuzzCase& c, double median_ratio, Outcome* out,
                   json* perf) {
    int runs = std::max(3, o_.perf_runs);
    std::vector<double> env_ms, ref_ms;
    for (int r = 0; r < runs; ++r) {
      Outcome again = runner.Run(c.model, c.inputs);
      if (again.symptom.empty()) env_ms.push_back(again.ms);
    }
    try {
      auto oracle = PrepareReference(c.model);
      for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        oracle->RunWithTaps(c.inputs, nullptr);
        ref_ms.push_back(SecondsSince(t0) * 1000);
      }
    } catch (const Error&) {
      ref_ms.clear();
    }
    for (double& r : ref_ms) r = std::max(r, 0.05);
    double threshold = o_.perf_factor * median_ratio;
    PerfVerdict v = JudgePerf(env_ms, ref_ms, threshold);
    double ratio = v.env.mean / std::max(ConfidenceInterval95(ref_ms).mean, 0.05);
    out->symptom = v.confirmed ? "perf" : "perf_unconfirmed";
    out->message = fmt::format(
        "{}: env {:.1f} ms [95% CI {:.1f}, {:.1f}] vs ref x {:.1f} (threshold) {:.1f} ms [{:.1f}, "
        "{:.1f}] over {} env / {} ref runs: {:.0f}x ref, this env's median ratio is {:.1f}x",
        v.confirmed ? "confirmed" : "not confirmed (intervals overlap or re-runs failed)",
        v.env.mean, v.env.lo, v.env.hi, threshold, v.scaled_ref.mean, v.scaled_ref.lo,
        v.scaled_ref.hi, env_ms.size(), ref_ms.size(), ratio, median_ratio);
    *perf = {{"env_ms", env_ms},
             {"ref_ms", ref_ms},
             {"ratio", ratio},
             {"median_ratio", median_ratio},
             {"factor", o_.perf_factor},
             {"runs", runs},
             {"confirmed", v.confirmed},
             {"env_ci95", {v.env.lo, v.env.hi}},
             {"threshold_ref_ci95", {v.scaled_ref.lo, v.scaled_ref.hi}}};
  }

  // Why env k's divergence may be ref's bug: every other env that ran the model (at least one)
  // also differs from ref and agrees with env k.
  std::optional<std::string> AgreedAgainstRef(size_t k, const std::vector<Outcome>& outs,
                                              const std::vector<Tolerance>& tol) const {
    if (outs[k].symptom != "inconsistent") return std::nullopt;
    std::vector<std::string> agreeing;
    for (size_t j = 0; j < outs.size(); ++j) {
      if (j == k || outs[j].symptom == "unsupported") continue;
      if (outs[j].symptom != "inconsistent" && outs[j].symptom != "undefined") return std::nullopt;
      if (!Disagreement(outs[k].outputs, outs[j].outputs, tol).empty()) return std::nullopt;
      agreeing.push_back(runners_[j].env());
    }
    if (agreeing.empty()) return std::nullopt;
    return fmt::format("{} agree(s) with {} against ref", fmt::join(agreeing, ", "),
                       runners_[k].env());
  }

  void Triage(const FuzzCase& c, FindingDraft d) {
    std::string full_sig = OpSignature(c.model);
    bool failure = d.symptom == "crash" || d.symptom == "timeout" || d.symptom == "error";
    auto key = std::make_tuple(d.env, d.symptom, full_sig,
                               failure ? ErrorSignature(d.symptom, d.message) : std::string());
    if (auto it = reduced_cache_.find(key); it != reduced_cache_.end()) {
      FindingRecord again;  // bumps the count of the finding it reduced to
      again.env = d.env;
      again.symptom = d.symptom;
      again.signature = it->second;
      again.last_seen = NowIso();
      int64_t id = 0;
      store_.RecordFinding(again, &id);
      if (auto rc = finding_cause_.find(id); rc != finding_cause_.end()) {
        store_.TouchRootCause(rc->second, again.last_seen);
        Count(d.symptom, id, rc->second);
      }
      Report(fmt::format("{} {} again (seed {})", d.env, d.symptom, c.seed));
      return;
    }
    Repro r = Reduce(c, d);
    std::vector<Value> expected, actual;
    MessageFromRepro(c, &d, &r, &expected, &actual);
    d.details["root_cause"] = {{"nodes", NodeSignatures(r.model)},
                               {"message", ErrorSignature(d.symptom, d.message)}};
    std::string signature = OpSignature(r.model);
    if (d.details.contains("possible_ref_bug") && o_.check_ref &&
        !store_.HasFinding(d.env, d.symptom, signature)) {
      CheckRef(d, r, expected, actual);
    }
    Record(c, d, r, full_sig, expected, actual);
    reduced_cache_[key] = signature;
  }

  // The message describes the repro, run again, not the model it was found on. When the reduced
  // repro does not show the symptom on rerun, the unreduced model becomes the repro if it does
  // (details["reduction_discarded"] says why); if neither does, the found message is kept and
  // details["reduced_reproduces"] is false.
  void MessageFromRepro(const FuzzCase& c, FindingDraft* d, Repro* r, std::vector<Value>* expected,
                        std::vector<Value>* actual) {
    auto rerun = [&](const Model& m, const ValueMap& in, Outcome* out) {
      expected->clear();
      try {
        *expected = RunRef(m, in).outputs;
      } catch (const Error&) {
      }
      EnvRunner again(d->env, o_.timeout_s);
      *out = again.Run(m, in);
      *actual = out->outputs;
      return RerunMessage(d->symptom, *out, *expected, OutputTolerances(m, d->tol), d->message);
    };
    if (d->symptom == "timeout" || d->symptom == "perf" || d->symptom == "perf_unconfirmed" ||
        d->symptom == "boundary") {
      try {
        *expected = RunRef(r->model, r->inputs).outputs;
      } catch (const Error&) {
      }
      return;
    }
    Outcome out;
    std::string message = rerun(r->model, r->inputs, &out);
    if (message.empty() && r->reduced_nodes < r->original_nodes) {
      std::string shown = out.symptom.empty() ? "no symptom" : out.symptom;
      Outcome full;
      std::string full_message = rerun(c.model, c.inputs, &full);
      if (!full_message.empty()) {
        d->details["reduction_discarded"] = fmt::format(
            "the reduced repro ({} nodes) showed {} on rerun; the {}-node model is the repro",
            r->reduced_nodes, shown, r->original_nodes);
        int tests = r->tests;
        *r = Repro{c.model, c.inputs, r->original_nodes, r->original_nodes, 0, 0, {}};
        r->tests = tests;
        message = full_message;
      } else {
        rerun(r->model, r->inputs, &out);  // the bundle holds the reduced repro's values
      }
    }
    if (message.empty()) {
      d->details["reduced_reproduces"] = false;  // flaky: keep the found message
    } else {
      d->message = message;
    }
  }

  Repro Reduce(const FuzzCase& c, const FindingDraft& d) {
    const int n = c.model.graph().node_size();
    Repro r{c.model, c.inputs, n, n, 0, 0, {}};
    // Hangs are not reduced (every candidate could cost a whole timeout), nor slow runs.
    // Labels are not bugs: a boundary effect or an unconfirmed slow run is recorded as found.
    if (!o_.reduce || d.symptom == "perf" || d.symptom == "timeout" || r.original_nodes <= 1 ||
        d.symptom == "boundary" || d.symptom == "perf_unconfirmed") {
      return r;
    }
    Report(fmt::format("reducing {} {} (seed {}, {} nodes)", d.env, d.symptom, c.seed,
                       r.original_nodes));
    EnvRunner probe(d.env, o_.timeout_s);
    const std::string symptom = d.symptom;
    const std::string error_sig = ErrorSignature(d.symptom, d.message);
    const Tolerance tol = d.tol;
    auto fails = [&](const Model& m, const ValueMap& in) {  // the same crash/timeout/error
      Outcome out = probe.Run(m, in);
      return out.symptom == symptom && ErrorSignature(out.symptom, out.message) == error_sig;
    };
    auto oracle = [&](const Model& m, const ValueMap& in) {
      if (symptom == "crash" || symptom == "timeout" || symptom == "error") return fails(m, in);
      // A candidate showing only a boundary effect does not keep a wrong value.
      ValueVerdict v = CheckValues(probe, m, in, tol, o_.boundary_ulps).verdict;
      return v == (symptom == "undefined" ? ValueVerdict::kUndefined : ValueVerdict::kWrong);
    };
    try {
      ReduceResult rr = ReduceModel(c.model, c.inputs, oracle, {o_.reduce_tests});
      r.model = std::move(rr.model);
      r.inputs = std::move(rr.inputs);
      r.reduced_nodes = rr.reduced_nodes;
      r.frozen_inputs = rr.frozen_inputs;
      r.tests = rr.tests;
      // Wrong values, errors and crashes (not hangs: each swap could cost a timeout).
      if (symptom == "inconsistent" || symptom == "error" || symptom == "crash") {
        r.incidental = IncidentalNodes(r.model, r.inputs, oracle, &r.tests);
      }
    } catch (const Error& e) {
      Report(fmt::format("reduction failed: {}", e.what()));
    }
    return r;
  }

  // Every other env agreed against ref: ask ONNX's own reference implementation.
  void CheckRef(FindingDraft& d, const Repro& r, const std::vector<Value>& expected,
                const std::vector<Value>& actual) {
    fs::path dir = o_.out_dir / fmt::format(".refcheck-{}", getpid());
    try {
      WriteBundle(dir, d.symptom, {{"env", d.env}}, r.model, r.inputs, expected, actual);
      d.details["onnx_reference"] = OnnxReferenceVerdict(dir, d.tol);
    } catch (const std::exception& e) {
      d.details["onnx_reference"] = {{"verdict", "not checked"}, {"detail", e.what()}};
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    Report(fmt::format("possible ref bug: onnx.reference says {}",
                       d.details["onnx_reference"].value("verdict", "?")));
  }

  void Record(const FuzzCase& c, FindingDraft& d, const Repro& r, const std::string& full_sig,
              const std::vector<Value>& expected, const std::vector<Value>& actual) {
    FindingRecord f;
    f.env = d.env;
    f.symptom = d.symptom;
    f.signature = OpSignature(r.model);
    f.seed = static_cast<int64_t>(c.seed);
    f.message = d.message.substr(0, 4000);
    f.versions_json = versions_[d.env];
    f.original_nodes = r.original_nodes;
    f.reduced_nodes = r.reduced_nodes;
    std::string bytes;
    r.model.proto().SerializeToString(&bytes);
    f.model = std::vector<uint8_t>(bytes.begin(), bytes.end());
    f.inputs = InputsNpz(r.inputs);
    f.first_seen = f.last_seen = NowIso();
    d.details["campaign"] = o_.campaign;
    d.details["full_signature"] = full_sig;
    d.details["reduce_tests"] = r.tests;
    if (!r.incidental.empty()) {
      json names = json::array();
      for (int i : r.incidental) {
        const auto& n = r.model.graph().node(i);
        names.push_back(n.op_type() + " '" + n.name() + "'");
      }
      d.details["incidental"] = r.incidental;  // node indices (ClusterUnassignedFindings)
      d.details["incidental_nodes"] = names;   // replaced by other ops, still failing
    }
    d.details["tolerance"] = {{"rtol", d.tol.rtol}, {"atol", d.tol.atol}};
    json per_output = json::array();
    for (const Tolerance& t : OutputTolerances(r.model, d.tol)) {
      per_output.push_back({{"rtol", t.rtol}, {"atol", t.atol}});
    }
    d.details["output_tolerances"] = per_output;  // what the repro's outputs were judged with
    f.details_json = d.details.dump();
    int64_t id = 0;
    bool is_new = store_.RecordFinding(f, &id);
    RootCauseSignature rcs{d.env, SymptomClass(d.symptom, d.message),
                           GeneralisedNodes(r.model, r.incidental)};
    int64_t cause = AssignRootCause(store_, id, rcs, o_.campaign, f.last_seen);
    finding_cause_[id] = cause;
    Count(d.symptom, id, cause);
    if (!is_new) {
      Report(fmt::format("{} {} [{}] again (seed {})", d.env, d.symptom, f.signature, c.seed));
      return;
    }
    ++summary_.distinct;
    ++prog_.distinct;
    summary_.new_finding_ids.push_back(id);
    fs::path dir = o_.out_dir / "findings" / SafeName(d.env) / fmt::format("{:04d}", id);
    json fj = {{"id", id},
               {"env", d.env},
               {"symptom", d.symptom},
               {"signature", f.signature},
               {"seed", c.seed},
               {"message", f.message},
               {"versions", json::parse(f.versions_json)},
               {"original_nodes", r.original_nodes},
               {"reduced_nodes", r.reduced_nodes},
               {"frozen_inputs", r.frozen_inputs},
               {"details", d.details}};
    try {
      WriteBundle(dir, d.symptom, fj, r.model, r.inputs, expected, actual);
      store_.SetFindingBundle(id, fs::absolute(dir).string());  // reports link it from anywhere
      if (d.symptom == "inconsistent" || d.symptom == "error" || d.symptom == "crash") {
        FileUpstream(dir, fj);
      }
    } catch (const std::exception& e) {
      Report(fmt::format("could not write the bundle {}: {}", dir.string(), e.what()));
    }
    Report(fmt::format("NEW {} {} [{}] {}->{} nodes", d.env, d.symptom, f.signature,
                       r.original_nodes, r.reduced_nodes));
  }

  // Adds the standalone reproducer and the upstream report to a new finding's bundle and keeps
  // the reproducer's verdict in its finding.json ("standalone_repro").
  void FileUpstream(const fs::path& dir, json fj) {
    json verdict = UpstreamReport(dir, fj.value("env", ""));
    fj["details"]["standalone_repro"] = verdict;
    std::ofstream(dir / "finding.json") << fj.dump(2) << "\n";
    Report(fmt::format("standalone repro.py: {} ({})", verdict.value("repro", "?"),
                       verdict.value("detail", "")));
  }

  // The inputs as .npz bytes for the store; nullopt when there are none or writing fails (they
  // stay in the bundle).
  std::optional<std::vector<uint8_t>> InputsNpz(const ValueMap& inputs) const {
    std::vector<NamedTensor> arrays;
    for (const auto& [name, v] : inputs) {
      if (v.is_tensor()) arrays.push_back({name, v.tensor});
    }
    if (arrays.empty()) return std::nullopt;
    fs::path npz = o_.out_dir / fmt::format(".inputs-{}.npz", getpid());
    std::optional<std::vector<uint8_t>> out;
    try {
      WriteNpz(npz.string(), arrays);
      std::string b = ReadFileBytes(npz.string(), 1ull << 31);
      out = std::vector<uint8_t>(b.begin(), b.end());
    } catch (const std::exception&) {
    }
    std::error_code ec;
    fs::remove(npz, ec);
    return out;
  }

  const FuzzOptions& o_;
  const FuzzGenerator& generate_;
  std::map<std::string, int64_t> tried_;  // op -> models containing it (coverage feedback)
  OpWeights weights_;
  Store& store_;
  const FuzzProgressFn& progress_;
  Clock::time_point t0_ = Clock::now();
  FuzzSummary summary_;
  FuzzProgress prog_;
  std::vector<EnvRunner> runners_;
  std::map<std::string, std::string> versions_;
  std::map<std::string, std::vector<double>> ratios_;  // env -> env_ms / ref_ms so far
  // (env, symptom, full-model signature, error signature) already reduced -> the reduced
  // signature it recorded: skip re-reducing.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::string>
      reduced_cache_;
  std::map<std::string, int64_t> op_counts_;
  KindCounts kind_counts_;  // (env, node kind) -> {tested, clean} since the last tick
  std::map<int64_t, int64_t> finding_cause_;  // finding id -> root cause id, this run
  std::set<int64_t> causes_before_;           // root causes in the store when the run began
  double last_tick_ = 0;
};

}  // namespace

namespace {

std::set<std::string> NodesOf(const std::string& nodes_json) {
  std::set<std::string> out;
  try {
    for (const auto& n : json::parse(nodes_json)) out.insert(n.get<std::string>());
  } catch (const json::exception&) {
  }
  return out;
}

}  // namespace

int64_t AssignRootCause(Store& store, int64_t finding_id, const RootCauseSignature& sig,
                        const std::string& campaign, const std::string& when) {
  std::optional<RootCauseRecord> explaining;  // the smallest cause whose nodes sig contains
  size_t explaining_size = 0;
  std::vector<RootCauseRecord> explained;  // causes whose nodes contain sig's
  for (const RootCauseRecord& rc : store.RootCauses()) {
    RootCauseSignature other{rc.env, rc.symptom_class, NodesOf(rc.nodes_json)};
    if (Explains(other, sig)) {
      if (!explaining || other.nodes.size() < explaining_size) {
        explaining = rc;
        explaining_size = other.nodes.size();
      }
    } else if (Explains(sig, other)) {
      explained.push_back(rc);
    }
  }
  int64_t id = 0;
  if (explaining) {
    id = explaining->id;
    store.TouchRootCause(id, when);
  } else if (!explained.empty()) {
    id = explained.front().id;  // the oldest: a smaller repro narrows it
    store.SetRootCauseNodes(
        id, json(std::vector<std::string>(sig.nodes.begin(), sig.nodes.end())).dump(), when);
  } else {
    RootCauseRecord rc;
    rc.env = sig.env;
    rc.symptom_class = sig.symptom_class;
    rc.nodes_json = json(std::vector<std::string>(sig.nodes.begin(), sig.nodes.end())).dump();
    rc.campaign = campaign;
    rc.first_seen = rc.last_seen = when;
    id = store.AddRootCause(rc);
  }
  for (const RootCauseRecord& rc : explained) {
    if (rc.id != id) store.MergeRootCause(rc.id, id);
  }
  store.SetFindingRootCause(finding_id, id);
  return id;
}

int64_t ClusterUnassignedFindings(Store& store) {
  int64_t assigned = 0;
  for (const FindingRecord& f : store.Findings()) {
    if (f.root_cause) continue;
    RootCauseSignature sig{f.env, SymptomClass(f.symptom, f.message), {}};
    json details = json::object();
    try {
      details = json::parse(f.details_json);
    } catch (const json::exception&) {
    }
    // A finding's generalisation (IncidentalNodes), kept in its details by the campaign or
    // by RecheckFindings.
    std::vector<int> incidental;
    if (!IsLabelSymptom(f.symptom) && details.contains("incidental") &&
        details["incidental"].is_array()) {
      for (const auto& i : details["incidental"]) {
        if (i.is_number_integer()) incidental.push_back(i.get<int>());
      }
    }
    bool from_model = false;
    if (f.model) {
      try {
        Model m =
            Model::FromBytes(std::string(f.model->begin(), f.model->end()), ".", "stored finding");
        std::erase_if(incidental, [&](int i) { return i < 0 || i >= m.graph().node_size(); });
        sig.nodes = GeneralisedNodes(m, incidental);
        from_model = true;
      } catch (const Error&) {
      }
    }
    if (!from_model) {
      for (size_t start = 0; start <= f.signature.size();) {
        size_t comma = std::min(f.signature.find(',', start), f.signature.size());
        if (comma > start) sig.nodes.insert(f.signature.substr(start, comma - start));
        start = comma + 1;
      }
    }
    std::string campaign = details.is_object() ? details.value("campaign", "") : "";
    AssignRootCause(store, f.id, sig, campaign, f.first_seen);
    ++assigned;
  }
  return assigned;
}

OpWeights CoverageWeights(const std::map<std::string, int64_t>& tried) {
  OpWeights w;
  if (tried.empty()) return w;
  double mean = 0;
  for (const auto& [op, n] : tried) mean += static_cast<double>(n);
  mean = std::max(1.0, mean / static_cast<double>(tried.size()));
  for (const auto& [op, n] : tried) w[op] = 1.0 / (1.0 + static_cast<double>(n) / mean);
  return w;
}

FuzzSummary RunFuzz(const FuzzOptions& o, const FuzzGenerator& generate, Store& store,
                    const FuzzProgressFn& progress) {
  return FuzzLoop(o, generate, store, progress).Run();
}

std::map<std::string, OpDtypeSet> InferOpSupport(
    const std::vector<std::string>& envs, const std::vector<std::string>& ops,
    const std::vector<std::string>& dtypes, const SupportCaseFn& make_case, Store& store,
    double timeout_s, const std::function<void(const std::string&)>& log, double time_limit_s) {
  auto t0 = Clock::now();
  std::map<std::string, OpDtypeSet> unsupported;
  std::vector<EnvRunner> runners;
  for (const auto& e : envs) {
    unsupported[e];  // every env has a set, empty when it runs every pair
    runners.emplace_back(e, timeout_s);
  }
  const size_t total = ops.size() * dtypes.size();
  size_t done = 0;
  for (const auto& op : ops) {
    for (const auto& dt : dtypes) {
      if (time_limit_s > 0 && SecondsSince(t0) >= time_limit_s) {
        if (log)
          log(fmt::format("[{}/{}] out of time: the remaining pairs are not probed", done, total));
        return unsupported;
      }
      ++done;
      std::optional<FuzzCase> c;
      try {
        c = make_case(op, dt);
      } catch (const Error&) {
        c.reset();
      }
      if (!c) continue;  // the generator cannot make this pair: nothing to ask
      std::vector<std::string> rejected_by;
      for (auto& r : runners) {
        Outcome out = r.Run(c->model, c->inputs);
        std::string status = out.symptom.empty()            ? "ok"
                             : out.symptom == "unsupported" ? "unsupported"
                                                            : "error";
        if (status != "ok") {
          unsupported[r.env()].insert({op, dt});
          rejected_by.push_back(r.env());
        }
        store.SetOpSupport({r.env(), op, dt, status, out.message.substr(0, 500)});
      }
      if (log) {
        std::string verdict = rejected_by.empty()
                                  ? std::string("ok everywhere")
                                  : fmt::format("not on {}", fmt::join(rejected_by, ", "));
        log(fmt::format("[{}/{}] {} {}: {}", done, total, op, dt, verdict));
      }
    }
  }
  return unsupported;
}

}  // namespace concord
