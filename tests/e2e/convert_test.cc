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

// Relu then ReduceMean over axes 1,2 of x[2,3,4] (keepdims 0): at opset >= 18 the axes are an
// int64 input, before that an attribute. IR 10, as current exporters write.
Model ReduceMeanModel(int opset) {
  passes::testing::GraphBuilder b("reduce", opset);
  b.proto().set_ir_version(10);
  b.Input("x", {2, 3, 4});
  b.Output("y", {2});
  b.Node("Relu", "relu", {"x"}, {"r"});
  if (opset >= 18) {
    b.Init("axes", Tensor::FromVector<int64_t>({2}, {1, 2}));
    b.Int(b.Node("ReduceMean", "mean", {"r", "axes"}, {"y"}), "keepdims", 0);
  } else {
    auto* n = b.Node("ReduceMean", "mean", {"r"}, {"y"});
    b.Ints(n, "axes", {1, 2});
    b.Int(n, "keepdims", 0);
  }
  return b.Build();
}

// x = -12..11: relu zeroes the first batch; the second averages 0..11.
void ExpectHandComputedMean(const Model& m) {
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i - 12);
  auto out = passes::testing::RunOn(m, {{"x", Value(Tensor::FromVector<float>({2, 3, 4}, x))}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tensor.GetDouble(0), 0.0);
  EXPECT_EQ(out[0].tensor.GetDouble(1), 5.5);
}

const onnx::NodeProto& NodeNamed(const Model& m, const std::string& name) {
  for (const auto& n : m.graph().node()) {
    if (n.name() == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  return m.graph().node(0);
}

TEST(ConvertCli, OpsetDownAndUpThroughOnnxsVersionConverter) {
  test::TempDir tmp("concord_convert_opset");
  fs::path d = tmp.path();
  Model m21 = ReduceMeanModel(21);
  m21.Save((d / "m21.onnx").string());
  ExpectHandComputedMean(m21);

  CliResult down = RunConcord("convert " + Quote((d / "m21.onnx").string()) + " " +
                              Quote((d / "m17.onnx").string()) + " --opset 17");
  ASSERT_EQ(down.code, 0) << down.err;
  EXPECT_NE(down.out.find("opset_after 17, opset_before 21"), std::string::npos) << down.out;
  Model m17 = Model::Load((d / "m17.onnx").string());
  EXPECT_EQ(m17.Opset(), 17);
  const onnx::NodeProto& mean = NodeNamed(m17, "mean");
  EXPECT_EQ(mean.input_size(), 1);  // axes became the opset-13 attribute
  ASSERT_EQ(mean.attribute_size(), 2);
  ExpectHandComputedMean(m17);

  CliResult up = RunConcord("convert " + Quote((d / "m17.onnx").string()) + " " +
                            Quote((d / "up.onnx").string()) + " --opset 21");
  ASSERT_EQ(up.code, 0) << up.err;
  Model back = Model::Load((d / "up.onnx").string());
  EXPECT_EQ(back.Opset(), 21);
  EXPECT_EQ(NodeNamed(back, "mean").input_size(), 2);  // axes as an input again
  ExpectHandComputedMean(back);
}

TEST(ConvertCli, OpsetConversionTheConverterCannotDoSaysWhy) {
  test::TempDir tmp("concord_convert_opset_no");
  fs::path d = tmp.path();
  passes::testing::GraphBuilder b("gelu", 21);
  b.proto().set_ir_version(10);
  b.Input("x", {4});
  b.Output("y", {4});
  b.Node("Gelu", "gelu", {"x"}, {"y"});
  b.Build().Save((d / "gelu.onnx").string());
  CliResult r = RunConcord("convert " + Quote((d / "gelu.onnx").string()) + " " +
                           Quote((d / "o.onnx").string()) + " --opset 17");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("opset 21 -> 17"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Gelu"), std::string::npos) << r.err;  // Gelu is new in opset 20
  EXPECT_FALSE(fs::exists(d / "o.onnx"));
  CliResult beyond = RunConcord("convert " + Quote((d / "gelu.onnx").string()) + " " +
                                Quote((d / "o.onnx").string()) + " --opset 29");
  EXPECT_EQ(beyond.code, 1) << beyond.err;
  EXPECT_NE(beyond.err.find("opsets up to 28"), std::string::npos) << beyond.err;
}

}  // namespace
}  // namespace concord::e2e
