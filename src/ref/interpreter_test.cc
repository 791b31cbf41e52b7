#include "ref/interpreter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

// y = (x + b) * b with x: [2,3], b: [3] (broadcast), intermediate "s".
onnx::ModelProto BroadcastModel() {
  GraphBuilder b("g");
  b.Input("x", {2, 3});
  b.Input("b", {3});
  b.Output("y", {2, 3});
  b.Node("Add", "Add_s", {"x", "b"}, {"s"});
  b.Node("Mul", "Mul_y", {"s", "b"}, {"y"});
  return b.proto();
}

std::map<std::string, Value> Feeds() {
  return {{"x", Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
          {"b", Tensor::FromVector<float>({3}, {10, 20, 30})}};
}

TEST(Interpreter, BroadcastingAndTaps) {
  Model model = Model::FromProto(BroadcastModel(), ".");
  Interpreter interp(model);
  std::map<std::string, Value> taps;
  auto out = interp.Run(Feeds(), &taps);
  ASSERT_EQ(out.size(), 1u);
  const float* y = out[0].tensor.data<float>();
  // (1+10)*10, (2+20)*20, (3+30)*30, (4+10)*10, (5+20)*20, (6+30)*30
  std::vector<float> want = {110, 440, 990, 140, 500, 1080};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], want[static_cast<size_t>(i)]) << i;
  ASSERT_TRUE(taps.count("s"));
  EXPECT_EQ(taps["s"].tensor.data<float>()[4], 25.0f);
  EXPECT_EQ(interp.last_timings().size(), 2u);
}

TEST(Interpreter, ModelLocalFunctionIsExpanded) {
  GraphBuilder b("g");
  b.Input("x", {2, 3});
  b.Input("b", {3});
  b.Output("y", {2, 3});
  b.Node("AddMul", "AddMul_y", {"x", "b"}, {"y"})->set_domain("my.domain");
  onnx::ModelProto& m = b.proto();
  auto* custom = m.add_opset_import();
  custom->set_domain("my.domain");
  custom->set_version(1);
  auto* f = m.add_functions();
  f->set_name("AddMul");
  f->set_domain("my.domain");
  f->add_input("a");
  f->add_input("c");
  f->add_output("o");
  f->add_opset_import()->set_version(13);
  auto* n1 = f->add_node();
  n1->set_op_type("Add");
  n1->add_input("a");
  n1->add_input("c");
  n1->add_output("t");
  auto* n2 = f->add_node();
  n2->set_op_type("Mul");
  n2->add_input("t");
  n2->add_input("c");
  n2->add_output("o");
  Model model = Model::FromProto(m, ".");
  auto out = Interpreter(model).Run(Feeds());
  EXPECT_EQ(out[0].tensor.data<float>()[5], 1080.0f);
}

// y = x * k through a local function whose attribute k defaults to 3 (FunctionProto
// attribute_proto): one call leaves k unset, the other sets 5.
TEST(Interpreter, FunctionAttributeDefaultsApply) {
  GraphBuilder b("g");
  b.Input("x", {2});
  b.Output("y3", {2});
  b.Output("y5", {2});
  b.Node("ScaleBy", "default_k", {"x"}, {"y3"})->set_domain("my.domain");
  GraphBuilder::Float(b.Node("ScaleBy", "k5", {"x"}, {"y5"}), "k", 5);
  b.graph()->mutable_node(1)->set_domain("my.domain");
  onnx::ModelProto& m = b.proto();
  auto* custom = m.add_opset_import();
  custom->set_domain("my.domain");
  custom->set_version(1);
  auto* f = m.add_functions();
  f->set_name("ScaleBy");
  f->set_domain("my.domain");
  f->add_input("a");
  f->add_output("o");
  auto* k = f->add_attribute_proto();
  k->set_name("k");
  k->set_type(onnx::AttributeProto::FLOAT);
  k->set_f(3);
  f->add_opset_import()->set_version(13);
  auto* c = f->add_node();
  c->set_op_type("Constant");
  c->add_output("kc");
  auto* ref = c->add_attribute();
  ref->set_name("value_float");
  ref->set_type(onnx::AttributeProto::FLOAT);
  ref->set_ref_attr_name("k");
  auto* mul = f->add_node();
  mul->set_op_type("Mul");
  mul->add_input("a");
  mul->add_input("kc");
  mul->add_output("o");
  Model model = Model::FromProto(m, ".");
  auto out = Interpreter(model).Run({{"x", Tensor::FromVector<float>({2}, {1, -2})}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].tensor.data<float>()[1], -6.0f);
  EXPECT_EQ(out[1].tensor.data<float>()[1], -10.0f);
}

// SwiGLU-28 is a function of Swish whose alpha (default 1) reaches a Constant by reference: the
// schemas' defaults fill it. y = a * sigmoid(a) * b.
TEST(Interpreter, SchemaFunctionAttributeDefaultsApply) {
  GraphBuilder b("g", 28);
  b.Input("a", {2});
  b.Input("b", {2});
  b.Output("y", {2});
  b.Node("SwiGLU", "swiglu", {"a", "b"}, {"y"});
  Model model = Model::FromProto(b.proto(), ".");
  auto out = Interpreter(model).Run({{"a", Tensor::FromVector<float>({2}, {1, -1})},
                                     {"b", Tensor::FromVector<float>({2}, {2, 3})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].tensor.data<float>()[0], 2 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(out[0].tensor.data<float>()[1], -3 / (1 + std::exp(1.0)), 1e-6);
}

TEST(Interpreter, MissingKernelNamesOpAndVersions) {
  onnx::ModelProto m = BroadcastModel();
  auto* imp = m.add_opset_import();
  imp->set_domain("acme");
  imp->set_version(2);
  auto* n = m.mutable_graph()->mutable_node(1);
  n->set_op_type("FancyOp");
  n->set_domain("acme");
  Model model = Model::FromProto(m, ".", "test", {.run_checker = false, .infer_shapes = false});
  try {
    Interpreter(model).Run(Feeds());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("acme::FancyOp at opset 2"), std::string::npos)
        << e.what();
  }
}

TEST(Interpreter, InputsAreValidatedAgainstDeclaredTypes) {
  Model model = Model::FromProto(BroadcastModel(), ".");
  Interpreter interp(model);
  auto feeds = Feeds();
  feeds["x"] = Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(interp.Run(feeds), Error);
  feeds = Feeds();
  feeds["x"] = Tensor::FromVector<double>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(interp.Run(feeds), Error);
  feeds = Feeds();
  feeds.erase("b");
  EXPECT_THROW(interp.Run(feeds), Error);
  feeds = Feeds();
  feeds["bogus"] = Tensor::Scalar<float>(1);
  EXPECT_THROW(interp.Run(feeds), Error);
}

// A Conv and the Relu or Clip after it, in every way the Conv kernel finishes its outputs (GEMM
// with and without a bias, depthwise at stride 1 and 2), over inputs with NaN, infinities and
// zeros: the untapped run, which fuses the activation into the Conv, is bitwise the tapped run,
// which runs the two nodes one after the other, and only the untapped run fuses.
struct FusionCase {
  std::string name;
  int64_t group, kernel, stride;
  bool bias;
  // Relu, Clip6 (attributes), Clip13 (initializer bounds), Clip13max (max only), Clip13fed
  // (bounds fed as graph inputs)
  std::string act;
};

Model ConvThenActivation(const FusionCase& c) {
  const int64_t C = 4, H = 9, W = 11;
  GraphBuilder b(c.name, c.act == "Clip6" ? 6 : 13, 3);
  b.Input("x", {1, C, H, W});
  const int64_t out = (H + 2 * (c.kernel / 2) - c.kernel) / c.stride + 1;
  const int64_t outw = (W + 2 * (c.kernel / 2) - c.kernel) / c.stride + 1;
  b.Output("y", {1, C, out, outw});
  std::vector<std::string> ins = {"x", b.Weight({C, C / c.group, c.kernel, c.kernel}, 1.0f)};
  if (c.bias) ins.push_back(b.Weight({C}, 1.0f));
  auto* conv = b.Node("Conv", "conv", ins, {"c"});
  int64_t p = c.kernel / 2;
  GraphBuilder::Ints(conv, "pads", {p, p, p, p});
  GraphBuilder::Ints(conv, "strides", {c.stride, c.stride});
  GraphBuilder::Int(conv, "group", c.group);
  if (c.act == "Relu") {
    b.Node("Relu", "act", {"c"}, {"y"});
  } else if (c.act == "Clip6") {
    auto* clip = b.Node("Clip", "act", {"c"}, {"y"});
    GraphBuilder::Float(clip, "min", -0.5f);
    GraphBuilder::Float(clip, "max", 1.5f);
  } else if (c.act == "Clip13") {
    b.Node("Clip", "act", {"c", b.Const(0.0f), b.Const(6.0f)}, {"y"});
  } else if (c.act == "Clip13fed") {
    b.Input("lo", {});
    b.Input("hi", {});
    b.Node("Clip", "act", {"c", "lo", "hi"}, {"y"});
  } else {
    b.Node("Clip", "act", {"c", "", b.Const(0.25f)}, {"y"});
  }
  return b.Build();
}

TEST(Interpreter, FusedActivationIsBitwiseTheTwoNodes) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2, 2);
  std::vector<float> x(4 * 9 * 11);
  for (auto& v : x) v = u(rng);
  x[7] = nan;
  x[150] = inf;
  x[260] = -inf;
  for (size_t i = 300; i < 340; ++i) x[i] = 0;
  std::vector<FusionCase> cases;
  for (std::string act : {"Relu", "Clip6", "Clip13", "Clip13max", "Clip13fed"}) {
    cases.push_back({"gemm_bias_" + act, 1, 3, 1, true, act});
    cases.push_back({"pointwise_" + act, 1, 1, 1, false, act});
    cases.push_back({"depthwise_bias_" + act, 4, 3, 1, true, act});
    cases.push_back({"depthwise_s2_" + act, 4, 3, 2, false, act});
  }
  for (const auto& c : cases) {
    Model model = ConvThenActivation(c);
    for (int threads : {1, 2}) {
      Interpreter interp(model, DefaultRegistry(), threads);
      std::map<std::string, Value> feeds = {{"x", Tensor::FromVector<float>({1, 4, 9, 11}, x)}};
      if (c.act == "Clip13fed") {
        feeds["lo"] = Tensor::FromVector<float>({}, {-0.75f});
        feeds["hi"] = Tensor::FromVector<float>({}, {0.5f});
      }
      Tensor fused = interp.Run(feeds).at(0).tensor;
      ASSERT_EQ(interp.last_timings().size(), 2u);
      EXPECT_TRUE(interp.last_timings()[1].fused) << c.name;
      std::map<std::string, Value> taps;
      Tensor apart = interp.Run(feeds, &taps).at(0).tensor;
      EXPECT_FALSE(interp.last_timings()[1].fused) << c.name;
      ASSERT_EQ(fused.shape(), apart.shape()) << c.name;
      int nans = 0;
      for (int64_t i = 0; i < fused.numel(); ++i) nans += std::isnan(apart.data<float>()[i]);
      EXPECT_EQ(std::memcmp(fused.data<float>(), apart.data<float>(),
                            sizeof(float) * static_cast<size_t>(fused.numel())),
                0)
          << c.name << " threads " << threads;
      // Relu turns the NaN windows into 0, Clip keeps them NaN: both paths are exercised.
      if (c.act == "Relu") {
        EXPECT_EQ(nans, 0) << c.name;
      } else {
        EXPECT_GT(nans, 0) << c.name;
      }
    }
  }
}

// A Conv output that something besides the activation reads is not fused (the other reader
// needs the Conv's own values).
TEST(Interpreter, AConvOutputWithTwoReadersIsNotFused) {
  GraphBuilder b("two_readers", 13, 3);
  b.Input("x", {1, 2, 5, 5});
  b.Output("y", {1, 2, 5, 5});
  b.Output("c", {1, 2, 5, 5});
  auto* conv = b.Node("Conv", "conv", {"x", b.Weight({2, 2, 3, 3}, 1.0f)}, {"c"});
  GraphBuilder::Ints(conv, "pads", {1, 1, 1, 1});
  b.Node("Relu", "act", {"c"}, {"y"});
  Model model = b.Build();  // the interpreter keeps a reference
  Interpreter interp(model);
  std::vector<float> x(50);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  auto out = interp.Run({{"x", Tensor::FromVector<float>({1, 2, 5, 5}, x)}});
  EXPECT_FALSE(interp.last_timings()[1].fused);
  int negative = 0;
  for (int64_t i = 0; i < out[1].tensor.numel(); ++i) {
    float c = out[1].tensor.data<float>()[i];
    negative += c < 0;
    EXPECT_EQ(out[0].tensor.data<float>()[i], c > 0 ? c : 0.0f);
  }
  EXPECT_GT(negative, 0);  // the graph output "c" kept its negative values
}

}  // namespace
}  // namespace concord::ref
