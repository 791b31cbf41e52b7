// The fuzz generator policy: single-op probes give exactly one node of the asked op with the
// asked input dtype, recorded exclusions are used only when they cover every env, and seed S
// avoids what env (S mod N) rejects.
#include "campaign/fuzz_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace concord {
namespace {

namespace fs = std::filesystem;

TEST(SingleOpProbe, GivesOneNodeOfTheOpWithTheAskedInputDtype) {
  gen::GenOptions base;
  for (const auto& [op, dtype] : std::vector<std::pair<std::string, std::string>>{
           {"Relu", "float32"}, {"Greater", "int64"}, {"Add", "int32"}}) {
    std::optional<FuzzCase> c = SingleOpProbe(base, op, dtype);
    ASSERT_TRUE(c.has_value()) << op << " " << dtype;
    const onnx::GraphProto& g = c->model.graph();
    ASSERT_EQ(g.node_size(), 1) << op;
    EXPECT_EQ(g.node(0).op_type(), op);
    const onnx::TypeProto* t = c->model.FindType(g.node(0).input(0));
    ASSERT_NE(t, nullptr);
    std::string got = DTypeName(static_cast<DType>(t->tensor_type().elem_type()));
    EXPECT_EQ(got == "float" ? "float32" : got, dtype) << op;
    EXPECT_EQ(c->op_types, std::vector<std::string>{op});
  }
}

TEST(SingleOpProbe, NoneForAPairTheGeneratorCannotMake) {
  EXPECT_FALSE(SingleOpProbe(gen::GenOptions{}, "Relu", "bool").has_value());
}

TEST(RecordedExclusions, OnlyWhenTheStoreCoversEveryEnv) {
  fs::path db = fs::temp_directory_path() / fmt::format("concord_fuzz_support_{}.db", getpid());
  fs::remove(db);
  {
    Store store = Store::Open(db.string());
    store.SetOpSupport({"ort@cpu", "Relu", "float32", "ok", ""});
    store.SetOpSupport({"opencv@cpu", "Relu", "float32", "ok", ""});
    store.SetOpSupport({"opencv@cpu", "Greater", "int64", "unsupported", "no int64"});
    auto both = RecordedExclusions(store, {"ort@cpu", "opencv@cpu"});
    ASSERT_EQ(both.size(), 2u);
    EXPECT_TRUE(both["ort@cpu"].empty());
    EXPECT_EQ(both["opencv@cpu"], (OpDtypeSet{{"Greater", "int64"}}));
    EXPECT_TRUE(RecordedExclusions(store, {"ort@cpu", "tvm@cpu"}).empty());
  }
  fs::remove(db);
}

TEST(MakeFuzzGenerator, SeedSAvoidsWhatEnvSModNRejects) {
  std::vector<std::string> envs = {"a", "b"};
  EXPECT_EQ(TurnEnv(envs, 4), "a");
  EXPECT_EQ(TurnEnv(envs, 7), "b");
  gen::GenOptions base;
  base.max_nodes = 4;
  base.ops = {"Relu", "Abs"};
  base.dtypes = {"float32"};
  // Env b rejects Relu: odd seeds never have it; env a rejects Abs: even seeds never have it.
  auto generate =
      MakeFuzzGenerator(base, {{"a", {{"Abs", "float32"}}}, {"b", {{"Relu", "float32"}}}}, envs);
  for (uint64_t seed = 0; seed < 6; ++seed) {
    FuzzCase c = generate(seed, {});
    EXPECT_EQ(c.seed, seed);
    const std::string banned = seed % 2 == 0 ? "Abs" : "Relu";
    for (const auto& op : c.op_types) EXPECT_NE(op, banned) << "seed " << seed;
  }
}

// 1 / (1 + tried / mean): tried {A: 10, B: 30} has mean 20, so A weighs 1/1.5 and B 1/2.5.
TEST(CoverageWeights, FavourOpsTriedLess) {
  OpWeights w = CoverageWeights({{"A", 10}, {"B", 30}});
  EXPECT_DOUBLE_EQ(w.at("A"), 1.0 / 1.5);
  EXPECT_DOUBLE_EQ(w.at("B"), 1.0 / 2.5);
  EXPECT_TRUE(CoverageWeights({}).empty());
}

// The weights reach the generator: an op weighing 0 is never drawn on its own.
TEST(MakeFuzzGenerator, PassesOpWeightsToTheGenerator) {
  gen::GenOptions base;
  base.max_nodes = 4;
  base.ops = {"Relu", "Sigmoid"};
  base.dtypes = {"float32"};
  auto generate = MakeFuzzGenerator(base, {}, {"a"});
  int relu_plain = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    for (const auto& op : generate(seed, {{"Relu", 0.0}}).op_types) EXPECT_NE(op, "Relu");
    for (const auto& op : generate(seed, {}).op_types) relu_plain += op == "Relu" ? 1 : 0;
  }
  EXPECT_GT(relu_plain, 0);
}

}  // namespace
}  // namespace concord
