// End-to-end tests of the concord CLI: exit codes, outputs on disk, JSON contracts, and bad
// input handling (clear message naming the file, exit code 2, no signal, no partial output).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "compare/compare.h"
#include "ir/tensor_io.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(CliTest, HelpEverywhere) {
  for (const char* cmd : {"--help", "run --help", "conformance --help", "envs --help"}) {
    CliResult r = RunConcord(cmd);
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << r.out;
  }
  EXPECT_EQ(RunConcord("").code, 2);
  EXPECT_EQ(RunConcord("frobnicate").code, 2);
  EXPECT_EQ(RunConcord("run").code, 2);  // MODEL is required
}

TEST_F(CliTest, RunWritesOutputsThatMatchOnnxExpectedData) {
  std::string kase = kTestData + "/node/test_add_bcast";
  CliResult r = RunConcord("run " + kase + "/model.onnx --inputs " + kase +
                           "/test_data_set_0 --out " + Quote(P("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("output"), std::string::npos);
  NamedTensor got = ReadTensorPb(P("out/output_0.pb"));
  NamedTensor want = ReadTensorPb(kase + "/test_data_set_0/output_0.pb");
  EXPECT_EQ(got.name, "sum");  // the graph output's name is kept
  EXPECT_TRUE(CompareTensors(want.tensor, got.tensor, {}).ok);
  auto rec = nlohmann::json::parse(std::ifstream(P("out/run.json")));
  EXPECT_EQ(rec["env"], "ref@cpu");
  EXPECT_EQ(rec["outputs"][0]["shape"], nlohmann::json::array({3, 4, 5}));
  EXPECT_GE(rec["timings_ms"]["run"].get<double>(), 0.0);
}

TEST_F(CliTest, ExampleTapsAndTopKAgreeWithNumpyReference) {
  // examples/tiny_cnn's expected output was computed with plain numpy by scripts/make_models.py.
  std::string ex = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn";
  CliResult r = RunConcord("run " + ex + "/model.onnx --inputs " + ex +
                           "/test_data_set_0 --taps --json --out " + Quote(P("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["taps"].size(), 9u);  // one per node output
  EXPECT_EQ(j["taps"][0]["name"], "c1");
  EXPECT_EQ(j["taps"][0]["shape"], nlohmann::json::array({1, 8, 32, 32}));
  NamedTensor want = ReadTensorPb(ex + "/test_data_set_0/output_0.pb");
  NamedTensor got = ReadTensorPb(P("out/output_0.pb"));
  NamedTensor last_tap = ReadTensorPb(P("out/") + j["taps"][8]["file"].get<std::string>());
  EXPECT_TRUE(CompareTensors(want.tensor, got.tensor, {1e-5, 1e-6}).ok);
  EXPECT_TRUE(last_tap.tensor.BitwiseEqual(got.tensor));
  int64_t argmax = 0;
  for (int64_t i = 1; i < 10; ++i) {
    if (want.tensor.data<float>()[i] > want.tensor.data<float>()[argmax]) argmax = i;
  }
  EXPECT_EQ(j["outputs"][0]["top_k"][0][0]["index"].get<int64_t>(), argmax);
  EXPECT_EQ(j["outputs"][0]["top_k"][0].size(), 5u);
}

TEST_F(CliTest, RunJsonWithRandomInputsIsSeeded) {
  std::string model = kTestData + "/node/test_add_bcast/model.onnx";
  CliResult a = RunConcord("run " + model + " --json --seed 7");
  CliResult b = RunConcord("run " + model + " --json --seed 7");
  ASSERT_EQ(a.code, 0) << a.err;
  auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_TRUE(ja["inputs"][0]["generated"].get<bool>());
  EXPECT_EQ(ja["outputs"][0]["stats"], jb["outputs"][0]["stats"]);
}

TEST_F(CliTest, RunAcceptsNpyInputs) {
  std::string model = kTestData + "/node/test_abs/model.onnx";
  Tensor x(DType::kFloat32, {3, 4, 5});
  for (int i = 0; i < 60; ++i) x.data<float>()[i] = static_cast<float>((i * 7) % 60);
  WriteNpy(P("x.npy"), x);
  CliResult r = RunConcord("run " + model + " --inputs " + Quote(P("x.npy")) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["inputs"][0]["generated"].get<bool>());
  EXPECT_EQ(j["outputs"][0]["stats"]["max"].get<double>(), 59.0);
}

TEST_F(CliTest, BadModelsAreInputErrorsWithoutPartialOutput) {
  std::string good = kTestData + "/node/test_add_bcast/model.onnx";
  std::string bytes = ReadFileBytes(good, 1 << 20);
  std::mt19937 rng(1);
  std::string random(512, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  struct Case {
    std::string name, bytes, needle;
  } cases[] = {
      {"truncated.onnx", bytes.substr(0, bytes.size() * 2 / 3), "protobuf parse failed"},
      {"random.onnx", random, "truncated.onnx"},  // placeholder, fixed below
      {"empty.onnx", "", "empty"},
  };
  cases[1].needle = "random.onnx";
  for (const auto& c : cases) {
    std::ofstream(P(c.name), std::ios::binary) << c.bytes;
    CliResult r = RunConcord("run " + Quote(P(c.name)) + " --out " + Quote(P("out_" + c.name)));
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
    EXPECT_FALSE(r.signaled) << c.name;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(P(c.name)), std::string::npos) << "message must name the file: " << r.err;
    EXPECT_FALSE(fs::exists(P("out_" + c.name))) << "partial output left for " << c.name;
  }
  CliResult missing = RunConcord("run " + Quote(P("nope.onnx")));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no such file"), std::string::npos);
}

TEST_F(CliTest, PathEscapingExternalDataIsRejected) {
  // Take a real model and point its first initializer at ../secret.bin.
  std::string src = kTestData + "/pytorch-converted/test_Linear/model.onnx";
  std::string bytes = ReadFileBytes(src, 1 << 24);
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  ASSERT_GT(m.graph().initializer_size(), 0);
  std::ofstream(P("secret.bin")) << std::string(1 << 16, 'x');
  fs::create_directories(P("m"));
  for (std::string loc : {std::string("../secret.bin"), P("secret.bin")}) {
    onnx::ModelProto copy = m;
    auto* t = copy.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->clear_float_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value(loc);
    std::ofstream(P("m/model.onnx"), std::ios::binary | std::ios::trunc)
        << copy.SerializeAsString();
    CliResult r = RunConcord("run " + Quote(P("m/model.onnx")));
    EXPECT_EQ(r.code, 2) << loc << ": " << r.err;
    EXPECT_TRUE(r.err.find("escapes") != std::string::npos ||
                r.err.find("absolute") != std::string::npos)
        << r.err;
  }
}

TEST_F(CliTest, WrongInputShapeIsAnInputError) {
  std::string model = kTestData + "/node/test_add_bcast/model.onnx";
  WriteNpy(P("x.npy"), Tensor(DType::kFloat32, {2, 2}));
  CliResult r = RunConcord("run " + model + " --inputs " + Quote(P("x.npy")));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("input 'x': expected float[3,4,5], given float[2,2]"), std::string::npos)
      << r.err;
  std::ofstream(P("bad.npy")) << "not numpy";
  r = RunConcord("run " + model + " --inputs " + Quote(P("bad.npy")));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("bad.npy"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadEnvIsUsageError) {
  std::string model = kTestData + "/node/test_add_bcast/model.onnx";
  EXPECT_EQ(RunConcord("run " + model + " --env 'ref,opt=9'").code, 2);
  CliResult r = RunConcord("run " + model + " --env nosuchbackend");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown backend"), std::string::npos);
}

TEST_F(CliTest, ConformanceJsonContract) {
  CliResult r =
      RunConcord("conformance --suite " + kTestData + "/node --filter '^test_add' --json");
  auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"suite", "env", "passed", "failed", "skipped", "cases"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GE(j["cases"].size(), 3u);
  for (const auto& c : j["cases"]) {
    EXPECT_TRUE(c["status"] == "pass" || c["status"] == "fail" || c["status"] == "skip" ||
                c["status"] == "error");
  }
  EXPECT_EQ(r.code, j["failed"].get<int>() == 0 ? 0 : 1);
  CliResult text = RunConcord("conformance --suite " + kTestData + "/node --filter '^test_add'");
  EXPECT_NE(text.out.find(" passed, "), std::string::npos);
  EXPECT_EQ(RunConcord("conformance --suite " + Quote(P("nowhere"))).code, 2);
  EXPECT_EQ(RunConcord("conformance --suite " + kTestData + "/node --filter '('").code, 2);
}

TEST_F(CliTest, IsolatedEnvSurvivesACrashingWorker) {
  std::string suite = std::string(CONCORD_SOURCE_DIR) + "/examples";
  CliResult ok = RunConcord("conformance --suite " + suite + " --env ref,isolate=1 --json");
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["passed"], 1);
  CliResult crash = RunConcord("conformance --suite " + suite + " --env ref,isolate=1 --json",
                               "CONCORD_TEST_FAULT=segv");
  EXPECT_FALSE(crash.signaled);
  EXPECT_EQ(crash.code, 1) << crash.err;
  auto j = nlohmann::json::parse(crash.out);
  EXPECT_EQ(j["cases"][0]["class"], "crash") << j.dump();
  EXPECT_NE(j["cases"][0]["reason"].get<std::string>().find("SIGSEGV"), std::string::npos)
      << j.dump();
}

TEST_F(CliTest, EnvsListsRef) {
  CliResult r = RunConcord("envs --json");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["envs"].empty());
  EXPECT_EQ(j["envs"][0]["name"], "ref");
  EXPECT_NE(j["envs"][0]["version"].get<std::string>().find("ONNX 1.23.2"), std::string::npos);
}

}  // namespace
}  // namespace concord::e2e
