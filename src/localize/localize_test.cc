// Localization on the fault suite: every injected fault (input, parameter, hyperparameter,
// graph) on the suite's source net is localized to the injected node with the right kind, and
// the two controls (identical; renamed + fused/split) give null. Ground truth comes from the
// injector's log, checked independently in fault_inject_test; the values from the reference
// interpreter.
#include "localize/localize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "localize/evidence.h"
#include "localize/localize_testing.h"
#include "passes/fault_inject.h"
#include "passes/fault_suite_net.h"
#include "passes/pass.h"
#include "testing/graph_builder.h"

namespace concord::localize {
namespace {

std::vector<ValueMap> Images(int n, int64_t hw = 32, uint64_t seed = 11) {
  return testing::RandomImages(n, seed, hw);
}

struct Case {
  std::string fault;
  std::string node;  // "" = the injector's default
};

std::vector<Case> Suite() {
  std::vector<Case> cases;
  for (const auto& f : passes::FaultNames()) cases.push_back({f, ""});
  // The same faults on other nodes.
  cases.push_back({"param.fp16", "conv3b"});
  cases.push_back({"param.int8", "fc1"});
  cases.push_back({"param.transpose", "conv2"});
  cases.push_back({"param.bias_drop", "fc1"});
  cases.push_back({"param.bias_scale", "conv3a"});
  cases.push_back({"hyper.pads", "conv3b"});
  cases.push_back({"hyper.strides", "conv2"});
  cases.push_back({"hyper.dilations", "conv2"});
  cases.push_back({"graph.insert_relu", "conv1"});
  cases.push_back({"graph.insert_mul", "fc1"});
  cases.push_back({"graph.remove_node", "relu4"});
  cases.push_back({"graph.replace_op", "leaky2"});
  return cases;
}

TEST(Localize, FaultSuiteNamesTheInjectedNodeAndKind) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  int faults = 0, controls = 0;
  for (const auto& c : Suite()) {
    SCOPED_TRACE(c.fault + (c.node.empty() ? "" : " @" + c.node));
    passes::FaultLog log;
    Model tgt = passes::InjectFault(src, {c.fault, c.node, 0}, &log);
    LocalizeResult r = Localize(src, tgt, sets, {});
    if (log.kind.empty()) {
      ++controls;
      EXPECT_TRUE(r.agree);
      EXPECT_EQ(r.first_divergent, "") << r.ToJson().dump(1);
      continue;
    }
    ++faults;
    EXPECT_FALSE(r.agree);
    EXPECT_EQ(r.first_divergent, log.injected_node) << log.description << "\n"
                                                    << r.evidence.dump(1);
    EXPECT_EQ(r.kind, log.kind) << log.description << "\n" << r.evidence.dump(1);
  }
  EXPECT_GE(faults, 24);
  EXPECT_EQ(controls, 2);
}

TEST(Localize, SameModelSameEnvAgreesAndJsonHasTheContract) {
  Model src = passes::BuildFaultSuiteSourceNet();
  LocalizeResult r = Localize(src, src, Images(1), {});
  EXPECT_TRUE(r.agree);
  auto j = r.ToJson();
  EXPECT_TRUE(j["first_divergent_node"].is_null());
  EXPECT_TRUE(j["kind"].is_null());
  ASSERT_EQ(j["nodes"].size(), static_cast<size_t>(src.graph().node_size()));
  EXPECT_EQ(j["nodes"][0]["status"], "agree");
  EXPECT_EQ(j["nodes"][0]["alignment"], "name");
}

TEST(Localize, EvidenceShowsTheStaticDifference) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model tgt = passes::InjectFault(src, {"hyper.count_include_pad", "", 0});
  LocalizeResult r = Localize(src, tgt, Images(1), {});
  ASSERT_EQ(r.first_divergent, "avgpool2");
  auto d = r.evidence["attribute_diffs"];
  ASSERT_EQ(d.size(), 1u) << d.dump();
  EXPECT_EQ(d[0]["name"], "count_include_pad");
  EXPECT_EQ(d[0]["source"], "0");
  EXPECT_EQ(d[0]["target"], "1");
  tgt = passes::InjectFault(src, {"param.transpose_fc", "", 0});
  r = Localize(src, tgt, Images(1), {});
  ASSERT_EQ(r.first_divergent, "fc1");
  ASSERT_EQ(r.evidence["parameter_diffs"].size(), 1u);
  EXPECT_EQ(r.evidence["parameter_diffs"][0]["hint"], "transposed in the last two axes");
  tgt = passes::InjectFault(src, {"param.fp16", "", 0});
  r = Localize(src, tgt, Images(1), {});
  EXPECT_EQ(r.evidence["parameter_diffs"][0]["hint"], "float16 round trip of the source values");
}

// int8 QDQ as quantize_int8 writes it is quantization, not an inserted-node graph fault; every
// quantized tensor gets its error between the float value and its QDQ'd value.
TEST(Localize, Int8QdqIsQuantizationWithPerLayerError) {
  Model src = passes::BuildFaultSuiteSourceNet();
  passes::PassContext ctx;
  ctx.calibration = Images(4, 32, 77);
  Model tgt = passes::RunPasses(src, {"quantize_int8"}, ctx).model;
  LocalizeResult r = Localize(src, tgt, Images(2), {});
  ASSERT_FALSE(r.agree);
  EXPECT_EQ(r.kind, "quantization") << r.evidence.dump(1);
  auto q = r.ToJson()["quantization"];
  ASSERT_TRUE(q.is_array());
  int activations = 0, weights = 0;
  for (const auto& t : q) {
    SCOPED_TRACE(t.dump());
    (t["kind"] == "activation" ? activations : weights)++;
    ASSERT_TRUE(t["max_abs"].is_number());
    EXPECT_GT(t["max_abs"].get<double>(), 0);
    EXPECT_LT(t["rel_error"].get<double>(), 0.05);  // 8-bit: about half a step of the range
    EXPECT_FALSE(t["consumers"].empty());
    if (t["kind"] == "weight") {  // measured against the source's own float weight
      ASSERT_TRUE(t.contains("source_tensor"));
      EXPECT_EQ(t["tensor"], t["source_tensor"].get<std::string>() + "_quantized");
    }
  }
  EXPECT_GE(activations, 3);
  EXPECT_GE(weights, 3);
  EXPECT_EQ(r.evidence["quantization"], q);
  // The fault suite's own int8 fault (weights rounded in place, no QDQ) stays a parameter fault.
  LocalizeResult p = Localize(src, passes::InjectFault(src, {"param.int8", "", 0}), Images(1), {});
  EXPECT_EQ(p.kind, "parameter");
  EXPECT_FALSE(p.ToJson().contains("quantization"));
}

// FetaFix's "input dimensions": the target is not run; the verdict names the input and the first
// node reading it. Other commands (MapInputs) still refuse such a pair as an input error.
TEST(Localize, OtherInputDimensionsAreAnInputDimensionsFault) {
  Model src = passes::BuildFaultSuiteSourceNet(32);
  Model other = passes::BuildFaultSuiteSourceNet(16);
  LocalizeResult r = Localize(src, other, Images(1), {});
  EXPECT_FALSE(r.agree);
  EXPECT_EQ(r.kind, "input");
  EXPECT_EQ(r.fault_type, "input dimensions");
  EXPECT_EQ(r.first_index, 0);
  EXPECT_EQ(r.evidence["input"]["target_shape"], (Shape{1, 3, 16, 16}));
  EXPECT_EQ(r.evidence["input"]["source_shape"], (Shape{1, 3, 32, 32}));
  try {
    MapInputs(src, other, Images(1));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("different shapes"), std::string::npos) << e.what();
  }
}

// Output of our own nhwc pass: the graph input is NHWC (the input sets are permuted for it), the
// renamed NHWC tensors of the head are aligned through the name map, layout-permuted, and agree.
TEST(LocalizeMap, NhwcTargetAgreesThroughTheNameMap) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model tgt = passes::RunPasses(src, {"nhwc"}).model;
  ASSERT_EQ(tgt.Inputs()[0].shape, (Shape{1, 32, 32, 3}));
  LocalizeResult r = Localize(src, tgt, Images(2), {});
  EXPECT_TRUE(r.agree) << r.ToJson().dump(1);
  EXPECT_EQ(r.first_divergent, "");
  int mapped = 0;
  for (const auto& n : r.nodes) {
    if (n.node != "sub_mean" && n.node != "div_std") continue;
    ++mapped;
    EXPECT_EQ(n.alignment, "map") << n.node;
    EXPECT_EQ(n.source_node, n.node);
    EXPECT_EQ(n.div.layout, "target NHWC") << n.node;
    EXPECT_EQ(n.status, "agree");
  }
  EXPECT_EQ(mapped, 2);
}

// The source net converted by nhwc and fold_bn, then renamed wholesale.
Model ConvertedAndRenamed(const Model& src, testing::RenameRecord record) {
  return testing::RenameEverything(passes::RunPasses(src, {"nhwc", "fold_bn"}).model, record);
}

// Faults on renamed nodes of the converted target. conv3a and conv3b read the same tensor with
// the same op type, so only the name map tells which source Conv a renamed Conv is.
const std::vector<std::pair<std::string, std::string>> kRenamedFaults = {
    {"param.fp16", "conv3b"}, {"hyper.pads", "conv3b"},        {"input.mean", "sub_mean"},
    {"input.std", "div_std"}, {"hyper.leaky_alpha", "leaky2"}, {"param.bias_scale", "fc1"},
    {"param.int8", "conv3a"}, {"graph.replace_op", "leaky2"},
};

TEST(LocalizeMap, FaultsInARenamedNhwcTargetNameTheTargetAndTheSourceNode) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  for (auto record : {testing::RenameRecord::kNodes, testing::RenameRecord::kNodesAndTensors}) {
    Model renamed = ConvertedAndRenamed(src, record);
    EXPECT_TRUE(Localize(src, renamed, sets, {}).agree);
    for (const auto& [fault, source_node] : kRenamedFaults) {
      std::string node = testing::TargetName(src, renamed, source_node);
      SCOPED_TRACE(fault + " @" + node + " (source " + source_node + ")" +
                   (record == testing::RenameRecord::kNodes ? " nodes" : " nodes+tensors"));
      ASSERT_NE(node, "");
      ASSERT_NE(node, source_node);
      passes::FaultLog log;
      Model tgt = passes::InjectFault(renamed, {fault, node, 0}, &log);
      LocalizeResult r = Localize(src, tgt, sets, {});
      EXPECT_FALSE(r.agree);
      EXPECT_EQ(r.first_divergent, log.injected_node) << r.evidence.dump(1);
      EXPECT_EQ(r.source_node, source_node) << r.evidence.dump(1);
      EXPECT_EQ(r.kind, log.kind) << log.description << "\n" << r.evidence.dump(1);
      auto j = r.ToJson();
      EXPECT_EQ(j["first_divergent_node"], log.injected_node);
      EXPECT_EQ(j["source_node"], source_node);
      if (log.injected_node == node) {  // a replaced node is new: the map does not list it
        EXPECT_EQ(j["evidence"]["mapped_from"], nlohmann::json::array({source_node}));
      }
    }
  }
}

// The same renamed target with no name map: weight fingerprints, structure and value alignment
// still find the faulty node and its source counterpart.
TEST(LocalizeMap, WithoutANameMapStructureAndValueStillFindTheFault) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  Model named = ConvertedAndRenamed(src, testing::RenameRecord::kNodes);
  Model stripped = ConvertedAndRenamed(src, testing::RenameRecord::kNone);
  for (const auto& p : stripped.proto().metadata_props()) ASSERT_NE(p.key(), passes::kNameMapKey);
  LocalizeResult ok = Localize(src, stripped, sets, {});
  EXPECT_TRUE(ok.agree) << ok.ToJson().dump(1);
  for (const auto& [fault, source_node] : kRenamedFaults) {
    std::string node = testing::TargetName(src, named, source_node);
    SCOPED_TRACE(fault + " @" + node + " (source " + source_node + ")");
    passes::FaultLog log;
    Model tgt = passes::InjectFault(stripped, {fault, node, 0}, &log);
    LocalizeResult r = Localize(src, tgt, sets, {});
    EXPECT_FALSE(r.agree);
    EXPECT_EQ(r.first_divergent, log.injected_node) << r.evidence.dump(1);
    EXPECT_FALSE(r.ToJson()["evidence"].contains("mapped_from"));
    // conv3a and conv3b read the same tensor: structure alone would pair conv3b with conv3a;
    // the weight fingerprint (conv3b's weights, float16-rounded by param.fp16) names conv3b.
    EXPECT_EQ(r.source_node, source_node) << r.evidence.dump(1);
    EXPECT_EQ(r.kind, log.kind) << log.description << "\n" << r.evidence.dump(1);
  }
}

}  // namespace
}  // namespace concord::localize

namespace concord::localize {
namespace {

// Names as the real exporters write them (copied from twins made on this machine).

// The 4x3x3x3 weight w (scaled by weight_scale), a Conv of x with them (pads 1 unless the pad
// was written out before it) and a Relu to "y": the tail of the padded-conv models below.
void AddConvRelu(test::GraphBuilder& b, const std::string& x, float weight_scale, bool pads) {
  std::vector<float> v(4 * 3 * 3 * 3);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = weight_scale * std::sin(0.37f * static_cast<float>(i));
  }
  b.Init("w", Tensor::FromVector<float>({4, 3, 3, 3}, v));
  auto* conv = b.Node("Conv", "conv", {x, "w"}, {"c"});
  if (pads) test::GraphBuilder::Ints(conv, "pads", {1, 1, 1, 1});
  b.Node("Relu", "relu", {"c"}, {"y"});
}

// `same` (a faithful conversion of src) agrees with it; `faulty` (the conv's weights scaled) is
// named at the conv, with its source conv, kind parameter, and no wiring or attribute difference.
void ExpectOnlyTheConvWeightsDiffer(const Model& src, const Model& same, const Model& faulty,
                                    const std::vector<ValueMap>& sets) {
  LocalizeResult agree = Localize(src, same, sets, {});
  EXPECT_TRUE(agree.agree) << agree.ToJson().dump(1);
  LocalizeResult r = Localize(src, faulty, sets, {});
  ASSERT_FALSE(r.agree);
  EXPECT_EQ(r.first_divergent, "conv") << r.evidence.dump(1);
  EXPECT_EQ(r.source_node, "conv");
  EXPECT_EQ(r.kind, "parameter") << r.evidence.dump(1);
  EXPECT_TRUE(r.evidence["wiring_diffs"].empty()) << r.evidence.dump(1);
  EXPECT_TRUE(r.evidence["attribute_diffs"].empty()) << r.evidence.dump(1);
}

// A zero Pad before a Conv on one side only (tf2onnx folds Keras' ZeroPadding2D into the Conv's
// pads, the TFLite converter keeps it as a PAD op): no wiring or pads difference either way.
Model PaddedConv(bool pad_node, float weight_scale) {
  test::GraphBuilder b("padded", 13, 5);
  b.Input("image", {1, 3, 16, 16});
  b.Output("y", {1, 4, 16, 16});
  std::string x = "image";
  if (pad_node) {
    b.Init("pads", Tensor::FromVector<int64_t>({8}, {0, 0, 1, 1, 0, 0, 1, 1}));
    b.Node("Pad", "pad", {"image", "pads"}, {"padded"});
    x = "padded";
  }
  AddConvRelu(b, x, weight_scale, !pad_node);
  return b.Build();
}

TEST(LocalizePad, AZeroPadOnOneSideIsNoDifference) {
  for (bool pad_in_source : {true, false}) {
    SCOPED_TRACE(pad_in_source ? "Pad in the source" : "Pad in the target");
    ExpectOnlyTheConvWeightsDiffer(PaddedConv(pad_in_source, 1.0f),
                                   PaddedConv(!pad_in_source, 1.0f),
                                   PaddedConv(!pad_in_source, 1.5f), Images(2, 16));
  }
}

// Keras' ZeroPadding2D + Conv2D on an NHWC input as tf2onnx writes it (source: a Transpose to
// NCHW, then a Conv with the pads) and as the TFLite converter's twin has it (target: an NHWC
// Pad, then the Transpose, then a Conv without pads), as in Keras ResNet50's first conv.
// `identity`: an Identity before the Conv (repair's removed quantize-dequantize pair).
Model NhwcPaddedConv(bool tflite, float weight_scale, bool identity = false) {
  test::GraphBuilder b("nhwc_padded", 13, 5);
  b.Input("image", {1, 16, 16, 3});
  b.Output("y", {1, 4, 16, 16});
  std::string x = "image";
  if (tflite) {
    b.Init("pads", Tensor::FromVector<int64_t>({8}, {0, 1, 1, 0, 0, 1, 1, 0}));
    b.Node("Pad", "pad", {"image", "pads"}, {"padded"});
    x = "padded";
  }
  test::GraphBuilder::Ints(b.Node("Transpose", "to_nchw", {x}, {"nchw"}), "perm", {0, 3, 1, 2});
  if (identity) b.Node("Identity", "unquantized", {"nchw"}, {"nchw_read"});
  AddConvRelu(b, identity ? "nchw_read" : "nchw", weight_scale, !tflite);
  return b.Build();
}

TEST(LocalizePad, ANhwcPadAndTransposeBeforeTheConvIsNoDifference) {
  auto sets = Images(2, 16);
  for (auto& set : sets) set["image"] = PermuteLayout(set["image"].tensor, false);
  for (bool identity : {false, true}) {
    SCOPED_TRACE(identity ? "an Identity before the Conv" : "the Transpose feeds the Conv");
    ExpectOnlyTheConvWeightsDiffer(NhwcPaddedConv(false, 1.0f),
                                   NhwcPaddedConv(true, 1.0f, identity),
                                   NhwcPaddedConv(true, 1.5f, identity), sets);
  }
}

TEST(LayerNames, ReadsEachExportersNaming) {
  std::string scheme;
  EXPECT_EQ(LayersInName("layer1.0.conv1.weight", &scheme),
            std::vector<std::string>{"layer1.0.conv1"});
  EXPECT_EQ(scheme, "torch module");
  EXPECT_EQ(LayersInName("/net/layer2/layer2.1/conv1/Conv", &scheme),
            std::vector<std::string>{"net.layer2.1.conv1"});
  EXPECT_EQ(LayersInName("StatefulPartitionedCall/resnet50_1/conv1_relu_1/Relu:0", &scheme),
            std::vector<std::string>{"conv1_relu"});
  EXPECT_EQ(scheme, "keras layer");
  // a fused TFLite op lists its layers last-applied first; reported in data order
  EXPECT_EQ(LayersInName("resnet50_1/conv1_relu_1/Relu;resnet50_1/conv1_bn_1/batchnorm/add_1;"
                         "resnet50_1/conv1_conv_1/convolution",
                         &scheme),
            (std::vector<std::string>{"conv1_conv", "conv1_bn", "conv1_relu"}));
  EXPECT_EQ(LayersInName("torchvision.models.resnet.ResNet/torch.nn.modules.container."
                         "Sequential_layer1/torchvision.models.resnet.Bottleneck_0/"
                         "torch.nn.modules.conv.Conv2d_conv3;2",
                         &scheme),
            std::vector<std::string>{"layer1.0.conv3"});
  EXPECT_EQ(scheme, "torch module");
  EXPECT_TRUE(LayersInName("Conv__223", &scheme).empty());
}

TEST(WeightRelation, SeesLayoutsAndFoldedBatchNorm) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  const int64_t O = 4, I = 3, H = 2, W = 3;
  std::vector<float> w(O * I * H * W);
  for (auto& x : w) x = u(rng);
  Tensor s = Tensor::FromVector<float>({O, I, H, W}, w);
  auto at = [&](int64_t o, int64_t i, int64_t h, int64_t x) {
    return w[((o * I + i) * H + h) * W + x];
  };
  std::vector<float> hwio, folded;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t o = 0; o < O; ++o) hwio.push_back(at(o, i, h, x));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < I * H * W; ++k) folded.push_back(w[o * I * H * W + k] * (0.5f + o));
  EXPECT_EQ(WeightRelation(s, Tensor::FromVector<float>({H, W, I, O}, hwio)),
            "source values in HWIO layout");
  EXPECT_EQ(WeightRelation(s, Tensor::FromVector<float>({O, I, H, W}, folded)),
            "source values scaled per output channel (a BatchNorm folded in)");
  EXPECT_EQ(WeightRelation(s, s), "");  // equal: nothing to say
  std::vector<float> noise = w;
  noise[5] += 0.25f;
  EXPECT_EQ(WeightRelation(s, Tensor::FromVector<float>({O, I, H, W}, noise)), "");
}

TEST(LayerNames, DynamoScopesAndFallbacks) {
  onnx::GraphProto graph;
  auto* g = &graph;
  auto* n = g->add_node();
  n->set_op_type("BatchNormalization");
  n->set_name("node_bn");
  auto* prop = n->add_metadata_props();
  prop->set_key("pkg.torch.onnx.name_scopes");
  prop->set_value("['', 'layer1', 'layer1.0', 'layer1.0.bn1', '_native_batch_norm']");
  auto* d = g->add_node();
  d->set_op_type("Div");
  d->set_name("node_div");
  prop = d->add_metadata_props();
  prop->set_key("pkg.torch.onnx.name_scopes");
  prop->set_value("['', 'div']");
  auto* c = g->add_node();
  c->set_op_type("Conv");
  c->set_name("Conv__7");
  c->add_input("x");
  c->add_input("StatefulPartitionedCall/m_1/stem_conv_1/convolution/merged_input:0");
  g->add_initializer()->set_name(
      "StatefulPartitionedCall/m_1/stem_conv_1/convolution/merged_input:0");
  auto* e = g->add_node();
  e->set_op_type("Relu");
  e->set_name("n3");
  const auto& m = graph;
  EXPECT_EQ(LayerOf(m, 0).name, "layer1.0.bn1");
  EXPECT_EQ(LayerOf(m, 0).scheme, "torch module");
  EXPECT_EQ(LayerOf(m, 1).name, "forward:div");
  EXPECT_EQ(LayerOf(m, 2).name, "stem_conv");
  EXPECT_EQ(LayerOf(m, 2).scheme, "keras layer");
  EXPECT_EQ(LayerOf(m, 3).name, "n3");
  EXPECT_EQ(LayerOf(m, 3).scheme, "onnx node");
}

}  // namespace
}  // namespace concord::localize
