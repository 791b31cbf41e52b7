// End-to-end tests of the one input contract (data/inputs.h) through the binary: folders without
// tensors, inputs that do not match the model, and the same exit code on ref, opencv and ort;
// external-data models from any working directory; --input-shapes, --save-inputs and expected
// outputs (output_K.pb). ort runs through its Python worker (.venv).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ir/random.h"
#include "ir/tensor_io.h"
#include "testing/graph_builder.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kTinyCnn = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn";
const std::string kModel = kTinyCnn + "/model.onnx";  // input float[1,3,32,32] -> probs [1,10]

// The three commands that feed a model, each on `envs` (";"-separated).
std::vector<std::string> Commands(const std::string& model, const std::string& envs) {
  std::string first = envs.substr(0, envs.find(';'));
  return {"run " + Quote(model) + " --env " + Quote(first),
          "compare " + Quote(model) + " --envs " +
              Quote(envs.find(';') == std::string::npos ? envs + ";" + envs : envs),
          "bench " + Quote(model) + " --repeat 1 --warmup 0 --envs " + Quote(envs)};
}

class InputsE2eTest : public ::testing::Test {
 protected:
  std::string P(const std::string& rel) { return tmp_.File(rel); }
  // x float[1,'N'] -> Relu -> y.
  std::string DynamicModel() {
    test::GraphBuilder g("dyn");
    g.Input("x", {1, 1});
    g.Output("y", {1, 1});
    for (auto* vi : {g.graph()->mutable_input(0), g.graph()->mutable_output(0)}) {
      vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_param(
          "N");
    }
    g.Node("Relu", {"x"}, "y");
    std::string path = P("dyn.onnx");
    std::ofstream(path, std::ios::binary) << g.proto().SerializeAsString();
    return path;
  }
  test::TempDir tmp_{"concord_inputs_e2e"};
};

TEST_F(InputsE2eTest, FoldersWithoutTensorsAreInputErrorsOnRunCompareAndBench) {
  tmp_.Write("photos/cat.jpg", "\xff\xd8\xff\xe0 not really a jpeg");
  fs::create_directories(P("empty"));
  fs::create_directories(P("sets/test_data_set_0"));
  fs::create_directories(P("sets/test_data_set_1"));
  for (const char* dir : {"photos", "empty", "sets"}) {
    for (const auto& cmd : Commands(kModel, "ref;opencv")) {
      CliResult r = RunConcord(cmd + " --inputs " + Quote(P(dir)));
      EXPECT_EQ(r.code, 2) << cmd << " " << dir << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find(P(dir)), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("no input"), std::string::npos) << r.err;
    }
  }
  CliResult r = RunConcord("run " + Quote(kModel) + " --inputs " + Quote(P("photos")));
  EXPECT_NE(r.err.find("1 .jpg file"), std::string::npos) << r.err;
}

TEST_F(InputsE2eTest, MismatchedInputsExitTwoOnEveryBackendBeforeAnyEnvRuns) {
  WriteNpy(P("big/input.npy"), RandomTensor(DType::kFloat32, {1, 3, 64, 64}, 1));
  WriteNpy(P("f64/input.npy"), RandomTensor(DType::kFloat64, {1, 3, 32, 32}, 1));
  struct Case {
    std::string file, needle;
  };
  for (const Case& c : {Case{"big/input.npy", "given float[1,3,64,64] (dim 2 is 64"},
                        Case{"f64/input.npy", "given double[1,3,32,32] (element type double"}}) {
    for (const char* env : {"ref", "opencv", "ort"}) {
      CliResult r =
          RunConcord("run " + Quote(kModel) + " --env " + env + " --inputs " + Quote(P(c.file)));
      EXPECT_EQ(r.code, 2) << env << " " << c.file << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find("input 'input': expected float[1,3,32,32], " + c.needle),
                std::string::npos)
          << env << ": " << r.err;
    }
    CliResult r = RunConcord("compare " + Quote(kModel) +
                             " --envs 'opencv;opencv,opt=0' --inputs " + Quote(P(c.file)));
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
  }
}

TEST_F(InputsE2eTest, ExternalDataModelRunsFromAnyWorkingDirectoryOnRefOrtAndOpenCv) {
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(ReadFileBytes(kModel, 1 << 24)));
  fs::create_directories(P("model"));
  std::ofstream weights(P("model/weights.bin"), std::ios::binary);
  int64_t offset = 0;
  for (auto& t : *m.mutable_graph()->mutable_initializer()) {
    ASSERT_TRUE(t.has_raw_data()) << t.name();
    weights << t.raw_data();
    auto add = [&](const std::string& k, const std::string& v) {
      auto* kv = t.add_external_data();
      kv->set_key(k);
      kv->set_value(v);
    };
    add("location", "weights.bin");
    add("offset", std::to_string(offset));
    add("length", std::to_string(t.raw_data().size()));
    offset += static_cast<int64_t>(t.raw_data().size());
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
  }
  weights.close();
  std::ofstream(P("model/model.onnx"), std::ios::binary) << m.SerializeAsString();
  fs::create_directories(P("elsewhere"));
  CliResult r = RunCommand("cd " + Quote(P("elsewhere")) + " && " + CONCORD_BIN + " compare " +
                           Quote(P("model/model.onnx")) + " --envs 'ref;ort;opencv' --inputs " +
                           Quote(kTinyCnn) + " --atol 1e-4 --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  for (const auto& e : j["envs"]) EXPECT_TRUE(e["ok"].get<bool>()) << e.dump();
  EXPECT_TRUE(j["ok"].get<bool>());
  ASSERT_EQ(j["expected_outputs"].size(), 3u);  // each env matches output_0.pb of tiny_cnn
  for (const auto& c : j["expected_outputs"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
}

TEST_F(InputsE2eTest, InputShapesSizeDynamicDimsOfGeneratedInputs) {
  std::string model = DynamicModel();
  CliResult r = RunConcord("run " + Quote(model) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["shape"], json::array({1, 1}));
  EXPECT_EQ(j["input_sets"][0]["defaulted_dims"][0], "x: dim 1 ('N') = 1");
  for (const char* spec : {"x:1x7", "'x:[1,7]'", "'x:[1, 7]'"}) {
    for (const auto& cmd : Commands(model, "ref;ort")) {
      r = RunConcord(cmd + " --input-shapes " + spec + " --json");
      ASSERT_EQ(r.code, 0) << cmd << " " << spec << "\n" << r.out << r.err;
      j = json::parse(r.out);
      EXPECT_TRUE(j["input_sets"][0]["defaulted_dims"].empty()) << cmd;
    }
  }
  r = RunConcord("run " + Quote(model) + " --env ort --input-shapes x:1x7 --json");
  EXPECT_EQ(json::parse(r.out)["outputs"][0]["shape"], json::array({1, 7}));
  r = RunConcord("run " + Quote(model) + " --input-shapes y:1x7");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'y', which is not a model input"), std::string::npos) << r.err;
  r = RunConcord("run " + Quote(model) + " --input-shapes x:1xseven");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a dimension"), std::string::npos) << r.err;
  WriteNpy(P("x.npy"), RandomTensor(DType::kFloat32, {1, 5}, 1));
  r = RunConcord("run " + Quote(model) + " --inputs " + Quote(P("x.npy")) +
                 " --input-shapes x:1x7");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--input-shapes says [1,7]"), std::string::npos) << r.err;
}

TEST_F(InputsE2eTest, SavedInputsRepeatARunExactly) {
  CliResult r =
      RunConcord("run " + Quote(kModel) + " --seed 11 --save-inputs --out " + Quote(P("first")));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(P("first/test_data_set_0/input_0.pb")));
  r = RunConcord("run " + Quote(kModel) + " --env opencv --inputs " + Quote(P("first")) +
                 " --out " + Quote(P("second")));
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunConcord("run " + Quote(kModel) + " --inputs " + Quote(P("first/test_data_set_0")) +
                 " --out " + Quote(P("third")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFileBytes(P("first/output_0.pb"), 1 << 20),
            ReadFileBytes(P("third/output_0.pb"), 1 << 20));
  r = RunConcord("run " + Quote(kModel) + " --save-inputs");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("needs --out"), std::string::npos) << r.err;
  r = RunConcord("compare " + Quote(kModel) + " --envs 'ref;ort' --seed 4 --save-inputs " +
                 Quote(P("cmp")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(P("cmp/test_data_set_0/input_0.pb")));
}

TEST_F(InputsE2eTest, ExpectedOutputsAreCheckedAndAMismatchExitsOne) {
  fs::create_directories(P("case/test_data_set_0"));
  fs::copy_file(kTinyCnn + "/test_data_set_0/input_0.pb", P("case/test_data_set_0/input_0.pb"));
  NamedTensor out = ReadTensorPb(kTinyCnn + "/test_data_set_0/output_0.pb");
  out.tensor.data<float>()[3] += 0.5f;
  WriteTensorPb(P("case/test_data_set_0/output_0.pb"), out.tensor, out.name);
  CliResult r = RunConcord("run " + Quote(kModel) + " --inputs " + Quote(P("case")));
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("expected outputs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;
  r = RunConcord("run " + Quote(kModel) + " --inputs " + Quote(P("case")) + " --json");
  EXPECT_EQ(r.code, 1);
  json j = json::parse(r.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_FALSE(j["expected_outputs"][0]["ok"].get<bool>());
  EXPECT_NEAR(j["expected_outputs"][0]["outputs"][0]["max_abs"].get<double>(), 0.5, 1e-3);
  r = RunConcord("compare " + Quote(kModel) + " --envs 'ref;opencv' --inputs " + Quote(P("case")));
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("1 of 1 compared pairs agree"), std::string::npos) << r.out;
  r = RunConcord("run " + Quote(kModel) + " --env ort --inputs " + Quote(kTinyCnn));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST_F(InputsE2eTest, EverySetRunsAndBenchSaysWhichSetItTimes) {
  for (int k : {0, 1, 10}) {
    std::string dir = P("many/test_data_set_" + std::to_string(k));
    fs::create_directories(dir);
    WriteTensorPb(dir + "/input_0.pb", RandomTensor(DType::kFloat32, {1, 3, 32, 32}, k), "input");
  }
  CliResult r = RunConcord("run " + Quote(kModel) + " --inputs " + Quote(P("many")) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["sets"].size(), 3u);
  EXPECT_EQ(j["sets"][2]["origin"], "test_data_set_10");
  r = RunConcord("compare " + Quote(kModel) + " --envs 'ref;opencv' --inputs " + Quote(P("many")) +
                 " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  ASSERT_EQ(j["pairs"][0]["outputs"].size(), 3u);
  EXPECT_EQ(j["pairs"][0]["outputs"][1]["name"], "test_data_set_1/probs");
  r = RunConcord("bench " + Quote(kModel) + " --repeat 1 --inputs " + Quote(P("many")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 input sets (test_data_set_0 .. test_data_set_10): the first set, "
                       "test_data_set_0, is timed"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace concord::e2e
