// Validation and the value search on hand-built graphs whose overflow threshold is computed by
// hand, and on the generator's own output.
#include "gen/validate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gen/generator.h"

namespace concord::gen {
namespace {

// x (graph input, `dtype`, 64 elements in [lo, hi]) -> Cast? -> Exp -> Exp -> Exp.
struct Chain {
  z3::context ctx;
  SymGraph g;
  z3::model Model() {
    z3::solver s(ctx);
    EXPECT_EQ(s.check(), z3::sat);
    return s.get_model();
  }
  int Add(DType dt, TensorKind kind, double lo = -1, double hi = 1, int64_t n = 64) {
    TensorInfo t;
    t.dtype = dt;
    t.dims = {ctx.int_val(n)};
    t.kind = kind;
    t.lo = lo;
    t.hi = hi;
    g.tensors.push_back(t);
    return static_cast<int>(g.tensors.size()) - 1;
  }
  int Node(const std::string& op, int in, DType out, std::vector<AttrSpec> attrs = {},
           int64_t n = 64) {
    int o = Add(out, TensorKind::kNode, -1, 1, n);
    g.nodes.push_back({op, {in}, {o}, std::move(attrs)});
    return o;
  }
};

// exp(exp(exp(x))) exceeds float16's 65504 for x > ln(ln(ln(65504))) = 0.878..., so 64 draws in
// [-1, 1] overflow (P(no draw above 0.878) = 0.939^64 < 2%) while every x in [-0.5, 0.5] gives
// at most exp(exp(exp(0.5))) = 181.3: one halving step cures it.
TEST(ValueSearch, HalvesTheConeOfTheFirstOverflowingNode) {
  ASSERT_LT(std::log(std::log(std::log(65504.0))), 0.88);
  ASSERT_LT(std::exp(std::exp(std::exp(0.5))), 182.0);
  Chain c;
  int x = c.Add(DType::kFloat16, TensorKind::kInput);
  int e = c.Node("Exp", x, DType::kFloat16);
  e = c.Node("Exp", e, DType::kFloat16);
  int last = c.Node("Exp", e, DType::kFloat16);
  z3::model m = c.Model();
  Concrete first = Concretize(c.g, m, 42, "chain");
  Model model;
  Verdict v = Validate(first, &model);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.nonfinite_tensor, "t_" + std::to_string(last));  // the third Exp, not earlier
  EXPECT_GT(v.nonfinite_count, 0);

  SearchResult r = SearchValues(c.g, m, 42, "chain", v, 8);
  ASSERT_TRUE(r.found) << r.last.reason;
  EXPECT_EQ(r.steps, 1);
  const Tensor& in = r.concrete.inputs.at(0).second.tensor;
  for (int64_t i = 0; i < in.numel(); ++i) EXPECT_LE(std::abs(in.GetDouble(i)), 0.5);
  Model again;
  EXPECT_TRUE(Validate(r.concrete, &again).ok());
  EXPECT_EQ(r.concrete.op_types, first.op_types);  // the graph is kept
}

// An int32 input in [20, 30] cast to float16: exp(20) = 4.85e8 > 65504 whatever the draw, and
// the cone has no floating-point input or weight to move, so the search gives up at once.
TEST(ValueSearch, GivesUpWhenNoFloatLeafFeedsTheOverflow) {
  Chain c;
  int x = c.Add(DType::kInt32, TensorKind::kInput, 20, 30);
  AttrSpec to = IntAttr("to", c.ctx.int_val(10));  // FLOAT16
  int f = c.Node("Cast", x, DType::kFloat16, {to});
  c.Node("Exp", f, DType::kFloat16);
  z3::model m = c.Model();
  Model model;
  Verdict v = Validate(Concretize(c.g, m, 7, "cast"), &model);
  ASSERT_FALSE(v.nonfinite_tensor.empty()) << v.reason;
  SearchResult r = SearchValues(c.g, m, 7, "cast", v, 8);
  EXPECT_FALSE(r.found);
  EXPECT_EQ(r.steps, 0);
}

// float32 exp overflows above 88.72; [100, 200] halves to [50, 100] (still overflowing for most
// draws) and then [25, 50]: found within a few steps, each kept step no worse than the last.
TEST(ValueSearch, KeepsHalvingWhileTheOverflowPersists) {
  Chain c;
  int x = c.Add(DType::kFloat32, TensorKind::kInput, 100, 200);
  c.Node("Exp", x, DType::kFloat32);
  z3::model m = c.Model();
  Model model;
  Verdict v = Validate(Concretize(c.g, m, 3, "exp"), &model);
  ASSERT_EQ(v.nonfinite_count, 64);  // every draw overflows
  SearchResult r = SearchValues(c.g, m, 3, "exp", v, 8);
  ASSERT_TRUE(r.found);
  EXPECT_GE(r.steps, 2);
  const Tensor& in = r.concrete.inputs.at(0).second.tensor;
  for (int64_t i = 0; i < in.numel(); ++i) EXPECT_LT(in.GetDouble(i), 88.72);
}

// ReduceProd over 64 reciprocals of [0.1, 0.5] is at least 2^64 (float16 overflows): halving
// toward zero or the positive move only make the reciprocals larger; moving the range halfway to
// 1 each step does it ([0.89, 0.94] after three steps gives at most 1.13^64 = 2.5e3).
TEST(ValueSearch, MovesTowardOneForProductsOfReciprocals) {
  ASSERT_LT(std::pow(1 / 0.8875, 64.0), 65504.0);
  Chain c;
  int x = c.Add(DType::kFloat16, TensorKind::kInput, 0.1, 0.5);
  int r = c.Node("Reciprocal", x, DType::kFloat16);
  c.Node("ReduceProd", r, DType::kFloat16, {IntAttr("keepdims", c.ctx.int_val(1))}, 1);
  z3::model m = c.Model();
  Model model;
  Verdict v = Validate(Concretize(c.g, m, 5, "prod"), &model);
  ASSERT_EQ(v.nonfinite_tensor, "t_2") << v.reason;
  SearchResult s = SearchValues(c.g, m, 5, "prod", v, 8);
  ASSERT_TRUE(s.found) << s.last.reason;
  EXPECT_LE(s.steps, 4);
  const Tensor& in = s.concrete.inputs.at(0).second.tensor;
  for (int64_t i = 0; i < in.numel(); ++i) EXPECT_GT(in.GetDouble(i), 0.5);  // moved up, not down
}

// On the generator: overflow-prone ops in float16 keep graphs the plain retry would discard.
TEST(ValueSearch, GeneratorRescuesGraphsInsteadOfDiscardingThem) {
  int rescued = 0, discarded_without = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    GenOptions o;
    o.seed = seed;
    o.max_nodes = 6;
    o.ops = {"Exp", "Mul", "MatMul", "Add", "Pow"};
    o.dtypes = {"float16"};
    GeneratedModel with = Generate(o);
    rescued += with.rescued ? 1 : 0;
    o.value_search_steps = 0;
    GeneratedModel without = Generate(o);
    discarded_without += static_cast<int>(without.attempts) - 1;
    EXPECT_EQ(without.value_steps, 0);
  }
  EXPECT_GT(rescued, 0);
  EXPECT_GT(discarded_without, 0);
}

}  // namespace
}  // namespace concord::gen
