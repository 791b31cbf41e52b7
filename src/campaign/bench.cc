#include "campaign/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <thread>

#include "backends/outcome.h"
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

namespace {

// One env of a bench: its session and the runs so far.
class EnvRunner {
 public:
  EnvRunner(const Model& model, const EnvSpec& env, const ValueMap& inputs) {
    auto t0 = Clock::now();
    session_ = PrepareSession(model, env);
    r_.prepare_ms = Ms(t0, Clock::now());
    r_.effective_env = session_->effective_env();
    r_.transport = SessionTransport(*session_);
    // Inputs bound once, as onnxruntime_perf_test binds them: repeated runs move no tensor bytes.
    session_->BindInputs(inputs);
    // A runtime that leaves a core free: wait for its replies awake (no wake-up in the figures).
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    session_->SetLowLatency(env.threads() >= 1 && env.threads() < cores);
  }

  // The first run and the warm-ups.
  void Start(const BenchOptions& options, const BenchProgress& progress) {
    double run, wall;
    Timed(&r_.first_run_ms, &r_.first_wall_ms);
    if (progress) progress("first", 1, 1);
    for (int i = 0; i < options.warmup; ++i) {
      Timed(&run, &wall);
      if (progress) progress("warmup", i + 1, options.warmup);
    }
  }

  // One run, not recorded (caches warmed again after other envs ran).
  void Rewarm() {
    double run, wall;
    Timed(&run, &wall);
  }

  // One timed run, recorded; returns its wall time.
  double TimedRun() {
    double run, wall;
    Timed(&run, &wall);
    r_.run_ms.push_back(run);
    r_.wall_ms.push_back(wall);
    return wall;
  }
  size_t runs() const { return r_.run_ms.size(); }

  // Sessions served over the protocol may report the runtime's own timing in STATS.
  BenchResult Finish() {
    nlohmann::json stats = session_->Stats();
    if (stats.contains("runtime_ms") && stats["runtime_ms"].is_array()) {
      std::vector<double> all = stats["runtime_ms"].get<std::vector<double>>();
      size_t n = std::min(all.size(), r_.run_ms.size());
      r_.runtime_ms.assign(all.end() - static_cast<std::ptrdiff_t>(n), all.end());
      r_.runtime_timer = stats.value("runtime_timer", std::string("runtime"));
    }
    session_.reset();
    return std::move(r_);
  }

 private:
  void Timed(double* run_ms, double* wall_ms) {
    RunTiming timing;
    auto start = Clock::now();
    session_->RunBound(&timing);
    *wall_ms = Ms(start, Clock::now());
    *run_ms = timing.run_ms;
  }

  std::unique_ptr<Session> session_;
  BenchResult r_;
};

// Whether timed runs are done: `runs` so far, `spent_ms` of wall in them.
bool TimedDone(const BenchOptions& options, size_t runs, double spent_ms) {
  if (static_cast<int>(runs) >= options.max_runs) return true;
  if (options.time_s > 0) return spent_ms >= options.time_s * 1000 && runs > 0;
  return static_cast<int>(runs) >= options.repeat;
}

}  // namespace

BenchResult BenchEnv(const Model& model, const EnvSpec& env, const ValueMap& inputs,
                     const BenchOptions& options, const BenchProgress& progress) {
  EnvRunner runner(model, env, inputs);
  runner.Start(options, progress);
  double spent_ms = 0;
  int planned = options.time_s > 0 ? 0 : options.repeat;
  while (!TimedDone(options, runner.runs(), spent_ms)) {
    spent_ms += runner.TimedRun();
    if (progress) progress("timed", static_cast<int>(runner.runs()), planned);
  }
  return runner.Finish();
}

std::vector<Outcome> BenchEnvsInterleaved(const Model& model, const std::vector<EnvSpec>& envs,
                                          const ValueMap& inputs, const BenchOptions& options,
                                          std::vector<BenchResult>* results,
                                          const InterleavedProgress& progress) {
  std::vector<Outcome> outcomes(envs.size());
  results->assign(envs.size(), BenchResult{});
  std::vector<std::unique_ptr<EnvRunner>> runners(envs.size());
  for (size_t i = 0; i < envs.size(); ++i) {
    outcomes[i] = Capture([&] {
      runners[i] = std::make_unique<EnvRunner>(model, envs[i], inputs);
      runners[i]->Start(options, [&](const char* phase, int done, int planned) {
        if (progress) progress(i, phase, done, planned);
      });
    });
    if (!outcomes[i].ok) runners[i].reset();
  }
  // Round-robin in blocks: every env runs one untimed run (its caches warm again) and then up to
  // options.block timed runs per round, so drift of a shared machine (other tenants, clock)
  // spreads over all of them instead of landing on whichever ran then.
  std::vector<double> spent(envs.size(), 0);
  int planned = options.time_s > 0 ? 0 : options.repeat;
  for (int round = 1;; ++round) {
    bool any = false;
    for (size_t i = 0; i < envs.size(); ++i) {
      if (!runners[i] || TimedDone(options, runners[i]->runs(), spent[i])) continue;
      any = true;
      Outcome o = Capture([&] {
        runners[i]->Rewarm();
        for (int k = 0; k < std::max(1, options.block); ++k) {
          if (TimedDone(options, runners[i]->runs(), spent[i])) break;
          spent[i] += runners[i]->TimedRun();
        }
      });
      if (!o.ok) {
        outcomes[i] = o;
        runners[i].reset();
      }
    }
    if (!any) break;
    if (progress) progress(envs.size(), "timed", round, planned);
  }
  for (size_t i = 0; i < envs.size(); ++i) {
    if (!runners[i]) continue;
    Outcome o = Capture([&] { (*results)[i] = runners[i]->Finish(); });
    if (!o.ok) outcomes[i] = o;
  }
  return outcomes;
}

}  // namespace concord
