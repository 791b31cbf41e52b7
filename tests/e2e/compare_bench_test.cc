// End-to-end tests of `concord compare` and `concord bench` on the ref backend: exit codes,
// the N×N JSON contract, failed environments reported while the others still run, and the
// benchmark statistics and ratios.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

const std::string kTinyCnn = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn";

class CompareBenchTest : public ::testing::Test {
 protected:
  std::string P(const std::string& name) { return (dir_ / name).string(); }

  // A valid model whose only node is an op from a custom domain that no backend implements.
  std::string WriteUnsupportedModel() {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* custom = m.add_opset_import();
    custom->set_domain("com.example");
    custom->set_version(1);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto* node = g->add_node();
    node->set_op_type("Frobnicate");
    node->set_domain("com.example");
    node->add_input("x");
    node->add_output("y");
    g->add_input()->set_name("x");
    g->add_output()->set_name("y");
    for (auto* vi : {g->mutable_input(0), g->mutable_output(0)}) {
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto::FLOAT);
      tt->mutable_shape()->add_dim()->set_dim_value(2);
    }
    std::string path = P("unsupported.onnx");
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }
  test::TempDir tmp_{"concord_cmpbench"};
  fs::path dir_ = tmp_.path();
};

TEST_F(CompareBenchTest, Help) {
  for (const char* cmd : {"compare --help", "bench --help"}) {
    CliResult r = RunConcord(cmd);
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("--envs"), std::string::npos) << cmd << r.out;
  }
}

TEST_F(CompareBenchTest, CompareRefThreadsAgreesJsonContract) {
  CliResult r = RunConcord("compare " + kTinyCnn +
                           "/model.onnx --envs 'ref;ref,threads=1;ref,threads=2' --json");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"model", "envs", "pairs", "matrix", "tolerance", "ok"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["ok"].get<bool>());
  ASSERT_EQ(j["envs"].size(), 3u);
  for (const auto& e : j["envs"]) {
    for (const char* key : {"env", "effective_env", "ok", "error", "timing_ms"})
      EXPECT_TRUE(e.contains(key)) << key;
    EXPECT_TRUE(e["ok"].get<bool>());
    EXPECT_TRUE(e["error"].is_null());
    EXPECT_GT(e["timing_ms"]["run"].get<double>(), 0.0);
  }
  EXPECT_EQ(j["envs"][1]["effective_env"], "ref@cpu,threads=1");
  ASSERT_EQ(j["pairs"].size(), 3u);  // (0,1) (0,2) (1,2)
  EXPECT_EQ(j["pairs"][2]["a"], 1);
  EXPECT_EQ(j["pairs"][2]["b"], 2);
  for (const auto& p : j["pairs"]) {
    EXPECT_TRUE(p["ok"].get<bool>());
    ASSERT_EQ(p["outputs"].size(), 1u);
    const auto& o = p["outputs"][0];
    for (const char* key :
         {"name", "ok", "max_abs", "max_rel", "cosine", "mismatches", "nan_agree", "inf_agree",
          "needed_rtol", "needed_atol", "top1_agree", "topk_jaccard", "kendall_tau"}) {
      EXPECT_TRUE(o.contains(key)) << key;
    }
    EXPECT_EQ(o["name"], "probs");
    EXPECT_EQ(o["mismatches"], 0);
    EXPECT_NEAR(o["cosine"].get<double>(), 1.0, 1e-12);
    // tiny_cnn's output is [1, 10] class probabilities: label metrics are present.
    EXPECT_DOUBLE_EQ(o["top1_agree"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(o["topk_jaccard"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(o["kendall_tau"].get<double>(), 1.0);
  }
  EXPECT_EQ(j["matrix"][0][1], "pass");
  EXPECT_EQ(j["matrix"][2][1], "pass");
  EXPECT_TRUE(j["matrix"][1][1].is_null());
}

TEST_F(CompareBenchTest, CompareTextWithGivenInputsAndZeroTolerance) {
  // ref is deterministic whatever its thread count: even atol = rtol = 0 passes. The input file
  // alone: the folder's output_0.pb (computed elsewhere) would be checked at zero tolerance too.
  CliResult r = RunConcord("compare " + kTinyCnn + "/model.onnx --inputs " + kTinyCnn +
                           "/test_data_set_0/input_0.pb --envs 'ref;ref,threads=1' --atol 0 "
                           "--rtol 0 --top-k 3");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("PASS 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top3J"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from --inputs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of 1 compared pairs agree"), std::string::npos) << r.out;
}

TEST_F(CompareBenchTest, FailedEnvIsReportedAndOthersStillCompared) {
  // An env that is valid but fails when it runs (no server on port 1) is recorded; the other
  // pairs are still compared.
  const std::string envs = "'ref;ref,host=127.0.0.1:1;ref,threads=2'";
  CliResult r = RunConcord("compare " + kTinyCnn + "/model.onnx --envs " + envs + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_FALSE(j["envs"][1]["ok"].get<bool>());
  EXPECT_NE(j["envs"][1]["error"].get<std::string>().find("127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(j["envs"][1]["error_kind"], "runtime");
  ASSERT_EQ(j["pairs"].size(), 3u);
  EXPECT_TRUE(j["pairs"][0].contains("skipped"));  // (0,1)
  EXPECT_TRUE(j["pairs"][1]["ok"].get<bool>());    // (0,2) still compared
  EXPECT_EQ(j["pairs"][1]["outputs"].size(), 1u);
  EXPECT_EQ(j["matrix"][0][1], "n/a");
  EXPECT_EQ(j["matrix"][2][0], "pass");
  CliResult text = RunConcord("compare " + kTinyCnn + "/model.onnx --envs " + envs);
  EXPECT_EQ(text.code, 1);
  EXPECT_NE(text.out.find("FAILED  cannot connect to concord serve"), std::string::npos)
      << text.out;
}

TEST_F(CompareBenchTest, InvalidEnvIsAUsageErrorBeforeAnyEnvRuns) {
  for (const char* cmd : {"compare", "bench"}) {
    CliResult r = RunConcord(std::string(cmd) + " " + kTinyCnn +
                             "/model.onnx --envs 'ref;ref,bogus=1;ref,threads=2'");
    EXPECT_EQ(r.code, 2) << cmd << r.err;
    EXPECT_NE(r.err.find("ref does not know option 'bogus'"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("ok"), std::string::npos) << cmd << ": nothing ran\n" << r.out;
  }
}

TEST_F(CompareBenchTest, EnvThatCannotRunTheModelIsADivergence) {
  std::string model = WriteUnsupportedModel();
  CliResult r = RunConcord("compare " + Quote(model) + " --envs 'ref;ref,threads=1' --json");
  EXPECT_EQ(r.code, 1) << r.err << r.out;
  EXPECT_FALSE(r.signaled);
  auto j = nlohmann::json::parse(r.out);
  for (const auto& e : j["envs"]) {
    EXPECT_FALSE(e["ok"].get<bool>());
    EXPECT_NE(e["error"].get<std::string>().find("Frobnicate"), std::string::npos) << e["error"];
  }
  EXPECT_TRUE(j["pairs"][0].contains("skipped"));
}

TEST_F(CompareBenchTest, CompareUsageErrors) {
  std::string model = kTinyCnn + "/model.onnx";
  EXPECT_EQ(RunConcord("compare " + model).code, 2);  // --envs required
  CliResult one = RunConcord("compare " + model + " --envs ref");
  EXPECT_EQ(one.code, 2);
  EXPECT_NE(one.err.find("at least two"), std::string::npos) << one.err;
  CliResult bad = RunConcord("compare " + model + " --envs 'ref;ref,opt=9'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("item 2"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());  // rejected before anything ran
  EXPECT_EQ(RunConcord("compare " + Quote(P("missing.onnx")) + " --envs 'ref;ref'").code, 2);
  EXPECT_EQ(RunConcord("compare " + model + " --envs 'ref;ref' --atol -1").code, 2);
}

TEST_F(CompareBenchTest, BenchRepeatPrintsStatsAndRatios) {
  CliResult r = RunConcord("bench " + kTinyCnn +
                           "/model.onnx --envs 'ref;ref,threads=1' --repeat 5 --warmup 1");
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  for (const char* s :
       {"median", "p99", "median 95% CI", "overhead", "vs [0]", "1.00x", "ref@cpu,threads=1"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
}

TEST_F(CompareBenchTest, BenchJsonContract) {
  CliResult r = RunConcord("bench " + kTinyCnn +
                           "/model.onnx --envs 'ref;ref,threads=1' --repeat 5 --warmup 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["repeat"], 5);
  EXPECT_EQ(j["warmup"], 1);
  EXPECT_TRUE(j["time_s"].is_null());
  ASSERT_EQ(j["envs"].size(), 2u);
  for (const auto& e : j["envs"]) {
    ASSERT_TRUE(e["ok"].get<bool>());
    for (const char* key :
         {"env", "effective_env", "prepare_ms", "first_run", "run_ms", "wall_ms", "overhead_pct",
          "throughput_per_s", "ratio_vs_first", "throughput_ratio_vs_first", "samples_run_ms"}) {
      EXPECT_TRUE(e.contains(key)) << key;
    }
    const auto& s = e["run_ms"];
    EXPECT_EQ(s["n"], 5);
    ASSERT_EQ(e["samples_run_ms"].size(), 5u);
    double mn = s["min"], med = s["median"], mx = s["max"];
    EXPECT_LE(mn, med);
    EXPECT_LE(med, mx);
    EXPECT_LE(s["median_ci"][0].get<double>(), med);
    EXPECT_GE(s["median_ci"][1].get<double>(), med);
    EXPECT_DOUBLE_EQ(s["ci_coverage"].get<double>(), 0.9375);  // n = 5: [min, max], 1 - 2/32
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_GE(e["samples_wall_ms"][i].get<double>(), e["samples_run_ms"][i].get<double>());
    }
    EXPECT_NEAR(e["throughput_per_s"].get<double>(), 1000 / med, 1e-9);
  }
  EXPECT_DOUBLE_EQ(j["envs"][0]["ratio_vs_first"].get<double>(), 1.0);
  double ratio = j["envs"][1]["run_ms"]["median"].get<double>() /
                 j["envs"][0]["run_ms"]["median"].get<double>();
  EXPECT_NEAR(j["envs"][1]["ratio_vs_first"].get<double>(), ratio, 1e-12);
}

// Per-call overhead: the median of wall - run per timed run (recomputed here from the
// samples), in ms and as % of the median run; the transport says how tensors travelled (an ORT
// worker: shared memory; ref: in process). Needs .venv (the ORT worker).
TEST_F(CompareBenchTest, BenchJsonReportsPerCallOverheadAndTransport) {
  CliResult r = RunConcord("bench " + kTinyCnn +
                           "/model.onnx --envs 'ref;ort@cpu,threads=1' --repeat 7 --warmup 1 "
                           "--json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["envs"].size(), 2u);
  EXPECT_EQ(j["envs"][0]["transport"], "in process");
  EXPECT_EQ(j["envs"][1]["transport"], "shared memory");
  for (const auto& e : j["envs"]) {
    ASSERT_TRUE(e["ok"].get<bool>()) << e.dump();
    std::vector<double> diff;
    for (size_t i = 0; i < 7; ++i) {
      diff.push_back(e["samples_wall_ms"][i].get<double>() - e["samples_run_ms"][i].get<double>());
    }
    std::sort(diff.begin(), diff.end());
    const auto& o = e["overhead_ms"];
    EXPECT_EQ(o["n"], 7);
    EXPECT_NEAR(o["median"].get<double>(), diff[3], 1e-9);
    EXPECT_NEAR(o["min"].get<double>(), diff[0], 1e-9);
    EXPECT_GE(o["min"].get<double>(), 0.0);
    EXPECT_NEAR(e["overhead_pct"].get<double>(),
                100 * diff[3] / e["run_ms"]["median"].get<double>(), 1e-9);
  }
  CliResult text = RunConcord("bench " + kTinyCnn +
                              "/model.onnx --envs 'ort@cpu,threads=1' --repeat 3 --warmup 0");
  ASSERT_EQ(text.code, 0) << text.err;
  for (const char* s : {"overhead ms", "transport", "shared memory"})
    EXPECT_NE(text.out.find(s), std::string::npos) << s << "\n" << text.out;
}

TEST_F(CompareBenchTest, BenchTimeBudgetAndFailedEnv) {
  CliResult r = RunConcord("bench " + kTinyCnn +
                           "/model.onnx --envs 'ref,host=127.0.0.1:1;ref' --time 0.1 "
                           "--warmup 0 --json");
  EXPECT_EQ(r.code, 1) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["repeat"].is_null());
  EXPECT_DOUBLE_EQ(j["time_s"].get<double>(), 0.1);
  EXPECT_FALSE(j["envs"][0]["ok"].get<bool>());
  EXPECT_NE(j["envs"][0]["error"].get<std::string>().find("127.0.0.1:1"), std::string::npos);
  ASSERT_TRUE(j["envs"][1]["ok"].get<bool>());
  EXPECT_GE(j["envs"][1]["run_ms"]["n"].get<int>(), 1);
  EXPECT_TRUE(
      j["envs"][1]["ratio_vs_first"].is_null());  // the first env has no time to compare with
  EXPECT_EQ(RunConcord("bench " + kTinyCnn + "/model.onnx --repeat 3 --time 1").code, 2);
  EXPECT_EQ(RunConcord("bench " + kTinyCnn + "/model.onnx --repeat 0").code, 2);
  CliResult unsupported = RunConcord("bench " + Quote(WriteUnsupportedModel()) + " --repeat 2");
  EXPECT_EQ(unsupported.code, 1) << unsupported.err;
  EXPECT_NE(unsupported.out.find("Frobnicate"), std::string::npos) << unsupported.out;
}

}  // namespace
}  // namespace concord::e2e
