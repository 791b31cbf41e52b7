// Label metrics and pair evaluation against hand-computed values.
#include "compare/nxn.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compare/scores.h"

namespace concord {
namespace {

TEST(Scores, LooksLikeScoresAndLayout) {
  EXPECT_TRUE(LooksLikeScores(Tensor(DType::kFloat32, {1, 1000})));
  EXPECT_TRUE(LooksLikeScores(Tensor(DType::kFloat32, {2, 10, 1, 1})));
  EXPECT_TRUE(LooksLikeScores(Tensor(DType::kFloat32, {5})));
  EXPECT_FALSE(LooksLikeScores(Tensor(DType::kFloat32, {1, 8, 32, 32})));
  EXPECT_FALSE(LooksLikeScores(Tensor(DType::kInt64, {1, 10})));
  EXPECT_FALSE(LooksLikeScores(Tensor(DType::kFloat32, {1, 1})));
  ScoresLayout l = ScoresShape(Tensor(DType::kFloat32, {2, 10, 1, 1}));
  EXPECT_EQ(l.rows, 2);
  EXPECT_EQ(l.classes, 10);
}

TEST(Scores, TopKOrderTiesAndNan) {
  EXPECT_EQ(TopKIndices({0.1, 0.5, 0.3, 0.5}, 3), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(TopKIndices({NAN, 0.2, -1.0}, 3), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(TopKIndices({1.0, 2.0}, 10).size(), 2u);
}

TEST(Scores, JaccardHandComputed) {
  EXPECT_DOUBLE_EQ(Jaccard({1, 2, 0}, {2, 1, 3}), 0.5);  // {1,2} / {0,1,2,3}
  EXPECT_DOUBLE_EQ(Jaccard({1, 2}, {2, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Jaccard({1}, {2}), 0.0);
  EXPECT_DOUBLE_EQ(Jaccard({}, {}), 1.0);
}

TEST(Scores, KendallTauBHandComputed) {
  // y = 3 4 1 2 5 against increasing x: 6 concordant, 4 discordant pairs of 10.
  EXPECT_DOUBLE_EQ(KendallTauB({1, 2, 3, 4, 5}, {3, 4, 1, 2, 5}), 0.2);
  EXPECT_DOUBLE_EQ(KendallTauB({1, 2, 3}, {3, 2, 1}), -1.0);
  // Ties: C = 4, D = 0, 6 pairs, one tie on each side -> 4 / sqrt(5 * 5) (scipy: 0.8).
  EXPECT_DOUBLE_EQ(KendallTauB({1, 2, 2, 3}, {1, 2, 3, 3}), 0.8);
  EXPECT_DOUBLE_EQ(KendallTauB({1}, {7}), 1.0);
  EXPECT_DOUBLE_EQ(KendallTauB({1, 1}, {1, 2}), 0.0);
}

TEST(Scores, TopKRankDistanceIsTheMeanDisplacementOfTheTopLabels) {
  std::vector<double> a = {0.9, 0.5, 0.1, 0.0};  // ranking 0, 1, 2, 3
  std::vector<double> b = {0.5, 0.9, 0.0, 0.1};  // ranking 1, 0, 3, 2
  EXPECT_DOUBLE_EQ(TopKRankDistance(a, a, 3), 0.0);
  // label 0: 0 -> 1, label 1: 1 -> 0, label 2: 2 -> 3  => (1 + 1 + 1) / 3
  EXPECT_DOUBLE_EQ(TopKRankDistance(a, b, 3), 1.0);
  // from label lists: label 2 missing from b's top-2 counts at position 2
  EXPECT_DOUBLE_EQ(TopKRankDistance(std::vector<int64_t>{0, 2}, std::vector<int64_t>{0, 1}), 0.5);
}

TEST(Scores, TopKKendallTauOverUnionOfLabels) {
  std::vector<double> a = {0.1, 0.5, 0.3, 0.05, 0.05};
  std::vector<double> b = {0.1, 0.3, 0.5, 0.2, 0.0};
  // k=2: both lists hold {1, 2} in opposite order.
  EXPECT_DOUBLE_EQ(TopKKendallTau(a, b, 2), -1.0);
  // k=3: union {1, 2, 0, 3}; a = (.5 .3 .1 .05), b = (.3 .5 .1 .2): C = 4, D = 2.
  EXPECT_DOUBLE_EQ(TopKKendallTau(a, b, 3), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(TopKKendallTau(a, a, 3), 1.0);
}

TEST(Nxn, AgreeingScoresPass) {
  Tensor a = Tensor::FromVector<float>({2, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f});
  OutputAgreement o = CompareOutput("prob", a, a, {});
  EXPECT_TRUE(o.ok);
  EXPECT_TRUE(o.labels);
  EXPECT_EQ(o.rows, 2);
  EXPECT_DOUBLE_EQ(o.top1_agree, 1.0);
  EXPECT_DOUBLE_EQ(o.topk_jaccard, 1.0);
  EXPECT_DOUBLE_EQ(o.kendall_tau, 1.0);
  EXPECT_EQ(o.diff.max_abs, 0.0);
}

TEST(Nxn, DivergingScoresFailWithNeededTolerance) {
  Tensor a = Tensor::FromVector<float>({1, 4}, {1.0f, 2.0f, 3.0f, 4.0f});
  Tensor b = Tensor::FromVector<float>({1, 4}, {1.0f, 2.0f, 4.5f, 3.5f});
  PairOptions opt;
  opt.tol = {1e-5, 1e-5};
  opt.top_k = 2;
  OutputAgreement o = CompareOutput("logits", a, b, opt);
  EXPECT_FALSE(o.ok);
  EXPECT_FALSE(o.message.empty());
  EXPECT_EQ(o.diff.mismatches, 2);
  EXPECT_DOUBLE_EQ(o.diff.max_abs, 1.5);
  EXPECT_DOUBLE_EQ(o.diff.max_rel, 0.5);  // 1.5 / 3
  EXPECT_NEAR(o.diff.needed_atol, 1.5 - 1e-5 * 3, 1e-12);
  EXPECT_NEAR(o.diff.needed_rtol, (1.5 - 1e-5) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(o.top1_agree, 0.0);    // 3 vs 2
  EXPECT_DOUBLE_EQ(o.topk_jaccard, 1.0);  // {3, 2} both
  EXPECT_DOUBLE_EQ(o.kendall_tau, -1.0);
  // The tolerance it reported is enough.
  opt.tol = {o.diff.needed_rtol * 1.0001, 1e-5};
  EXPECT_TRUE(CompareOutput("logits", a, b, opt).ok);
}

TEST(Nxn, LabelOffsetAligns1001With1000) {
  Tensor a = Tensor::FromVector<float>({1, 3}, {0.1f, 0.7f, 0.2f});
  Tensor b = Tensor::FromVector<float>({1, 4}, {0.9f, 0.1f, 0.7f, 0.2f});  // class 0 = background
  EXPECT_FALSE(CompareOutput("p", a, b, {}).ok);
  EXPECT_TRUE(CompareOutput("p", a, b, {}).diff.shape_mismatch);
  PairOptions opt;
  opt.label_offset = 1;
  OutputAgreement o = CompareOutput("p", a, b, opt);
  EXPECT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.offset_applied, 1);
  EXPECT_DOUBLE_EQ(o.top1_agree, 1.0);
  o = CompareOutput("p", b, a, opt);  // either side may be the wider one
  EXPECT_TRUE(o.ok) << o.message;
  EXPECT_EQ(o.offset_applied, -1);
  opt.label_offset = 2;  // declared offset does not match the shapes
  EXPECT_FALSE(CompareOutput("p", a, b, opt).ok);
}

TEST(Nxn, NanAgreementAndKinds) {
  Tensor a = Tensor::FromVector<float>({3}, {NAN, 1.0f, 2.0f});
  Tensor b = Tensor::FromVector<float>({3}, {0.0f, 1.0f, 2.0f});
  OutputAgreement o = CompareOutput("y", a, b, {});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.diff.nan_mismatches, 1);
  EXPECT_FALSE(CompareOutput("y", a, Value::None(), {}).ok);
  EXPECT_TRUE(CompareOutput("y", Value::None(), Value::None(), {}).ok);
  Value s1 = Value::Sequence({b, b}, DType::kFloat32);
  Value s2 = Value::Sequence({b, a}, DType::kFloat32);
  o = CompareOutput("s", s1, s2, {});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.diff.count, 6);
  EXPECT_NE(o.message.find("sequence element 1"), std::string::npos) << o.message;
  EXPECT_TRUE(CompareOutput("s", s1, s1, {}).ok);
}

TEST(Nxn, AllPairsSkipFailedRuns) {
  std::vector<Value> r0 = {Tensor::FromVector<float>({2}, {1.0f, 2.0f})};
  std::vector<Value> r2 = {Tensor::FromVector<float>({2}, {1.0f, 2.5f})};
  auto pairs = CompareAllPairs({&r0, nullptr, &r2, &r0}, {"y"}, {});
  ASSERT_EQ(pairs.size(), 6u);  // (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
  EXPECT_EQ(pairs[0].skipped, "env 1 failed");
  EXPECT_FALSE(pairs[0].ok);
  EXPECT_FALSE(pairs[1].ok);
  EXPECT_TRUE(pairs[1].skipped.empty());
  EXPECT_DOUBLE_EQ(pairs[1].outputs[0].diff.max_abs, 0.5);
  EXPECT_TRUE(pairs[2].ok);
  EXPECT_EQ(pairs[2].a, 0u);
  EXPECT_EQ(pairs[2].b, 3u);
  EXPECT_FALSE(pairs[5].ok);
}

}  // namespace
}  // namespace concord
