// Conformance: runs every case of a suite in ONNX's backend-test layout on one environment
// and checks outputs against the suite's expected outputs.
//
// Tolerances are ONNX's defaults (rtol 1e-3, atol 1e-7) unless the override table in
// conformance_table.cc names the case (each entry says why). Cases listed there as skipped are
// reported as "skip" with the written reason; the headline's pass rate is over the cases that
// ran (skips are shown apart, never as failures). A case is "error" when loading or running it
// threw (the message is the reason), "fail" when it ran and an output differs. Nothing thrown
// by one case stops the suite.
//
// With jobs > 1, cases run concurrently, each in its own session: envs that run in process
// (ref, opencv) then get isolate=1, so every job is a worker process and a crash stays one case.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/env.h"
#include "compare/compare.h"

namespace concord {

struct CaseResult {
  std::string name;
  std::string status;  // pass | fail | skip | error
  // Why it did not pass, for triage of third-party runtimes: wrong_result (ran, numbers or
  // shapes differ), unsupported (the env refused the model/op), crash (the worker died),
  // timeout, input (the case's own files are unusable), error (anything else). Empty on pass.
  std::string reason_class;
  std::string reason;
  double ms = 0;
};

struct SuiteResult {
  std::string suite;
  std::string env;
  int passed = 0;
  int failed = 0;  // fail + error
  int skipped = 0;
  std::vector<CaseResult> cases;  // in suite order (also with jobs > 1)

  // "P passed, F failed, S skipped of T (Q% of the R that ran)" with R = P + F, T = R + S;
  // "(none ran)" when R = 0.
  std::string Headline() const;
  // {"suite","env","passed","failed","skipped","pass_rate","cases":[{"name","status","class",
  //  "reason","ms"}]}; pass_rate is over the cases that ran (null when none ran).
  nlohmann::json ToJson() const;
};

struct ConformanceOptions {
  std::string suite_dir;
  EnvSpec env;
  std::string filter;  // ECMAScript regex searched in the case name; empty = all
  int jobs = 1;        // cases run at once (see the file comment)
  // Called after each case, in completion order, one call at a time: (result, done, total).
  std::function<void(const CaseResult&, size_t, size_t)> progress;
};

// suite_dir is a folder or the name of a suite (ResolveSuite); SuiteResult::suite keeps it as
// given. Error(kInput) when it is neither, or has no cases.
SuiteResult RunConformance(const ConformanceOptions& options);

// Suites known by name: ONNX 1.12's backend test data from Debian's libonnx-testdata ("node",
// "pytorch-converted", "pytorch-operator", "simple") and the node suite the build generates from
// the pinned onnx package with scripts/make_node_suite.py ("node-1.23", in the build folder), and
// ONNX Runtime's outputs for the ai.onnx.ml and com.microsoft ops that suite leaves out
// (scripts/make_ort_ops_suite.py: "ort-ops", in the build folder).
struct NamedSuite {
  std::string name;
  std::string dir;
  std::string origin;  // where the folder comes from, for messages and --help
};
const std::vector<NamedSuite>& NamedSuites();
// An existing folder as given, else the folder of the named suite. Error(kInput) listing the
// known names when it is neither, or saying how to make a named suite whose folder is missing.
std::string ResolveSuite(const std::string& name_or_dir);

// Per-case tolerance override or skip (see conformance_table.cc).
struct CaseRule {
  const char* suite;  // "*" or a suite name (NamedSuites; a folder given by path matches its name)
  const char* backend;  // "*" or a backend name
  const char* pattern;  // regex matched against the whole case name
  bool skip;
  double rtol;
  double atol;
  const char* reason;
};
const std::vector<CaseRule>& ConformanceRules();

}  // namespace concord
