// concord conformance: run a suite in ONNX's backend-test layout on one environment.
#include <unistd.h>

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
  bool json = false;
  bool verbose = false;
};

int ConformanceMain(const ConfArgs& a) {
  ConformanceOptions opts;
  opts.suite_dir = a.suite;
  opts.env = EnvSpec::Parse(a.env);
  opts.filter = a.filter;
  bool tty = isatty(STDERR_FILENO);
  opts.progress = [&](const CaseResult& r, size_t i, size_t n) {
    if (tty) {
      std::cerr << fmt::format("\r\033[K[{}/{}] {}", i + 1, n, r.name) << std::flush;
      if (i + 1 == n) std::cerr << "\r\033[K" << std::flush;
    }
    if (!a.json && (r.status != "pass" || a.verbose)) {
      if (tty) std::cerr << "\r\033[K";
      std::cout << fmt::format("{:<5} {:<55} {}\n", r.status.substr(0, 4) == "erro" ? "ERROR" : r.status == "fail" ? "FAIL" : r.status == "skip" ? "skip" : "pass", r.name, r.reason)
                << std::flush;
    }
  };
  SuiteResult res = RunConformance(opts);
  if (a.json) {
    nlohmann::json j;
    j["suite"] = res.suite;
    j["env"] = res.env;
    j["passed"] = res.passed;
    j["failed"] = res.failed;
    j["skipped"] = res.skipped;
    j["tolerance"] = {{"rtol", Tolerance{}.rtol}, {"atol", Tolerance{}.atol},
                      {"overrides", "per case, src/campaign/conformance_table.cc"}};
    j["cases"] = nlohmann::json::array();
    for (const auto& c : res.cases) {
      j["cases"].push_back({{"name", c.name}, {"status", c.status}, {"class", c.reason_class},
                            {"reason", c.reason}, {"ms", c.ms}});
    }
    std::cout << j.dump(2) << "\n";
  } else {
    size_t total = res.cases.size();
    std::cout << fmt::format("suite {} on {}: {:.1f}% of {} cases passed\n", res.suite, res.env,
                             total ? 100.0 * res.passed / static_cast<double>(total) : 0.0, total);
    std::map<std::string, int> classes;
    for (const auto& c : res.cases) {
      if (!c.reason_class.empty()) ++classes[c.reason_class];
    }
    if (!classes.empty()) {
      std::string line;
      for (const auto& [k, n] : classes) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, k);
      std::cout << "not passed by class: " << line << "\n";
    }
    std::cout << fmt::format("{} passed, {} failed, {} skipped\n", res.passed, res.failed, res.skipped);
    std::cout << fmt::format("tolerance rtol {:g}, atol {:g} (ONNX backend-test default; per-case "
                             "overrides in src/campaign/conformance_table.cc)\n",
                             Tolerance{}.rtol, Tolerance{}.atol);
  }
  return res.failed == 0 ? kExitOk : kExitDiverged;
}

}  // namespace

Command MakeConformanceCommand(CLI::App& root) {
  auto args = std::make_shared<ConfArgs>();
  CLI::App* app = root.add_subcommand(
      "conformance", "Run an ONNX backend-test suite (CASE/model.onnx + test_data_set_*) on an environment");
  app->footer(
      "Tolerance: ONNX's defaults rtol=1e-3, atol=1e-7; per-case overrides and skips live in one\n"
      "table (src/campaign/conformance_table.cc), each with its reason. Skips count as not passed.\n"
      "Exit code 0 only if no case failed.\n"
      "Example: concord conformance --suite /usr/share/libonnx-testdata/data/node --filter '^test_conv'");
  app->add_option("--suite,-s", args->suite, "Suite folder holding one folder per case")->required();
  AddEnvOption(app, &args->env);
  app->add_option("--filter,-f", args->filter, "Only cases whose name matches this regex");
  app->add_flag("--verbose,-v", args->verbose, "Also list passing cases");
  AddOutputOptions(app, &args->json);
  return {app, [args] {
            return ConformanceMain(*args);
          }};
}

}  // namespace concord::cli
