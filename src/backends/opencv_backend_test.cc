// OpenCV DNN backend against independent truth: the ref backend, the example's expected
// output (computed with numpy when the example was made) and ONNX's own test cases. The OpenCL
// tests need an OpenCL device (PoCL's CPU device on CI machines, installed by setup); without
// one they fail and say so.
#include "backends/opencv_backend.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "backends/ref_backend.h"
#include "compare/compare.h"
#include "ir/value_io.h"
#include "testing/graph_builder.h"
#include "testing/net_blocks.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

const Tolerance kTol{1e-4, 1e-5};
const char* kNodeSuite = "/usr/share/libonnx-testdata/data/node";

using test::GraphBuilder;
using test::Mlp;
using test::MobileNetLike;
using test::RandomInput;
using test::RandomInputs;
using test::ResNetLike;

void ExpectClose(const Value& want, const Value& got, const std::string& what) {
  ASSERT_TRUE(got.is_tensor()) << what;
  TensorDiff d = CompareTensors(want.tensor, got.tensor, kTol);
  EXPECT_TRUE(d.ok) << what << ": " << d.message;
}

// Runs `model` on `env` and on ref; every output must agree.
void ExpectMatchesRef(const Model& model, const std::string& env, const ValueMap& inputs) {
  auto ref = MakeRefBackend()->Prepare(model, EnvSpec::Parse("ref"));
  auto want = ref->Run(inputs);
  auto session = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse(env));
  RunTiming timing;
  auto got = session->Run(inputs, &timing);
  ASSERT_EQ(got.size(), want.size()) << env;
  auto outs = model.Outputs();
  for (size_t i = 0; i < want.size(); ++i) {
    ExpectClose(want[i], got[i],
                fmt::format("{} on {} output '{}'", model.graph().name(), env, outs[i].name));
  }
  EXPECT_GT(timing.run_ms, 0.0);
}

std::string RequireOpenCl() {
  auto session = MakeOpenCvBackend()->Prepare(MobileNetLike(), EnvSpec::Parse("opencv@opencl"));
  session->Run(RandomInputs(MobileNetLike()));
  return session->effective_env();
}

const std::vector<std::string> kEnvs = {"opencv@cpu,opt=0", "opencv@cpu",
                                        "opencv@cpu,opt=1,threads=1", "opencv@opencl,opt=0",
                                        "opencv@opencl"};

TEST(OpenCvBackend, InfoDescribesDevicesOptAndOpenCl) {
  BackendInfo info = MakeOpenCvBackend()->Info();
  EXPECT_EQ(info.name, "opencv");
  EXPECT_TRUE(info.available);
  EXPECT_EQ(info.devices, (std::vector<std::string>{"cpu", "opencl"}));
  EXPECT_NE(info.version.find("OpenCV 4."), std::string::npos) << info.version;
  EXPECT_NE(info.opt_mapping.find("identical"), std::string::npos) << info.opt_mapping;
  EXPECT_NE(info.description.find("OpenCL"), std::string::npos) << info.description;
}

TEST(OpenCvBackend, TinyCnnMatchesRefAndExpectedOutput) {
  const std::string dir = "examples/tiny_cnn";
  ASSERT_TRUE(fs::exists(dir + "/model.onnx")) << "run the test from the source tree";
  Model model = Model::Load(dir + "/model.onnx");
  auto in_info = model.Inputs();
  auto out_info = model.Outputs();
  ValueMap inputs;
  inputs[in_info[0].name] = ReadValuePb(dir + "/test_data_set_0/input_0.pb", &in_info[0].type);
  Value expected = ReadValuePb(dir + "/test_data_set_0/output_0.pb", &out_info[0].type);
  for (const std::string& env : kEnvs) {
    SCOPED_TRACE(env);
    ExpectMatchesRef(model, env, inputs);
    auto got = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse(env))->Run(inputs);
    ExpectClose(expected, got[0], env + " vs the example's expected output");
  }
}

TEST(OpenCvBackend, BenchShapedModelsMatchRef) {
  for (const Model& model : {MobileNetLike(), ResNetLike(), Mlp(false)}) {
    ValueMap inputs = RandomInputs(model);
    for (const std::string& env : kEnvs) {
      SCOPED_TRACE(model.graph().name() + " on " + env);
      ExpectMatchesRef(model, env, inputs);
    }
  }
  Model mlp = Mlp(true);
  for (const char* env : {"opencv@cpu,opt=0", "opencv@cpu"}) {
    SCOPED_TRACE(std::string("mlp_argmax on ") + env);
    ExpectMatchesRef(mlp, env, RandomInputs(mlp));
  }
}

// OpenCV 4.6 has no OpenCL ArgMax and does not fall back per layer: the run fails with
// kUnsupported naming the layer, never a crash or a silent CPU run.
TEST(OpenCvBackend, LayerWithoutOpenClKernelIsUnsupported) {
  Model model = Mlp(true);
  auto s = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse("opencv@opencl"));
  try {
    s->Run(RandomInputs(model));
    FAIL() << "ArgMax ran on OpenCL; update this test and the backend notes";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("n_label"), std::string::npos) << e.what();
  }
}

TEST(OpenCvBackend, OutputsKeepDeclaredDtypeAndShape) {
  Model model = Mlp();
  auto out =
      MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse("opencv@cpu"))->Run(RandomInputs(model));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tensor.dtype(), DType::kFloat32);
  EXPECT_EQ(out[0].tensor.shape(), (Shape{4, 10}));
  EXPECT_EQ(out[1].tensor.dtype(), DType::kInt64);
  EXPECT_EQ(out[1].tensor.shape(), (Shape{4}));
}

TEST(OpenCvBackend, EffectiveEnvReportsTheOpenClDeviceThatRan) {
  std::string eff = RequireOpenCl();
  EXPECT_EQ(eff.rfind("opencv@opencl[device=", 0), 0u)
      << "opencv@opencl did not run on an OpenCL device (is PoCL or a GPU OpenCL driver "
         "installed? `clinfo -l`): "
      << eff;
  EXPECT_EQ(eff.find("->cpu"), std::string::npos) << eff;
  auto cpu = MakeOpenCvBackend()->Prepare(MobileNetLike(), EnvSpec::Parse("opencv@cpu,opt=1"));
  EXPECT_EQ(cpu->effective_env(), "opencv@cpu,opt=1");
}

// A fresh process (threadsafe death-test style re-executes the binary) whose OpenCL device
// filter matches nothing: OpenCV falls back to CPU silently, Concord must say so.
TEST(OpenCvBackendDeathTest, ReportsFallbackWhenNoOpenClDeviceMatches) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("OPENCV_OPENCL_DEVICE", "NoSuchPlatform:GPU:", 1);
        Model model = MobileNetLike();
        auto s = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse("opencv@opencl"));
        auto out = s->Run(RandomInputs(model));
        std::string eff = s->effective_env();
        std::cerr << "effective_env: " << eff << "\n";
        std::exit(eff.rfind("opencv@opencl->cpu (fallback: ", 0) == 0 && out.size() == 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "effective_env: opencv@opencl->cpu \\(fallback: .*\\)");
}

TEST(OpenCvBackend, UnsupportedOpsAreErrorsNotCrashes) {
  for (const char* name : {"test_loop11", "test_strnormalizer_export_monday_casesensintive_lower",
                           "test_cast_FLOAT_to_STRING"}) {
    SCOPED_TRACE(name);
    std::string path = fmt::format("{}/{}/model.onnx", kNodeSuite, name);
    ASSERT_TRUE(fs::exists(path)) << path << " missing: install libonnx-testdata";
    Model model = Model::Load(path);
    try {
      MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse("opencv@cpu"));
      ADD_FAILURE() << "Prepare accepted " << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("opencv"), std::string::npos) << e.what();
    }
  }
}

TEST(OpenCvBackend, ImportFailureNamesTheOp) {
  std::string path = fmt::format("{}/test_loop11/model.onnx", kNodeSuite);
  ASSERT_TRUE(fs::exists(path)) << path << " missing: install libonnx-testdata";
  try {
    MakeOpenCvBackend()->Prepare(Model::Load(path), EnvSpec::Parse("opencv@cpu"));
    FAIL() << "Loop accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Loop"), std::string::npos) << e.what();
  }
}

TEST(OpenCvBackend, BadEnvIsUsageError) {
  Model model = Mlp();
  for (const char* env : {"opencv@gpu0", "opencv@cpu,target=llvm", "opencv@cpu,opt=7"}) {
    try {
      MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse(env));
      ADD_FAILURE() << env << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << env << ": " << e.what();
    }
  }
}

TEST(OpenCvBackend, MissingInputIsInputError) {
  Model model = Mlp();
  auto s = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse("opencv@cpu"));
  try {
    s->Run({});
    FAIL() << "ran without inputs";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
  }
}

// Taps at opt=0 hold every conv/relu output of the example, equal to ref's taps.
TEST(OpenCvBackend, TapsAtOpt0MatchRefTaps) {
  Model model = Model::Load("examples/tiny_cnn/model.onnx");
  ValueMap inputs = RandomInputs(model);
  ValueMap want;
  MakeRefBackend()->Prepare(model, EnvSpec::Parse("ref"))->RunWithTaps(inputs, &want);
  for (const char* env : {"opencv@cpu,opt=0", "opencv@opencl,opt=0"}) {
    SCOPED_TRACE(env);
    auto s = MakeOpenCvBackend()->Prepare(model, EnvSpec::Parse(env));
    ASSERT_TRUE(s->supports_taps());
    ValueMap got;
    auto out = s->RunWithTaps(inputs, &got);
    ASSERT_EQ(out.size(), 1u);
    for (const char* name : {"c1", "r1", "p1", "c2", "r2", "logits", "probs"}) {
      ASSERT_TRUE(got.count(name)) << "tap '" << name << "' missing";
      ExpectClose(want.at(name), got.at(name), fmt::format("tap '{}'", name));
    }
    for (const auto& [name, value] : got) {
      ASSERT_TRUE(want.count(name)) << "tap '" << name << "' is not an ONNX tensor";
      ExpectClose(want.at(name), value, fmt::format("tap '{}'", name));
    }
    // What ran is known after a taps-only run too.
    std::string eff = s->effective_env();
    EXPECT_EQ(eff.find("->cpu"), std::string::npos) << eff;
    if (std::string(env).find("opencl") != std::string::npos) {
      EXPECT_EQ(eff.rfind("opencv@opencl[device=", 0), 0u) << eff;
    }
    // The taps net is separate: a plain run afterwards still matches.
    ExpectClose(want.at("probs"), s->Run(inputs)[0], "run after taps");
  }
}

// With fusion on, any tap that is returned must still be the right tensor.
TEST(OpenCvBackend, TapsWithFusionAreNeverWrong) {
  for (const Model& model :
       {Model::Load("examples/tiny_cnn/model.onnx"), ResNetLike(), MobileNetLike()}) {
    SCOPED_TRACE(model.graph().name());
    ValueMap inputs = RandomInputs(model);
    ValueMap want;
    MakeRefBackend()->Prepare(model, EnvSpec::Parse("ref"))->RunWithTaps(inputs, &want);
    ValueMap got;
    MakeOpenCvBackend()
        ->Prepare(model, EnvSpec::Parse("opencv@cpu,opt=3"))
        ->RunWithTaps(inputs, &got);
    EXPECT_FALSE(got.empty());
    for (const auto& [name, value] : got) {
      ASSERT_TRUE(want.count(name)) << name;
      ExpectClose(want.at(name), value, fmt::format("tap '{}'", name));
    }
  }
}

}  // namespace
}  // namespace concord
