// concord convert end to end: the real binary on the bundled tiny CNN.
#include <gtest/gtest.h>

#include <filesystem>

#include "passes/pass.h"
#include "passes/passes_testing.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx";
const std::string kData = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/test_data_set_0";

TEST(ConvertCli, ListsPasses) {
  CliResult r = RunConcord("convert --list");
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* p :
       {"opset=VERSION", "fold_constants", "fold_bn", "fp16=MODE", "quantize_int8", "nhwc"}) {
    EXPECT_NE(r.out.find(p), std::string::npos) << p << "\n" << r.out;
  }
  CliResult j = RunConcord("convert --list --json");
  EXPECT_EQ(j.code, 0);
  EXPECT_EQ(nlohmann::json::parse(j.out).size(), passes::ListPasses().size());
}

TEST(ConvertCli, BadPassOrOptionIsUsageErrorWithTheList) {
  test::TempDir tmp("concord_convert_bad");
  fs::path d = tmp.path();
  for (const char* spec : {"nosuch", "fp16=half", "nhwc:foo=1"}) {
    CliResult r = RunConcord("convert " + Quote(kModel) + " " + Quote((d / "o.onnx").string()) +
                             " --pass " + spec);
    EXPECT_EQ(r.code, 2) << spec << ": " << r.err;
    EXPECT_FALSE(r.signaled);
    EXPECT_FALSE(fs::exists(d / "o.onnx"));
  }
  CliResult r = RunConcord("convert " + Quote(kModel) + " " + Quote((d / "o.onnx").string()) +
                           " --pass nosuch");
  EXPECT_NE(r.err.find("quantize_int8"), std::string::npos) << r.err;
  CliResult q = RunConcord("convert " + Quote(kModel) + " " + Quote((d / "o.onnx").string()) +
                           " --pass quantize_int8");
  EXPECT_EQ(q.code, 2);
  EXPECT_NE(q.err.find("--calibration"), std::string::npos) << q.err;
  CliResult missing =
      RunConcord("convert /nonexistent.onnx " + Quote((d / "o.onnx").string()) + " --pass fold_bn");
  EXPECT_EQ(missing.code, 2) << missing.err;
  CliResult nopass = RunConcord("convert " + Quote(kModel) + " " + Quote((d / "o.onnx").string()));
  EXPECT_EQ(nopass.code, 2) << nopass.err;
}

TEST(ConvertCli, PipelineWritesAModelThatAgreesAndCarriesTheNameMap) {
  test::TempDir tmp("concord_convert_pipe");
  fs::path d = tmp.path();
  std::string out = (d / "out.onnx").string();
  CliResult r = RunConcord("convert " + Quote(kModel) + " " + Quote(out) +
                           " --pass fold_constants,fp16=graph --pass nhwc");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("pass    fp16=graph"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nodes 9 -> 11"), std::string::npos) << r.out;
  Model orig = Model::Load(kModel);
  Model conv = Model::Load(out);
  passes::NameMap names = passes::ReadNameMap(conv.proto());
  for (const auto& n : conv.graph().node()) EXPECT_TRUE(names.nodes.count(n.name())) << n.name();
  NamedTensor x = ReadTensorPb(kData + "/input_0.pb");
  EXPECT_LE(passes::testing::Agreement(orig, conv, {{"input", Value(x.tensor)}}, true), 1e-2);

  CliResult j =
      RunConcord("convert " + Quote(kModel) + " " + Quote(out) + " --pass fold_bn,fp16 --json");
  ASSERT_EQ(j.code, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["log"]["passes"].size(), 2u);
  EXPECT_TRUE(doc["name_map"]["nodes"].contains("conv1"));
  EXPECT_EQ(doc["name_map"]["tensors"]["w1_fp16"], "w1");
}

TEST(ConvertCli, QuantizeWithCalibrationFolders) {
  test::TempDir tmp("concord_convert_calib");
  fs::path d = tmp.path();
  fs::path sets = d / "sets";
  for (int i = 0; i < 2; ++i) {
    fs::create_directories(sets / ("test_data_set_" + std::to_string(i)));
    fs::copy_file(kData + "/input_0.pb",
                  sets / ("test_data_set_" + std::to_string(i)) / "input_0.pb");
  }
  std::string out = (d / "q.onnx").string();
  CliResult r = RunConcord("convert " + Quote(kModel) + " " + Quote(out) +
                           " --pass quantize_int8 --calibration " + Quote(sets.string()) +
                           " --calibration " + Quote(kData) + " --random-calibration 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("calib   6 input sets"), std::string::npos) << r.out;
  Model orig = Model::Load(kModel);
  Model q = Model::Load(out);
  EXPECT_EQ(passes::testing::CountOp(q, "QuantizeLinear"), 3);
  NamedTensor x = ReadTensorPb(kData + "/input_0.pb");
  EXPECT_LE(passes::testing::Agreement(orig, q, {{"input", Value(x.tensor)}}), 0.1);
}

}  // namespace
}  // namespace concord::e2e
