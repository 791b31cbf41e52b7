// Benchmarking one model on one environment, and the statistics of the timings.
//
// BenchEnv prepares a session and times it the way onnxruntime_perf_test / benchmark_app do:
// Prepare (reported), the first inference (reported on its own: lazy initialization, kernel
// compilation), untimed warm-up runs, then timed runs — a fixed count or a time budget. Each
// timed run records the backend-measured RunTiming::run_ms (the framework call itself; IPC and
// harness excluded) and the wall time around Session::Run, so harness overhead is visible.
// Summarize computes min/median/mean/p90/p99/max/std and a distribution-free confidence
// interval of the median from order statistics (binomial method: [x_(l), x_(n+1-l)] covers the
// median with probability P(l <= B <= n-l), B ~ Binomial(n, 1/2)). BenchEnv lets errors from
// Prepare/Run propagate as concord::Error; BenchEnvsInterleaved times several envs round-robin
// and captures each env's error in its Outcome. Single-threaded.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/outcome.h"

namespace concord {

// Percentile p in [0, 100] of sorted samples, linear interpolation between closest ranks
// (numpy.percentile's default): index p/100 * (n - 1). NaN when empty.
double Percentile(const std::vector<double>& sorted, double p);

// 1-based ranks [lower, upper] of the order statistics that bound the median with at least
// `confidence` (the narrowest symmetric interval that does), and the coverage achieved. When
// even [x_(1), x_(n)] falls short (n < 6 for 95%), that widest interval is returned with its
// smaller coverage.
struct MedianCiRanks {
  size_t lower = 0;
  size_t upper = 0;
  double coverage = 0;
};
MedianCiRanks MedianCi(size_t n, double confidence);

struct SampleStats {
  size_t n = 0;
  double min = 0, median = 0, mean = 0, p90 = 0, p99 = 0, max = 0;
  double std = 0;            // sample standard deviation (n - 1); 0 for n < 2
  double median_ci_low = 0;  // confidence interval of the median
  double median_ci_high = 0;
  double ci_coverage = 0;  // achieved coverage of that interval
};
// Statistics of the samples (any order). All NaN when empty.
SampleStats Summarize(std::vector<double> samples, double confidence = 0.95);

struct BenchOptions {
  int warmup = 2;
  int repeat = 10;    // timed runs, when time_s == 0
  double time_s = 0;  // > 0: run until this much wall time was spent in timed runs
  int max_runs = 1000000;
  int block = 10;  // interleaved benches: timed runs of one env per round (after one untimed)
};

struct BenchResult {
  std::string effective_env;
  double prepare_ms = 0;        // wall time of PrepareSession
  double first_run_ms = 0;      // backend-measured, first inference
  double first_wall_ms = 0;     // wall around the first Session::Run
  std::vector<double> run_ms;   // timed runs, backend-measured
  std::vector<double> wall_ms;  // timed runs, wall around Session::Run
  // The runtime's own timing of the same runs where it offers one (e.g. ort with profile=1:
  // ONNX Runtime's profiler); the last run_ms.size() entries match the timed runs.
  std::vector<double> runtime_ms;
  std::string runtime_timer;
  // How inputs and outputs reached the runtime: "shared memory" or "pipe" (worker sessions),
  // "in process" (every other backend).
  std::string transport;
};

// Called after each run: phase ("first", "warmup", "timed"), runs done in this phase, and the
// planned count (0 when the phase is bounded by time).
using BenchProgress = std::function<void(const char* phase, int done, int planned)>;

BenchResult BenchEnv(const Model& model, const EnvSpec& env, const ValueMap& inputs,
                     const BenchOptions& options, const BenchProgress& progress = nullptr);

// Progress of an interleaved bench: env index (envs.size() for a timed round of all of them),
// phase, done, planned (as BenchProgress).
using InterleavedProgress =
    std::function<void(size_t env, const char* phase, int done, int planned)>;

// Every env prepared, run once and warmed up in turn, then the timed runs round-robin in blocks
// (per round and env: one untimed run, then up to options.block timed ones) until each has its
// count or time: the envs share whatever the machine does meanwhile, each measured warm. A failing
// env (prepare or run) gets its Outcome and leaves the rounds; the others go on. results[i] is
// meaningful where outcomes[i].ok.
std::vector<Outcome> BenchEnvsInterleaved(const Model& model, const std::vector<EnvSpec>& envs,
                                          const ValueMap& inputs, const BenchOptions& options,
                                          std::vector<BenchResult>* results,
                                          const InterleavedProgress& progress = nullptr);

}  // namespace concord
