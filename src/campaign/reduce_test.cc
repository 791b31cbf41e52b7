// Delta debugging over nodes on a real runtime bug: OpenCV 4.6 DNN drops the scale of a
// MatMul followed by Mul(scalar) when fusing (findings/opencv/matmul_scale_fusion). Buried in a
// 9-node model, the reducer must find the 2-node core, and the reduced model must still show
// the bug on OpenCV while ref computes the right value.
#include "campaign/reduce.h"

#include <gtest/gtest.h>

#include "backends/ref_backend.h"
#include "compare/compare.h"

namespace concord {
namespace {

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         const std::string& out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n_" + out);
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

void AddInput(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims) {
  auto* vi = g->add_input();
  vi->set_name(name);
  auto* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

Model BuriedMatMulScale() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("buried");
  AddInput(g, "x", {4, 8});
  AddInput(g, "y", {8, 8});
  auto* scale = g->add_initializer();
  scale->set_name("scale");
  scale->set_data_type(onnx::TensorProto::FLOAT);
  scale->add_float_data(0.25f);
  AddNode(g, "Relu", {"x"}, "a");
  AddNode(g, "Tanh", {"y"}, "b");
  AddNode(g, "Abs", {"a"}, "c");
  AddNode(g, "Sigmoid", {"b"}, "d");
  AddNode(g, "MatMul", {"c", "d"}, "e");
  AddNode(g, "Mul", {"e", "scale"}, "f");
  AddNode(g, "Neg", {"f"}, "h");
  AddNode(g, "Exp", {"h"}, "i");
  AddNode(g, "Sqrt", {"i"}, "z");
  auto* out = g->add_output();
  out->set_name("z");
  auto* t = out->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_value(4);
  t->mutable_shape()->add_dim()->set_dim_value(8);
  return Model::FromProto(m, "", "buried matmul-scale model");
}

TEST(ReduceModel, FindsTheTwoNodeCoreOfAnOpenCvFusionBug) {
  Model model = BuriedMatMulScale();
  ValueMap inputs;
  Tensor x(DType::kFloat32, {4, 8}), y(DType::kFloat32, {8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = 0.1f * static_cast<float>(i % 7);
  for (int64_t i = 0; i < y.numel(); ++i)
    y.data<float>()[i] = 0.05f * static_cast<float>(i % 5) - 0.1f;
  inputs["x"] = x;
  inputs["y"] = y;
  EnvSpec opencv = EnvSpec::Parse("opencv@cpu,opt=3");
  auto differs = [&](const Model& candidate, const ValueMap& in) {
    std::vector<Value> want = PrepareSession(candidate, EnvSpec::Parse("ref"))->Run(in);
    std::vector<Value> got;
    try {
      got = PrepareSession(candidate, opencv)->Run(in);
    } catch (const Error&) {
      return false;  // a different symptom (OpenCV rejects the candidate) does not count
    }
    for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
      if (!CompareTensors(want[i].tensor, got[i].tensor, Tolerance{1e-3, 1e-4}).ok) return true;
    }
    return false;
  };
  ASSERT_TRUE(differs(model, inputs)) << "the full model must show the OpenCV bug";
  ReduceResult r = ReduceModel(model, inputs, differs);
  EXPECT_EQ(r.original_nodes, 9);
  ASSERT_EQ(r.reduced_nodes, 2) << r.model.proto().graph().DebugString();
  EXPECT_EQ(r.model.graph().node(0).op_type(), "MatMul");
  EXPECT_EQ(r.model.graph().node(1).op_type(), "Mul");
  EXPECT_LE(r.tests, 200);
  // The reduced model's inputs are the values MatMul saw in the full model.
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_TRUE(r.inputs.count("c") && r.inputs.count("d"));
  EXPECT_TRUE(differs(r.model, r.inputs));
}

// The input phase freezes what the symptom does not need as a variable and keeps what it does:
// here the "symptom" is a MatMul node whose second operand is still a graph input.
TEST(ReduceModel, FreezesInputsTheSymptomDoesNotNeed) {
  Model model = BuriedMatMulScale();
  ValueMap inputs;
  inputs["x"] = Tensor(DType::kFloat32, {4, 8});
  inputs["y"] = Tensor(DType::kFloat32, {8, 8});
  auto is_input = [](const Model& m, const std::string& name) {
    for (const auto& vi : m.graph().input()) {
      if (vi.name() == name) return true;
    }
    return false;
  };
  auto oracle = [&](const Model& m, const ValueMap& in) {
    for (const auto& n : m.graph().node()) {
      if (n.op_type() == "MatMul" && is_input(m, n.input(1)) && in.count(n.input(1))) return true;
    }
    return false;
  };
  ReduceResult r = ReduceModel(model, inputs, oracle);
  ASSERT_EQ(r.reduced_nodes, 1) << r.model.proto().graph().DebugString();
  EXPECT_EQ(r.model.graph().node(0).op_type(), "MatMul");
  // MatMul(c, d): c is frozen into an initializer with the value ref computed, d stays.
  EXPECT_EQ(r.frozen_inputs, 1);
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_TRUE(r.inputs.count("d"));
  EXPECT_FALSE(is_input(r.model, "c"));
  bool c_is_initializer = false;
  for (const auto& init : r.model.graph().initializer()) c_is_initializer |= init.name() == "c";
  EXPECT_TRUE(c_is_initializer);
  // With the phase off, both cut tensors stay inputs.
  ReduceResult nodes_only = ReduceModel(model, inputs, oracle, {200, false});
  EXPECT_EQ(nodes_only.frozen_inputs, 0);
  EXPECT_EQ(nodes_only.inputs.size(), 2u);
}

TEST(SubModel, CutTensorsBecomeInputsAndDanglingOutputsOutputs) {
  Model model = BuriedMatMulScale();
  ValueMap values;
  Tensor x(DType::kFloat32, {4, 8}), y(DType::kFloat32, {8, 8});
  values["x"] = x;
  values["y"] = y;
  ValueMap taps;
  RunReference(model, {{"x", x}, {"y", y}}, &taps);
  for (auto& [k, v] : taps) values[k] = v;
  auto sub = SubModel(model, values, {2, 4});  // Abs, MatMul: d is cut, c produced inside
  ASSERT_TRUE(sub.has_value());
  const auto& g = sub->first.graph();
  ASSERT_EQ(g.input_size(), 2);  // a (Abs's input) and d (MatMul's second input)
  EXPECT_EQ(g.input(0).name(), "a");
  EXPECT_EQ(g.input(1).name(), "d");
  ASSERT_EQ(g.output_size(), 1);
  EXPECT_EQ(g.output(0).name(), "e");
  EXPECT_FALSE(SubModel(model, values, {}).has_value());
}

}  // namespace
// A runtime that ignores Abs over any computed producer (OpenVINO 2026.4's Abs over a
// constant-folded tensor): in Abs(Sub(x, y)) the Sub is incidental, the Abs is not; an oracle
// that needs Sub instead makes the Abs incidental; a ReduceSum producing the graph output is
// never incidental.
Model AbsOfSub(bool with_reduce) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("abs_of_sub");
  AddInput(g, "x", {4});
  AddInput(g, "y", {4});
  AddNode(g, "Sub", {"x", "y"}, "d");
  AddNode(g, "Abs", {"d"}, with_reduce ? "a" : "z");
  if (with_reduce) AddNode(g, "ReduceSum", {"a"}, "z");
  auto* out = g->add_output();
  out->set_name("z");
  auto* t = out->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape();
  if (with_reduce) t->mutable_shape()->add_dim()->set_dim_value(1);  // keepdims=1
  if (!with_reduce) t->mutable_shape()->add_dim()->set_dim_value(4);
  return Model::FromProto(m, "", "abs of sub");
}

bool Has(const Model& m, const std::string& op) {
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == op) return true;
  }
  return false;
}

TEST(IncidentalNodes, TheProducerOfAnIgnoredAbsIsIncidental) {
  ValueMap in{{"x", Tensor::FromVector<float>({4}, {1, 2, 3, 4})},
              {"y", Tensor::FromVector<float>({4}, {4, 3, 2, 1})}};
  // "Fails" while an Abs reads a node's output, whatever that node is.
  auto abs_of_node = [](const Model& m, const ValueMap&) {
    std::set<std::string> produced;
    for (const auto& n : m.graph().node()) {
      if (n.op_type() == "Abs" && produced.count(n.input(0))) return true;
      for (const auto& o : n.output()) produced.insert(o);
    }
    return false;
  };
  int tests = 0;
  EXPECT_EQ(IncidentalNodes(AbsOfSub(false), in, abs_of_node, &tests), std::vector<int>{0});
  // Sub -> Neg(-value) (still fails); Abs, the graph output, -> Neg, Identity (both pass).
  EXPECT_EQ(tests, 3);
  auto needs_sub = [](const Model& m, const ValueMap&) { return Has(m, "Sub"); };
  EXPECT_EQ(IncidentalNodes(AbsOfSub(false), in, needs_sub), std::vector<int>{1});
  // The ReduceSum produces the graph output: never replaced by Neg over its value (the env
  // could only fail on that Neg), and not element-wise.
  auto always = [](const Model&, const ValueMap&) { return true; };
  EXPECT_EQ(IncidentalNodes(AbsOfSub(true), in, always), (std::vector<int>{0, 1}));
  EXPECT_EQ(IncidentalNodes(AbsOfSub(true), in, abs_of_node), std::vector<int>{0});
}

// An op swap needs the element type of the node's first input; an intermediate tensor has no
// declared type (no value_info), so it comes from ref's value: Abs over Relu(x) gets Neg and
// Identity tried, not Identity alone.
TEST(IncidentalNodes, SwapsKnowTheTypeOfIntermediateTensors) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("abs_of_relu");
  AddInput(g, "x", {4});
  AddNode(g, "Relu", {"x"}, "r");
  AddNode(g, "Abs", {"r"}, "z");
  auto* out = g->add_output();
  out->set_name("z");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  Model model = Model::FromProto(m, "", "abs of relu");
  ValueMap in{{"x", Tensor::FromVector<float>({4}, {-1, 2, -3, 4})}};
  std::vector<std::string> tried;
  auto record = [&](const Model& c, const ValueMap&) {
    tried.push_back(c.graph().node(1).op_type() + "<-" + c.graph().node(0).op_type());
    return false;
  };
  IncidentalNodes(model, in, record);
  // Relu: Neg over its value, then Neg, Abs, Identity; Abs (the output): Neg, Identity.
  EXPECT_EQ(tried, (std::vector<std::string>{"Abs<-Neg", "Abs<-Neg", "Abs<-Abs", "Abs<-Identity",
                                             "Neg<-Relu", "Identity<-Relu"}));
}

// The value swap keeps every downstream value: Neg over minus Sub's value feeds Abs exactly
// what Sub fed it, so an oracle that checks Abs's output against |x - y| still holds.
TEST(IncidentalNodes, TheValueSwapKeepsDownstreamValues) {
  ValueMap in{{"x", Tensor::FromVector<float>({4}, {1, 2, 3, 4})},
              {"y", Tensor::FromVector<float>({4}, {4, 3, 2, 1})}};
  std::vector<std::vector<float>> seen;
  auto record = [&](const Model& m, const ValueMap& v) {
    auto out = PrepareReference(m)->Run(v);
    const Tensor& t = out[0].tensor;
    seen.emplace_back(t.data<float>(), t.data<float>() + t.numel());
    return false;
  };
  IncidentalNodes(AbsOfSub(false), in, record);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0], (std::vector<float>{3, 1, 1, 3}));  // Abs(Neg(-(x - y)))
}

}  // namespace concord
