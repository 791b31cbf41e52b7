// Samples CPU time and resident memory of one process from /proc/PID/{stat,statm} on a
// background thread, every `period_ms`, from construction until Stop(). A pid <= 0 samples
// nothing; sampling ends quietly when the process is gone. Stop() is idempotent and is called by
// the destructor; the sampler is owned and stopped by one thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "ir/clock.h"
#include "store/store.h"

namespace concord {

class ResourceSampler {
 public:
  ResourceSampler(int pid, double period_ms);
  ~ResourceSampler() { Stop(); }
  ResourceSampler(const ResourceSampler&) = delete;
  ResourceSampler& operator=(const ResourceSampler&) = delete;

  // Ends sampling and returns the samples taken (CPU percent over each period, RSS bytes).
  std::vector<ResourceSample> Stop();

 private:
  // utime + stime of the process in seconds, or -1 when it cannot be read.
  double CpuSeconds() const;
  // Resident set size in bytes, or -1 when it cannot be read.
  int64_t RssBytes() const;
  void Loop();

  int pid_;
  double period_ms_;
  Clock::time_point t0_, last_t_;
  double last_cpu_ = 0;
  std::vector<ResourceSample> samples_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace concord
