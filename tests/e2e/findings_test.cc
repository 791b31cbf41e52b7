// findings/<target>/<name>/ holds minimal repros of bugs found in OpenCV's DNN module and ONNX
// Runtime (findings/README.md). Each must still reproduce the way it is documented (ORT's
// TreeEnsemble post_transform swap as a wrong result on ort@cpu), on the OpenCV that Concord links:
// the scale fusion gives a wrong result with fusion on (opt=3) and the right one with fusion off
// (opt=0), and the layer-norm pattern aborts the forward pass with OpenCV's shape assertion. A
// finding that stops reproducing (OpenCV fixed, or the env broken in another way) fails here by
// name.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

const std::string kFindings = std::string(CONCORD_SOURCE_DIR) + "/findings";

// `concord conformance --json` on findings/<target> with `env`: case name -> its JSON record.
std::map<std::string, nlohmann::json> Cases(const std::string& target, const std::string& env,
                                            int* code) {
  CliResult r = RunConcord("conformance --suite " + Quote(kFindings + "/" + target) + " --env " +
                           Quote(env) + " --json");
  EXPECT_FALSE(r.signaled) << r.err;
  *code = r.code;
  std::map<std::string, nlohmann::json> cases;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON:\n" << r.out << r.err;
  if (j.is_discarded()) return cases;
  for (const auto& c : j["cases"]) cases[c["name"].get<std::string>()] = c;
  return cases;
}

TEST(Findings, MatMulScaleFusionStillGivesWrongResultWithFusionOn) {
  int code = 0;
  auto cases = Cases("opencv", "opencv@cpu,opt=3", &code);
  ASSERT_TRUE(cases.count("matmul_scale_fusion"));
  const auto& c = cases["matmul_scale_fusion"];
  EXPECT_EQ(c["status"], "fail") << c.dump();
  EXPECT_EQ(c["class"], "wrong_result") << c.dump();
  EXPECT_EQ(code, 1);
}

TEST(Findings, MatMulScaleFusionIsCorrectWithFusionOff) {
  int code = 0;
  auto cases = Cases("opencv", "opencv@cpu,opt=0", &code);
  ASSERT_TRUE(cases.count("matmul_scale_fusion"));
  EXPECT_EQ(cases["matmul_scale_fusion"]["status"], "pass") << cases["matmul_scale_fusion"].dump();
}

TEST(Findings, LayerNormMulStillHitsOpenCvShapeAssertion) {
  int code = 0;
  auto cases = Cases("opencv", "opencv@cpu,opt=3", &code);
  ASSERT_TRUE(cases.count("layernorm_mul_assert"));
  const auto& c = cases["layernorm_mul_assert"];
  EXPECT_EQ(c["status"], "error") << c.dump();
  EXPECT_EQ(c["class"], "error") << c.dump();
  std::string reason = c["reason"].get<std::string>();
  EXPECT_NE(reason.find("Assertion failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("total"), std::string::npos) << reason;
}

TEST(Findings, OrtTreeEnsemblePostTransformIsStillSwapped) {
  int code = 0;
  auto cases = Cases("ort", "ort@cpu", &code);
  ASSERT_TRUE(cases.count("tree_ensemble_post_transform"));
  const auto& c = cases["tree_ensemble_post_transform"];
  EXPECT_EQ(c["status"], "fail") << c.dump();
  EXPECT_EQ(c["class"], "wrong_result") << c.dump();
}

}  // namespace
}  // namespace concord::e2e
