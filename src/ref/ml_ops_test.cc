// ai.onnx.ml kernels (ops/ml.cc, ops/ml_tree.cc) on small cases worked out by hand in the
// comments. The ONNX Runtime-generated suite (scripts/make_ort_ops_suite.py, ctest
// ort_ops_conformance_ref) covers them against ONNX Runtime; these pin the rules themselves,
// including the corners where ref deliberately follows one implementation over the other.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ir/tensor_io.h"
#include "ref/interpreter.h"
#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct OutSpec {
  DType dtype;
  int rank;
};

// Runs one ai.onnx.ml node on `inputs` (x0, x1, ...) and returns its outputs.
std::vector<Tensor> RunMl(const std::string& op, int opset,
                          const std::function<void(onnx::NodeProto*)>& attrs,
                          const std::vector<Tensor>& inputs, const std::vector<OutSpec>& outs) {
  GraphBuilder b("ml", 17);
  auto* imp = b.proto().add_opset_import();
  imp->set_domain("ai.onnx.ml");
  imp->set_version(opset);
  std::vector<std::string> ins, names;
  std::map<std::string, Value> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back("x" + std::to_string(i));
    b.Input(ins.back(), inputs[i].dtype(), inputs[i].shape());
    feeds[ins.back()] = inputs[i];
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    names.push_back("y" + std::to_string(i));
    b.Output(names.back(), outs[i].dtype, Shape(static_cast<size_t>(outs[i].rank), 1));
    auto* shape =
        b.graph()->mutable_output(static_cast<int>(i))->mutable_type()->mutable_tensor_type();
    for (auto& d : *shape->mutable_shape()->mutable_dim()) d.clear_dim_value();
  }
  auto* n = b.Node(op, op, ins, names);
  n->set_domain("ai.onnx.ml");
  attrs(n);
  std::vector<Tensor> got;
  for (auto& v : Interpreter(b.Build()).Run(feeds)) got.push_back(v.tensor);
  return got;
}

void Strings(onnx::NodeProto* n, const std::string& name, const std::vector<std::string>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRINGS);
  for (const auto& s : v) a->add_strings(s);
}

void TensorAttr(onnx::NodeProto* n, const std::string& name, const Tensor& t) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  TensorToProto(t, name, a->mutable_t());
}

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.GetDouble(i));
  return v;
}

double Logistic(double x) { return 1 / (1 + std::exp(-x)); }

// One stump per tree: tree 0 "x0 <= 1 ? leaf(+2) : leaf(-1)", tree 1 "x1 < 0 ? leaf(0.5) :
// leaf(4)", NaN in x1 going true.
void Stumps(onnx::NodeProto* n, const std::string& prefix, std::vector<int64_t> ids) {
  GraphBuilder::Ints(n, "nodes_treeids", {0, 0, 0, 1, 1, 1});
  GraphBuilder::Ints(n, "nodes_nodeids", {0, 1, 2, 0, 1, 2});
  GraphBuilder::Ints(n, "nodes_featureids", {0, 0, 0, 1, 0, 0});
  Strings(n, "nodes_modes", {"BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"});
  GraphBuilder::Floats(n, "nodes_values", {1, 0, 0, 0, 0, 0});
  GraphBuilder::Ints(n, "nodes_truenodeids", {1, 0, 0, 1, 0, 0});
  GraphBuilder::Ints(n, "nodes_falsenodeids", {2, 0, 0, 2, 0, 0});
  GraphBuilder::Ints(n, "nodes_missing_value_tracks_true", {0, 0, 0, 1, 0, 0});
  GraphBuilder::Ints(n, prefix + "_treeids", {0, 0, 1, 1});
  GraphBuilder::Ints(n, prefix + "_nodeids", {1, 2, 1, 2});
  GraphBuilder::Ints(n, prefix + "_ids", ids);
  GraphBuilder::Floats(n, prefix + "_weights", {2, -1, 0.5f, 4});
}

// Rows: (0, -1) -> 2 + 0.5; (3, 5) -> -1 + 4; (1, NaN) -> 2 + 0.5 (1 <= 1; NaN tracks true).
const Tensor kStumpRows = Tensor::FromVector<float>({3, 2}, {0, -1, 3, 5, 1, kNaN});

TEST(MlTree, RegressorSumAddsBaseValue) {
  auto y = RunMl("TreeEnsembleRegressor", 3,
                 [](onnx::NodeProto* n) {
                   Stumps(n, "target", {0, 0, 0, 0});
                   GraphBuilder::Floats(n, "base_values", {10});
                 },
                 {kStumpRows}, {{DType::kFloat32, 2}});
  EXPECT_EQ(y[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(Values(y[0]), (std::vector<double>{12.5, 13, 12.5}));
}

TEST(MlTree, RegressorAverageDividesByTreesThenAddsBase) {
  // Two targets: tree 0's leaves feed target 0, tree 1's target 1; AVERAGE over 2 trees.
  auto y = RunMl("TreeEnsembleRegressor", 3,
                 [](onnx::NodeProto* n) {
                   Stumps(n, "target", {0, 0, 1, 1});
                   GraphBuilder::Int(n, "n_targets", 2);
                   GraphBuilder::String(n, "aggregate_function", "AVERAGE");
                   GraphBuilder::Floats(n, "base_values", {1, 2});
                 },
                 {kStumpRows}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{2, 2.25, 0.5, 4, 2, 2.25}));
}

TEST(MlTree, ClassifierBinaryLogisticMakesTwoScoresFromOne) {
  // Every leaf names class 0 with mixed signs: the score s goes through LOGISTIC as
  // [logistic(-s), logistic(s)] and the label is the second one when s > 0.
  auto out = RunMl("TreeEnsembleClassifier", 3,
                   [](onnx::NodeProto* n) {
                     Stumps(n, "class", {0, 0, 0, 0});
                     Strings(n, "classlabels_strings", {"no", "yes"});
                     GraphBuilder::Floats(n, "base_values", {-3});
                     GraphBuilder::String(n, "post_transform", "LOGISTIC");
                   },
                   {kStumpRows}, {{DType::kString, 1}, {DType::kFloat32, 2}});
  // s = 2.5 - 3 = -0.5, 3 - 3 = 0, -0.5: labels no, no (0 is not > 0), no.
  EXPECT_EQ(out[0].data<std::string>()[0], "no");
  EXPECT_EQ(out[0].data<std::string>()[1], "no");
  std::vector<double> z = Values(out[1]);
  EXPECT_NEAR(z[0], Logistic(0.5), 1e-6);
  EXPECT_NEAR(z[1], Logistic(-0.5), 1e-6);
  EXPECT_NEAR(z[2], 0.5, 1e-6);
  EXPECT_NEAR(z[3], 0.5, 1e-6);
}

TEST(MlTree, ClassifierMulticlassPicksFirstLargestScore) {
  // Classes 0, 1, 2: tree 0 votes class 0 (+2) or class 1 (-1), tree 1 votes class 2.
  auto out = RunMl("TreeEnsembleClassifier", 3,
                   [](onnx::NodeProto* n) {
                     Stumps(n, "class", {0, 1, 2, 2});
                     GraphBuilder::Ints(n, "classlabels_int64s", {7, 8, 9});
                   },
                   {kStumpRows}, {{DType::kInt64, 1}, {DType::kFloat32, 2}});
  // Row 0: [2, 0, 0.5] -> 7; row 1: [0, -1, 4] -> 9; row 2: [2, 0, 0.5] -> 7.
  EXPECT_EQ(Values(out[0]), (std::vector<double>{7, 9, 7}));
  EXPECT_EQ(Values(out[1]), (std::vector<double>{2, 0, 0.5, 0, -1, 4, 2, 0, 0.5}));
}

TEST(MlTree, TreeEnsemble5SetMembershipAndNaN) {
  // One tree: node 0 "x0 in {1, 3}" -> leaf 0 (10) | node 1; node 1 "x0 >= 5" -> leaf 1 (20) |
  // leaf 2 (30). NaN is no member and, without missing tracking, goes false.
  Tensor modes(DType::kUInt8, {2});
  modes.data<uint8_t>()[0] = 6;
  modes.data<uint8_t>()[1] = 2;
  auto y =
      RunMl("TreeEnsemble", 5,
            [&](onnx::NodeProto* n) {
              GraphBuilder::Int(n, "n_targets", 1);
              GraphBuilder::Ints(n, "tree_roots", {0});
              GraphBuilder::Ints(n, "nodes_featureids", {0, 0});
              TensorAttr(n, "nodes_modes", modes);
              TensorAttr(n, "nodes_splits", Tensor::FromVector<float>({2}, {0, 5}));
              GraphBuilder::Ints(n, "nodes_truenodeids", {0, 1});
              GraphBuilder::Ints(n, "nodes_trueleafs", {1, 1});
              GraphBuilder::Ints(n, "nodes_falsenodeids", {1, 2});
              GraphBuilder::Ints(n, "nodes_falseleafs", {0, 1});
              TensorAttr(n, "membership_values", Tensor::FromVector<float>({3}, {1, 3, kNaN}));
              GraphBuilder::Ints(n, "leaf_targetids", {0, 0, 0});
              TensorAttr(n, "leaf_weights", Tensor::FromVector<float>({3}, {10, 20, 30}));
            },
            {Tensor::FromVector<float>({5, 1}, {3, 1.5f, 5, kNaN, 1})}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{10, 30, 20, 30, 10}));
}

TEST(MlTree, CycleIsAnError) {
  try {
    RunMl("TreeEnsembleRegressor", 3,
          [](onnx::NodeProto* n) {
            GraphBuilder::Ints(n, "nodes_treeids", {0, 0});
            GraphBuilder::Ints(n, "nodes_nodeids", {0, 1});
            GraphBuilder::Ints(n, "nodes_featureids", {0, 0});
            Strings(n, "nodes_modes", {"BRANCH_LEQ", "BRANCH_LEQ"});
            GraphBuilder::Floats(n, "nodes_values", {0, 0});
            GraphBuilder::Ints(n, "nodes_truenodeids", {1, 0});
            GraphBuilder::Ints(n, "nodes_falsenodeids", {1, 0});
          },
          {Tensor::FromVector<float>({1, 1}, {0})}, {{DType::kFloat32, 2}});
    FAIL() << "a cyclic tree ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
}

TEST(MlEncoders, LabelEncoder4MatchesNaNKeysAndTakesTheLastRepeat) {
  auto y = RunMl("LabelEncoder", 4,
                 [](onnx::NodeProto* n) {
                   TensorAttr(n, "keys_tensor", Tensor::FromVector<float>({3}, {kNaN, 1, 1}));
                   TensorAttr(n, "values_tensor", Tensor::FromVector<int64_t>({3}, {5, 6, 7}));
                 },
                 {Tensor::FromVector<float>({3}, {kNaN, 1, 2})}, {{DType::kInt64, 1}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{5, 7, -1}));  // -1: the default default
}

TEST(MlEncoders, LabelEncoder2NaNMatchesNothing) {
  auto y = RunMl("LabelEncoder", 2,
                 [](onnx::NodeProto* n) {
                   GraphBuilder::Floats(n, "keys_floats", {kNaN, 1});
                   GraphBuilder::Floats(n, "values_floats", {5, 6});
                   GraphBuilder::Float(n, "default_float", 0.5f);
                 },
                 {Tensor::FromVector<float>({2}, {kNaN, 1})}, {{DType::kFloat32, 1}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{0.5, 6}));
}

TEST(MlEncoders, OneHotEncoderTruncatesNumbers) {
  auto y = RunMl("OneHotEncoder", 1,
                 [](onnx::NodeProto* n) {
                   GraphBuilder::Ints(n, "cats_int64s", {2, 7});
                 },
                 {Tensor::FromVector<double>({3}, {7.9, 2, 3})}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{0, 1, 1, 0, 0, 0}));
}

TEST(MlLinear, BinaryClassifierWritesOneMinusScore) {
  // One coefficient row with two labels: s = 2 * x + 0.5; label = s > 0; scores [1 - s, s].
  auto out = RunMl("LinearClassifier", 1,
                   [](onnx::NodeProto* n) {
                     GraphBuilder::Floats(n, "coefficients", {2});
                     GraphBuilder::Floats(n, "intercepts", {0.5f});
                     GraphBuilder::Ints(n, "classlabels_ints", {4, 6});
                   },
                   {Tensor::FromVector<float>({2, 1}, {1, -1})},
                   {{DType::kInt64, 1}, {DType::kFloat32, 2}});
  EXPECT_EQ(Values(out[0]), (std::vector<double>{6, 4}));
  EXPECT_EQ(Values(out[1]), (std::vector<double>{-1.5, 2.5, 2.5, -1.5}));
}

TEST(MlPreprocessing, NormalizerMaxDividesByTheRowMaximum) {
  // The spec's max(x) (ONNX Runtime), not max(|x|): [-4, 2] / 2; an all-zero row stays.
  auto y =
      RunMl("Normalizer", 1, [](onnx::NodeProto* n) { GraphBuilder::String(n, "norm", "MAX"); },
            {Tensor::FromVector<float>({2, 2}, {-4, 2, 0, 0})}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{-2, 1, 0, 0}));
}

TEST(MlPreprocessing, ScalerSubtractsThenMultiplies) {
  auto y = RunMl("Scaler", 1,
                 [](onnx::NodeProto* n) {
                   GraphBuilder::Floats(n, "offset", {1, 2});
                   GraphBuilder::Floats(n, "scale", {3});
                 },
                 {Tensor::FromVector<int64_t>({1, 2}, {4, 5})}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{9, 9}));
}

TEST(MlZipMap, RefusedAsUnsupported) {
  try {
    RunMl("ZipMap", 1,
          [](onnx::NodeProto* n) {
            GraphBuilder::Ints(n, "classlabels_int64s", {0, 1});
          },
          {Tensor::FromVector<float>({1, 2}, {0.25f, 0.75f})}, {{DType::kFloat32, 2}});
    FAIL() << "ZipMap ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("sequence of maps"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concord::ref
