// Analyze() on a store written by hand: three envs, three labelled inputs, one failed cell.
// Every expected number is worked out in the comments from the scores below.
//
// Scores (4 classes, top_k = 2):
//            in0            in1            in2
//   ref      [4,3,2,1] ->0,1 [1,4,3,2] ->1,2 [1,2,4,3] ->2,3
//   ort3     [4,3,2,1] ->0,1 [1,3,4,2] ->2,1 [1,2,4,3] ->2,3
//   ort0     [3,4,2,1] ->1,0 (failed)        [1,2,4,3] ->2,3
// Labels: in0 = 0, in1 = 1, in2 = 2.
#include "report/analysis.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ir/tensor_io.h"
#include "testing/temp_dir.h"

namespace concord::report {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

OutputRecord ScoresOutput(const std::vector<float>& s, int top_k) {
  Tensor t(DType::kFloat32, {1, static_cast<int64_t>(s.size())});
  for (size_t i = 0; i < s.size(); ++i) t.data<float>()[i] = s[i];
  OutputRecord o;
  o.name = "scores";
  o.dtype = "float32";
  o.shape_json = "[1,4]";
  o.digest = TensorDigest(t.raw(), t.nbytes());
  std::vector<size_t> order(s.size());
  for (size_t i = 0; i < s.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  json row = json::array();
  for (int k = 0; k < top_k; ++k) row.push_back({{"i", order[k]}, {"s", s[order[k]]}});
  o.topk_json = json::array({row}).dump();
  std::string npy = SerializeNpy(t);
  o.tensor = std::vector<uint8_t>(npy.begin(), npy.end());
  return o;
}

class AnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_.File("analysis.db");
    Store s = Store::Open(path_);
    int64_t model = s.UpsertModel("m.onnx", "sha", "m");
    s.SetCampaignValue("model/sha", json{{"top_k", 2},
                                         {"class_names", {"apple", "bee", "cat", "dog"}},
                                         {"label_space", {{"num_classes", 4}, {"offset", 0}}}}
                                        .dump());
    int64_t ref = s.UpsertEnvironment({"ref@cpu", "ref", "cpu", "{}", "{}", "h"});
    int64_t ort3 = s.UpsertEnvironment({"ort@cpu,opt=3", "ort", "cpu", "{}", "{}", "h"});
    int64_t ort0 = s.UpsertEnvironment({"ort@cpu,opt=0", "ort", "cpu", "{}", "{}", "h"});
    std::vector<int64_t> in;
    for (int i = 0; i < 3; ++i) {
      in.push_back(s.UpsertInput(fmt::format("d{}", i),
                                 json{{"name", fmt::format("in{}", i)}, {"label", i}}.dump()));
    }
    auto run = [&](int64_t env, int64_t input, int64_t repeat, std::vector<float> scores,
                   double ms) {
      RunRecord r;
      r.model_id = model;
      r.env_id = env;
      r.input_id = input;
      r.repeat = repeat;
      r.run_ms = ms;
      r.wall_ms = ms * 1.1;  // per-call overhead: a tenth of the run
      if (scores.empty()) {
        r.status = "error";
        r.error = "worker crashed";
      } else {
        r.outputs.push_back(ScoresOutput(scores, 2));
      }
      s.RecordRun(r);
    };
    run(ref, in[0], 0, {4, 3, 2, 1}, 10);
    run(ref, in[1], 0, {1, 4, 3, 2}, 10);
    run(ref, in[2], 0, {1, 2, 4, 3}, 10);
    run(ref, in[0], 1, {4, 3, 2, 1}, 30);  // a repeat, bit-identical
    run(ort3, in[0], 0, {4, 3, 2, 1}, 5);
    run(ort3, in[1], 0, {1, 3, 4, 2}, 5);
    run(ort3, in[2], 0, {1, 2, 4, 3}, 5);
    run(ort0, in[0], 0, {3, 4, 2, 1}, 20);
    run(ort0, in[1], 0, {}, 0);
    run(ort0, in[2], 0, {1, 2, 4, 3}, 20);
  }
  const json& Pair(const json& m, const std::string& a, const std::string& b) {
    for (const auto& p : m["pairs"]) {
      if (p["a"] == a && p["b"] == b) return p;
    }
    ADD_FAILURE() << "no pair " << a << " / " << b;
    static json none;
    return none;
  }
  const json& ByEnv(const json& list, const std::string& env) {
    for (const auto& q : list) {
      if (q["env"] == env) return q;
    }
    ADD_FAILURE() << "no entry for " << env;
    static json none;
    return none;
  }
  test::TempDir tmp_{"concord_analysis_test"};
  std::string path_;
};

TEST_F(AnalysisTest, PairsAgreementKendallAndErrors) {
  Store s = Store::Open(path_);
  json doc = Analyze(s, {});
  ASSERT_EQ(doc["schema"], kAnalysisSchema);
  ASSERT_EQ(doc["models"].size(), 1u);
  const json& m = doc["models"][0];
  EXPECT_EQ(m["cells"]["total"], 10);
  EXPECT_EQ(m["cells"]["error"], 1);
  ASSERT_EQ(m["errors"].size(), 1u);
  EXPECT_EQ(m["errors"][0]["input"], "in1");
  EXPECT_EQ(m["errors"][0]["error"], "worker crashed");

  // ref vs ort3: top-1 agrees on in0 and in2, not in1 (1 vs 2) -> 2/3. Top-2 sets are equal on
  // all three -> Jaccard 1. Kendall over the union of the top-2 labels: in0 and in2 identical
  // (+1); in1 labels {1,2} with ref scores (4,3) and ort3 (3,4): one discordant pair -> -1;
  // mean (1 - 1 + 1) / 3 = 1/3. Largest difference: |4 - 3| = 1; in0 and in2 bit-identical.
  // ref has no opt level, so the pair is a library comparison.
  const json& p = Pair(m, "ref@cpu", "ort@cpu,opt=3");
  EXPECT_EQ(p["kind"], "library");
  EXPECT_EQ(p["inputs"], 3);
  EXPECT_NEAR(p["top1_agree"].get<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(p["topk_jaccard"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(p["kendall_tau"].get<double>(), 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(p["max_abs"].get<double>(), 1.0);
  EXPECT_EQ(p["identical_outputs"], 2);
  EXPECT_EQ(p["disagreeing_inputs"], json::array({"in1"}));

  // ref vs ort0: in1 failed on ort0, so 2 inputs; top-1 differs on in0 (0 vs 1) -> 1/2.
  // Kendall in0: union {0,1}, ref (4,3) vs ort0 (3,4) -> -1; in2 -> +1; mean 0.
  const json& q = Pair(m, "ref@cpu", "ort@cpu,opt=0");
  EXPECT_EQ(q["inputs"], 2);
  EXPECT_NEAR(q["top1_agree"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(q["kendall_tau"].get<double>(), 0.0, 1e-12);
  // Same library and device, different opt.
  EXPECT_EQ(Pair(m, "ort@cpu,opt=3", "ort@cpu,opt=0")["kind"], "opt");

  // Disagreements: in0 (ort0 says bee) and in1 (ort3 says cat), with class names.
  ASSERT_EQ(m["disagreements"].size(), 2u);
  EXPECT_EQ(m["disagreements"][0]["input"], "in0");
  EXPECT_EQ(m["disagreements"][0]["top"]["ort@cpu,opt=0"][0]["name"], "bee");
  EXPECT_EQ(m["disagreements"][1]["input"], "in1");
  EXPECT_EQ(m["disagreements"][1]["top"]["ort@cpu,opt=3"][0]["name"], "cat");

  // Repeat 1 of ref on in0 is bit-identical to repeat 0.
  const json& rep = ByEnv(m["repeats"], "ref@cpu");
  EXPECT_EQ(rep["repeats"], 2);
  EXPECT_EQ(rep["identical"], true);

  // The comparisons table holds one row per (pair, input, output) compared:
  // ref-ort3 3 + ref-ort0 2 + ort3-ort0 2 = 7.
  EXPECT_EQ(s.Comparisons().size(), 7u);
}

TEST_F(AnalysisTest, QualityConfusionAndTiming) {
  Store s = Store::Open(path_);
  json doc = Analyze(s, {});
  const json& m = doc["models"][0];

  // ref predicts 0,1,2 for labels 0,1,2: everything right, G-mean 1.
  const json& ref = ByEnv(m["quality"], "ref@cpu");
  EXPECT_EQ(ref["n"], 3);
  EXPECT_DOUBLE_EQ(ref["top1_accuracy"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(ref["gmean"].get<double>(), 1.0);

  // ort3 predicts 0,2,2: top-1 2/3; label 1 is second in in1's top-2 -> top-2 accuracy 1.
  // Confusion over classes {0,1,2} (rows true): [[1,0,0],[0,0,1],[0,0,1]]; sensitivities
  // 1, 0, 1 -> G-mean 0; precision of class 2 = 1 TP / 2 predicted = 0.5.
  const json& o3 = ByEnv(m["quality"], "ort@cpu,opt=3");
  EXPECT_NEAR(o3["top1_accuracy"].get<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(o3["topk_accuracy"].get<double>(), 1.0);
  EXPECT_EQ(o3["classes"], json::array({0, 1, 2}));
  EXPECT_EQ(o3["class_names"], json::array({"apple", "bee", "cat"}));
  EXPECT_EQ(o3["confusion"], json::parse("[[1,0,0],[0,0,1],[0,0,1]]"));
  EXPECT_DOUBLE_EQ(o3["gmean"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(o3["per_class"][2]["precision"].get<double>(), 0.5);

  // ort0's failed cell counts as a miss: in0 wrong (1 vs 0), in1 failed, in2 right -> 1/3.
  EXPECT_NEAR(ByEnv(m["quality"], "ort@cpu,opt=0")["top1_accuracy"].get<double>(), 1.0 / 3.0,
              1e-12);

  // Latency of ref: run_ms 10, 10, 10, 30 -> median 10, mean 15, max 30.
  const json& perf = ByEnv(m["performance"], "ref@cpu");
  EXPECT_DOUBLE_EQ(perf["latency_ms"]["median"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(perf["latency_ms"]["mean"].get<double>(), 15.0);
  EXPECT_DOUBLE_EQ(perf["latency_ms"]["max"].get<double>(), 30.0);
  EXPECT_EQ(perf["latency_ms"]["n"], 4);
  // Overhead (wall - run) per run: 1, 1, 1, 3 -> median 1 ms, 10 % of the median run.
  EXPECT_NEAR(perf["overhead_ms"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(perf["overhead_pct"].get<double>(), 10.0, 1e-9);
  EXPECT_TRUE(perf["transport"].is_null());  // no session recorded one

  // Time change against the first env (ref): in0 ref median(10, 30) = 20, ort3 5 -> -75 %;
  // in1 ort0 failed -> null.
  const json& tc = m["time_change"];
  EXPECT_EQ(tc["baseline"], "ref@cpu");
  EXPECT_DOUBLE_EQ(tc["inputs"][0]["ms"]["ref@cpu"].get<double>(), 20.0);
  EXPECT_DOUBLE_EQ(tc["inputs"][0]["change_pct"]["ort@cpu,opt=3"].get<double>(), -75.0);
  EXPECT_TRUE(tc["inputs"][1]["change_pct"]["ort@cpu,opt=0"].is_null());

  // Predictions: canonical top-2 per env and input, null for the failed cell.
  EXPECT_EQ(m["predictions"]["ort@cpu,opt=3"][1]["top"], json::array({2, 1}));
  EXPECT_TRUE(m["predictions"]["ort@cpu,opt=0"][1].is_null());
}

TEST_F(AnalysisTest, LabelOffsetShiftsToCanonicalIds) {
  // Declare a background class at index 0: model index i is canonical i - 1.
  {
    Store s = Store::Open(path_);
    s.SetCampaignValue("model/sha", json{{"top_k", 2},
                                         {"class_names", {"apple", "bee", "cat"}},
                                         {"label_space", {{"num_classes", 4}, {"offset", 1}}}}
                                        .dump());
  }
  Store s = Store::Open(path_);
  json doc = Analyze(s, {});
  const json& m = doc["models"][0];
  // ref in1: model indices [1, 2] -> canonical [0, 1].
  EXPECT_EQ(m["predictions"]["ref@cpu"][1]["top"], json::array({0, 1}));
  // in0: model index 0 is the background class -> canonical -1, named "background".
  EXPECT_EQ(m["predictions"]["ref@cpu"][0]["top"], json::array({-1, 0}));
}

}  // namespace
}  // namespace concord::report
