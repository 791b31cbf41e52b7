// Timing statistics against hand-computed values (numpy.percentile's linear rule, the
// binomial order-statistic interval of the median), and BenchEnv on the real ref backend.
#include "campaign/bench.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backends/env.h"

namespace concord {
namespace {

TEST(BenchStats, PercentilesOfOneToTen) {
  SampleStats s = Summarize({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(s.n, 10u);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_NEAR(s.p90, 9.1, 1e-12);                  // index 0.9 * 9 = 8.1 -> 9 + 0.1
  EXPECT_NEAR(s.p99, 9.91, 1e-12);                 // index 8.91 -> 9 + 0.91
  EXPECT_NEAR(s.std, std::sqrt(82.5 / 9), 1e-12);  // sum of squares 82.5, n - 1 = 9
  // P(2 <= B <= 8), B ~ Bin(10, 1/2) = 1 - 2 * (1 + 10) / 1024; l = 3 would give 0.89.
  EXPECT_DOUBLE_EQ(s.median_ci_low, 2);
  EXPECT_DOUBLE_EQ(s.median_ci_high, 9);
  EXPECT_DOUBLE_EQ(s.ci_coverage, 1 - 22.0 / 1024);
}

TEST(BenchStats, OddSampleAndSmallSamples) {
  SampleStats s = Summarize({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_NEAR(s.p90, 4.6, 1e-12);  // index 3.6
  EXPECT_NEAR(s.std, std::sqrt(2.5), 1e-12);
  // n = 5 cannot reach 95%: the widest interval, coverage 1 - 2/32.
  EXPECT_DOUBLE_EQ(s.median_ci_low, 1);
  EXPECT_DOUBLE_EQ(s.median_ci_high, 5);
  EXPECT_DOUBLE_EQ(s.ci_coverage, 0.9375);
  MedianCiRanks six = MedianCi(6, 0.95);  // 1 - 2/64 >= 0.95; l = 2 gives 1 - 14/64
  EXPECT_EQ(six.lower, 1u);
  EXPECT_EQ(six.upper, 6u);
  EXPECT_DOUBLE_EQ(six.coverage, 1 - 2.0 / 64);
  SampleStats one = Summarize({7});
  EXPECT_DOUBLE_EQ(one.median, 7);
  EXPECT_DOUBLE_EQ(one.std, 0);
  EXPECT_DOUBLE_EQ(one.ci_coverage, 0);
  EXPECT_TRUE(std::isnan(Summarize({}).median));
}

TEST(BenchStats, LargeSampleCiIsNarrowAndValid) {
  // n = 100: the classic table gives ranks 40 and 61 for 95% (coverage 0.9648).
  MedianCiRanks r = MedianCi(100, 0.95);
  EXPECT_EQ(r.lower, 40u);
  EXPECT_EQ(r.upper, 61u);
  EXPECT_NEAR(r.coverage, 0.9648, 1e-4);
  MedianCiRanks big = MedianCi(100000, 0.95);  // no overflow; ~ n/2 -+ 1.96 sqrt(n)/2
  EXPECT_NEAR(static_cast<double>(big.lower), 50000 - 1.96 * std::sqrt(100000.0) / 2, 3);
  EXPECT_GE(big.coverage, 0.95);
}

TEST(BenchEnv, RepeatAndTimeBudgetOnRef) {
  std::string path = "examples/tiny_cnn/model.onnx";  // tests run in the source directory
  Model model = Model::Load(path);
  ValueMap inputs;
  for (const auto& in : model.Inputs()) inputs[in.name] = Tensor(in.dtype, in.shape);
  BenchOptions opt;
  opt.warmup = 1;
  opt.repeat = 4;
  int timed_calls = 0;
  BenchResult r =
      BenchEnv(model, EnvSpec::Parse("ref,threads=1"), inputs, opt,
               [&](const char* phase, int, int) { timed_calls += std::string(phase) == "timed"; });
  EXPECT_EQ(r.run_ms.size(), 4u);
  EXPECT_EQ(r.wall_ms.size(), 4u);
  EXPECT_EQ(timed_calls, 4);
  EXPECT_EQ(r.effective_env, "ref@cpu,threads=1");
  for (size_t i = 0; i < r.run_ms.size(); ++i) {
    EXPECT_GT(r.run_ms[i], 0);
    EXPECT_GE(r.wall_ms[i], r.run_ms[i]);  // the wall clock encloses the backend's own timing
  }
  opt.time_s = 0.05;
  r = BenchEnv(model, EnvSpec::Parse("ref"), inputs, opt);
  EXPECT_GE(r.run_ms.size(), 1u);
  double spent = 0;
  for (double w : r.wall_ms) spent += w;
  EXPECT_GE(spent, 50.0);
  EXPECT_THROW(BenchEnv(model, EnvSpec::Parse("ref,bogus=1"), inputs, opt), Error);
}

// Round-robin in blocks: each env gets exactly its count (7 in blocks of 3), every round lists
// every env still running, and an env that cannot prepare gets its error while the others run.
TEST(BenchEnvsInterleaved, EveryEnvGetsItsRunsAndAFailureStaysItsOwn) {
  Model model = Model::Load("examples/tiny_cnn/model.onnx");
  ValueMap inputs;
  for (const auto& in : model.Inputs()) inputs[in.name] = Tensor(in.dtype, in.shape);
  BenchOptions opt;
  opt.warmup = 1;
  opt.repeat = 7;
  opt.block = 3;
  std::vector<EnvSpec> envs = {EnvSpec::Parse("ref,threads=1"), EnvSpec::Parse("ref,bogus=1"),
                               EnvSpec::Parse("ref,threads=2")};
  std::vector<BenchResult> results;
  int rounds = 0;
  std::vector<Outcome> o = BenchEnvsInterleaved(
      model, envs, inputs, opt, &results, [&](size_t env, const char* phase, int, int) {
        rounds += env == envs.size() && std::string(phase) == "timed";
      });
  ASSERT_EQ(o.size(), 3u);
  EXPECT_TRUE(o[0].ok) << o[0].error;
  EXPECT_FALSE(o[1].ok);
  EXPECT_EQ(o[1].error_kind, ErrorKind::kUsage);
  EXPECT_TRUE(o[2].ok) << o[2].error;
  for (size_t i : {size_t{0}, size_t{2}}) {
    EXPECT_EQ(results[i].run_ms.size(), 7u);
    EXPECT_EQ(results[i].wall_ms.size(), 7u);
    EXPECT_EQ(results[i].transport, "in process");
  }
  EXPECT_EQ(rounds, 3);  // 3 + 3 + 1
}

TEST(EnvList, SplitsOnSemicolonsAndKeepsCommasAndSpaces) {
  auto envs = ParseEnvList({"ref; ref,threads=1 ;", "tvm@cpu,opt=3,target=llvm -mcpu=core-avx2"});
  ASSERT_EQ(envs.size(), 3u);
  EXPECT_EQ(envs[0].ToString(), "ref@cpu");
  EXPECT_EQ(envs[1].ToString(), "ref@cpu,threads=1");
  EXPECT_EQ(envs[2].Get("target"), "llvm -mcpu=core-avx2");
  EXPECT_THROW(ParseEnvList({";  ;"}), Error);
  try {
    ParseEnvList({"ref;ref,opt=9"});
    FAIL() << "opt=9 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("item 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concord
