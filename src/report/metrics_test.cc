// Tests for report/metrics: every expected value is derived by hand in the comment next to it
// (small fixtures, so the arithmetic can be checked on paper), plus the failure contract.
#include "report/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "ir/error.h"

namespace concord::report {
namespace {

void ExpectKind(const std::function<void()>& f, ErrorKind kind) {
  try {
    f();
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
  }
}

TEST(Percentile, LinearInterpolationLikeNumpy) {
  // Sorted x = [1, 2, 3, 4, 10], n = 5, position = p/100 * 4.
  std::vector<double> x = {10, 1, 4, 2, 3};   // unsorted on purpose
  EXPECT_DOUBLE_EQ(Percentile(x, 0), 1);      // pos 0 -> x[0]
  EXPECT_DOUBLE_EQ(Percentile(x, 25), 2);     // pos 1 -> x[1]
  EXPECT_DOUBLE_EQ(Percentile(x, 50), 3);     // pos 2 -> x[2]
  EXPECT_DOUBLE_EQ(Percentile(x, 90), 7.6);   // pos 3.6 -> 4 + 0.6 * (10 - 4) = 7.6
  EXPECT_DOUBLE_EQ(Percentile(x, 99), 9.76);  // pos 3.96 -> 4 + 0.96 * 6 = 9.76
  EXPECT_DOUBLE_EQ(Percentile(x, 100), 10);   // pos 4 -> x[4]
  // Even count: [1, 2, 3, 4], p50 -> pos 1.5 -> 2 + 0.5 * (3 - 2) = 2.5.
  EXPECT_DOUBLE_EQ(Percentile({4, 3, 2, 1}, 50), 2.5);
  // One sample: every percentile is that sample.
  EXPECT_DOUBLE_EQ(Percentile({7}, 37), 7);
}

TEST(Percentile, RejectsEmptyAndOutOfRange) {
  ExpectKind([] { Percentile({}, 50); }, ErrorKind::kUsage);
  ExpectKind([] { Percentile({1, 2}, -1); }, ErrorKind::kUsage);
  ExpectKind([] { Percentile({1, 2}, 100.5); }, ErrorKind::kUsage);
  ExpectKind([] { Percentile({1, 2}, std::nan("")); }, ErrorKind::kUsage);
}

TEST(LatencyStats, HandComputed) {
  // [1, 2, 3, 4, 10]: mean = 20 / 5 = 4; deviations -3 -2 -1 0 6, squares 9 4 1 0 36,
  // sum 50, population variance 50 / 5 = 10, std = sqrt(10).
  LatencyStats s = ComputeLatencyStats({3, 10, 1, 4, 2});
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.mean, 4);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(10.0));
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p90, 7.6);
  EXPECT_DOUBLE_EQ(s.p99, 9.76);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
}

TEST(LatencyStats, OneSampleAndEmpty) {
  // One sample 5: mean = median = p90 = p99 = min = max = 5, std 0.
  LatencyStats s = ComputeLatencyStats({5});
  EXPECT_EQ(s.n, 1);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.std, 0);
  EXPECT_DOUBLE_EQ(s.median, 5);
  EXPECT_DOUBLE_EQ(s.p99, 5);
  EXPECT_DOUBLE_EQ(s.min, 5);
  EXPECT_DOUBLE_EQ(s.max, 5);
  ExpectKind([] { ComputeLatencyStats({}); }, ErrorKind::kUsage);
}

TEST(Quality, ThreeClassesByHand) {
  // 6 inputs, labels 0 0 1 1 2 2; top-1 predictions 0 1 1 1 2 0.
  //            pred 0  pred 1  pred 2
  //   true 0     1       1       0      support 2
  //   true 1     0       2       0      support 2
  //   true 2     1       0       1      support 2
  // predicted (column sums): 2, 3, 1; TP (diagonal): 1, 2, 1.
  // precision = TP / predicted: 1/2, 2/3, 1/1; sensitivity = TP / support: 1/2, 1, 1/2.
  // top-1 accuracy = 4 correct / 6; G-mean = cube root(0.5 * 1 * 0.5) = 0.25^(1/3).
  // top-2 lists: input 5 (label 2) has [0, 1] -> miss; all others contain their label
  // -> top-k accuracy 5 / 6.
  std::vector<int64_t> truth = {0, 0, 1, 1, 2, 2};
  std::vector<std::vector<int64_t>> topk = {{0, 3}, {1, 0}, {1, 2}, {1, 0}, {2, 1}, {0, 1}};
  QualityMetrics q = ComputeQuality(truth, topk);
  EXPECT_EQ(q.n, 6);
  EXPECT_DOUBLE_EQ(q.top1_accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(q.topk_accuracy, 5.0 / 6.0);
  // Class 3 appears only at rank 2, so it is not in `classes` (top-1 and truth only).
  EXPECT_EQ(q.classes, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}));
  ASSERT_EQ(q.per_class.size(), 3u);
  const int64_t support[] = {2, 2, 2}, predicted[] = {2, 3, 1}, tp[] = {1, 2, 1};
  const double precision[] = {0.5, 2.0 / 3.0, 1.0}, sensitivity[] = {0.5, 1.0, 0.5};
  for (int c = 0; c < 3; ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(q.per_class[c].cls, c);
    EXPECT_EQ(q.per_class[c].support, support[c]);
    EXPECT_EQ(q.per_class[c].predicted, predicted[c]);
    EXPECT_EQ(q.per_class[c].true_positives, tp[c]);
    EXPECT_DOUBLE_EQ(q.per_class[c].precision, precision[c]);
    EXPECT_DOUBLE_EQ(q.per_class[c].sensitivity, sensitivity[c]);
  }
  EXPECT_NEAR(q.gmean, std::cbrt(0.25), 1e-12);  // 0.62996...
  EXPECT_NEAR(q.gmean, 0.6299605249474366, 1e-12);
}

TEST(Quality, ClassNeverPredictedHasPrecisionZeroAndZeroesGmean) {
  // Labels 5, 7; both predicted 7. Class 5: support 1, predicted 0 -> precision 0 (no
  // prediction), sensitivity 0/1 = 0 -> G-mean 0. Class 7: support 1, predicted 2, TP 1 ->
  // precision 1/2, sensitivity 1/1. top-1 accuracy 1/2.
  QualityMetrics q = ComputeQuality({5, 7}, {{7}, {7}});
  EXPECT_EQ(q.classes, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{0, 1}, {0, 1}}));
  EXPECT_EQ(q.per_class[0].predicted, 0);
  EXPECT_DOUBLE_EQ(q.per_class[0].precision, 0);
  EXPECT_DOUBLE_EQ(q.per_class[0].sensitivity, 0);
  EXPECT_DOUBLE_EQ(q.per_class[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(q.per_class[1].sensitivity, 1);
  EXPECT_DOUBLE_EQ(q.top1_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(q.gmean, 0);
}

TEST(Quality, PredictedClassOutsideTruthIsNotInGmean) {
  // Labels 1, 1; predictions 1, 9. classes = {1, 9}. Class 1: support 2, TP 1 -> sensitivity
  // 1/2; class 9: support 0 (not in the ground truth, so not in the G-mean), predicted 1, TP 0
  // -> precision 0. G-mean over {class 1} = 0.5^(1/1) = 0.5.
  QualityMetrics q = ComputeQuality({1, 1}, {{1}, {9}});
  EXPECT_EQ(q.classes, (std::vector<int64_t>{1, 9}));
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{1, 1}, {0, 0}}));
  EXPECT_EQ(q.per_class[1].support, 0);
  EXPECT_EQ(q.per_class[1].predicted, 1);
  EXPECT_DOUBLE_EQ(q.per_class[1].precision, 0);
  EXPECT_DOUBLE_EQ(q.per_class[0].precision, 1);  // 1 TP / 1 predicted
  EXPECT_DOUBLE_EQ(q.gmean, 0.5);
}

TEST(Quality, EmptyPredictionListIsWrongAndOutsideConfusion) {
  // Labels 3, 4; input 0 has no prediction (failed), input 1 predicts 4. top-1 = top-k = 1/2.
  // Confusion over {3, 4}: only (4, 4) counts -> [[0, 0], [0, 1]]; class 3 support 1, TP 0 ->
  // sensitivity 0 -> G-mean 0.
  QualityMetrics q = ComputeQuality({3, 4}, {{}, {4, 3}});
  EXPECT_DOUBLE_EQ(q.top1_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(q.topk_accuracy, 0.5);
  EXPECT_EQ(q.classes, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{0, 0}, {0, 1}}));
  EXPECT_EQ(q.per_class[0].support, 1);
  EXPECT_DOUBLE_EQ(q.per_class[0].sensitivity, 0);
  EXPECT_DOUBLE_EQ(q.gmean, 0);
}

TEST(Quality, OneSample) {
  // One input, label 2, predicted 2: everything is 1, confusion [[1]].
  QualityMetrics q = ComputeQuality({2}, {{2, 0, 1}});
  EXPECT_EQ(q.n, 1);
  EXPECT_DOUBLE_EQ(q.top1_accuracy, 1);
  EXPECT_DOUBLE_EQ(q.topk_accuracy, 1);
  EXPECT_EQ(q.confusion, (std::vector<std::vector<int64_t>>{{1}}));
  EXPECT_DOUBLE_EQ(q.per_class[0].precision, 1);
  EXPECT_DOUBLE_EQ(q.per_class[0].sensitivity, 1);
  EXPECT_DOUBLE_EQ(q.gmean, 1);
}

TEST(Quality, RejectsEmptyAndMismatchedInput) {
  ExpectKind([] { ComputeQuality({}, {}); }, ErrorKind::kUsage);
  ExpectKind([] { ComputeQuality({1, 2}, {{1}}); }, ErrorKind::kUsage);
}

TEST(RelativeChange, HandComputed) {
  EXPECT_DOUBLE_EQ(RelativeChangePercent(4, 5), 25);   // 100 * (5 - 4) / 4
  EXPECT_DOUBLE_EQ(RelativeChangePercent(4, 3), -25);  // 100 * (3 - 4) / 4
  EXPECT_DOUBLE_EQ(RelativeChangePercent(0, 0), 0);
  EXPECT_EQ(RelativeChangePercent(0, 1), std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace concord::report
