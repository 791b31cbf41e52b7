// The signatures that tell one fuzzing bug from another: normalised error messages, op and
// node signatures, and the differential oracle's tolerance.
#include "campaign/fuzz_runner.h"

#include <gtest/gtest.h>

namespace concord {
namespace {

TEST(NormalizeMessage, TakesOutNumbersAndNamesButKeepsSourceLocationsAndDtypes) {
  EXPECT_EQ(NormalizeMessage("Split 'n_3' got [3,5] (opset 17)"),
            NormalizeMessage("Split 'n_Relu_7' got [2,1] (opset 18)"));
  EXPECT_EQ(NormalizeMessage("node v12 failed: 1.5e-3 > 0.25"), "node _ failed: N > N");
  // The assertion's location names the bug.
  EXPECT_NE(NormalizeMessage("shape_utils.hpp:170: error: Assertion failed"),
            NormalizeMessage("reshape_layer.cpp:108: error: Assertion failed"));
  EXPECT_NE(NormalizeMessage("expected float16, got float32"),
            NormalizeMessage("expected int32, got int64"));
  EXPECT_EQ(NormalizeMessage("a  b\n c"), "a b c");
  EXPECT_EQ(NormalizeMessage("max abs 1.2e-05, expected -0.5, got 3"),
            "max abs N, expected N, got N");
}

Model TwoNodeModel(int64_t alpha_present) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("two_nodes");
  auto* in = g->add_input();
  in->set_name("x");
  auto* t = in->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_value(4);
  auto* relu = g->add_node();
  relu->set_op_type("LeakyRelu");
  relu->add_input("x");
  relu->add_output("y");
  if (alpha_present) {
    auto* a = relu->add_attribute();
    a->set_name("alpha");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(0.5f);
  }
  auto* abs = g->add_node();
  abs->set_op_type("Abs");
  abs->add_input("y");
  abs->add_output("z");
  auto* out = g->add_output();
  out->set_name("z");
  auto* ot = out->mutable_type()->mutable_tensor_type();
  ot->set_elem_type(onnx::TensorProto::FLOAT);
  ot->mutable_shape()->add_dim()->set_dim_value(4);
  return Model::FromProto(m, "", "two nodes");
}

TEST(NodeSignatures, OpAttributeNamesAndInputDtype) {
  EXPECT_EQ(OpSignature(TwoNodeModel(1)), "Abs,LeakyRelu");
  EXPECT_EQ(NodeSignatures(TwoNodeModel(1)),
            (std::vector<std::string>{"Abs():float", "LeakyRelu(alpha):float"}));
  EXPECT_EQ(NodeSignatures(TwoNodeModel(0)),
            (std::vector<std::string>{"Abs():float", "LeakyRelu():float"}));
}

TEST(Disagreement, AtolScalesWithTheOutputsMagnitudeOnlyWhenAsked) {
  Tensor want(DType::kFloat32, {2}), got(DType::kFloat32, {2});
  want.data<float>()[0] = 100;
  want.data<float>()[1] = 0;
  got.data<float>()[0] = 100;
  got.data<float>()[1] = 0.05f;  // 0.05 > atol 1e-3, but <= 1e-3 * 100
  std::vector<Value> w{Value(want)}, g{Value(got)};
  EXPECT_EQ(Disagreement(w, g, Tolerance{1e-2, 1e-3}), "");
  EXPECT_NE(Disagreement(w, g, Tolerance{1e-2, 1e-3}, false), "");
  EXPECT_NE(Disagreement(w, {}, Tolerance{}), "");
}

// A finding's message comes from its repro's rerun, and only when the rerun shows the symptom.
TEST(RerunMessage, DescribesTheRerunOrNothingWhenItDoesNotReproduce) {
  Tensor want(DType::kFloat32, {2}), got(DType::kFloat32, {2});
  want.data<float>()[0] = 1;
  want.data<float>()[1] = 2;
  got.data<float>()[0] = 1;
  got.data<float>()[1] = 7;
  std::vector<Value> expected{Value(want)};
  Outcome differs{"", "", {Value(got)}, 1};
  Outcome agrees{"", "", {Value(want)}, 1};
  Outcome crashed{"crash", "worker died (signal 11)", {}, 1};
  Tolerance tol{1e-2, 1e-3};
  std::string found = "output 0: the unreduced model's numbers";
  std::string m = RerunMessage("inconsistent", differs, expected, tol, found);
  EXPECT_EQ(m, Disagreement(expected, differs.outputs, tol));
  EXPECT_NE(m, found);
  EXPECT_EQ(RerunMessage("inconsistent", agrees, expected, tol, found), "");
  EXPECT_EQ(RerunMessage("inconsistent", crashed, expected, tol, found), "");  // another symptom
  EXPECT_EQ(RerunMessage("crash", crashed, expected, tol, "found crash"),
            "worker died (signal 11)");
  EXPECT_EQ(RerunMessage("error", crashed, expected, tol, "found error"), "");
  std::string u = RerunMessage("undefined", differs, expected, tol, "x — ties into ArgMax");
  EXPECT_NE(u.find(" — ties into ArgMax"), std::string::npos) << u;
}

}  // namespace
}  // namespace concord
