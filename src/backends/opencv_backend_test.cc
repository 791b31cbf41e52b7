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

namespace concord {
namespace {

namespace fs = std::filesystem;

const Tolerance kTol{1e-4, 1e-5};
const char* kNodeSuite = "/usr/share/libonnx-testdata/data/node";

using test::GraphBuilder;

// Bench-shaped building blocks (MobileNetV2 / ResNet blocks) over the shared builder.
std::string Conv(GraphBuilder& b, const std::string& x, int cin, int cout, int k, int stride,
                 int group = 1) {
  std::string w = b.Weight({cout, cin / group, k, k},
                           std::sqrt(2.0f / static_cast<float>(cin / group * k * k)));
  std::string bias = b.Weight({cout}, 0.01f);
  auto* n = b.Node("Conv", {x, w, bias});
  GraphBuilder::Ints(n, "kernel_shape", {k, k});
  GraphBuilder::Ints(n, "strides", {stride, stride});
  GraphBuilder::Ints(n, "pads", {k / 2, k / 2, k / 2, k / 2});
  GraphBuilder::Int(n, "group", group);
  return n->output(0);
}

std::string Relu6(GraphBuilder& b, const std::string& x) {
  return b.Node("Clip", {x, b.Const(0), b.Const(6)})->output(0);
}

std::string BatchNorm(GraphBuilder& b, const std::string& x, int c) {
  std::string scale = b.Weight({c}, 0.1f), bias = b.Weight({c}, 0.1f), mean = b.Weight({c}, 0.1f);
  std::vector<float> v(static_cast<size_t>(c));
  for (int i = 0; i < c; ++i) v[static_cast<size_t>(i)] = 1.0f + 0.05f * static_cast<float>(i % 5);
  std::string var = b.FreshName("var");
  b.Init(var, Tensor::FromVector<float>({c}, v));
  return b.Node("BatchNormalization", {x, scale, bias, mean, var})->output(0);
}

// MobileNetV2-shaped: stem conv, inverted residual (expand, depthwise, project, add), head.
Model MobileNetLike() {
  GraphBuilder b("mobilenet_like");
  b.Input("input", {1, 3, 32, 32});
  std::string x = Relu6(b, Conv(b, "input", 3, 16, 3, 2));
  std::string e = Relu6(b, Conv(b, x, 16, 64, 1, 1));
  std::string d = Relu6(b, Conv(b, e, 64, 64, 3, 1, 64));
  std::string p = Conv(b, d, 64, 16, 1, 1);
  std::string r = b.Node("Add", {x, p})->output(0);
  std::string g = b.Node("GlobalAveragePool", {r})->output(0);
  std::string f = b.Node("Flatten", {g})->output(0);
  auto* fc = b.Node("Gemm", {f, b.Weight({10, 16}, 0.25f), b.Weight({10}, 0.01f)}, "logits");
  GraphBuilder::Int(fc, "transB", 1);
  b.Output("logits", {1, 10});
  return b.Build();
}

// ResNet-18-shaped: conv-bn-relu-maxpool stem, one basic block with identity shortcut.
Model ResNetLike() {
  GraphBuilder b("resnet_like");
  b.Input("input", {2, 3, 32, 32});
  std::string x = b.Node("Relu", {BatchNorm(b, Conv(b, "input", 3, 16, 7, 2), 16)})->output(0);
  auto* mp = b.Node("MaxPool", {x});
  GraphBuilder::Ints(mp, "kernel_shape", {3, 3});
  GraphBuilder::Ints(mp, "strides", {2, 2});
  GraphBuilder::Ints(mp, "pads", {1, 1, 1, 1});
  std::string m = mp->output(0);
  std::string y = b.Node("Relu", {BatchNorm(b, Conv(b, m, 16, 16, 3, 1), 16)})->output(0);
  y = BatchNorm(b, Conv(b, y, 16, 16, 3, 1), 16);
  std::string s = b.Node("Relu", {b.Node("Add", {y, m})->output(0)})->output(0);
  std::string g = b.Node("GlobalAveragePool", {s})->output(0);
  std::string f = b.Node("Flatten", {g})->output(0);
  auto* fc = b.Node("Gemm", {f, b.Weight({10, 16}, 0.25f), b.Weight({10}, 0.01f)}, "logits");
  GraphBuilder::Int(fc, "transB", 1);
  b.Output("logits", {2, 10});
  return b.Build();
}

// MLP; with_argmax adds a second output, the int64 argmax (OpenCV computes it in float and
// has no OpenCL kernel for it).
Model Mlp(bool with_argmax = true) {
  GraphBuilder b(with_argmax ? "mlp_argmax" : "mlp");
  b.Input("x", {4, 32});
  std::string h = b.Node("MatMul", {"x", b.Weight({32, 64}, 0.18f)})->output(0);
  h = b.Node("Relu", {b.Node("Add", {h, b.Weight({64}, 0.01f)})->output(0)})->output(0);
  h = b.Node("MatMul", {h, b.Weight({64, 10}, 0.12f)})->output(0);
  h = b.Node("Add", {h, b.Weight({10}, 0.01f)})->output(0);
  auto* sm = b.Node("Softmax", {h}, "probs");
  GraphBuilder::Int(sm, "axis", 1);
  b.Output("probs", {4, 10});
  if (with_argmax) {
    auto* am = b.Node("ArgMax", {h}, "label");
    GraphBuilder::Int(am, "axis", 1);
    GraphBuilder::Int(am, "keepdims", 0);
    b.Output("label", DType::kInt64, {4});
  }
  return b.Build();
}

Tensor RandomInput(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::FromVector<float>(shape, v);
}

ValueMap RandomInputs(const Model& model) {
  ValueMap in;
  unsigned seed = 1;
  for (const ValueInfo& vi : model.Inputs()) in[vi.name] = RandomInput(vi.shape, seed++);
  return in;
}

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
