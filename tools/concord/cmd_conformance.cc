// concord conformance: run a suite in ONNX's backend-test layout on one environment.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>

#include "campaign/conformance.h"
#include "compare/compare.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

struct ConfArgs {
  std::string suite;
  std::string env = "ref";
  std::string filter;
  int jobs = 1;
  double progress_every = 5;
  bool json = false;
  bool verbose = false;
};

using Clock = std::chrono::steady_clock;

// Progress on stderr: on a terminal one line rewritten per case; otherwise (logs, CI) a line
// "progress D/T cases, Ns" at most every `every_s` seconds (0: after every case) and at the end.
class ProgressLine {
 public:
  ProgressLine(bool tty, double every_s) : tty_(tty), every_s_(every_s) {}
  void Update(const CaseResult& r, size_t done, size_t total) {
    if (tty_) {
      std::cerr << fmt::format("\r\033[K[{}/{}] {}", done, total, r.name) << std::flush;
      if (done == total) std::cerr << "\r\033[K" << std::flush;
      return;
    }
    double now = Seconds(Clock::now() - start_);
    if (done < total && now - last_ < every_s_) return;
    last_ = now;
    std::cerr << fmt::format("progress {}/{} cases, {:.0f}s\n", done, total, now) << std::flush;
  }
  void ClearLine() const {
    if (tty_) std::cerr << "\r\033[K";
  }

 private:
  static double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
  bool tty_;
  double every_s_;
  Clock::time_point start_ = Clock::now();
  double last_ = 0;
};

int ConformanceMain(const ConfArgs& a) {
  ConformanceOptions opts;
  opts.suite_dir = a.suite;
  opts.env = EnvSpec::Parse(a.env);
  opts.filter = a.filter;
  opts.jobs = a.jobs;
  ProgressLine line(isatty(STDERR_FILENO), a.progress_every);
  opts.progress = [&](const CaseResult& r, size_t i, size_t n) {
    line.Update(r, i + 1, n);
    if (!a.json && (r.status != "pass" || a.verbose)) {
      line.ClearLine();
      std::string label = r.status == "error" ? "ERROR" : r.status == "fail" ? "FAIL" : r.status;
      std::cout << fmt::format("{:<5} {:<55} {}\n", label, r.name, r.reason) << std::flush;
    }
  };
  SuiteResult res = RunConformance(opts);
  if (a.json) {
    nlohmann::json j = res.ToJson();
    j["headline"] = res.Headline();
    j["tolerance"] = {{"rtol", Tolerance{}.rtol},
                      {"atol", Tolerance{}.atol},
                      {"overrides", "per case, src/campaign/conformance_table.cc"}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("suite {} on {}: {}\n", res.suite, res.env, res.Headline());
    std::map<std::string, int> classes;
    for (const auto& c : res.cases) {
      if (!c.reason_class.empty()) ++classes[c.reason_class];
    }
    if (!classes.empty()) {
      std::string text;
      for (const auto& [k, n] : classes)
        text += fmt::format("{}{} {}", text.empty() ? "" : ", ", n, k);
      std::cout << "not passed by class: " << text << "\n";
    }
    std::cout << fmt::format(
        "tolerance rtol {:g}, atol {:g} (ONNX backend-test default; per-case "
        "overrides in src/campaign/conformance_table.cc)\n",
        Tolerance{}.rtol, Tolerance{}.atol);
  }
  return res.failed == 0 ? kExitOk : kExitDiverged;
}

}  // namespace

Command MakeConformanceCommand(CLI::App& root) {
  auto args = std::make_shared<ConfArgs>();
  CLI::App* app = root.add_subcommand(
      "conformance",
      "Run an ONNX backend-test suite (CASE/model.onnx + test_data_set_*) on an environment");
  app->footer(
      "Tolerance: ONNX's defaults rtol=1e-3, atol=1e-7; per-case overrides and skips live in one\n"
      "table (src/campaign/conformance_table.cc), each with its reason. Skipped cases are counted\n"
      "apart: the pass rate is over the cases that ran. --jobs N runs N cases at once (in-process\n"
      "envs then run each case in a worker process). Progress goes to stderr.\n"
      "Exit code 0 only if no case failed.\n"
      "Example: concord conformance --suite node-1.23 --filter '^test_conv'");
  std::string names;
  for (const auto& s : NamedSuites()) names += fmt::format("\n  {:<18} {}", s.name, s.dir);
  app->add_option("--suite,-s", args->suite,
                  "Suite folder holding one folder per case, or a suite name:" + names)
      ->required();
  AddEnvOption(app, &args->env);
  app->add_option("--filter,-f", args->filter, "Only cases whose name matches this regex");
  app->add_flag("--verbose,-v", args->verbose, "Also list passing cases");
  app->add_option("--jobs,-j", args->jobs, "Cases run at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app->add_option(
         "--progress-every", args->progress_every,
         "Seconds between progress lines on stderr when it is not a terminal (0: every case)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  AddOutputOptions(app, &args->json);
  return {app, [args] { return ConformanceMain(*args); }};
}

}  // namespace concord::cli
