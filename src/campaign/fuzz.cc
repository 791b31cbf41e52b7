#include "campaign/fuzz.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <set>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backends/worker_backend.h"
#include "campaign/reduce.h"
#include "ir/clock.h"
#include "ir/error.h"
#include "ir/tensor_io.h"
#include "backends/ref_backend.h"
#include "ir/value_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The env as fuzzing runs it: in a worker process, with a timeout.
EnvSpec WorkerEnv(const std::string& env, double timeout_s) {
  EnvSpec spec = EnvSpec::Parse(env);
  if ((spec.backend == "ref" || spec.backend == "opencv") && spec.Get("host").empty()) {
    spec.options["isolate"] = "1";
  }
  if (!spec.options.count("timeout") && spec.Get("host").empty()) {
    spec.options["timeout"] = fmt::format("{}", timeout_s);
  }
  return spec;
}

struct Outcome {
  std::string symptom;  // "" ok, "unsupported", "crash", "timeout", "error", "inconsistent",
                        // "undefined", "perf"
  std::string message;
  std::vector<Value> outputs;
  double ms = 0;
};

// Classifies an exception from a session (prepare, reload or run).
Outcome Classify(const Error& e, Session* session) {
  Outcome o;
  o.message = e.what();
  auto* w = dynamic_cast<WorkerSession*>(session);
  std::string failure = w ? w->failure() : "";
  if (!failure.empty() || o.message.find("the worker ") != std::string::npos) {
    std::string text = failure.empty() ? o.message : failure;
    o.symptom = text.find("hung") != std::string::npos ? "timeout" : "crash";
  } else if (e.kind() == ErrorKind::kUnsupported) {
    o.symptom = "unsupported";
  } else {
    o.symptom = "error";
  }
  return o;
}

bool HasFloat16(const Model& model) {
  for (const auto& vi : model.graph().input()) {
    if (vi.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT16) return true;
  }
  for (const auto& vi : model.graph().output()) {
    if (vi.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT16) return true;
  }
  for (const auto& n : model.graph().node()) {
    for (const auto& a : n.attribute()) {
      if (a.name() == "to" && a.i() == onnx::TensorProto::FLOAT16) return true;
    }
  }
  for (const auto& init : model.graph().initializer()) {
    if (init.data_type() == onnx::TensorProto::FLOAT16) return true;
  }
  return false;
}

// Compares env outputs with ref's; "" when they agree, else a one-line reason.
std::string Disagreement(const std::vector<Value>& want, const std::vector<Value>& got,
                         const Tolerance& tol) {
  if (want.size() != got.size()) {
    return fmt::format("{} outputs instead of {}", got.size(), want.size());
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].is_tensor() || !got[i].is_tensor()) {
      if (want[i].kind != got[i].kind) return fmt::format("output {}: value kinds differ", i);
      continue;
    }
    // atol scales with the output's magnitude: cancellation near zero in long float16/float32
    // chains is rounding, not a bug (relative error alone would flag it).
    double scale = 1;
    const Tensor& w = want[i].tensor;
    VisitDType(w.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (kIsFloatLike<T>) {
        for (int64_t k = 0; k < w.numel(); ++k) {
          double x = std::fabs(ToDouble(w.data<T>()[k]));
          if (std::isfinite(x)) scale = std::max(scale, x);
        }
      }
    });
    TensorDiff d = CompareTensors(w, got[i].tensor, Tolerance{tol.rtol, tol.atol * scale});
    if (!d.ok) return fmt::format("output {}: {}", i, d.message);
  }
  return "";
}

std::string Signature(const Model& model) {
  std::set<std::string> ops;
  for (const auto& n : model.graph().node()) ops.insert(n.op_type());
  std::string s;
  for (const auto& op : ops) s += (s.empty() ? "" : ",") + op;
  return s;
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

std::vector<Value> RunRef(const Model& model, const ValueMap& inputs, ValueMap* taps,
                               double* ms) {
  auto oracle = PrepareReference(model);
  ValueMap t;
  auto t0 = Clock::now();
  std::vector<Value> out = oracle->RunWithTaps(inputs, taps ? &t : nullptr);
  if (ms) *ms = SecondsSince(t0) * 1000;
  if (taps) {
    for (auto& [k, v] : t) (*taps)[k] = std::move(v);
  }
  return out;
}

// One persistent worker per env.
class EnvRunner {
 public:
  EnvRunner(std::string env, double timeout_s)
      : env_(std::move(env)), spec_(WorkerEnv(env_, timeout_s)) {}

  const std::string& env() const { return env_; }
  const EnvSpec& spec() const { return spec_; }

  // Loads `model` (reusing the worker) and runs it once.
  Outcome Run(const Model& model, const ValueMap& inputs) {
    try {
      return DoRun(model, inputs);
    } catch (const nlohmann::json::exception& e) {
      // A malformed reply's metadata: the worker cannot be trusted any more.
      Outcome o;
      o.symptom = "crash";
      o.message = fmt::format("{}: malformed reply metadata from the worker: {}", env_, e.what());
      session_.reset();
      return o;
    }
  }

 private:
  Outcome DoRun(const Model& model, const ValueMap& inputs) {
    Outcome o;
    try {
      if (session_ && session_->supports_reload()) {
        session_->Reload(model);
      } else {
        session_.reset();
        session_ = PrepareSession(model, spec_);
      }
    } catch (const Error& e) {
      o = Classify(e, session_.get());
      Retire(o);
      return o;
    }
    try {
      RunTiming timing;
      auto t0 = Clock::now();
      o.outputs = session_->Run(inputs, &timing);
      o.ms = timing.run_ms > 0 ? timing.run_ms : SecondsSince(t0) * 1000;
    } catch (const Error& e) {
      o = Classify(e, session_.get());
      Retire(o);
    }
    return o;
  }

  void Retire(const Outcome& o) {
    // A dead worker cannot serve the next model; an ERROR answer leaves it usable but with no
    // model loaded, which the next Reload fixes.
    if (o.symptom == "crash" || o.symptom == "timeout") session_.reset();
  }

  std::string env_;
  EnvSpec spec_;
  std::unique_ptr<Session> session_;
};

void WriteBundle(const fs::path& dir, const std::string& env, const std::string& symptom,
                 const json& finding, const Model& model, const ValueMap& inputs,
                 const std::vector<Value>& expected, const std::vector<Value>& actual,
                 const fs::path& suite) {
  fs::path tmp = dir.string() + ".part";
  fs::remove_all(tmp);
  fs::create_directories(tmp / "test_data_set_0");
  model.Save((tmp / "model.onnx").string());
  int k = 0;
  for (const auto& in : model.Inputs()) {
    auto it = inputs.find(in.name);
    if (it != inputs.end()) {
      WriteValuePb((tmp / "test_data_set_0" / fmt::format("input_{}.pb", k)).string(),
                        it->second, in.name);
    }
    ++k;
  }
  std::vector<ValueInfo> outs = model.Outputs();
  for (size_t i = 0; i < expected.size() && i < outs.size(); ++i) {
    WriteValuePb((tmp / "test_data_set_0" / fmt::format("output_{}.pb", i)).string(),
                      expected[i], outs[i].name);
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
       << "# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference "
          "interpreter;\n# actual_*.pb is what " << env << " returned.\n"
       << "concord conformance --suite \"$(dirname \"$0\")/..\" --filter '^"
       << dir.filename().string() << "$' --env '" << run_env << "' --verbose\n";
  }
  fs::permissions(tmp / "repro.sh", fs::perms::owner_exec | fs::perms::group_exec |
                                        fs::perms::others_exec, fs::perm_options::add);
  (void)suite;
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

std::optional<std::string> SpecUndefinedReason(const Model& model, const ValueMap& values) {
  for (const auto& n : model.graph().node()) {
    const std::string& op = n.op_type();
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
        return fmt::format("Cast '{}' converts NaN/Inf or out-of-range floats to an integer type "
                           "(undefined in ONNX)", n.name());
      }
    }
  }
  return std::nullopt;
}

FuzzSummary RunFuzz(const FuzzOptions& o, const FuzzGenerator& generate, Store& store,
                    const FuzzProgressFn& progress) {
  if (o.envs.empty()) Fail(ErrorKind::kUsage, "fuzz needs at least one env (--envs)");
  if (o.iterations <= 0 && o.time_s <= 0) {
    Fail(ErrorKind::kUsage, "fuzz needs --iterations N or --time SECONDS");
  }
  fs::create_directories(o.out_dir);
  auto t0 = Clock::now();
  FuzzSummary summary;
  FuzzProgress prog;
  std::vector<EnvRunner> runners;
  std::map<std::string, std::string> versions;
  for (const auto& e : o.envs) {
    runners.emplace_back(e, o.timeout_s);
    EnvSpec spec = EnvSpec::Parse(e);
    try {
      BackendInfo info = FindBackend(spec.backend)->Info();
      versions[e] = json{{"backend", info.name}, {"version", info.version}}.dump();
    } catch (const Error& err) {
      Fail(ErrorKind::kUsage, "fuzz env '{}': {}", e, err.what());
    }
    summary.envs[e];
  }
  std::map<std::string, std::vector<double>> ratios;  // env -> env_ms / ref_ms so far
  // (env, symptom, full-model signature) already reduced -> its finding id: skip re-reducing.
  std::map<std::tuple<std::string, std::string, std::string>, std::string> reduced_cache;
  std::map<std::string, int64_t> op_counts;
  double last_tick = 0;

  auto report = [&](const std::string& what) {
    prog.elapsed_s = SecondsSince(t0);
    prog.last = what;
    if (progress) progress(prog);
  };
  auto tick = [&](bool force) {
    double now = SecondsSince(t0);
    if (!force && now - last_tick < 5) return;
    last_tick = now;
    store.RecordFuzzTick(o.campaign, now, summary.models, summary.tests, summary.distinct,
                         op_counts);
    op_counts.clear();
  };

  for (uint64_t i = 0;; ++i) {
    if (o.iterations > 0 && static_cast<int64_t>(i) >= o.iterations) break;
    if (o.iterations <= 0 && SecondsSince(t0) >= o.time_s) break;
    uint64_t seed = o.seed + i;
    std::optional<FuzzCase> c;
    try {
      c = generate(seed);
    } catch (const Error& e) {
      ++summary.generator_failures;
      report(fmt::format("seed {}: generator failed: {}", seed, e.what()));
      continue;
    }
    ++summary.models;
    ++prog.models;
    for (const auto& op : std::set<std::string>(c->op_types.begin(), c->op_types.end())) {
      ++op_counts[op];
    }
    ValueMap taps = c->inputs;
    double ref_ms = 0;
    std::vector<Value> want;
    try {
      want = RunRef(c->model, c->inputs, &taps, &ref_ms);
    } catch (const Error& e) {
      ++summary.generator_failures;  // the generator promised a ref-runnable model
      report(fmt::format("seed {}: ref failed: {}", seed, e.what()));
      continue;
    }
    Tolerance tol = HasFloat16(c->model) ? o.fp16_tol : o.tol;
    for (auto& runner : runners) {
      const std::string& env = runner.env();
      FuzzEnvStats& st = summary.envs[env];
      Outcome out = runner.Run(c->model, c->inputs);
      ++st.tests;
      ++summary.tests;
      ++prog.tests;
      if (out.symptom == "unsupported") {
        ++st.unsupported;
        continue;
      }
      if (out.symptom.empty()) {
        std::string why = Disagreement(want, out.outputs, tol);
        if (!why.empty()) {
          auto undefined = SpecUndefinedReason(c->model, taps);
          out.symptom = undefined ? "undefined" : "inconsistent";
          out.message = undefined ? why + " — " + *undefined : why;
        } else {
          // Performance: env time relative to ref, against this env's running median.
          double ratio = out.ms / std::max(ref_ms, 0.05);
          auto& rs = ratios[env];
          if (rs.size() >= 20 && out.ms >= 10) {
            std::vector<double> sorted = rs;
            std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2),
                             sorted.end());
            double median = sorted[sorted.size() / 2];
            if (ratio > o.perf_factor * median) {
              double best = out.ms;
              for (int r = 0; r < 3; ++r) {
                Outcome again = runner.Run(c->model, c->inputs);
                if (again.symptom.empty()) best = std::min(best, again.ms);
              }
              if (best / std::max(ref_ms, 0.05) > o.perf_factor * median) {
                out.symptom = "perf";
                out.message = fmt::format("{:.1f} ms vs ref {:.2f} ms: {:.0f}x, this env's median "
                                          "ratio is {:.1f}x", best, ref_ms,
                                          best / std::max(ref_ms, 0.05), median);
              }
            }
          }
          rs.push_back(ratio);
        }
      }
      if (out.symptom.empty()) {
        ++st.ok;
        continue;
      }
      ++st.symptoms[out.symptom];
      ++summary.hits;
      ++prog.hits;
      // Reduce (unless this full signature was already reduced for this env and symptom).
      std::string full_sig = Signature(c->model);
      auto key = std::make_tuple(env, out.symptom, full_sig);
      if (reduced_cache.count(key)) {
        FindingRecord again;  // bumps the count of the finding it reduced to
        again.env = env;
        again.symptom = out.symptom;
        again.signature = reduced_cache[key];
        again.last_seen = NowIso();
        store.RecordFinding(again);
        report(fmt::format("{} {} again (seed {})", env, out.symptom, seed));
        continue;
      }
      Model small = c->model;
      ValueMap small_inputs = c->inputs;
      int original_nodes = c->model.graph().node_size();
      int reduced_nodes = original_nodes;
      int reduce_tests = 0;
      int frozen_inputs = 0;
      // Hangs are not reduced: every candidate could cost a whole timeout.
      if (o.reduce && out.symptom != "perf" && out.symptom != "timeout" && original_nodes > 1) {
        report(fmt::format("reducing {} {} (seed {}, {} nodes)", env, out.symptom, seed,
                           original_nodes));
        EnvRunner probe(env, o.timeout_s);
        std::string symptom = out.symptom;
        auto oracle = [&](const Model& m, const ValueMap& in) {
          Outcome r = probe.Run(m, in);
          if (symptom == "crash" || symptom == "timeout" || symptom == "error") {
            return r.symptom == symptom;
          }
          if (!r.symptom.empty()) return false;
          std::vector<Value> ref_out;
          ValueMap sub_taps = in;
          try {
            ref_out = RunRef(m, in, &sub_taps, nullptr);
          } catch (const Error&) {
            return false;
          }
          if (Disagreement(ref_out, r.outputs, tol).empty()) return false;
          bool undefined = SpecUndefinedReason(m, sub_taps).has_value();
          return (symptom == "undefined") == undefined;
        };
        try {
          ReduceResult rr = ReduceModel(c->model, c->inputs, oracle, {o.reduce_tests});
          small = std::move(rr.model);
          small_inputs = std::move(rr.inputs);
          reduced_nodes = rr.reduced_nodes;
          frozen_inputs = rr.frozen_inputs;
          reduce_tests = rr.tests;
        } catch (const Error& e) {
          report(fmt::format("reduction failed: {}", e.what()));
        }
      }
      FindingRecord f;
      f.env = env;
      f.symptom = out.symptom;
      f.signature = Signature(small);
      f.seed = static_cast<int64_t>(seed);
      f.message = out.message.substr(0, 4000);
      f.versions_json = versions[env];
      f.original_nodes = original_nodes;
      f.reduced_nodes = reduced_nodes;
      std::string bytes;
      small.proto().SerializeToString(&bytes);
      f.model = std::vector<uint8_t>(bytes.begin(), bytes.end());
      {
        std::vector<NamedTensor> arrays;
        for (const auto& [name, v] : small_inputs) {
          if (v.is_tensor()) arrays.push_back({name, v.tensor});
        }
        fs::path npz = o.out_dir / fmt::format(".inputs-{}.npz", getpid());
        try {
          if (!arrays.empty()) {
            WriteNpz(npz.string(), arrays);
            std::string b = ReadFileBytes(npz.string(), 1ull << 31);
            f.inputs = std::vector<uint8_t>(b.begin(), b.end());
          }
        } catch (const std::exception&) {
          // inputs stay in the bundle only
        }
        std::error_code ec;
        fs::remove(npz, ec);
      }
      f.first_seen = f.last_seen = NowIso();
      json details = {{"campaign", o.campaign}, {"full_signature", full_sig},
                      {"reduce_tests", reduce_tests},
                      {"tolerance", {{"rtol", tol.rtol}, {"atol", tol.atol}}}};
      f.details_json = details.dump();
      int64_t id = 0;
      bool is_new = store.RecordFinding(f, &id);
      reduced_cache[key] = f.signature;
      if (!is_new) {
        report(fmt::format("{} {} [{}] again (seed {})", env, out.symptom, f.signature, seed));
        continue;
      }
      ++summary.distinct;
      ++prog.distinct;
      summary.new_finding_ids.push_back(id);
      // The bundle: rerun the reduced model on ref and the env for expected/actual outputs.
      std::vector<Value> expected, actual;
      try {
        expected = RunRef(small, small_inputs, nullptr, nullptr);
      } catch (const Error&) {
      }
      if (out.symptom != "crash" && out.symptom != "timeout") {
        EnvRunner again(env, o.timeout_s);
        actual = again.Run(small, small_inputs).outputs;
      }
      fs::path dir = o.out_dir / fmt::format("{:04d}-{}-{}", id, SafeName(env), out.symptom);
      json fj = {{"id", id}, {"env", env}, {"symptom", out.symptom}, {"signature", f.signature},
                 {"seed", seed}, {"message", f.message}, {"versions", json::parse(f.versions_json)},
                 {"original_nodes", original_nodes}, {"reduced_nodes", reduced_nodes},
                 {"frozen_inputs", frozen_inputs},
                 {"details", details}};
      try {
        WriteBundle(dir, env, out.symptom, fj, small, small_inputs, expected, actual, o.out_dir);
        store.SetFindingBundle(id, dir.string());
      } catch (const std::exception& e) {
        report(fmt::format("could not write the bundle {}: {}", dir.string(), e.what()));
      }
      report(fmt::format("NEW {} {} [{}] {}->{} nodes", env, out.symptom, f.signature,
                         original_nodes, reduced_nodes));
    }
    report("");
    tick(false);
  }
  tick(true);
  summary.seconds = SecondsSince(t0);
  return summary;
}

std::map<std::string, OpDtypeSet> InferOpSupport(
    const std::vector<std::string>& envs, const std::vector<std::string>& ops,
    const std::vector<std::string>& dtypes, const SupportCaseFn& make_case, Store& store,
    double timeout_s, const std::function<void(const std::string&)>& log) {
  std::map<std::string, OpDtypeSet> unsupported;
  std::vector<EnvRunner> runners;
  for (const auto& e : envs) {
    unsupported[e];  // every env has a set, empty when it runs every pair
    runners.emplace_back(e, timeout_s);
  }
  for (const auto& op : ops) {
    for (const auto& dt : dtypes) {
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
        std::string status = out.symptom.empty() ? "ok"
                             : out.symptom == "unsupported" ? "unsupported"
                                                            : "error";
        if (status != "ok") {
          unsupported[r.env()].insert({op, dt});
          rejected_by.push_back(r.env());
        }
        store.SetOpSupport({r.env(), op, dt, status, out.message.substr(0, 500)});
      }
      if (log) {
        log(rejected_by.empty()
                ? fmt::format("{} {}: ok everywhere", op, dt)
                : fmt::format("{} {}: not on {}", op, dt, fmt::join(rejected_by, ", ")));
      }
    }
  }
  return unsupported;
}

}  // namespace concord
