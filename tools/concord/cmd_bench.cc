// concord bench: latency of one model on several environments, side by side, with ratios
// against the first env measured in the same process (onnxruntime_perf_test, benchmark_app).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "backends/env.h"
#include "backends/outcome.h"
#include "campaign/bench.h"
#include "ir/json_number.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  std::vector<std::string> envs = {"ref"};
  InputRequest inputs;
  std::string save_inputs;
  int warmup = 2;
  int repeat = 10;
  double time_s = 0;
  bool sequential = false;
  int block = 10;
  bool json = false;
};

struct EnvBench : Outcome {
  EnvSpec spec;
  BenchResult result;
  SampleStats run, wall;
  // Per-call overhead: wall - run of each timed run (IPC, serialization, the worker's Python),
  // and its median as a percentage of the median run time.
  SampleStats overhead;
  double overhead_pct = 0;
  // Where the runtime reports its own timing (ort,profile=1): (median run - median runtime's
  // own) / median runtime's own, i.e. what the harness adds to the latency it reports.
  SampleStats runtime;
  double harness_vs_runtime_pct = NAN;
  // wall - the runtime's own time, per run, where the runtime reports one.
  SampleStats overhead_vs_runtime;
  double overhead_vs_runtime_pct = NAN;
  double throughput = 0;  // inferences per second, from the median run time
};

nlohmann::json StatsJson(const SampleStats& s) {
  return {{"n", s.n},
          {"min", JsonNumber(s.min)},
          {"median", JsonNumber(s.median)},
          {"mean", JsonNumber(s.mean)},
          {"p90", JsonNumber(s.p90)},
          {"p99", JsonNumber(s.p99)},
          {"max", JsonNumber(s.max)},
          {"std", JsonNumber(s.std)},
          {"median_ci", {JsonNumber(s.median_ci_low), JsonNumber(s.median_ci_high)}},
          {"ci_coverage", JsonNumber(s.ci_coverage)}};
}

// Progress on stderr, only when it is a terminal; redrawn at most ten times a second.
class Progress {
 public:
  Progress() : tty_(isatty(STDERR_FILENO) != 0) {}
  void Update(size_t env, size_t envs, const std::string& name, const char* phase, int done,
              int planned) {
    if (!tty_) {
      return;
    }
    auto now = Clock::now();
    if (done != planned && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    std::string count = planned > 0 ? fmt::format("{}/{}", done, planned) : fmt::format("{}", done);
    std::cerr << fmt::format("\r\033[K[{}/{}] {}: {} {}", env + 1, envs, name, phase, count)
              << std::flush;
  }
  void Clear() {
    if (tty_) {
      std::cerr << "\r\033[K" << std::flush;
    }
  }

 private:
  bool tty_;
  Clock::time_point last_{};
};

// a[i] - b[i] over the common length; the last b.size() of a when b is shorter (the runtime's
// own timing covers the last runs).
std::vector<double> PerRunDifference(const std::vector<double>& a, const std::vector<double>& b) {
  size_t n = std::min(a.size(), b.size());
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = a[a.size() - n + i] - b[b.size() - n + i];
  return out;
}

std::string Ratio(double v) { return std::isfinite(v) ? fmt::format("{:.2f}x", v) : "n/a"; }

void PrintText(const BenchArgs& a, const std::vector<EnvBench>& envs,
               const std::string& inputs_line) {
  std::cout << fmt::format("model   {}\n", a.model);
  std::cout << fmt::format("inputs  {}\n", inputs_line);
  std::cout << fmt::format(
      "runs    warm-up {}, then {}; times in ms, backend-measured (run), wall around "
      "Session::Run (wall)\n\n",
      a.warmup,
      a.time_s > 0 ? fmt::format("timed runs for {:g} s", a.time_s)
                   : fmt::format("{} timed runs", a.repeat));
  std::cout << fmt::format(
      "{:<4} {:<28} {:>10} {:>10} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>21}\n", "",
      "env", "prepare", "first run", "runs", "min", "median", "mean", "p90", "p99", "max", "std",
      "median 95% CI");
  for (size_t i = 0; i < envs.size(); ++i) {
    const EnvBench& e = envs[i];
    std::string id = fmt::format("[{}]", i);
    if (!e.ok) {
      std::cout << fmt::format("{:<4} {:<28} FAILED  {}\n", id, e.spec.ToString(), e.error);
      continue;
    }
    const SampleStats& s = e.run;
    std::string ci =
        fmt::format("[{:.3f}, {:.3f}]{}", s.median_ci_low, s.median_ci_high,
                    s.ci_coverage < 0.95 ? fmt::format(" {:.0f}%", 100 * s.ci_coverage) : "");
    std::cout << fmt::format(
        "{:<4} {:<28} {:>10.3f} {:>10.3f} {:>6} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} "
        "{:>9.3f} {:>8.3f} {:>21}\n",
        id, e.result.effective_env, e.result.prepare_ms, e.result.first_run_ms, s.n, s.min,
        s.median, s.mean, s.p90, s.p99, s.max, s.std, ci);
  }
  const EnvBench& first = envs.front();
  std::cout << fmt::format("\n{:<4} {:<28} {:>12} {:>12} {:>11} {:>13} {:>12} {:>11} {:>14}\n", "",
                           "env", "median wall", "overhead ms", "overhead", "transport", "vs [0]",
                           "infer/s", "infer/s vs [0]");
  for (size_t i = 0; i < envs.size(); ++i) {
    const EnvBench& e = envs[i];
    if (!e.ok) {
      continue;
    }
    double ratio = first.ok ? e.run.median / first.run.median : NAN;
    double tratio = first.ok ? e.throughput / first.throughput : NAN;
    std::cout << fmt::format(
        "{:<4} {:<28} {:>12.3f} {:>12.3f} {:>10.2f}% {:>13} {:>12} {:>11.1f} {:>14}\n",
        fmt::format("[{}]", i), e.result.effective_env, e.wall.median, e.overhead.median,
        e.overhead_pct, e.result.transport, Ratio(ratio), e.throughput, Ratio(tratio));
  }
  for (size_t i = 0; i < envs.size(); ++i) {
    const EnvBench& e = envs[i];
    if (e.ok && !e.result.runtime_ms.empty()) {
      std::cout << fmt::format(
          "[{}] runtime's own timing ({}): median {:.3f} ms over {} runs; reported latency is "
          "{:+.2f}% of it; wall is {:.3f} ms ({:+.2f}%) above it\n",
          i, e.result.runtime_timer, e.runtime.median, e.runtime.n, e.harness_vs_runtime_pct,
          e.overhead_vs_runtime.median, e.overhead_vs_runtime_pct);
    }
  }
  std::cout << "\n(vs [0]: median / median of [0], > 1 is slower; 95% CI of the median from order "
               "statistics)\n";
}

int BenchMain(const BenchArgs& a) {
  std::vector<EnvSpec> specs = ParseEnvList(a.envs);
  ValidateEnvs(specs);  // every env checked before the first one runs
  // A framework model's signature comes from the first env's worker; that session is closed so
  // every env's prepare time is measured the same way, on a fresh session.
  OpenedModel opened = OpenModel(a.model, specs);
  opened.session.reset();
  const Model& model = opened.model;
  std::vector<InputSet> sets = LoadInputSets(model, a.inputs);
  if (a.save_inputs == kSaveToOut) {
    Fail(ErrorKind::kUsage, "bench has no --out: give --save-inputs a folder");
  }
  if (!a.save_inputs.empty()) SaveInputSets(model, sets, a.save_inputs);
  // One set is timed; with several, the first (and the output says so).
  const ValueMap& inputs = sets[0].inputs;
  const std::vector<std::string>& generated = sets[0].generated;
  std::string inputs_line = sets.size() > 1 ? fmt::format("{}: the first set, {}, is timed",
                                                          DescribeInputSets(sets), sets[0].origin)
                                            : sets[0].origin;
  for (const auto& d : sets[0].defaulted) {
    inputs_line += fmt::format("\n        {} (use --input-shapes)", d);
  }
  BenchOptions options;
  options.warmup = a.warmup;
  options.repeat = a.repeat;
  options.time_s = a.time_s;
  options.block = a.block;
  Progress progress;
  std::vector<EnvBench> envs;
  std::vector<Outcome> outcomes(specs.size());
  std::vector<BenchResult> results(specs.size());
  if (specs.size() > 1 && !a.sequential) {
    outcomes = BenchEnvsInterleaved(
        model, specs, inputs, options, &results,
        [&](size_t i, const char* phase, int done, int planned) {
          std::string name = i < specs.size() ? specs[i].ToString() : "every env, one run each";
          progress.Update(std::min(i, specs.size() - 1), specs.size(), name, phase, done, planned);
        });
    progress.Clear();
  } else {
    for (size_t i = 0; i < specs.size(); ++i) {
      std::string name = specs[i].ToString();
      outcomes[i] = Capture([&] {
        results[i] = BenchEnv(model, specs[i], inputs, options,
                              [&](const char* phase, int done, int planned) {
                                progress.Update(i, specs.size(), name, phase, done, planned);
                              });
      });
      progress.Clear();
    }
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    EnvBench e;
    e.spec = specs[i];
    static_cast<Outcome&>(e) = outcomes[i];
    e.result = std::move(results[i]);
    if (e.ok) {
      e.run = Summarize(e.result.run_ms);
      e.wall = Summarize(e.result.wall_ms);
      e.overhead = Summarize(PerRunDifference(e.result.wall_ms, e.result.run_ms));
      e.overhead_pct = e.run.median > 0 ? 100 * e.overhead.median / e.run.median : NAN;
      e.throughput = e.run.median > 0 ? 1000 / e.run.median : NAN;
      if (!e.result.runtime_ms.empty()) {
        e.runtime = Summarize(e.result.runtime_ms);
        e.harness_vs_runtime_pct =
            e.runtime.median > 0 ? 100 * (e.run.median - e.runtime.median) / e.runtime.median : NAN;
        e.overhead_vs_runtime = Summarize(PerRunDifference(e.result.wall_ms, e.result.runtime_ms));
        e.overhead_vs_runtime_pct =
            e.runtime.median > 0 ? 100 * e.overhead_vs_runtime.median / e.runtime.median : NAN;
      }
    }
    envs.push_back(std::move(e));
  }
  int code = ExitCodeFor(envs, /*diverged=*/false);
  if (!a.json) {
    PrintText(a, envs, inputs_line);
    return code;
  }
  nlohmann::json rec;
  rec["model"] = a.model;
  rec["seed"] = a.inputs.seed;
  rec["generated_inputs"] = generated;
  rec["input_sets"] = InputSetsJson(sets);
  rec["timed_input_set"] = sets[0].origin;
  if (!a.save_inputs.empty()) rec["saved_inputs"] = a.save_inputs;
  rec["warmup"] = a.warmup;
  rec["repeat"] = a.time_s > 0 ? nlohmann::json() : nlohmann::json(a.repeat);
  rec["schedule"] = specs.size() > 1 && !a.sequential ? "round-robin" : "sequential";
  rec["time_s"] = a.time_s > 0 ? nlohmann::json(a.time_s) : nlohmann::json();
  rec["envs"] = nlohmann::json::array();
  const EnvBench& first = envs.front();
  for (const auto& e : envs) {
    nlohmann::json j = {{"env", e.spec.ToString()},
                        {"ok", e.ok},
                        {"error", e.ok ? nlohmann::json() : nlohmann::json(e.error)}};
    if (!e.ok) {
      j["error_kind"] = ErrorKindName(e.error_kind);
      rec["envs"].push_back(j);
      continue;
    }
    j["effective_env"] = e.result.effective_env;
    j["prepare_ms"] = e.result.prepare_ms;
    j["first_run"] = {{"run_ms", e.result.first_run_ms}, {"wall_ms", e.result.first_wall_ms}};
    j["run_ms"] = StatsJson(e.run);
    j["wall_ms"] = StatsJson(e.wall);
    j["overhead_ms"] = StatsJson(e.overhead);
    j["overhead_pct"] = JsonNumber(e.overhead_pct);
    j["transport"] = e.result.transport;
    if (!e.result.runtime_ms.empty()) {
      j["runtime_own_ms"] = StatsJson(e.runtime);
      j["runtime_timer"] = e.result.runtime_timer;
      j["harness_vs_runtime_pct"] = JsonNumber(e.harness_vs_runtime_pct);
      j["overhead_vs_runtime_ms"] = StatsJson(e.overhead_vs_runtime);
      j["overhead_vs_runtime_pct"] = JsonNumber(e.overhead_vs_runtime_pct);
    }
    j["throughput_per_s"] = JsonNumber(e.throughput);
    j["ratio_vs_first"] = first.ok ? JsonNumber(e.run.median / first.run.median) : nlohmann::json();
    j["throughput_ratio_vs_first"] =
        first.ok ? JsonNumber(e.throughput / first.throughput) : nlohmann::json();
    j["samples_run_ms"] = e.result.run_ms;
    j["samples_wall_ms"] = e.result.wall_ms;
    rec["envs"].push_back(j);
  }
  rec["ok"] = code == kExitOk;
  std::cout << rec.dump(2) << "\n";
  return code;
}

}  // namespace

Command MakeBenchCommand(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* app =
      root.add_subcommand("bench", "Benchmark one model on several environments side by side");
  app->footer(
      "Per env: Prepare (timed), the first inference (reported on its own), --warmup untimed "
      "runs,\n"
      "then --repeat timed runs or as many as fit in --time seconds (each env's own budget).\n"
      "The timed runs go round-robin in blocks (per round and env: one untimed run, then --block\n"
      "timed ones), so that whatever else the machine does meanwhile affects every env alike\n"
      "(--sequential: each env's runs in one block, one env after the other). Inputs are bound "
      "once (a worker gets them in shared\n"
      "memory once) and, for an env whose threads= leaves a core free, the reply of an\n"
      "out-of-process runtime is awaited awake. Statistics use the time the\n"
      "backend measured around the framework call; the wall time around Session::Run is shown too\n"
      "(overhead: the median of wall - run per run, in ms and as % of the median run; transport:\n"
      "how tensors reached the runtime: shared memory, pipe, or in process). Ratios compare each\n"
      "env with the FIRST env.\n"
      "Exit: 0 every env ran, 1 an env failed at run time, 2 usage/input error.\n"
      "Example: concord bench model.onnx --envs \"ort@cpu,threads=1;ort@cpu,threads=4\" --time 5");
  app->add_option("model", args->model,
                  "Model file: ONNX, or a framework model (.pt, .pt2, .tflite, .xml, .keras, "
                  "SavedModel) when every env runs its format")
      ->required();
  AddEnvListOption(app, &args->envs, "Environments; the first is the baseline")
      ->capture_default_str();
  AddInputOptions(app, &args->inputs);
  AddSaveInputsOption(app, &args->save_inputs);
  app->add_option("--warmup", args->warmup, "Untimed runs after the first one")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  auto* repeat = app->add_option("--repeat,-r", args->repeat, "Timed runs")
                     ->capture_default_str()
                     ->check(CLI::Range(1, 1000000));
  auto* time =
      app->add_option("--time,-t", args->time_s, "Run timed runs for this many seconds instead")
          ->check(CLI::Range(0.001, 86400.0));
  repeat->excludes(time);
  app->add_flag("--sequential", args->sequential,
                "Each env's timed runs in one block, env after env (default: round-robin)");
  app->add_option("--block", args->block, "Round-robin: timed runs of one env per round")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  AddOutputOptions(app, &args->json);
  return {app, [args] { return BenchMain(*args); }};
}

}  // namespace concord::cli
