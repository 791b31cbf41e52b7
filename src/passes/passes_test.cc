// Conversion passes on models that need no Python: the bundled tiny CNN example and small
// models built here. The truth is the unconverted model on ref.
#include <gtest/gtest.h>

#include "passes/pass.h"
#include "passes/passes_testing.h"

namespace concord::passes {
namespace {

using testing::Agreement;
using testing::CountOp;
using testing::GraphBuilder;
using testing::UniformTensor;

Model TinyCnn() { return Model::Load("examples/tiny_cnn/model.onnx"); }

ValueMap TinyCnnInput() {
  NamedTensor t = ReadTensorPb("examples/tiny_cnn/test_data_set_0/input_0.pb");
  return {{"input", Value(t.tensor)}};
}

PassContext Calibration(const Model& m, int sets) {
  PassContext ctx;
  for (int i = 0; i < sets; ++i) ctx.calibration.push_back(testing::RandomInputs(m, 100 + 17 * i));
  return ctx;
}

// Conv(+bias) -> BatchNormalization -> Relu -> Conv -> BatchNormalization, in `dt`.
Model ConvBn(DType dt, bool bias) {
  GraphBuilder b;
  b.Input("x", dt, {1, 3, 8, 8});
  b.Output("y", dt, {1, 4, 8, 8});
  b.Init("w1", UniformTensor(dt, {6, 3, 3, 3}, 1));
  if (bias) b.Init("b1", UniformTensor(dt, {6}, 2));
  b.Init("s1", UniformTensor(dt, {6}, 3, 0.5, 1.5));
  b.Init("o1", UniformTensor(dt, {6}, 4));
  b.Init("m1", UniformTensor(dt, {6}, 5));
  b.Init("v1", UniformTensor(dt, {6}, 6, 0.1, 2));
  b.Init("w2", UniformTensor(dt, {4, 6, 1, 1}, 7));
  b.Init("s2", UniformTensor(dt, {4}, 8, 0.5, 1.5));
  b.Init("o2", UniformTensor(dt, {4}, 9));
  b.Init("m2", UniformTensor(dt, {4}, 10));
  b.Init("v2", UniformTensor(dt, {4}, 11, 0.1, 2));
  auto* c1 =
      b.Node("Conv", "conv1",
             bias ? std::vector<std::string>{"x", "w1", "b1"} : std::vector<std::string>{"x", "w1"},
             {"c1"});
  GraphBuilder::Ints(c1, "pads", {1, 1, 1, 1});
  auto* bn1 = b.Node("BatchNormalization", "bn1", {"c1", "s1", "o1", "m1", "v1"}, {"n1"});
  GraphBuilder::Float(bn1, "epsilon", 1e-3f);
  b.Node("Relu", "relu", {"n1"}, {"r"});
  b.Node("Conv", "conv2", {"r", "w2"}, {"c2"});
  b.Node("BatchNormalization", "bn2", {"c2", "s2", "o2", "m2", "v2"}, {"y"});
  return b.Build();
}

TEST(Passes, ListAndSpecErrors) {
  auto list = ListPasses();
  std::set<std::string> names;
  for (const auto& p : list) names.insert(p.name);
  for (const char* n : {"opset", "fold_constants", "fold_bn", "fp16", "quantize_int8", "nhwc"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  Model m = TinyCnn();
  auto kind_of = [&](const std::string& spec, const PassContext& ctx = {}) {
    try {
      RunPasses(m, {spec}, ctx);
    } catch (const Error& e) {
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    return std::make_pair(ErrorKind::kInternal, std::string("no error"));
  };
  for (const char* bad : {"nosuch", "fp16:mode=bogus", "fp16:nokey=1", "opset", "opset=abc",
                          "fold_bn=3", "fp16:mode"}) {
    auto [kind, msg] = kind_of(bad);
    EXPECT_EQ(kind, ErrorKind::kUsage) << bad << ": " << msg;
  }
  auto [kind, msg] = kind_of("nosuch");
  EXPECT_NE(msg.find("quantize_int8"), std::string::npos) << "the error lists the passes: " << msg;
  auto [k2, m2] = kind_of("quantize_int8");
  EXPECT_EQ(k2, ErrorKind::kUsage);
  EXPECT_NE(m2.find("calibration"), std::string::npos) << m2;
  EXPECT_THROW(RunPasses(m, {}), Error);
  // Context options: "PASS.KEY" defaults, overridden by the spec.
  PassContext ctx;
  ctx.options["fp16.mode"] = "graph";
  EXPECT_EQ(CountOp(RunPasses(m, {"fp16"}, ctx).model, "Cast"), 2);
  EXPECT_EQ(CountOp(RunPasses(m, {"fp16=weights"}, ctx).model, "Cast"), 6);
  ctx.options["fp16.bogus"] = "1";
  EXPECT_EQ(kind_of("fp16", ctx).first, ErrorKind::kUsage);
}

TEST(Passes, TinyCnnEveryPassAgreesOnRef) {
  Model m = TinyCnn();
  ValueMap in = TinyCnnInput();
  struct Case {
    std::string spec;
    double tol;
    bool nhwc;
  };
  for (const Case& c :
       std::vector<Case>{{"opset=17", 1e-5, false},
                         {"opset=15", 1e-5, false},
                         {"fold_constants", 1e-5, false},
                         {"fold_bn", 1e-5, false},
                         {"fp16", 1e-2, false},
                         {"fp16=graph", 1e-2, false},
                         {"quantize_int8", 0.1, false},
                         {"quantize_int8:activations=int8:per_channel=0", 0.1, false},
                         {"nhwc", 1e-6, true}}) {
    SCOPED_TRACE(c.spec);
    PassResult r = RunPasses(m, {c.spec}, Calibration(m, 4));
    double err = Agreement(m, r.model, in, c.nhwc);
    std::cout << "[ tiny_cnn ] " << c.spec << ": rel err " << err << " nodes "
              << m.graph().node_size() << " -> " << r.model.graph().node_size() << "\n";
    EXPECT_LE(err, c.tol);
    testing::ExpectTraceable(m, r);
  }
}

TEST(Passes, OpsetConversionChangesTheImport) {
  Model m = TinyCnn();
  PassResult r = RunPasses(m, {"opset=17"});
  EXPECT_EQ(r.model.Opset(""), 17);
  EXPECT_EQ(r.log["passes"][0]["changes"]["opset_before"], 13);
  // Node names survive the converter's IR round trip.
  for (const auto& n : r.model.graph().node())
    EXPECT_EQ(r.names.nodes.at(n.name()), std::vector<std::string>{n.name()});
}

TEST(Passes, OpsetConverterFailureIsUnsupported) {
  Model m = TinyCnn();
  try {
    // ONNX's converter (1.23) has no down-adapter for Relu 13 -> 12.
    RunPasses(m, {"opset=11"});
    FAIL() << "converting the tiny CNN to opset 11 should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("Relu"), std::string::npos) << e.what();
    // The converter's assertion text (source file, line, "Assertion `false` failed") is not
    // what a user needs to read.
    EXPECT_EQ(std::string(e.what()).find("Assertion"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(".h:"), std::string::npos) << e.what();
  }
}

TEST(Passes, FoldBnFoldsFloatAndDouble) {
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE(std::string(DTypeName(dt)) + (bias ? " with bias" : " without bias"));
      Model m = ConvBn(dt, bias);
      PassResult r = RunPasses(m, {"fold_bn"});
      EXPECT_EQ(CountOp(r.model, "BatchNormalization"), 0);
      EXPECT_EQ(CountOp(r.model, "Conv"), 2);
      EXPECT_EQ(r.names.nodes.at("conv1"), (std::vector<std::string>{"conv1", "bn1"}));
      EXPECT_EQ(r.names.nodes.at("conv2"), (std::vector<std::string>{"conv2", "bn2"}));
      EXPECT_EQ(r.log["passes"][0]["changes"]["batchnorms_folded"], 2);
      double err = Agreement(m, r.model, testing::RandomInputs(m, 3));
      EXPECT_LE(err, dt == DType::kFloat64 ? 1e-12 : 1e-5);
    }
  }
}

TEST(Passes, FoldBnKeepsSharedConvOutput) {
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {1, 2, 4, 4});
  b.Output("y", DType::kFloat32, {1, 2, 4, 4});
  b.Output("c", DType::kFloat32, {1, 2, 4, 4});
  b.Init("w", UniformTensor(DType::kFloat32, {2, 2, 1, 1}, 1));
  for (const char* p : {"s", "o", "m"}) b.Init(p, UniformTensor(DType::kFloat32, {2}, 2));
  b.Init("v", UniformTensor(DType::kFloat32, {2}, 3, 0.5, 1));
  b.Node("Conv", "conv", {"x", "w"}, {"c"});
  b.Node("BatchNormalization", "bn", {"c", "s", "o", "m", "v"}, {"y"});
  PassResult r = RunPasses(b.Build(), {"fold_bn"});
  EXPECT_EQ(CountOp(r.model, "BatchNormalization"), 1);  // "c" is a graph output too
}

TEST(Passes, FoldConstantsFoldsConstantChainsAndShapes) {
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {2, 3, 4});
  b.Output("y", DType::kFloat32, {2, 12});
  auto* k = b.Node("Constant", "k", {}, {"kc"});
  {
    auto* a = k->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    TensorToProto(Tensor::FromVector<float>({12}, std::vector<float>(12, 0.5f)), "",
                  a->mutable_t());
  }
  b.Init("two", Tensor::Scalar<float>(2.0f));
  b.Node("Mul", "scale_k", {"kc", "two"}, {"k2"});  // constant: folded
  b.Node("Shape", "shape", {"x"}, {"xs"});          // static shape: folded
  b.Init("idx", Tensor::FromVector<int64_t>({1}, {0}));
  b.Node("Gather", "batch", {"xs", "idx"}, {"n"});  // then constant: folded
  b.Init("minus1", Tensor::FromVector<int64_t>({1}, {-1}));
  b.Node("Concat", "newshape", {"n", "minus1"}, {"ns"});  // folded
  testing::GraphBuilder::Int(b.proto().mutable_graph()->mutable_node(4), "axis", 0);
  b.Node("Reshape", "flat", {"x", "ns"}, {"xf"});  // data: kept
  b.Node("Add", "add", {"xf", "k2"}, {"y"});       // data: kept
  Model m = b.Build();
  PassResult r = RunPasses(m, {"fold_constants"});
  EXPECT_EQ(r.model.graph().node_size(), 2) << r.log.dump(2);
  EXPECT_EQ(CountOp(r.model, "Reshape"), 1);
  EXPECT_EQ(CountOp(r.model, "Add"), 1);
  EXPECT_LE(Agreement(m, r.model, testing::RandomInputs(m, 1)), 0.0);
  const auto& ch = r.log["passes"][0]["changes"];
  EXPECT_EQ(ch.value("shape_folded", 0), 1);
  EXPECT_EQ(ch.value("constants_to_initializers", 0), 1);
  EXPECT_EQ(ch.value("nodes_folded", 0), 3);
}

TEST(Passes, FoldConstantsKeepsRandomOps) {
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {2, 2});
  b.Output("y", DType::kFloat32, {2, 2});
  auto* r = b.Node("RandomUniform", "rnd", {}, {"u"});
  GraphBuilder::Ints(r, "shape", {2, 2});
  b.Node("Add", "add", {"x", "u"}, {"y"});
  PassResult res = RunPasses(b.Build(), {"fold_constants"});
  EXPECT_EQ(CountOp(res.model, "RandomUniform"), 1);
}

TEST(Passes, Fp16GraphKeepsInterfaceAndCastsUnsupportedOps) {
  Model m = TinyCnn();
  PassResult r = RunPasses(m, {"fp16=graph"});
  for (const auto& io : r.model.Inputs()) EXPECT_EQ(io.dtype, DType::kFloat32);
  for (const auto& io : r.model.Outputs()) EXPECT_EQ(io.dtype, DType::kFloat32);
  EXPECT_EQ(CountOp(r.model, "Cast"), 2);  // one in, one out
  for (const auto& t : r.model.graph().initializer())
    EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT16) << t.name();
  // An op whose schema has no float16 (Celu, opset 12) stays float32 between Casts.
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {2, 3, 3});
  b.Output("y", DType::kFloat32, {2, 3, 3});
  b.Node("Relu", "relu", {"x"}, {"r"});
  b.Node("Celu", "celu", {"r"}, {"d"});
  b.Node("Neg", "neg", {"d"}, {"y"});
  Model m2 = b.Build();
  PassResult r2 = RunPasses(m2, {"fp16=graph"});
  EXPECT_EQ(r2.log["passes"][0]["changes"].value("nodes_kept_fp32", 0), 1) << r2.log.dump(2);
  EXPECT_LE(Agreement(m2, r2.model, testing::RandomInputs(m2, 5)), 1e-2);
  testing::ExpectTraceable(m2, r2);
}

TEST(Passes, Fp16WeightsStoresHalfWeights) {
  Model m = TinyCnn();
  PassResult r = RunPasses(m, {"fp16"});
  int half = 0;
  for (const auto& t : r.model.graph().initializer())
    half += t.data_type() == onnx::TensorProto::FLOAT16;
  EXPECT_EQ(half, 6);
  EXPECT_EQ(CountOp(r.model, "Cast"), 6);
  EXPECT_EQ(r.names.tensors.count("w1_fp16"), 1u);
}

TEST(Passes, QuantizeInsertsQdqAndWeightsAreInt8) {
  Model m = TinyCnn();
  PassResult r = RunPasses(m, {"quantize_int8"}, Calibration(m, 8));
  EXPECT_EQ(CountOp(r.model, "QuantizeLinear"), 3);    // conv1, conv2, fc inputs
  EXPECT_EQ(CountOp(r.model, "DequantizeLinear"), 6);  // + their weights
  int int8 = 0;
  for (const auto& t : r.model.graph().initializer())
    int8 += t.data_type() == onnx::TensorProto::INT8 && t.dims_size() > 1;
  EXPECT_EQ(int8, 3);
  // Q/DQ nodes map to the node they serve.
  for (const auto& n : r.model.graph().node()) {
    if (n.op_type() == "QuantizeLinear" && n.input(0) == "input") {
      EXPECT_EQ(r.names.nodes.at(n.name()), std::vector<std::string>{"conv1"});
    }
  }
}

TEST(Passes, NhwcPushesTransposesThroughPreprocessing) {
  // x -> Sub(mean) -> Div(std) -> Relu -> Conv: the input transpose ends right before Conv.
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {1, 3, 5, 6});
  b.Output("y", DType::kFloat32, {1, 2, 5, 6});
  b.Init("mean", UniformTensor(DType::kFloat32, {1, 3, 1, 1}, 1));
  b.Init("std", UniformTensor(DType::kFloat32, {3, 1, 1}, 2, 0.5, 1));
  b.Init("w", UniformTensor(DType::kFloat32, {2, 3, 1, 1}, 3));
  b.Node("Sub", "sub", {"x", "mean"}, {"a"});
  b.Node("Div", "div", {"a", "std"}, {"d"});
  b.Node("Relu", "relu", {"d"}, {"r"});
  b.Node("Conv", "conv", {"r", "w"}, {"y"});
  Model m = b.Build();
  PassResult r = RunPasses(m, {"nhwc"});
  EXPECT_EQ(CountOp(r.model, "Transpose"), 1);
  const auto& nodes = r.model.graph().node();
  EXPECT_EQ(nodes[nodes.size() - 1].op_type(), "Conv");
  EXPECT_EQ(nodes[nodes.size() - 2].op_type(), "Transpose");
  EXPECT_EQ(r.model.Inputs()[0].shape, (Shape{1, 5, 6, 3}));
  EXPECT_LE(Agreement(m, r.model, testing::RandomInputs(m, 4), true), 1e-6);
  testing::ExpectTraceable(m, r);
}

TEST(Passes, NhwcOutputsCancelThroughElementwiseModel) {
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {1, 3, 4, 4});
  b.Output("y", DType::kFloat32, {1, 3, 4, 4});
  b.Init("c", UniformTensor(DType::kFloat32, {3, 1, 1}, 1));
  b.Node("Relu", "relu", {"x"}, {"r"});
  b.Node("Mul", "mul", {"r", "c"}, {"y"});
  Model m = b.Build();
  PassResult r = RunPasses(m, {"nhwc:outputs=nhwc"});
  EXPECT_EQ(CountOp(r.model, "Transpose"), 0) << r.log.dump(2);
  // Feed NHWC, expect NHWC.
  ValueMap in = testing::RandomInputs(m, 9);
  auto want = testing::RunOn(m, in);
  auto got = testing::RunOn(r.model, {{"x", Value(testing::ToNhwc(in["x"].tensor))}});
  EXPECT_LE(testing::RelErr(testing::ToNhwc(want[0].tensor), got[0].tensor), 0.0);
}

TEST(Passes, NameMapComposesAcrossPipelineAndRuns) {
  Model m = ConvBn(DType::kFloat32, true);
  PassResult r = RunPasses(m, {"fold_bn", "fp16=graph", "nhwc"});
  testing::ExpectTraceable(m, r);
  EXPECT_EQ(r.names.nodes.at("conv1"), (std::vector<std::string>{"conv1", "bn1"}));
  // Stored in the model's metadata, and a second conversion still maps to the first original.
  NameMap stored = ReadNameMap(r.model.proto());
  EXPECT_EQ(stored.nodes, r.names.nodes);
  PassResult r2 = RunPasses(r.model, {"fold_constants"});
  testing::ExpectTraceable(m, r2);
  EXPECT_EQ(r2.names.nodes.at("conv1"), (std::vector<std::string>{"conv1", "bn1"}));
  std::string passes;
  for (const auto& p : r2.model.proto().metadata_props()) {
    if (p.key() == kNameMapKey) passes = nlohmann::json::parse(p.value())["passes"].dump();
  }
  EXPECT_EQ(passes, R"(["fold_bn","fp16=graph","nhwc","fold_constants"])");
  EXPECT_LE(Agreement(m, r2.model, testing::RandomInputs(m, 2), true), 1e-2);
}

TEST(Passes, UnnamedNodesGetNames) {
  GraphBuilder b;
  b.Input("x", DType::kFloat32, {2});
  b.Output("y", DType::kFloat32, {2});
  b.Node("Relu", "", {"x"}, {"r"});
  b.Node("Neg", "", {"r"}, {"y"});
  PassResult r = RunPasses(b.Build(), {"fold_constants"});
  EXPECT_EQ(r.model.graph().node(0).name(), "Relu_0");
  EXPECT_EQ(r.model.graph().node(1).name(), "Neg_1");
  EXPECT_EQ(r.log["renamed"].size(), 2u);
}

TEST(Passes, Fp16GraphRejectsSubgraphs) {
  GraphBuilder b;
  b.Input("c", DType::kBool, {});
  b.Input("x", DType::kFloat32, {2});
  b.Output("y", DType::kFloat32, {2});
  auto* n = b.Node("If", "if", {"c"}, {"y"});
  for (const char* br : {"then_branch", "else_branch"}) {
    auto* a = n->add_attribute();
    a->set_name(br);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* g = a->mutable_g();
    g->set_name(br);
    auto* id = g->add_node();
    id->set_op_type("Identity");
    id->add_input("x");
    id->add_output(std::string(br) + "_out");
    auto* o = g->add_output();
    o->set_name(std::string(br) + "_out");
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  Model m = b.Build();
  try {
    RunPasses(m, {"fp16=graph"});
    FAIL() << "expected kUnsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  }
  // weights mode works (nothing to convert) and keeps the subgraph.
  EXPECT_NO_THROW(RunPasses(m, {"fp16"}));
}

}  // namespace
}  // namespace concord::passes
