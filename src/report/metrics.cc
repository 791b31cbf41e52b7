// Quality and latency metrics (see metrics.h for the conventions every function follows).
#include "report/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ir/error.h"

namespace concord::report {

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) {
    Fail(ErrorKind::kUsage, "percentile of an empty sample list: record at least one value");
  }
  if (!(p >= 0 && p <= 100)) {
    Fail(ErrorKind::kUsage, "percentile {} is outside 0..100", p);
  }
  std::sort(samples.begin(), samples.end());
  // NumPy "linear": position p/100*(n-1), interpolate between its two neighbouring ranks.
  double pos = p / 100.0 * static_cast<double>(samples.size() - 1);
  size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= samples.size()) return samples.back();
  double f = pos - static_cast<double>(i);
  return samples[i] + (samples[i + 1] - samples[i]) * f;
}

LatencyStats ComputeLatencyStats(const std::vector<double>& samples) {
  if (samples.empty()) {
    Fail(ErrorKind::kUsage, "latency statistics of an empty sample list: no run recorded a time");
  }
  LatencyStats s;
  s.n = static_cast<int64_t>(samples.size());
  double n = static_cast<double>(samples.size());
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  double ss = 0;
  for (double x : samples) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / n);  // population std, numpy.std's default (ddof=0)
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = Percentile(sorted, 50);
  s.p90 = Percentile(sorted, 90);
  s.p99 = Percentile(sorted, 99);
  return s;
}

QualityMetrics ComputeQuality(const std::vector<int64_t>& truth,
                              const std::vector<std::vector<int64_t>>& topk) {
  if (truth.empty()) {
    Fail(ErrorKind::kUsage, "quality metrics need at least one labelled input, got none");
  }
  if (truth.size() != topk.size()) {
    Fail(ErrorKind::kUsage,
         "quality metrics: {} labels but {} prediction lists; give one "
         "prediction list per labelled input",
         truth.size(), topk.size());
  }
  QualityMetrics q;
  q.n = static_cast<int64_t>(truth.size());
  int64_t top1 = 0, topk_hits = 0;
  std::vector<int64_t> classes(truth.begin(), truth.end());
  for (size_t i = 0; i < truth.size(); ++i) {
    const auto& preds = topk[i];
    if (preds.empty()) continue;  // counts as wrong; not in the confusion matrix
    classes.push_back(preds[0]);
    if (preds[0] == truth[i]) ++top1;
    if (std::find(preds.begin(), preds.end(), truth[i]) != preds.end()) ++topk_hits;
  }
  q.top1_accuracy = static_cast<double>(top1) / static_cast<double>(q.n);
  q.topk_accuracy = static_cast<double>(topk_hits) / static_cast<double>(q.n);

  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  q.classes = classes;
  auto index_of = [&](int64_t c) {
    return static_cast<size_t>(std::lower_bound(classes.begin(), classes.end(), c) -
                               classes.begin());
  };
  size_t k = classes.size();
  q.confusion.assign(k, std::vector<int64_t>(k, 0));
  q.per_class.resize(k);
  for (size_t c = 0; c < k; ++c) q.per_class[c].cls = classes[c];
  for (size_t i = 0; i < truth.size(); ++i) {
    size_t t = index_of(truth[i]);
    ++q.per_class[t].support;  // support counts every labelled input, predicted or not
    if (topk[i].empty()) continue;
    size_t p = index_of(topk[i][0]);
    ++q.confusion[t][p];
    ++q.per_class[p].predicted;
    if (t == p) ++q.per_class[t].true_positives;
  }

  // G-mean over classes present in the ground truth (support > 0), as imbalanced-learn's
  // geometric_mean_score(average="multiclass"): product of sensitivities ^ (1 / #classes).
  double log_sum = 0;
  int64_t present = 0;
  bool zero = false;
  for (auto& c : q.per_class) {
    c.precision = c.predicted > 0
                      ? static_cast<double>(c.true_positives) / static_cast<double>(c.predicted)
                      : 0.0;
    c.sensitivity = c.support > 0
                        ? static_cast<double>(c.true_positives) / static_cast<double>(c.support)
                        : 0.0;
    if (c.support > 0) {
      ++present;
      if (c.sensitivity == 0) {
        zero = true;
      } else {
        log_sum += std::log(c.sensitivity);
      }
    }
  }
  q.gmean = zero ? 0.0 : std::exp(log_sum / static_cast<double>(present));
  return q;
}

double RelativeChangePercent(double baseline, double value) {
  if (baseline == 0) {
    return value == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  }
  return 100.0 * (value - baseline) / baseline;
}

}  // namespace concord::report
