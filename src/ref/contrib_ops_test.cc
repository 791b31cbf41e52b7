// com.microsoft kernels (ops/contrib.cc, ops/contrib_qlinear.cc) on small cases worked out by hand
// in the comments. The ONNX Runtime-generated suite (scripts/make_ort_ops_suite.py, ctest
// ort_ops_conformance_ref) holds them to ONNX Runtime; these pin the definitions, including where
// each QLinear op rounds.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ref/interpreter.h"
#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

// Runs one com.microsoft node on `inputs` (x0, x1, ...; a default Tensor is an omitted input)
// and returns its first `n_out` outputs, declared with the given types and ranks.
std::vector<Tensor> RunMs(const std::string& op, const std::function<void(onnx::NodeProto*)>& attrs,
                          const std::vector<Tensor>& inputs,
                          const std::vector<std::pair<DType, int>>& outs) {
  GraphBuilder b("ms", 17);
  auto* imp = b.proto().add_opset_import();
  imp->set_domain("com.microsoft");
  imp->set_version(1);
  std::vector<std::string> ins, names;
  std::map<std::string, Value> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      ins.push_back("");
      continue;
    }
    ins.push_back("x" + std::to_string(i));
    b.Input(ins.back(), inputs[i].dtype(), inputs[i].shape());
    feeds[ins.back()] = inputs[i];
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    names.push_back("y" + std::to_string(i));
    b.Output(names.back(), outs[i].first, Shape(static_cast<size_t>(outs[i].second), 1));
    auto* tt = b.graph()->mutable_output(static_cast<int>(i))->mutable_type();
    for (auto& d : *tt->mutable_tensor_type()->mutable_shape()->mutable_dim()) d.clear_dim_value();
  }
  auto* n = b.Node(op, op, ins, names);
  n->set_domain("com.microsoft");
  if (attrs) attrs(n);
  std::vector<Tensor> got;
  for (auto& v : Interpreter(b.Build()).Run(feeds)) got.push_back(v.tensor);
  return got;
}

Tensor F(const Shape& s, const std::vector<float>& v) { return Tensor::FromVector<float>(s, v); }
Tensor U8(const Shape& s, const std::vector<uint8_t>& v) {
  return Tensor::FromVector<uint8_t>(s, v);
}
Tensor I8(const Shape& s, const std::vector<int8_t>& v) { return Tensor::FromVector<int8_t>(s, v); }
Tensor Scalar(float v) { return Tensor::Scalar<float>(v); }

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.GetDouble(i));
  return v;
}

void ExpectNear(const Tensor& got, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got.GetDouble(static_cast<int64_t>(i)), want[i], tol) << "element " << i;
}

TEST(ContribGelu, Values) {
  // Gelu(1) = 0.5 (1 + erf(1 / sqrt 2)) = 0.8413447; Gelu(-1) = -0.1586553.
  ExpectNear(RunMs("Gelu", {}, {F({2}, {1, -1})}, {{DType::kFloat32, 1}})[0],
             {0.8413447, -0.1586553});
  // BiasGelu(A, B) = Gelu(A + B): 0.5 + 0.5 = 1.
  ExpectNear(
      RunMs("BiasGelu", {}, {F({1, 2}, {0.5f, 3}), F({2}, {0.5f, -3})}, {{DType::kFloat32, 2}})[0],
      {0.8413447, 0});
  // QuickGelu(1) = 1 / (1 + e^-1.702) = 0.8457958.
  ExpectNear(RunMs("QuickGelu", {}, {F({1}, {1})}, {{DType::kFloat32, 1}})[0], {0.8457958});
  // FastGelu(1) = 0.5 (1 + tanh(0.7978846 * 1.044715)) = 0.8411920.
  ExpectNear(RunMs("FastGelu", {}, {F({1}, {1})}, {{DType::kFloat32, 1}})[0], {0.8411920});
}

TEST(ContribFusedConv, SumThenActivation) {
  // 1x1 convolution, weight 2, bias 1, on [1, 1, 1, 3] = {-1, 0, 1}: {-1, 1, 3}; + Z {0, -2, 1}
  // = {-1, -1, 4}; Clip(0, 3) = {0, 0, 3}.
  auto y = RunMs(
      "FusedConv",
      [](onnx::NodeProto* n) {
        GraphBuilder::String(n, "activation", "Clip");
        GraphBuilder::Floats(n, "activation_params", {0, 3});
      },
      {F({1, 1, 1, 3}, {-1, 0, 1}), F({1, 1, 1, 1}, {2}), F({1}, {1}), F({1, 1, 1, 3}, {0, -2, 1})},
      {{DType::kFloat32, 4}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{0, 0, 3}));
}

TEST(ContribFusedMatMul, TransBatchMovesTheFirstAxis) {
  // A [2, 1, 2] with transBatchA reads as [1, 2, 2] = [[a0], [a1]] stacked as rows: rows
  // (1, 2) and (3, 4). B = identity, alpha 0.5 -> [[0.5, 1], [1.5, 2]].
  auto y = RunMs("FusedMatMul",
                 [](onnx::NodeProto* n) {
                   GraphBuilder::Int(n, "transBatchA", 1);
                   GraphBuilder::Float(n, "alpha", 0.5f);
                 },
                 {F({2, 1, 2}, {1, 2, 3, 4}), F({1, 2, 2}, {1, 0, 0, 1})}, {{DType::kFloat32, 3}});
  EXPECT_EQ(y[0].shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(Values(y[0]), (std::vector<double>{0.5, 1, 1.5, 2}));
}

TEST(ContribSkipLayerNorm, AllFourOutputs) {
  // sum = input + skip + bias = {1, 3} + {0, 0} + {1, 1} = {2, 4}: mean 3, variance 1, so
  // normalized {-1, 1} (epsilon 0); * gamma {2, 2} + beta {0, 1} = {-2, 3}.
  auto y = RunMs(
      "SkipLayerNormalization", [](onnx::NodeProto* n) { GraphBuilder::Float(n, "epsilon", 0); },
      {F({1, 2}, {1, 3}), F({1, 2}, {0, 0}), F({2}, {2, 2}), F({2}, {0, 1}), F({2}, {1, 1})},
      {{DType::kFloat32, 2}, {DType::kFloat32, 2}, {DType::kFloat32, 2}, {DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{-2, 3}));
  EXPECT_EQ(Values(y[1]), (std::vector<double>{3}));
  EXPECT_EQ(Values(y[2]), (std::vector<double>{1}));
  EXPECT_EQ(Values(y[3]), (std::vector<double>{2, 4}));
}

TEST(ContribSkipLayerNorm, SimplifiedIsRmsNorm) {
  // {3, 4} + {0, 0}: mean square 12.5, so {3, 4} / sqrt(12.5) with gamma 1.
  auto y = RunMs("SkipSimplifiedLayerNormalization", {},
                 {F({1, 2}, {3, 4}), F({1, 2}, {0, 0}), F({2}, {1, 1})}, {{DType::kFloat32, 2}});
  ExpectNear(y[0], {3 / std::sqrt(12.5), 4 / std::sqrt(12.5)});
}

TEST(ContribMatMulNBits, DefaultZeroPointIsEight) {
  // K = 16, N = 1, one block of 16 4-bit codes: every byte 0x9A holds codes 10 (low) and 9
  // (high): (10 - 8) * 0.5 = 1 and (9 - 8) * 0.5 = 0.5. A = ones: 8 * 1 + 8 * 0.5 = 12.
  Tensor b(DType::kUInt8, {1, 1, 8});
  for (int i = 0; i < 8; ++i) b.data<uint8_t>()[i] = 0x9A;
  std::vector<float> ones(16, 1.0f);
  auto y = RunMs("MatMulNBits",
                 [](onnx::NodeProto* n) {
                   GraphBuilder::Int(n, "K", 16);
                   GraphBuilder::Int(n, "N", 1);
                   GraphBuilder::Int(n, "block_size", 16);
                 },
                 {F({1, 16}, ones), b, F({1}, {0.5f})}, {{DType::kFloat32, 2}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{12}));
}

TEST(ContribQLinear, AddRoundsAfterTheZeroPoint) {
  // int8: 0.5 * (3 - 0) + 0.5 * (0 - 0) = 1.5; / 1 + 1 = 2.5 -> 2 (half to even); rounding
  // before the zero point would give round(1.5) + 1 = 3.
  auto c = RunMs("QLinearAdd", {},
                 {I8({1}, {3}), Scalar(0.5f), I8({}, {0}), I8({1}, {0}), Scalar(0.5f), I8({}, {0}),
                  Scalar(1), I8({}, {1})},
                 {{DType::kInt8, 1}});
  EXPECT_EQ(Values(c[0]), (std::vector<double>{2}));
}

TEST(ContribQLinear, GlobalAveragePoolRoundsBeforeTheZeroPoint) {
  // mean of {0, 1, 2, 3} * 1 = 1.5 -> round 2, + 1 = 3 (rounding after the zero point: 2.5 -> 2).
  auto y = RunMs("QLinearGlobalAveragePool", {},
                 {U8({1, 1, 2, 2}, {0, 1, 2, 3}), Scalar(1), U8({}, {0}), Scalar(1), U8({}, {1})},
                 {{DType::kUInt8, 4}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{3}));
}

TEST(ContribQLinear, ConcatRequantizesEachInput) {
  // Y scale 0.5, zero point 10: A (scale 1, zp 0) {1, 2} -> {12, 14}; B (scale 0.25, zp 4)
  // {6} -> 0.5 / 0.5 + 10 = 11.
  auto y = RunMs("QLinearConcat", [](onnx::NodeProto* n) { GraphBuilder::Int(n, "axis", 0); },
                 {Scalar(0.5f), U8({}, {10}), U8({2}, {1, 2}), Scalar(1), U8({}, {0}), U8({1}, {6}),
                  Scalar(0.25f), U8({}, {4})},
                 {{DType::kUInt8, 1}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{12, 14, 11}));
}

TEST(ContribQLinear, LeakyReluSaturates) {
  // uint8, scale 1, zp 0 in; scale 0.5, zp 0 out: 200 -> 400 saturates to 255.
  auto y = RunMs("QLinearLeakyRelu", {},
                 {U8({2}, {200, 3}), Scalar(1), U8({}, {0}), Scalar(0.5f), U8({}, {0})},
                 {{DType::kUInt8, 1}});
  EXPECT_EQ(Values(y[0]), (std::vector<double>{255, 6}));
}

}  // namespace
}  // namespace concord::ref
