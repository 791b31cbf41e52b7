// Quality and performance metrics for experiment reports: classification quality over labelled
// inputs (accuracy, confusion matrix, per-class precision and sensitivity, G-mean) and latency
// statistics (mean/std/percentiles), plus per-input timing change between environments.
//
// All functions are pure and thread-safe. Conventions (documented because reports quote them):
//   - Percentiles use linear interpolation between closest ranks (NumPy's default "linear"
//     method): p-th percentile of sorted x[0..n-1] is x[i] + (x[i+1]-x[i]) * f where
//     i + f = p/100 * (n-1).
//   - std is the population standard deviation (divide by n), like numpy.std's default.
//   - Precision of class c = TP / (TP + FP); sensitivity (recall) = TP / (TP + FN). A class
//     with no prediction (TP + FP = 0) has precision 0 and counts in the report as such.
//   - G-mean = the geometric mean of the per-class sensitivities over the classes that occur
//     in the ground truth (imbalanced-learn's geometric_mean_score, multi-class "macro"
//     definition); 0 as soon as one such class has sensitivity 0.
//   - Confusion matrix rows are the true class, columns the predicted class, over `classes`
//     = the sorted union of true and predicted labels (a sparse view of a 1000-class space).
// Failures: mismatched sizes or empty input -> Error(kUsage).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace concord::report {

struct LatencyStats {
  int64_t n = 0;
  double mean = 0, std = 0, median = 0, p90 = 0, p99 = 0, min = 0, max = 0;
};
// Error(kUsage) when `samples` is empty.
LatencyStats ComputeLatencyStats(const std::vector<double>& samples);
// Linear-interpolation percentile (0 <= p <= 100) of unsorted samples.
double Percentile(std::vector<double> samples, double p);

struct ClassQuality {
  int64_t cls = 0;
  int64_t support = 0;    // true instances
  int64_t predicted = 0;  // instances predicted as cls
  int64_t true_positives = 0;
  double precision = 0;
  double sensitivity = 0;
};

struct QualityMetrics {
  int64_t n = 0;                 // labelled inputs
  double top1_accuracy = 0;      // fraction of inputs whose top-1 prediction is the label
  double topk_accuracy = 0;      // fraction whose label is among the top-k predictions
  std::vector<int64_t> classes;  // sorted union of true and top-1 labels
  std::vector<std::vector<int64_t>> confusion;  // [true][pred] over `classes`
  std::vector<ClassQuality> per_class;          // one per class in `classes`, same order
  double gmean = 0;                             // see above
};
// truth[i]: the label of input i; topk[i]: its predictions, best first (top-1 = topk[i][0];
// an empty list counts as wrong for both accuracies and is left out of the confusion matrix).
QualityMetrics ComputeQuality(const std::vector<int64_t>& truth,
                              const std::vector<std::vector<int64_t>>& topk);

// Relative change in percent of `value` against `baseline`: 100 * (value - baseline) / baseline
// (0 when both are 0; +inf when only the baseline is 0).
double RelativeChangePercent(double baseline, double value);

}  // namespace concord::report
