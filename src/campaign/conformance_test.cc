// RunConformance on Debian's ONNX test data: jobs > 1 gives the same per-case verdicts, in suite
// order, as one job; the headline and JSON count skips apart from failures.
#include "campaign/conformance.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace concord {
namespace {

constexpr const char* kNodeSuite = "/usr/share/libonnx-testdata/data/node";

TEST(Conformance, ParallelJobsGiveTheSameVerdictsInSuiteOrder) {
  ::setenv("CONCORD_WORKER_BIN", CONCORD_BIN, 1);  // isolate=1 workers are the concord binary
  ConformanceOptions opts;
  opts.suite_dir = kNodeSuite;
  opts.env = EnvSpec::Parse("ref");
  opts.filter = "^test_(abs|bernoulli|conv_with|relu|sum)";
  SuiteResult one = RunConformance(opts);
  opts.jobs = 3;
  size_t calls = 0;
  opts.progress = [&](const CaseResult&, size_t done, size_t total) {
    EXPECT_EQ(done, calls++);
    EXPECT_LT(done, total);
  };
  SuiteResult three = RunConformance(opts);
  ASSERT_EQ(one.cases.size(), three.cases.size());
  EXPECT_EQ(calls, three.cases.size());
  for (size_t i = 0; i < one.cases.size(); ++i) {
    EXPECT_EQ(one.cases[i].name, three.cases[i].name);
    EXPECT_EQ(one.cases[i].status, three.cases[i].status) << one.cases[i].name;
  }
  EXPECT_EQ(three.env, "ref@cpu,isolate=1");  // in-process envs run as worker processes
  EXPECT_GT(one.skipped, 0);                  // the bernoulli cases
  EXPECT_GT(one.passed, 0);
  EXPECT_EQ(one.failed, 0);
}

TEST(Conformance, HeadlineAndJsonKeepSkipsApartFromFailures) {
  SuiteResult r;
  r.passed = 8;
  r.failed = 2;
  r.skipped = 5;
  EXPECT_EQ(r.Headline(), "8 passed, 2 failed, 5 skipped of 15 (80.0% of the 10 that ran)");
  SuiteResult skips_only;
  skips_only.skipped = 3;
  EXPECT_EQ(skips_only.Headline(), "0 passed, 0 failed, 3 skipped of 3 (none ran)");
  nlohmann::json j = r.ToJson();
  EXPECT_DOUBLE_EQ(j["pass_rate"].get<double>(), 0.8);
  EXPECT_EQ(j["skipped"], 5);
  EXPECT_TRUE(SuiteResult{}.ToJson()["pass_rate"].is_null());
}

}  // namespace
}  // namespace concord
