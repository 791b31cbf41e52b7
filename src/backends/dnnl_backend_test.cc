// The oneDNN backend against the reference interpreter: every op it maps to a primitive (and
// must not leave to the fallback), every opt level on bench-shaped blocks, replayed plans on new
// inputs, taps, threads, fallback segments, shape changes and bad input.
#include "backends/dnnl_backend.h"

#include <gtest/gtest.h>

#include "backends/ref_backend.h"
#include "compare/compare.h"
#include "testing/graph_builder.h"
#include "testing/net_blocks.h"

namespace concord {
namespace {

using test::GraphBuilder;

const Tolerance kTol{1e-4, 1e-4};

std::unique_ptr<Session> Dnnl(const Model& m, const std::string& opts) {
  return MakeDnnlBackend()->Prepare(m, EnvSpec::Parse("dnnl" + opts));
}

void ExpectClose(const Value& want, const Value& got, const std::string& what) {
  ASSERT_TRUE(got.is_tensor()) << what;
  ASSERT_EQ(want.tensor.shape(), got.tensor.shape()) << what;
  TensorDiff d = CompareTensors(want.tensor, got.tensor, kTol);
  EXPECT_TRUE(d.ok) << what << ": " << d.message;
}

// Runs `m` on dnnl with `opts` on two different input sets (the trace, then a replay) and
// compares every output with ref. Returns the session's stats after the replay.
nlohmann::json ExpectMatchesRef(const Model& m, const std::string& opts) {
  auto s = Dnnl(m, opts);
  for (unsigned round = 0; round < 2; ++round) {
    ValueMap in;
    unsigned seed = 11 + round * 7;
    for (const ValueInfo& vi : m.Inputs()) in[vi.name] = test::RandomInput(vi.shape, seed++);
    auto want = RunReference(m, in);
    auto got = s->Run(in);
    EXPECT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size() && i < got.size(); ++i)
      ExpectClose(want[i], got[i], m.graph().name() + opts + " output " + std::to_string(i));
  }
  return s->Stats();
}

// ---- ops that must run as primitives -------------------------------------------------------

struct OpCase {
  std::string name;
  Model model;
};

// y: the output shape, computed by hand from ONNX's Conv formula.
Model ConvCase(const std::string& name, Shape x, Shape w, Shape y, std::vector<int64_t> pads,
               std::vector<int64_t> strides, std::vector<int64_t> dil, int64_t group,
               const std::string& auto_pad = "") {
  GraphBuilder b(name);
  b.Input("x", x);
  auto* n = b.Node("Conv", {"x", b.Weight(w, 0.3f), b.Weight({w[0]}, 0.1f)}, "y");
  if (!pads.empty()) GraphBuilder::Ints(n, "pads", pads);
  if (!strides.empty()) GraphBuilder::Ints(n, "strides", strides);
  if (!dil.empty()) GraphBuilder::Ints(n, "dilations", dil);
  if (!auto_pad.empty()) GraphBuilder::String(n, "auto_pad", auto_pad);
  GraphBuilder::Int(n, "group", group);
  b.Output("y", y);
  return b.Build();
}

Model Unary(const std::string& op, int opset = 13,
            const std::function<void(onnx::NodeProto*)>& attrs = nullptr) {
  GraphBuilder b(op, opset);
  b.Input("x", {2, 8, 5, 5});
  auto* n = b.Node(op, {"x"}, "y");
  if (attrs) attrs(n);
  b.Output("y", {2, 8, 5, 5});
  return b.Build();
}

Model Binary(const std::string& op, Shape a, Shape bshape, bool b_const) {
  GraphBuilder b(op + "_bcast");
  b.Input("a", a);
  std::string rhs = "b";
  if (b_const) {
    rhs = b.Weight(bshape, 1.0f);
  } else {
    b.Input("b", bshape);
  }
  b.Node(op, {"a", rhs}, "y");
  b.Output("y", a);
  return b.Build();
}

Model Pool(const std::string& op, const std::function<void(onnx::NodeProto*)>& attrs, Shape out) {
  GraphBuilder b(op);
  b.Input("x", {1, 16, 9, 9});
  auto* n = b.Node(op, {"x"}, "y");
  if (attrs) attrs(n);
  b.Output("y", out);
  return b.Build();
}

std::vector<OpCase> PrimitiveCases() {
  std::vector<OpCase> cases;
  cases.push_back({"conv3x3", ConvCase("conv3x3", {2, 4, 9, 9}, {8, 4, 3, 3}, {2, 8, 9, 9},
                                       {1, 1, 1, 1}, {}, {}, 1)});
  cases.push_back(
      {"conv_grouped_dilated_asym", ConvCase("conv_g", {1, 8, 11, 11}, {6, 4, 3, 3}, {1, 6, 5, 8},
                                             {0, 1, 2, 0}, {2, 1}, {2, 2}, 2)});
  cases.push_back({"conv_depthwise_s2", ConvCase("conv_dw", {1, 16, 10, 10}, {16, 1, 3, 3},
                                                 {1, 16, 5, 5}, {1, 1, 1, 1}, {2, 2}, {}, 16)});
  cases.push_back({"conv_same_upper", ConvCase("conv_same", {1, 3, 10, 10}, {4, 3, 4, 4},
                                               {1, 4, 4, 4}, {}, {3, 3}, {}, 1, "SAME_UPPER")});
  cases.push_back(
      {"conv1d", ConvCase("conv1d", {2, 3, 17}, {5, 3, 3}, {2, 5, 8}, {1, 0}, {2}, {}, 1)});
  cases.push_back({"conv3d", ConvCase("conv3d", {1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}, {1, 3, 5, 6, 7},
                                      {1, 1, 1, 1, 1, 1}, {}, {}, 1)});
  auto ints = [](const char* k, std::vector<int64_t> v) {
    return [k, v](onnx::NodeProto* n) { GraphBuilder::Ints(n, k, v); };
  };
  cases.push_back({"maxpool", Pool("MaxPool",
                                   [&](onnx::NodeProto* n) {
                                     ints("kernel_shape", {3, 3})(n);
                                     ints("strides", {2, 2})(n);
                                     ints("pads", {1, 1, 1, 1})(n);
                                   },
                                   {1, 16, 5, 5})});
  cases.push_back({"avgpool_exclude_pad", Pool("AveragePool",
                                               [&](onnx::NodeProto* n) {
                                                 ints("kernel_shape", {3, 3})(n);
                                                 ints("pads", {1, 0, 1, 0})(n);
                                               },
                                               {1, 16, 9, 7})});
  cases.push_back({"avgpool_include_pad", Pool("AveragePool",
                                               [&](onnx::NodeProto* n) {
                                                 ints("kernel_shape", {2, 2})(n);
                                                 ints("strides", {2, 2})(n);
                                                 ints("pads", {1, 1, 0, 0})(n);
                                                 GraphBuilder::Int(n, "count_include_pad", 1);
                                               },
                                               {1, 16, 5, 5})});
  cases.push_back({"global_avg", Pool("GlobalAveragePool", nullptr, {1, 16, 1, 1})});
  cases.push_back({"global_max", Pool("GlobalMaxPool", nullptr, {1, 16, 1, 1})});
  {
    GraphBuilder b("batchnorm");
    b.Input("x", {2, 8, 4, 4});
    auto y = test::BatchNorm(b, "x", 8);
    b.graph()->mutable_node(0)->set_output(0, "y");
    (void)y;
    b.Output("y", {2, 8, 4, 4});
    cases.push_back({"batchnorm", b.Build()});
  }
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp"})
    cases.push_back({op, Unary(op)});
  cases.push_back({"LeakyRelu", Unary("LeakyRelu", 13, [](onnx::NodeProto* n) {
                     GraphBuilder::Float(n, "alpha", 0.2f);
                   })});
  cases.push_back(
      {"Elu", Unary("Elu", 13, [](onnx::NodeProto* n) { GraphBuilder::Float(n, "alpha", 0.7f); })});
  cases.push_back({"HardSwish", Unary("HardSwish", 14)});
  cases.push_back({"Gelu", Unary("Gelu", 20)});
  cases.push_back({"add_channel_const", Binary("Add", {2, 8, 5, 5}, {1, 8, 1, 1}, true)});
  cases.push_back({"mul_same", Binary("Mul", {2, 8, 5, 5}, {2, 8, 5, 5}, false)});
  cases.push_back({"sub_bcast_const", Binary("Sub", {2, 8, 5, 5}, {5}, true)});
  cases.push_back({"div_same", Binary("Div", {3, 7}, {3, 7}, false)});
  cases.push_back({"max_bcast", Binary("Max", {2, 8, 5, 5}, {2, 8, 1, 5}, false)});
  {
    GraphBuilder b("concat_softmax");
    b.Input("x", {1, 4, 6, 6});
    auto c1 = test::Conv(b, "x", 4, 16, 3, 1), c2 = test::Conv(b, "x", 4, 8, 1, 1);
    auto* cat = b.Node("Concat", {c1, c2});
    GraphBuilder::Int(cat, "axis", 1);
    auto* sm = b.Node("Softmax", {cat->output(0)}, "y");
    GraphBuilder::Int(sm, "axis", 1);
    b.Node("LogSoftmax", {cat->output(0)}, "z");
    b.Output("y", {1, 24, 6, 6});
    b.Output("z", {1, 24, 6, 6});
    cases.push_back({"concat_softmax", b.Build()});
  }
  {
    GraphBuilder b("matmul");
    b.Input("a", {2, 3, 4, 5});
    b.Input("c", {2, 3, 6, 7});
    b.Node("MatMul", {"a", b.Weight({5, 6}, 0.5f)}, "y");
    b.Node("MatMul", {"y", "c"}, "z");
    b.Output("z", {2, 3, 4, 7});
    cases.push_back({"matmul", b.Build()});
  }
  for (auto [mode, ctm, nearest, scale] :
       std::vector<std::tuple<const char*, const char*, const char*, float>>{
           {"nearest", "half_pixel", "round_prefer_floor", 2.0f},
           {"nearest", "asymmetric", "floor", 3.0f},
           {"linear", "half_pixel", "", 2.0f},
           {"linear", "pytorch_half_pixel", "", 0.5f},
           {"linear", "half_pixel", "", 1.5f}}) {
    GraphBuilder b("resize", 13);
    b.Input("x", {1, 3, 6, 8});
    std::string roi = b.FreshName("roi"), sc = b.FreshName("scales");
    b.Init(roi, Tensor::FromVector<float>({0}, {}));
    b.Init(sc, Tensor::FromVector<float>({4}, {1, 1, scale, scale}));
    auto* r = b.Node("Resize", {"x", roi, sc}, "y");
    GraphBuilder::String(r, "mode", mode);
    GraphBuilder::String(r, "coordinate_transformation_mode", ctm);
    if (*nearest) GraphBuilder::String(r, "nearest_mode", nearest);
    auto out = [scale](int64_t d) { return static_cast<int64_t>(std::floor(d * scale)); };
    b.Output("y", {1, 3, out(6), out(8)});
    cases.push_back({fmt::format("resize_{}_{}_{}", mode, ctm, scale), b.Build()});
  }
  {
    GraphBuilder b("gemm");
    b.Input("a", {3, 6});
    auto* g = b.Node("Gemm", {"a", b.Weight({6, 4}, 0.5f), b.Weight({4}, 0.5f)}, "y");
    GraphBuilder::Float(g, "alpha", 0.5f);
    GraphBuilder::Float(g, "beta", 2.0f);
    b.Output("y", {3, 4});
    cases.push_back({"gemm_alpha_beta", b.Build()});
  }
  return cases;
}

TEST(DnnlBackend, EveryMappedOpRunsAsAPrimitiveAndMatchesRef) {
  for (const auto& c : PrimitiveCases()) {
    for (const char* opts : {",opt=0", ",opt=3"}) {
      SCOPED_TRACE(c.name + opts);
      auto stats = ExpectMatchesRef(c.model, opts);
      EXPECT_EQ(stats["fallback_nodes"].get<int>(), 0) << stats.dump();
      EXPECT_GT(stats["primitives"].get<int>(), 0);
    }
  }
}

// ---- opt levels ------------------------------------------------------------------------------

TEST(DnnlBackend, EveryOptLevelMatchesRefOnBenchBlocks) {
  for (const Model& m : {test::MobileNetLike(), test::ResNetLike(), test::Mlp(false)}) {
    for (int opt = 0; opt <= 3; ++opt) {
      for (int threads : {1, 2}) {
        SCOPED_TRACE(m.graph().name() + " opt " + std::to_string(opt));
        ExpectMatchesRef(m, fmt::format(",opt={},threads={}", opt, threads));
      }
    }
  }
}

TEST(DnnlBackend, OptLevelsAreDifferentPlans) {
  Model resnet = test::ResNetLike();
  auto s0 = ExpectMatchesRef(resnet, ",opt=0");
  auto s1 = ExpectMatchesRef(resnet, ",opt=1");
  auto s2 = ExpectMatchesRef(resnet, ",opt=2");
  // opt 0: every node its own primitive except Flatten (a view) -> conv, bn, relu, pool...
  EXPECT_EQ(s0["groups"].get<int>(), resnet.graph().node_size());
  // opt 1: the three BatchNorms fold into their convs
  EXPECT_EQ(s1["groups"].get<int>(), resnet.graph().node_size() - 3);
  EXPECT_NE(s1["passes"].dump().find("BatchNormalization folded into Conv: 3"), std::string::npos)
      << s1["passes"].dump();
  // opt 2: two ReLUs and the residual Add (+ its ReLU) fuse into convs
  EXPECT_LT(s2["primitives"].get<int>(), s1["primitives"].get<int>());
  EXPECT_NE(s2["passes"].dump().find("1 residual sums"), std::string::npos) << s2["passes"].dump();

  Model mobile = test::MobileNetLike();
  auto m2 = ExpectMatchesRef(mobile, ",opt=2");
  auto m3 = ExpectMatchesRef(mobile, ",opt=3");
  EXPECT_NE(m3["passes"].dump().find("1x1 + depthwise Conv fusion: 1"), std::string::npos)
      << m3["passes"].dump();
  EXPECT_LT(m3["groups"].get<int>(), m2["groups"].get<int>());
}

TEST(DnnlBackend, PointwiseConvBeforeANonConvIsNotTakenForDepthwiseFusion) {
  GraphBuilder b("conv1x1_pool");
  b.Input("x", {1, 8, 6, 6});
  auto c = test::Conv(b, "x", 8, 16, 1, 1);
  auto r = b.Node("Relu", {c})->output(0);
  b.Node("GlobalAveragePool", {r}, "y");
  b.Output("y", {1, 16, 1, 1});
  auto stats = ExpectMatchesRef(b.Build(), ",opt=3");
  EXPECT_NE(stats["passes"].dump().find("1x1 + depthwise Conv fusion: 0"), std::string::npos);
}

// ---- fallback, taps, shapes, errors -------------------------------------------------------------

TEST(DnnlBackend, OpsWithoutPrimitiveRunOnRefBetweenPrimitives) {
  GraphBuilder b("fallback");
  b.Input("x", {1, 3, 8, 8});
  auto c = test::Conv(b, "x", 3, 8, 3, 1);
  auto* t = b.Node("Transpose", {c});
  GraphBuilder::Ints(t, "perm", {0, 1, 3, 2});
  auto e = b.Node("Erf", {t->output(0)})->output(0);
  auto c2 = test::Conv(b, e, 8, 4, 3, 1);
  b.Node("Relu", {c2}, "y");
  b.Output("y", {1, 4, 8, 8});
  Model m = b.Build();
  for (const char* opts : {",opt=0", ",opt=3"}) {
    auto stats = ExpectMatchesRef(m, opts);
    EXPECT_EQ(stats["fallback_nodes"].get<int>(), 2) << stats.dump();
  }
}

TEST(DnnlBackend, BroadcastsAndEmptyTensorsOneDnnlCannotTakeRunOnRef) {
  GraphBuilder b("bcast_lower_rank_first", 13);
  b.Input("a", {4, 5});
  b.Input("b", {2, 1, 1, 5});
  b.Input("e", {2, 0, 5});
  b.Node("Add", {"a", "b"}, "y");  // the full-shape operand is the second one
  b.Node("Sub", {"b", "a"}, "z");  // not commutative, first operand broadcasts
  b.Node("Relu", {"e"}, "w");      // zero elements
  b.Output("y", {2, 1, 4, 5});
  b.Output("z", {2, 1, 4, 5});
  b.Output("w", {2, 0, 5});
  auto stats = ExpectMatchesRef(b.Build(), ",opt=3");
  EXPECT_EQ(stats["fallback_nodes"].get<int>(), 3) << stats.dump();
}

TEST(DnnlBackend, AConstantThatIsAlsoAGraphOutputIsReturnedWithItsValue) {
  // The constant feeds a primitive (so it lives in oneDNN memory) and is itself an output.
  GraphBuilder b("constant_output");
  b.Input("x", {1, 4, 3, 3});
  std::string w = b.Weight({1, 4, 3, 3}, 0.5f);
  b.Node("Add", {"x", w}, "y");
  b.Output("y", {1, 4, 3, 3});
  b.Output(w, {1, 4, 3, 3});
  for (const char* opts : {",opt=0", ",opt=1", ",opt=3"}) ExpectMatchesRef(b.Build(), opts);
}

TEST(DnnlBackend, TapsAreTheMaterializedValuesAndMatchRef) {
  Model m = test::ResNetLike();
  ValueMap in = test::RandomInputs(m);
  ValueMap want;
  RunReference(m, in, &want);
  for (int opt : {0, 3}) {
    auto s = Dnnl(m, ",opt=" + std::to_string(opt));
    ASSERT_TRUE(s->supports_taps());
    for (int round = 0; round < 2; ++round) {
      ValueMap taps;
      s->RunWithTaps(in, &taps);
      if (opt == 0) {
        EXPECT_EQ(taps.size(), want.size());  // every node output at opt 0
      } else {
        EXPECT_LT(taps.size(), want.size());  // fused chains are not materialized
        EXPECT_GT(taps.size(), 0u);
      }
      for (const auto& [name, v] : taps) {
        ASSERT_TRUE(want.count(name)) << name;
        ExpectClose(want.at(name), v, "tap " + name);
      }
    }
  }
}

TEST(DnnlBackend, NewInputShapesGetTheirOwnPlan) {
  GraphBuilder b("dynamic_batch");
  b.Input("x", {1, 3, 8, 8});
  auto c = test::Conv(b, "x", 3, 4, 3, 1);
  b.Node("Relu", {c}, "y");
  b.Output("y", {1, 4, 8, 8});
  for (auto* vi : {b.graph()->mutable_input(0), b.graph()->mutable_output(0)})
    vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_param("N");
  Model m = b.Build();
  auto s = Dnnl(m, "");
  for (int64_t batch : {1, 3, 1}) {
    ValueMap in = {{"x", test::RandomInput({batch, 3, 8, 8}, static_cast<unsigned>(batch))}};
    auto want = RunReference(m, in);
    ExpectClose(want[0], s->Run(in)[0], "batch " + std::to_string(batch));
  }
  EXPECT_EQ(s->Stats()["plans"].get<int>(), 2);
}

TEST(DnnlBackend, MissingOrUnknownInputIsAnInputError) {
  Model m = test::Mlp(false);
  auto s = Dnnl(m, "");
  try {
    s->Run({});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("missing input 'x'"), std::string::npos) << e.what();
  }
  ValueMap in = test::RandomInputs(m);
  in["nope"] = in.at("x");
  EXPECT_THROW(s->Run(in), Error);
}

TEST(DnnlBackend, InfoDeclaresTheOptLadderAndVersion) {
  BackendInfo info = MakeDnnlBackend()->Info();
  EXPECT_NE(info.version.find("oneDNN 2."), std::string::npos) << info.version;
  EXPECT_NE(info.opt_mapping.find("3 = "), std::string::npos);
  EXPECT_THROW(Dnnl(test::Mlp(false), ",opt=4"), Error);
  EXPECT_THROW(Dnnl(test::Mlp(false), ",fast=1"), Error);
}

}  // namespace
}  // namespace concord
