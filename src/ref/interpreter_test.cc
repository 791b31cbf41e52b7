#include "ref/interpreter.h"

#include <gtest/gtest.h>

namespace concord::ref {
namespace {

void AddTensorValueInfo(onnx::ValueInfoProto* vi, const std::string& name, const Shape& shape) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         std::vector<std::string> out, const std::string& domain = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + out[0]);
  n->set_domain(domain);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

// y = (x + b) * b with x: [2,3], b: [3] (broadcast), intermediate "s".
onnx::ModelProto BroadcastModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  AddTensorValueInfo(g->add_input(), "x", {2, 3});
  AddTensorValueInfo(g->add_input(), "b", {3});
  AddTensorValueInfo(g->add_output(), "y", {2, 3});
  AddNode(g, "Add", {"x", "b"}, {"s"});
  AddNode(g, "Mul", {"s", "b"}, {"y"});
  return m;
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
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
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
  auto* g = m.mutable_graph();
  g->set_name("g");
  AddTensorValueInfo(g->add_input(), "x", {2, 3});
  AddTensorValueInfo(g->add_input(), "b", {3});
  AddTensorValueInfo(g->add_output(), "y", {2, 3});
  AddNode(g, "AddMul", {"x", "b"}, {"y"}, "my.domain");
  Model model = Model::FromProto(m, ".");
  auto out = Interpreter(model).Run(Feeds());
  EXPECT_EQ(out[0].tensor.data<float>()[5], 1080.0f);
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
    EXPECT_NE(std::string(e.what()).find("acme::FancyOp at opset 2"), std::string::npos) << e.what();
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
