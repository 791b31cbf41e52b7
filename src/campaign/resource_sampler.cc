#include "campaign/resource_sampler.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace concord {

ResourceSampler::ResourceSampler(int pid, double period_ms) : pid_(pid), period_ms_(period_ms) {
  if (pid_ <= 0) return;
  t0_ = Clock::now();
  last_cpu_ = CpuSeconds();
  last_t_ = t0_;
  thread_ = std::thread([this] { Loop(); });
}

std::vector<ResourceSample> ResourceSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return samples_;
}

double ResourceSampler::CpuSeconds() const {
  std::ifstream in(fmt::format("/proc/{}/stat", pid_));
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = s.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t ResourceSampler::RssBytes() const {
  std::ifstream in(fmt::format("/proc/{}/statm", pid_));
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return -1;
  return resident * sysconf(_SC_PAGESIZE);
}

void ResourceSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::duration<double, std::milli>(period_ms_),
                       [this] { return stop_; })) {
    double cpu = CpuSeconds();
    int64_t rss = RssBytes();
    if (cpu < 0 || rss < 0) break;  // the process is gone
    auto now = Clock::now();
    double dt = std::chrono::duration<double>(now - last_t_).count();
    double pct = dt > 0 ? 100.0 * (cpu - last_cpu_) / dt : 0;
    samples_.push_back(
        {std::chrono::duration<double, std::milli>(now - t0_).count(), std::max(0.0, pct), rss});
    last_cpu_ = cpu;
    last_t_ = now;
  }
}

}  // namespace concord
