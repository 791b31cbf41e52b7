// Fault injection: every fault applies to the suite's source net, yields a valid model that the
// reference interpreter runs, names an injected node that exists in the target, and changes
// exactly what it says (checked on the protos, independently of localize).
#include "passes/fault_inject.h"

#include <gtest/gtest.h>

#include <random>

#include "backends/ref_backend.h"
#include "passes/fault_suite_net.h"

namespace concord::passes {
namespace {

Value Image(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(3 * 32 * 32);
  for (auto& x : v) x = d(rng);
  return Tensor::FromVector<float>({1, 3, 32, 32}, v);
}

int Find(const Model& m, const std::string& name) {
  for (int i = 0; i < m.graph().node_size(); ++i) {
    if (m.graph().node(i).name() == name) return i;
  }
  return -1;
}

TEST(FaultInject, SourceNetRunsAndIsAProbabilityVector) {
  Model src = BuildFaultSuiteSourceNet();
  auto out = RunReference(src, {{"image", Image(1)}});
  ASSERT_EQ(out[0].tensor.shape(), (Shape{1, 10}));
  double sum = 0;
  for (int i = 0; i < 10; ++i) sum += out[0].tensor.GetDouble(i);
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_THROW(BuildFaultSuiteSourceNet(30), Error);
}

TEST(FaultInject, EveryFaultAppliesRunsAndChangesTheOutput) {
  Model src = BuildFaultSuiteSourceNet();
  auto want = RunReference(src, {{"image", Image(7)}});
  for (const auto& name : FaultNames()) {
    SCOPED_TRACE(name);
    FaultLog log;
    Model tgt = InjectFault(src, {name, "", 0}, &log);
    EXPECT_EQ(log.kind, FaultKind(name));
    auto got = RunReference(tgt, {{"image", Image(7)}});
    ASSERT_EQ(got.size(), 1u);
    bool equal = got[0].tensor.shape() == want[0].tensor.shape();
    double max_abs = 0;
    for (int64_t i = 0; equal && i < got[0].tensor.numel(); ++i) {
      max_abs =
          std::max(max_abs, std::fabs(got[0].tensor.GetDouble(i) - want[0].tensor.GetDouble(i)));
    }
    if (name.rfind("control.", 0) == 0) {
      EXPECT_TRUE(log.injected_node.empty());
      EXPECT_TRUE(equal);
      EXPECT_LT(max_abs, 1e-5);
    } else {
      EXPECT_GE(Find(tgt, log.injected_node), 0) << log.injected_node;
      EXPECT_TRUE(!equal || max_abs > 1e-6) << log.description << " max_abs " << max_abs;
    }
    EXPECT_FALSE(log.description.empty());
  }
}

TEST(FaultInject, ChangesWhatItSays) {
  Model src = BuildFaultSuiteSourceNet();
  FaultLog log;
  Model t = InjectFault(src, {"hyper.bn_epsilon", "", 0}, &log);
  EXPECT_EQ(log.injected_node, "bn1");
  for (const auto& a : t.graph().node(Find(t, "bn1")).attribute()) {
    if (a.name() == "epsilon") {
      EXPECT_FLOAT_EQ(a.f(), 0.01f);
    }
  }
  t = InjectFault(src, {"graph.remove_node", "", 0}, &log);
  EXPECT_EQ(log.injected_node, "pool1");
  EXPECT_EQ(Find(t, "relu1"), -1);
  EXPECT_EQ(t.graph().node(Find(t, "pool1")).input(0), "b1");
  t = InjectFault(src, {"param.bias_drop", "conv2", 0}, &log);
  EXPECT_EQ(t.graph().node(Find(t, "conv2")).input_size(), 2);
  t = InjectFault(src, {"control.restructure", "", 0}, &log);
  EXPECT_EQ(Find(t, "conv1"), -1);  // renamed
  EXPECT_NE(t.graph().node_size(), src.graph().node_size());
}

TEST(FaultInject, BadRequestsAreUsageErrors) {
  Model src = BuildFaultSuiteSourceNet();
  EXPECT_THROW(InjectFault(src, {"param.nonsense", "", 0}), Error);
  EXPECT_THROW(InjectFault(src, {"hyper.bn_epsilon", "conv1", 0}), Error);  // not a BN
  EXPECT_THROW(InjectFault(src, {"param.fp16", "no_such_node", 0}), Error);
  try {
    InjectFault(src, {"hyper.transB", "fc2", 0});  // 10x16 weight: transB flip would not run
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("square"), std::string::npos);
  }
}

}  // namespace
}  // namespace concord::passes
