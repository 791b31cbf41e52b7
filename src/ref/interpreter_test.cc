#include "ref/interpreter.h"

#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
}  // namespace concord::ref
