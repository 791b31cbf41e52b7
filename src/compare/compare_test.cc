#include "compare/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>

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

// 2^53 + 1 has no double: through double it equals 2^53 and the two would pass as equal.
TEST(Compare, Int64AboveTwoToThe53IsComparedExactly) {
  const int64_t big = (int64_t{1} << 53);
  Tensor e = Tensor::FromVector<int64_t>({2}, {big, -big});
  Tensor a = Tensor::FromVector<int64_t>({2}, {big + 1, -big - 1});
  TensorDiff d = CompareTensors(e, a, {});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.mismatches, 2);
  EXPECT_NE(d.message.find("expected 9007199254740992, got 9007199254740993"), std::string::npos)
      << d.message;
  EXPECT_TRUE(CompareTensors(e, e, {}).ok);
}

TEST(Compare, Uint64AboveTwoToThe53IsComparedExactly) {
  const uint64_t big = std::numeric_limits<uint64_t>::max();
  Tensor e = Tensor::FromVector<uint64_t>({1}, {big});
  Tensor a = Tensor::FromVector<uint64_t>({1}, {big - 1});
  TensorDiff d = CompareTensors(e, a, {});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.worst_index, 0);
  EXPECT_TRUE(CompareTensors(e, e, {}).ok);
}

TEST(Compare, ComplexComparesImaginaryPartsToo) {
  using C = std::complex<float>;
  Tensor e = Tensor::FromVector<C>({2}, {C(1, 2), C(3, -4)});
  // Same real parts, imaginary parts off by 1: not close under the default tolerance.
  Tensor a = Tensor::FromVector<C>({2}, {C(1, 3), C(3, -4)});
  TensorDiff d = CompareTensors(e, a, {});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.mismatches, 1);
  EXPECT_EQ(d.worst_index, 0);
  EXPECT_NEAR(d.max_abs, 1.0, 1e-12);  // |(1+3i) - (1+2i)| = 1
  EXPECT_TRUE(CompareTensors(e, e, {}).ok);
  // Within tolerance on |a - e| <= atol + rtol * |e|: |3-4i| = 5, so rtol 1e-3 allows 5e-3.
  Tensor near = Tensor::FromVector<C>({2}, {C(1, 2), C(3, -4.004f)});
  EXPECT_TRUE(CompareTensors(e, near, {1e-3, 0}).ok);
  // NaN in the imaginary part only is a NaN mismatch.
  Tensor nan = Tensor::FromVector<C>({2}, {C(1, NAN), C(3, -4)});
  TensorDiff dn = CompareTensors(e, nan, {});
  EXPECT_FALSE(dn.ok);
  EXPECT_EQ(dn.nan_mismatches, 1);
}

TEST(Compare, Complex128ComparesImaginaryParts) {
  using C = std::complex<double>;
  Tensor e = Tensor::FromVector<C>({1}, {C(0, 1)});
  EXPECT_FALSE(CompareTensors(e, Tensor::FromVector<C>({1}, {C(0, -1)}), {}).ok);
}

}  // namespace
}  // namespace concord

namespace concord {
namespace {

MapValue Labels(std::vector<std::string> keys, std::vector<float> values) {
  int64_t n = static_cast<int64_t>(keys.size());
  return {Tensor::FromVector<std::string>({n}, keys), Tensor::FromVector<float>({n}, values)};
}

TEST(CompareMaps, KeyOrderDoesNotMatterValuesDo) {
  // onnxruntime returns ZipMap's maps sorted by key; the labels' own order is another order.
  MapValue e = Labels({"b", "a", "c"}, {0.5f, 0.25f, 0.25f});
  TensorDiff d = CompareMaps(e, Labels({"a", "b", "c"}, {0.25f, 0.5f, 0.25f}), {});
  EXPECT_TRUE(d.ok) << d.message;
  EXPECT_EQ(d.count, 3);
  d = CompareMaps(e, Labels({"a", "b", "c"}, {0.25f, 0.5f, 0.3f}), {1e-3, 1e-7});
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.mismatches, 1);
  EXPECT_EQ(d.worst_index, 2);  // in expected's key order
  EXPECT_NE(d.message.find("worst at key 'c'"), std::string::npos) << d.message;
  EXPECT_NEAR(d.max_abs, 0.05, 1e-6);
}

TEST(CompareMaps, DifferentKeySetsAreNamed) {
  MapValue e = Labels({"a", "b"}, {1, 2});
  TensorDiff d = CompareMaps(e, Labels({"a", "x"}, {1, 2}), {});
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.shape_mismatch);
  EXPECT_EQ(d.message, "map keys differ: key 'b' is missing");
  d = CompareMaps(e, Labels({"a", "b", "x"}, {1, 2, 3}), {});
  EXPECT_EQ(d.message, "map keys differ: unexpected key 'x'");
  MapValue ints{Tensor::FromVector<int64_t>({2}, {0, 1}), Tensor::FromVector<float>({2}, {1, 2})};
  d = CompareMaps(e, ints, {});
  EXPECT_TRUE(d.dtype_mismatch);
  EXPECT_EQ(d.message, "map key types differ: expected string, got int64");
}

}  // namespace
}  // namespace concord
