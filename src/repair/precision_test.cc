// Precision undone: a target whose weights a conversion rounded (the fp16 pass, with fold_bn
// first as TFLite and OpenVINO fuse BatchNorms; the int8 QDQ pass) is repaired in one or two edits
// and agrees with the source on held-out inputs; quantize-dequantize round trips are removed
// through the data movement tf2onnx puts between them, and the result computes the float graph.
#include "repair/precision.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "backends/backend.h"
#include "ir/tensor_io.h"
#include "localize/localize_testing.h"
#include "passes/fault_suite_net.h"
#include "passes/pass.h"
#include "repair/repair.h"
#include "testing/graph_builder.h"

namespace concord::repair {
namespace {

bool HasChange(const RepairResult& r, const std::string& change) {
  for (const auto& p : r.patches) {
    if (p.change == change) return true;
  }
  return false;
}

TEST(RepairPrecision, Float16WeightsWithAFoldedBatchNormAreRestored) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model tgt = passes::RunPasses(src, {"fold_bn", "fp16"}, {}).model;
  RepairOptions o;
  o.localize.tol.atol = 1e-6;  // float16 weights diverge by ~1e-3; the fold by float32 rounding
  RepairResult r = Repair(src, tgt, localize::testing::RandomImages(4, 5), o);
  ASSERT_TRUE(r.repaired) << r.ToJson().dump(1);
  EXPECT_TRUE(HasChange(r, "restore the float32 weights of every layer the conversion rounded"))
      << r.ToJson().dump(1);
  // The input normalization's rounded mean/std come back one edit each; every Conv/Gemm in one.
  EXPECT_LE(r.patches.size(), 3u) << r.ToJson().dump(1);
  EXPECT_NE(r.patches.back().before.find("float16"), std::string::npos) << r.patches.back().before;
}

// A BatchNorm before a conv, as DenseNet has it (Conv -> Mul -> Add -> Relu -> Conv; no converter
// folds it into the next conv's weights), float16-rounded with everything else: its per-channel
// Mul/Add constants come back in the same edit as the conv weights (one edit each otherwise).
Model ConvBnConv() {
  test::GraphBuilder b("bn_before_conv", 13, 5);
  b.Input("image", {1, 3, 16, 16});
  b.Output("y", {1, 4, 16, 16});
  auto values = [](Shape shape, float phase) {
    std::vector<float> v(static_cast<size_t>(NumElements(shape)));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = 0.5f + std::sin(phase + 0.37f * static_cast<float>(i));
    return Tensor::FromVector<float>(shape, v);
  };
  b.Init("w1", values({6, 3, 3, 3}, 0.1f));
  b.Init("scale", values({1, 6, 1, 1}, 0.9f));
  b.Init("shift", values({1, 6, 1, 1}, 1.7f));
  b.Init("w2", values({4, 6, 1, 1}, 2.3f));
  test::GraphBuilder::Ints(b.Node("Conv", "conv1", {"image", "w1"}, {"c1"}), "pads", {1, 1, 1, 1});
  b.Node("Mul", "bn_mul", {"c1", "scale"}, {"m"});
  b.Node("Add", "bn_add", {"m", "shift"}, {"a"});
  b.Node("Relu", "relu", {"a"}, {"r"});
  b.Node("Conv", "conv2", {"r", "w2"}, {"y"});
  return b.Build();
}

TEST(RepairPrecision, Float16ConstantsOfAnUnfoldedBatchNormComeBackWithTheWeights) {
  Model src = ConvBnConv();
  Model tgt = passes::RunPasses(src, {"fp16"}, {}).model;
  RepairOptions o;
  o.localize.tol.atol = 1e-6;
  RepairResult r = Repair(src, tgt, localize::testing::RandomImages(4, 5, 16), o);
  ASSERT_TRUE(r.repaired) << r.ToJson().dump(1);
  ASSERT_EQ(r.patches.size(), 1u) << r.ToJson().dump(1);
  EXPECT_EQ(r.patches[0].change,
            "restore the float32 weights of every layer the conversion rounded");
  EXPECT_NE(r.patches[0].before.find("2 rounded element-wise constant(s) (2 float16)"),
            std::string::npos)
      << r.patches[0].before;
}

// The same network as TFLite's full-int8 conversion stores it: the weights and the BatchNorm's
// Mul/Add constants are int8 (per tensor, asymmetric for the constants) read through
// DequantizeLinear. All come back in one edit; the repaired target computes the source's values.
TEST(RepairPrecision, Int8ConstantsOfAnUnfoldedBatchNormComeBackWithTheWeights) {
  Model src = ConvBnConv();
  onnx::ModelProto p = src.proto();
  auto* g = p.mutable_graph();
  std::map<std::string, std::string> dequantized;
  for (const std::string name : {"w1", "scale", "shift", "w2"}) {
    const onnx::TensorProto* init = nullptr;
    for (const auto& t : g->initializer()) {
      if (t.name() == name) init = &t;
    }
    ASSERT_NE(init, nullptr);
    Tensor t = TensorFromProto(*init, "", name);
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      lo = std::min(lo, t.GetDouble(i));
      hi = std::max(hi, t.GetDouble(i));
    }
    const float step = static_cast<float>((hi - lo) / 255);
    const int zp = static_cast<int>(std::lround(-128 - lo / step));
    std::vector<int8_t> q(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      q[static_cast<size_t>(i)] =
          static_cast<int8_t>(std::clamp<long>(std::lround(t.GetDouble(i) / step) + zp, -128, 127));
    }
    TensorToProto(Tensor::FromVector<int8_t>(t.shape(), q), name + "_q", g->add_initializer());
    TensorToProto(Tensor::FromVector<float>({}, {step}), name + "_s", g->add_initializer());
    TensorToProto(Tensor::FromVector<int8_t>({}, {static_cast<int8_t>(zp)}), name + "_z",
                  g->add_initializer());
    auto* dq = g->add_node();
    dq->set_op_type("DequantizeLinear");
    dq->set_name(name + "_dequant");
    for (const std::string& in : {name + "_q", name + "_s", name + "_z"}) dq->add_input(in);
    dq->add_output(name + "_dq");
    dequantized[name] = name + "_dq";
  }
  // The dequantizers first, then the network reading them.
  auto* nodes = g->mutable_node();
  std::rotate(nodes->begin(), nodes->end() - 4, nodes->end());
  for (auto& n : *nodes) {
    for (auto& in : *n.mutable_input()) {
      if (dequantized.count(in) && n.op_type() != "DequantizeLinear") in = dequantized[in];
    }
  }
  Model tgt = Model::FromProto(p, "", "int8");
  RepairOptions o;
  o.localize.tol.atol = 1e-6;
  RepairResult r = Repair(src, tgt, localize::testing::RandomImages(4, 5, 16), o);
  ASSERT_TRUE(r.repaired) << r.ToJson().dump(1);
  ASSERT_EQ(r.patches.size(), 1u) << r.ToJson().dump(1);
  EXPECT_NE(r.patches[0].before.find("2 rounded element-wise constant(s) (2 int8)"),
            std::string::npos)
      << r.patches[0].before;
}

TEST(RepairPrecision, AnInt8QdqGraphIsRestoredToItsFloatSource) {
  Model src = passes::BuildFaultSuiteSourceNet();
  passes::PassContext ctx;
  ctx.calibration = localize::testing::RandomImages(4, 77);
  Model tgt = passes::RunPasses(src, {"quantize_int8"}, ctx).model;
  RepairResult r = Repair(src, tgt, localize::testing::RandomImages(4, 9), {});
  ASSERT_TRUE(r.repaired) << r.ToJson().dump(1);
  EXPECT_TRUE(HasChange(r, "remove every quantize-dequantize round trip")) << r.ToJson().dump(1);
  EXPECT_TRUE(HasChange(r, "restore the float32 weights of every layer the conversion rounded"))
      << r.ToJson().dump(1);
}

// x -> QuantizeLinear -> Transpose -> DequantizeLinear -> Relu, as tf2onnx writes a quantized
// input: the round trip goes, the Transpose moves the float tensor, the output is exact.
TEST(RemoveQdqPairs, LooksThroughDataMovement) {
  test::GraphBuilder b;
  b.Input("x", {1, 2, 3, 4});
  b.Output("y", {1, 3, 4, 2});
  b.Init("scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Init("zp", Tensor::FromVector<uint8_t>({}, {128}));
  b.Node("QuantizeLinear", {"x", "scale", "zp"}, "xq");
  auto* t = b.Node("Transpose", {"xq"}, "xt");
  test::GraphBuilder::Ints(t, "perm", {0, 2, 3, 1});
  b.Node("DequantizeLinear", {"xt", "scale", "zp"}, "xd");
  b.Node("Relu", {"xd"}, "y");
  Model quantized = b.Build();
  onnx::ModelProto p = quantized.proto();
  EXPECT_EQ(RemoveQdqPairs(p.mutable_graph(), -1), 1);
  for (const auto& n : p.graph().node()) {
    EXPECT_NE(n.op_type(), "QuantizeLinear");
    EXPECT_NE(n.op_type(), "DequantizeLinear");
  }
  Model plain = Model::FromProto(p, "", "unquantized");
  std::vector<float> xs(24);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = 0.013f * static_cast<float>(i) - 0.1f;
  ValueMap in{{"x", Tensor::FromVector<float>({1, 2, 3, 4}, xs)}};
  Tensor y = PrepareSession(plain, EnvSpec::Parse("ref"))->Run(in)[0].tensor;
  ASSERT_EQ(y.shape(), (Shape{1, 3, 4, 2}));
  // Hand-computed: y[0, h, w, c] = max(0, x[0, c, h, w]).
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 4; ++w) {
        float x = xs[static_cast<size_t>(c * 12 + h * 4 + w)];
        EXPECT_EQ(y.GetDouble(h * 8 + w * 2 + c), std::max(0.0f, x));
      }
}

// DenseNet's int8 block as tf2onnx writes it: two quantized tensors, one through a MaxPool,
// concatenated and dequantized twice (the next layer and the next Concat's reader). The whole
// region goes in one edit, whichever quantizer names it; the output is exact.
onnx::ModelProto QuantizedConcatOfMaxPool() {
  test::GraphBuilder b;
  b.Input("a", {1, 1, 2, 4});
  b.Input("c", {1, 1, 1, 2});
  b.Output("y", {1, 2, 1, 2});
  b.Output("z", {1, 2, 1, 2});
  b.Init("scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Init("zp", Tensor::FromVector<int8_t>({}, {0}));
  b.Node("QuantizeLinear", {"a", "scale", "zp"}, "aq");
  auto* pool = b.Node("MaxPool", {"aq"}, "ap");
  test::GraphBuilder::Ints(pool, "kernel_shape", {2, 2});
  test::GraphBuilder::Ints(pool, "strides", {2, 2});
  b.Node("QuantizeLinear", {"c", "scale", "zp"}, "cq");
  auto* cat = b.Node("Concat", {"ap", "cq"}, "cat");
  test::GraphBuilder::Int(cat, "axis", 1);
  b.Node("DequantizeLinear", {"cat", "scale", "zp"}, "y");
  b.Node("DequantizeLinear", {"cat", "scale", "zp"}, "z");
  return b.Build().proto();
}

TEST(RemoveQdqPairs, FollowsMaxPoolAndConcatAcrossQuantizers) {
  for (int only_q : {-1, 0, 2}) {
    onnx::ModelProto p = QuantizedConcatOfMaxPool();
    EXPECT_EQ(RemoveQdqPairs(p.mutable_graph(), only_q), 2) << only_q;
    for (const auto& n : p.graph().node()) {
      EXPECT_NE(n.op_type(), "QuantizeLinear");
      EXPECT_NE(n.op_type(), "DequantizeLinear");
    }
    Model plain = Model::FromProto(p, "", "unquantized");
    std::vector<float> a = {0.011f, -0.3f, 0.42f, 0.017f, 0.5f, 0.123f, -0.9f, 0.2f};
    std::vector<float> c = {0.031f, -0.07f};
    ValueMap in{{"a", Tensor::FromVector<float>({1, 1, 2, 4}, a)},
                {"c", Tensor::FromVector<float>({1, 1, 1, 2}, c)}};
    auto out = PrepareSession(plain, EnvSpec::Parse("ref"))->Run(in);
    // Hand-computed: the 2x2 maxima of a (not a multiple of the scale), then c unrounded.
    for (int k = 0; k < 2; ++k) {
      const Tensor& y = out[static_cast<size_t>(k)].tensor;
      ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 2}));
      EXPECT_EQ(y.GetDouble(0), 0.5f);
      EXPECT_EQ(y.GetDouble(1), 0.42f);
      EXPECT_EQ(y.GetDouble(2), c[0]);
      EXPECT_EQ(y.GetDouble(3), c[1]);
    }
  }
}

// A Concat that also reads an integer tensor no quantizer wrote keeps the whole region.
TEST(RemoveQdqPairs, KeepsAConcatOfAnIntegerInput) {
  test::GraphBuilder b;
  b.Input("a", {1, 2});
  b.Input("n", DType::kInt8, {1, 2});
  b.Output("y", {1, 4});
  b.Init("scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Init("zp", Tensor::FromVector<int8_t>({}, {0}));
  b.Node("QuantizeLinear", {"a", "scale", "zp"}, "aq");
  auto* cat = b.Node("Concat", {"aq", "n"}, "cat");
  test::GraphBuilder::Int(cat, "axis", 1);
  b.Node("DequantizeLinear", {"cat", "scale", "zp"}, "y");
  onnx::ModelProto p = b.Build().proto();
  EXPECT_EQ(RemoveQdqPairs(p.mutable_graph(), -1), 0);
  EXPECT_EQ(p.graph().node(0).op_type(), "QuantizeLinear");
}

// A quantized tensor read by something other than a dequantizer stays as it is.
TEST(RemoveQdqPairs, KeepsAQuantizerWithAnIntegerConsumer) {
  test::GraphBuilder b;
  b.Input("x", {4});
  b.Output("y", {4});
  b.Output("q", DType::kUInt8, {4});
  b.Init("scale", Tensor::FromVector<float>({}, {0.05f}));
  b.Init("zp", Tensor::FromVector<uint8_t>({}, {128}));
  b.Node("QuantizeLinear", {"x", "scale", "zp"}, "xq");
  b.Node("DequantizeLinear", {"xq", "scale", "zp"}, "y");
  b.Node("Identity", {"xq"}, "q");
  onnx::ModelProto p = b.Build().proto();
  EXPECT_EQ(RemoveQdqPairs(p.mutable_graph(), -1), 0);
  EXPECT_EQ(p.graph().node(0).op_type(), "QuantizeLinear");
}

}  // namespace
}  // namespace concord::repair
