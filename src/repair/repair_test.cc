// Repair on the fault suite: for every injected fault the repaired model agrees with the source
// on held-out inputs (random sets the search never saw, and the later half of given sets); the
// patch log names the injected node; controls need no patch.
#include "repair/repair.h"

#include <gtest/gtest.h>

#include <cmath>

#include "backends/backend.h"
#include "localize/localize_testing.h"
#include "passes/fault_inject.h"
#include "passes/fault_suite_net.h"
#include "passes/pass.h"
#include "testing/graph_builder.h"

namespace concord::repair {
namespace {

std::vector<ValueMap> Images(int n, uint64_t seed = 21) {
  return localize::testing::RandomImages(n, seed);
}

TEST(Repair, EveryFaultOfTheSuiteIsRepairedOnHeldOutInputs) {
  Model src = passes::BuildFaultSuiteSourceNet();
  for (const auto& f : passes::FaultNames()) {
    SCOPED_TRACE(f);
    passes::FaultLog log;
    Model tgt = passes::InjectFault(src, {f, "", 0}, &log);
    RepairResult r = Repair(src, tgt, Images(1), {});
    EXPECT_EQ(r.holdout_count, 3u);
    if (log.kind.empty()) {
      // A control needs no edit: that is "nothing to repair", never "repaired".
      EXPECT_FALSE(r.repaired);
      EXPECT_EQ(r.status, "nothing_to_repair");
      EXPECT_TRUE(r.patches.empty());
    } else {
      EXPECT_TRUE(r.repaired) << r.ToJson().dump(1);
      EXPECT_EQ(r.status, "repaired");
      ASSERT_FALSE(r.patches.empty());
      EXPECT_EQ(r.patches[0].node, log.injected_node);
      EXPECT_EQ(r.patches[0].kind, log.kind);
      EXPECT_TRUE(r.patches.back().agreement_after["agree"].get<bool>());
    }
    // Every edit tried was kept or is reported as not kept, with the reason.
    EXPECT_EQ(static_cast<size_t>(r.candidates_tried), r.patches.size() + r.rejected.size());
    for (const auto& j : r.rejected) {
      EXPECT_FALSE(j["reason"].get<std::string>().empty()) << j.dump();
      EXPECT_FALSE(j["change"].get<std::string>().empty()) << j.dump();
    }
    EXPECT_EQ(r.ToJson()["rejected"], r.rejected);
  }
}

// Two convs whose channel count the target changed (4 -> 5 between them, other weights): no edit
// at the first conv can hold alone (restoring its weights breaks the second conv's input), so
// the repair stops, and every edit it tried is reported as not kept, with why.
Model TwoConvs(int64_t mid) {
  test::GraphBuilder b("two_convs", 13, 5);
  b.Input("image", {1, 3, 32, 32});
  b.Output("y", {1, 2, 32, 32});
  auto weights = [](Shape shape, float phase) {
    std::vector<float> v(static_cast<size_t>(NumElements(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(phase + 0.3f * static_cast<float>(i));
    return Tensor::FromVector<float>(shape, v);
  };
  b.Init("w1", weights({mid, 3, 3, 3}, 0.1f * static_cast<float>(mid)));
  b.Init("w2", weights({2, mid, 1, 1}, 0.7f));
  test::GraphBuilder::Ints(b.Node("Conv", "c1", {"image", "w1"}, {"h"}), "pads", {1, 1, 1, 1});
  b.Node("Relu", "relu", {"h"}, {"r"});
  b.Node("Conv", "c2", {"r", "w2"}, {"y"});
  return b.Build();
}

TEST(Repair, EditsNotKeptAreReportedWithTheirReason) {
  RepairResult r = Repair(TwoConvs(4), TwoConvs(5), Images(1), {});
  EXPECT_EQ(r.status, "not_repaired") << r.ToJson().dump(1);
  EXPECT_TRUE(r.patches.empty()) << r.ToJson().dump(1);
  ASSERT_GT(r.candidates_tried, 0);
  ASSERT_EQ(r.rejected.size(), static_cast<size_t>(r.candidates_tried));
  for (const auto& j : r.rejected) {
    EXPECT_EQ(j["node"], "c1") << j.dump();
    const std::string reason = j["reason"].get<std::string>();
    EXPECT_TRUE(reason.rfind("no progress", 0) == 0 ||
                reason.rfind("the edited model failed", 0) == 0 ||
                reason.rfind("outputs more than 2x worse", 0) == 0)
        << reason;
  }
  EXPECT_EQ(r.ToJson()["rejected"], r.rejected);
}

TEST(Repair, SplitsGivenSetsIntoSearchAndHoldout) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model tgt = passes::InjectFault(src, {"hyper.leaky_alpha", "", 0});
  RepairResult r = Repair(src, tgt, Images(4), {});
  EXPECT_TRUE(r.repaired);
  EXPECT_EQ(r.search_sets, 2u);
  EXPECT_EQ(r.holdout_count, 2u);
  EXPECT_NE(r.holdout.find("last 2"), std::string::npos);
}

TEST(Repair, IdenticalModelsAreNothingToRepair) {
  Model src = passes::BuildFaultSuiteSourceNet();
  RepairResult r = Repair(src, src, Images(2), {});
  EXPECT_EQ(r.status, "nothing_to_repair");
  EXPECT_FALSE(r.repaired);
  EXPECT_TRUE(r.patches.empty());
  EXPECT_EQ(r.ToJson()["status"], "nothing_to_repair");
}

// Two faults and room for one edit: the edit is accepted but the result still diverges, which
// is "not_repaired" even though a patch was applied.
TEST(Repair, AnEditThatLeavesADivergenceIsNotRepaired) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model one = passes::InjectFault(src, {"hyper.leaky_alpha", "", 0});
  Model two = passes::InjectFault(one, {"param.bias_scale", "fc1", 0});
  RepairOptions o;
  o.max_steps = 1;
  RepairResult r = Repair(src, two, Images(1), o);
  ASSERT_EQ(r.patches.size(), 1u) << r.ToJson().dump(1);
  EXPECT_FALSE(r.repaired);
  EXPECT_EQ(r.status, "not_repaired");
  EXPECT_EQ(r.ToJson()["status"], "not_repaired");
}

// Max |a - b| over the outputs of the source and the fixed target on ref, on images the repair
// never saw; the fixed target's NHWC input gets them permuted.
double WorstOnFreshImages(const Model& src, const Model& fixed) {
  auto s = PrepareSession(src, EnvSpec::Parse("ref"));
  auto t = PrepareSession(fixed, EnvSpec::Parse("ref"));
  double worst = 0;
  for (const auto& set : Images(3, 900)) {
    Tensor x = set.at("image").tensor;
    std::vector<Value> a = s->Run(set);
    std::vector<Value> b = t->Run({{"image", localize::PermuteLayout(x, false)}});
    for (size_t k = 0; k < a.size(); ++k) {
      for (int64_t i = 0; i < a[k].tensor.numel(); ++i)
        worst = std::max(worst, std::fabs(a[k].tensor.GetDouble(i) - b[k].tensor.GetDouble(i)));
    }
  }
  return worst;
}

// Faults on renamed nodes of a target converted by nhwc and fold_bn, traced by its name map:
// each is localized to the renamed node and its source node, repaired there, and the fixed model
// agrees with the source on fresh images.
TEST(RepairMap, FaultsInARenamedNhwcTargetAreRepaired) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model renamed = localize::testing::RenameEverything(
      passes::RunPasses(src, {"nhwc", "fold_bn"}).model, localize::testing::RenameRecord::kNodes);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"param.fp16", "conv3b"},        {"hyper.pads", "conv3b"},
      {"input.mean", "sub_mean"},      {"input.bgr_consts", "sub_mean"},
      {"hyper.leaky_alpha", "leaky2"}, {"param.bias_scale", "fc1"},
      {"graph.replace_op", "leaky2"},
  };
  for (const auto& [fault, source_node] : cases) {
    std::string node = localize::testing::TargetName(src, renamed, source_node);
    SCOPED_TRACE(fault + " @" + node + " (source " + source_node + ")");
    ASSERT_NE(node, "");
    passes::FaultLog log;
    Model tgt = passes::InjectFault(renamed, {fault, node, 0}, &log);
    RepairResult r = Repair(src, tgt, Images(1), {});
    EXPECT_EQ(r.initial.first_divergent, log.injected_node);
    EXPECT_EQ(r.initial.source_node, source_node);
    EXPECT_EQ(r.status, "repaired") << r.ToJson().dump(1);
    ASSERT_FALSE(r.patches.empty());
    EXPECT_EQ(r.patches[0].node, log.injected_node);
    Model fixed = Model::FromProto(r.fixed, "", "repaired target");
    EXPECT_LT(WorstOnFreshImages(src, fixed), 1e-4);
  }
}

}  // namespace
}  // namespace concord::repair
