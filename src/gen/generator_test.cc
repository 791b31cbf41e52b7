// Generator unit tests: per-spec shape transfer on one-node models against hand formulas, ONNX
// shape inference (run afresh, strict) and the ref interpreter; determinism; option handling.
#include "gen/generator.h"

#include <gtest/gtest.h>
#include <onnx/shape_inference/implementation.h>

#include <map>
#include <set>

#include "backends/ref_backend.h"

namespace concord::gen {
namespace {

GeneratedModel Gen(uint64_t seed, int nodes, std::vector<std::string> ops = {}) {
  GenOptions o;
  o.seed = seed;
  o.max_nodes = nodes;
  o.ops = std::move(ops);
  return Generate(o);
}

Shape ProtoShape(const onnx::TypeProto& t) {
  Shape s;
  for (const auto& d : t.tensor_type().shape().dim())
    s.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return s;
}

// Declared shape of any graph input, initializer or output by name.
Shape ShapeOf(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& i : g.input())
    if (i.name() == name) return ProtoShape(i.type());
  for (const auto& i : g.output())
    if (i.name() == name) return ProtoShape(i.type());
  for (const auto& i : g.initializer()) {
    if (i.name() == name) return Shape(i.dims().begin(), i.dims().end());
  }
  for (const auto& i : g.value_info())
    if (i.name() == name) return ProtoShape(i.type());
  ADD_FAILURE() << "no shape for " << name;
  return {};
}

std::vector<int64_t> Ints(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  }
  return {};
}
int64_t IntOr(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return def;
}

// ONNX shape inference from scratch (value_info dropped), strict; returns name -> shape.
std::map<std::string, Shape> InferFresh(const onnx::ModelProto& m) {
  onnx::ModelProto copy = m;
  copy.mutable_graph()->clear_value_info();
  onnx::ShapeInferenceOptions opts{true, 1, true};
  onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(), opts);
  std::map<std::string, Shape> out;
  for (const auto& vi : copy.graph().value_info()) out[vi.name()] = ProtoShape(vi.type());
  for (const auto& vi : copy.graph().output()) out[vi.name()] = ProtoShape(vi.type());
  return out;
}

std::map<std::string, Shape> RefShapes(const GeneratedModel& g) {
  ValueMap feeds(g.inputs.begin(), g.inputs.end()), taps;
  RunReference(g.model, feeds, &taps);
  std::map<std::string, Shape> out;
  for (const auto& [k, v] : taps) out[k] = v.tensor.shape();
  return out;
}

// Every op alone: the spec's shapes (declared outputs), fresh ONNX inference and ref agree,
// and no attempt was discarded for a spec/inference disagreement.
TEST(GenSpecs, EverySpecAgreesWithShapeInferenceAndRef) {
  for (const std::string& op : KnownOps()) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      SCOPED_TRACE(op + " seed " + std::to_string(seed));
      GeneratedModel g = Gen(seed, 3, {op});
      for (const auto& r : g.rejected) EXPECT_EQ(r.find("spec said"), std::string::npos) << r;
      const auto& graph = g.model.graph();
      bool has = false;
      for (const auto& n : graph.node()) has |= n.op_type() == op;
      EXPECT_TRUE(has) << "no " << op << " node generated";
      auto inferred = InferFresh(g.model.proto());
      auto ran = RefShapes(g);
      for (const auto& n : graph.node()) {
        for (const auto& out : n.output()) {
          ASSERT_TRUE(ran.count(out)) << out;
          ASSERT_TRUE(inferred.count(out)) << "ONNX inferred nothing for " << out;
          EXPECT_EQ(inferred[out], ran[out]) << n.name();
        }
      }
      for (const auto& o : graph.output())
        EXPECT_EQ(ProtoShape(o.type()), ran[o.name()]) << o.name();
    }
  }
}

// Conv / pooling / ConvTranspose output sizes against the hand formulas.
TEST(GenSpecs, WindowOpsMatchHandFormulas) {
  int checked = 0;
  for (const std::string op : {"Conv", "MaxPool", "AveragePool", "ConvTranspose"}) {
    for (uint64_t seed = 0; seed < 40; ++seed) {
      GeneratedModel g = Gen(seed, 1, {op});
      const auto& graph = g.model.graph();
      ASSERT_EQ(graph.node_size(), 1);
      const auto& n = graph.node(0);
      Shape x = ShapeOf(graph, n.input(0)), y = ShapeOf(graph, n.output(0));
      auto k = Ints(n, "kernel_shape"), s = Ints(n, "strides"), p = Ints(n, "pads");
      auto d = Ints(n, "dilations");
      size_t sp = x.size() - 2;
      ASSERT_EQ(k.size(), sp);
      if (d.empty()) d.assign(sp, 1);
      for (size_t i = 0; i < sp; ++i) {
        int64_t h = x[i + 2], want;
        if (op == "ConvTranspose") {
          want = s[i] * (h - 1) + d[i] * (k[i] - 1) + 1 - p[i] - p[i + sp];
        } else {
          want =
              (h + p[i] + p[i + sp] - d[i] * (k[i] - 1) - 1) / s[i] + 1;  // floor: numerator >= 0
        }
        EXPECT_EQ(y[i + 2], want) << op << " seed " << seed << " axis " << i;
        ++checked;
      }
      if (op == "Conv" || op == "ConvTranspose") {
        Shape w = ShapeOf(graph, n.input(1));
        int64_t group = IntOr(n, "group", 1);
        EXPECT_EQ(y[1], op == "Conv" ? w[0] : w[1] * group);
        EXPECT_EQ(x[1], op == "Conv" ? w[1] * group : w[0]);
      } else {
        EXPECT_EQ(y[1], x[1]);
      }
      EXPECT_EQ(y[0], x[0]);
    }
  }
  EXPECT_GT(checked, 100);
}

// MatMul broadcasting and Concat/Slice/Pad against numpy-style hand rules.
TEST(GenSpecs, ShapeOpsMatchHandRules) {
  for (uint64_t seed = 0; seed < 30; ++seed) {
    GeneratedModel g = Gen(seed, 1, {"Pad"});
    const auto& n = g.model.graph().node(0);
    Shape x = ShapeOf(g.model.graph(), n.input(0)), y = ShapeOf(g.model.graph(), n.output(0));
    std::vector<int64_t> pads;
    for (const auto& init : g.model.graph().initializer()) {
      if (init.name() == n.input(1)) {
        Tensor t = Tensor(DType::kInt64, {init.dims(0)});
        ASSERT_EQ(init.raw_data().size(), t.nbytes());
        std::memcpy(t.raw(), init.raw_data().data(), t.nbytes());
        pads.assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
      }
    }
    ASSERT_EQ(pads.size(), 2 * x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i] + pads[i] + pads[i + x.size()]);
  }
  for (uint64_t seed = 0; seed < 30; ++seed) {
    GeneratedModel g = Gen(seed, 1, {"MatMul"});
    const auto& n = g.model.graph().node(0);
    Shape a = ShapeOf(g.model.graph(), n.input(0)), b = ShapeOf(g.model.graph(), n.input(1));
    Shape y = ShapeOf(g.model.graph(), n.output(0));
    Shape want;
    Shape ba(a.begin(), a.end() - (a.size() >= 2 ? 2 : 1)),
        bb(b.begin(), b.end() - (b.size() >= 2 ? 2 : 1));
    size_t r = std::max(ba.size(), bb.size());
    for (size_t i = 0; i < r; ++i) {
      int64_t x = i + ba.size() >= r ? ba[i + ba.size() - r] : 1;
      int64_t z = i + bb.size() >= r ? bb[i + bb.size() - r] : 1;
      ASSERT_TRUE(x == z || x == 1 || z == 1);
      want.push_back(std::max(x, z));
    }
    if (a.size() >= 2) want.push_back(a[a.size() - 2]);
    if (b.size() >= 2) want.push_back(b.back());
    EXPECT_EQ(y, want) << "seed " << seed;
  }
}

TEST(GenDeterminism, SameSeedSameBytesDifferentSeedsDiffer) {
  std::set<std::string> seen;
  for (uint64_t seed : {0, 1, 2, 3, 42, 1000}) {
    for (int nodes : {5, 20}) {
      std::string a = Gen(seed, nodes).model.proto().SerializeAsString();
      std::string b = Gen(seed, nodes).model.proto().SerializeAsString();
      EXPECT_EQ(a, b) << "seed " << seed << " nodes " << nodes;
      EXPECT_TRUE(seen.insert(a).second) << "seed " << seed << " repeats another model";
    }
  }
  // Inputs are part of the contract too.
  auto x = Gen(9, 10), y = Gen(9, 10);
  ASSERT_EQ(x.inputs.size(), y.inputs.size());
  for (size_t i = 0; i < x.inputs.size(); ++i)
    EXPECT_TRUE(x.inputs[i].second.tensor.BitwiseEqual(y.inputs[i].second.tensor));
}

TEST(GenOptions, OpsDtypesExcludeAndNodeBound) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    GenOptions o;
    o.seed = seed;
    o.max_nodes = 6;
    o.ops = {"Add", "Mul", "Relu", "Conv", "Cast"};
    o.dtypes = {"float32"};
    GeneratedModel g = Generate(o);
    EXPECT_LE(g.model.graph().node_size(), 6);
    for (const auto& n : g.model.graph().node()) {
      EXPECT_TRUE(std::set<std::string>(o.ops.begin(), o.ops.end()).count(n.op_type()) ||
                  n.op_type() == "Abs" || n.op_type() == "Tanh")  // guards
          << n.op_type();
    }
    for (const auto& i : g.model.graph().input()) EXPECT_EQ(i.type().tensor_type().elem_type(), 1);
    for (const auto& i : g.model.graph().output()) EXPECT_EQ(i.type().tensor_type().elem_type(), 1);
  }
  for (uint64_t seed = 0; seed < 20; ++seed) {
    GenOptions o;
    o.seed = seed;
    o.ops = {"Add", "Sub"};
    o.exclude = {{"Add", "float16"}, {"Add", "int32"}, {"Add", "int64"}, {"Sub", "float32"}};
    GeneratedModel g = Generate(o);
    for (const auto& n : g.model.graph().node()) {
      const onnx::TypeProto* t = g.model.FindType(n.output(0));
      ASSERT_NE(t, nullptr);
      int et = t->tensor_type().elem_type();
      if (n.op_type() == "Add") {
        EXPECT_EQ(et, 1);
      }
      if (n.op_type() == "Sub") {
        EXPECT_NE(et, 1);
      }
    }
  }
  GenOptions bad;
  bad.ops = {"NoSuchOp"};
  try {
    Generate(bad);
    ADD_FAILURE() << "unknown op accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("NoSuchOp"), std::string::npos);
  }
}

// Producer -> first-operand consumer op pairs of a model (the chains a compiler pattern-matches).
std::set<std::pair<std::string, std::string>> ChainedPairs(const Model& m) {
  std::map<std::string, std::string> producer;
  for (const auto& n : m.graph().node())
    for (const auto& o : n.output()) producer[o] = n.op_type();
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& n : m.graph().node()) {
    if (n.input_size() > 0 && producer.count(n.input(0)))
      out.insert({producer[n.input(0)], n.op_type()});
  }
  return out;
}

// Mode "patterns" builds the chains of PatternChains (every model still valid: Generate
// validates on ref), far more often than random growth does, and stays deterministic.
TEST(GenModes, PatternsChainWhatCompilersRewrite) {
  std::set<std::pair<std::string, std::string>> wanted;
  for (const auto& chain : PatternChains())
    for (size_t i = 1; i < chain.size(); ++i) wanted.insert({chain[i - 1], chain[i]});
  auto count = [&](const std::string& mode) {
    int hits = 0;
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      GenOptions o;
      o.seed = seed;
      o.max_nodes = 10;
      o.mode = mode;
      for (const auto& p : ChainedPairs(Generate(o).model)) hits += wanted.count(p) ? 1 : 0;
    }
    return hits;
  };
  int patterns = count("patterns"), random = count("random");
  EXPECT_GE(patterns, 40) << "random: " << random;
  EXPECT_GE(patterns, 3 * random) << "random: " << random;
  GenOptions o;
  o.seed = 5;
  o.mode = "patterns";
  EXPECT_EQ(Generate(o).model.proto().SerializeAsString(),
            Generate(o).model.proto().SerializeAsString());
  // --ops that leave a chain nothing: single ops are placed instead.
  o.ops = {"Acos"};
  EXPECT_FALSE(Generate(o).model.graph().node().empty());
}

// Mode "opencv": one float32 graph input of rank <= 4, everything else constant weights.
TEST(GenModes, OpenCvModeShapesModelsLikeItsImporter) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    GenOptions o;
    o.seed = seed;
    o.mode = "opencv";
    GeneratedModel g = Generate(o);
    ASSERT_LE(g.inputs.size(), 1u) << "seed " << seed;
    for (const auto& [name, value] : g.inputs) {
      EXPECT_EQ(value.tensor.dtype(), DType::kFloat32) << "seed " << seed << " " << name;
      EXPECT_LE(value.tensor.rank(), 4) << "seed " << seed << " " << name;
    }
    for (const auto& out : g.model.Outputs())
      EXPECT_EQ(out.dtype, DType::kFloat32) << "seed " << seed << " " << out.name;
    // Every node's data operand comes from the graph input (OpenCV gives a layer over a
    // constant no input blob), Split parts are equal and axes non-negative.
    std::set<std::string> dynamic;
    for (const auto& [name, value] : g.inputs) dynamic.insert(name);
    for (const auto& n : g.model.graph().node()) {
      ASSERT_TRUE(dynamic.count(n.input(0)))
          << "seed " << seed << ": " << n.op_type() << " '" << n.name() << "' reads a constant";
      for (const auto& o : n.output()) dynamic.insert(o);
      for (const auto& a : n.attribute()) {
        if (a.name() == "axis") {
          EXPECT_GE(a.i(), 0) << "seed " << seed << " " << n.op_type();
        }
        for (int64_t v : a.ints()) {
          if (a.name() == "axes") {
            EXPECT_GE(v, 0) << "seed " << seed << " " << n.op_type();
          }
        }
      }
    }
  }
}

TEST(GenSpecs, AtLeastFortyOps) {
  auto ops = KnownOps();
  EXPECT_GE(ops.size(), 40u);
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
}

}  // namespace
}  // namespace concord::gen
