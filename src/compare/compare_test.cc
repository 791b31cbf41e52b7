#include "compare/compare.h"

#include <gtest/gtest.h>

#include <cmath>

namespace concord {
namespace {

TEST(Compare, AllcloseRuleAndMetrics) {
  Tensor e = Tensor::FromVector<float>({3}, {1.0f, 2.0f, -4.0f});
  Tensor a = Tensor::FromVector<float>({3}, {1.0005f, 2.0f, -4.0f});
  TensorDiff d = CompareTensors(e, a, {1e-3, 1e-7});
  EXPECT_TRUE(d.ok);  // |diff| 5e-4 <= 1e-7 + 1e-3 * 1
  EXPECT_NEAR(d.max_abs, 5e-4, 1e-6);
  EXPECT_NEAR(d.max_rel, 5e-4, 1e-6);
  d = CompareTensors(e, a, {1e-4, 1e-7});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.mismatches, 1);
  EXPECT_EQ(d.worst_index, 0);
  EXPECT_NEAR(d.needed_rtol, 5e-4, 1e-6);
  // cosine of (1,2,-4) and (1.0005,2,-4): hand-computed 0.99999998...
  EXPECT_NEAR(d.cosine, 1.0, 1e-6);
}

TEST(Compare, NanAndInfPlacement) {
  Tensor e = Tensor::FromVector<float>({3}, {NAN, INFINITY, 1.0f});
  TensorDiff same = CompareTensors(e, e, {});
  EXPECT_TRUE(same.ok);
  Tensor a = Tensor::FromVector<float>({3}, {0.0f, -INFINITY, 1.0f});
  TensorDiff d = CompareTensors(e, a, {});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.nan_mismatches, 1);
  EXPECT_EQ(d.inf_mismatches, 1);
}

TEST(Compare, ExactTypesAndShapes) {
  Tensor e = Tensor::FromVector<int64_t>({2}, {1, 2});
  EXPECT_FALSE(CompareTensors(e, Tensor::FromVector<int64_t>({2}, {1, 3}), {1, 1}).ok);
  EXPECT_TRUE(CompareTensors(e, Tensor::FromVector<int32_t>({2}, {1, 2}), {}).dtype_mismatch);
  EXPECT_TRUE(CompareTensors(e, Tensor::FromVector<int64_t>({2, 1}, {1, 2}), {}).shape_mismatch);
  Tensor s = Tensor::FromVector<std::string>({1}, {"a"});
  EXPECT_FALSE(CompareTensors(s, Tensor::FromVector<std::string>({1}, {"b"}), {}).ok);
}

}  // namespace
}  // namespace concord
