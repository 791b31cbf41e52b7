#include "campaign/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <thread>

#include "backends/worker_backend.h"
#include "ir/clock.h"

namespace concord {

namespace {

// P(B = i) for B ~ Binomial(n, 1/2), in log space so large n neither overflows nor underflows.
double BinomialHalfPmf(size_t n, size_t i) {
  double dn = static_cast<double>(n), di = static_cast<double>(i);
  return std::exp(std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) +
                  dn * std::log(0.5));
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

MedianCiRanks MedianCi(size_t n, double confidence) {
  MedianCiRanks r;
  if (n == 0) {
    return r;
  }
  // Coverage of [x_(l), x_(n+1-l)] is 1 - 2 P(B <= l - 1); it shrinks as l grows.
  double cdf = BinomialHalfPmf(n, 0);  // P(B <= l - 1) for the current l
  r.lower = 1;
  r.upper = n;
  r.coverage = 1 - 2 * cdf;
  for (size_t l = 2; 2 * l <= n + 1; ++l) {
    cdf += BinomialHalfPmf(n, l - 1);
    double coverage = 1 - 2 * cdf;
    if (coverage < confidence) {
      break;
    }
    r.lower = l;
    r.upper = n + 1 - l;
    r.coverage = coverage;
  }
  return r;
}

SampleStats Summarize(std::vector<double> samples, double confidence) {
  SampleStats s;
  s.n = samples.size();
  if (samples.empty()) {
    double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.median = s.mean = s.p90 = s.p99 = s.max = s.std = nan;
    s.median_ci_low = s.median_ci_high = nan;
    return s;
  }
  std::sort(samples.begin(), samples.end());
  double n = static_cast<double>(samples.size());
  s.min = samples.front();
  s.max = samples.back();
  s.median = Percentile(samples, 50);
  s.p90 = Percentile(samples, 90);
  s.p99 = Percentile(samples, 99);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  if (samples.size() > 1) {
    double ss = 0;
    for (double x : samples) {
      ss += (x - s.mean) * (x - s.mean);
    }
    s.std = std::sqrt(ss / (n - 1));
  }
  MedianCiRanks ci = MedianCi(samples.size(), confidence);
  s.median_ci_low = samples[ci.lower - 1];
  s.median_ci_high = samples[ci.upper - 1];
  s.ci_coverage = ci.coverage;
  return s;
}

BenchResult BenchEnv(const Model& model, const EnvSpec& env, const ValueMap& inputs,
                     const BenchOptions& options, const BenchProgress& progress) {
  BenchResult r;
  auto t0 = Clock::now();
  std::unique_ptr<Session> session = PrepareSession(model, env);
  r.prepare_ms = Ms(t0, Clock::now());
  r.effective_env = session->effective_env();
  r.transport = SessionTransport(*session);
  // Inputs bound once, as onnxruntime_perf_test binds them: repeated runs move no tensor bytes.
  session->BindInputs(inputs);
  // A runtime that leaves a core free: wait for its replies awake (no wake-up in the figures).
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  session->SetLowLatency(env.threads() >= 1 && env.threads() < cores);
  auto timed_run = [&](double* run_ms, double* wall_ms) {
    RunTiming timing;
    auto start = Clock::now();
    session->RunBound(&timing);
    *wall_ms = Ms(start, Clock::now());
    *run_ms = timing.run_ms;
  };
  timed_run(&r.first_run_ms, &r.first_wall_ms);
  if (progress) {
    progress("first", 1, 1);
  }
  for (int i = 0; i < options.warmup; ++i) {
    double run, wall;
    timed_run(&run, &wall);
    if (progress) {
      progress("warmup", i + 1, options.warmup);
    }
  }
  bool by_time = options.time_s > 0;
  double budget_ms = options.time_s * 1000, spent_ms = 0;
  int planned = by_time ? 0 : options.repeat;
  while (static_cast<int>(r.run_ms.size()) < options.max_runs) {
    if (by_time ? (spent_ms >= budget_ms && !r.run_ms.empty())
                : static_cast<int>(r.run_ms.size()) >= options.repeat) {
      break;
    }
    double run, wall;
    timed_run(&run, &wall);
    spent_ms += wall;
    r.run_ms.push_back(run);
    r.wall_ms.push_back(wall);
    if (progress) {
      progress("timed", static_cast<int>(r.run_ms.size()), planned);
    }
  }
  // Sessions served over the protocol may report the runtime's own timing in STATS.
  {
    nlohmann::json stats = session->Stats();
    if (stats.contains("runtime_ms") && stats["runtime_ms"].is_array()) {
      std::vector<double> all = stats["runtime_ms"].get<std::vector<double>>();
      size_t n = std::min(all.size(), r.run_ms.size());
      r.runtime_ms.assign(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
      r.runtime_timer = stats.value("runtime_timer", std::string("runtime"));
    }
  }
  return r;
}

}  // namespace concord
