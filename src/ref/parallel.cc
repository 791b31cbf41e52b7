#include "ref/parallel.h"

#include <algorithm>
#include <chrono>

namespace concord::ref {

namespace {
// Set while a thread runs a chunk, so that a nested ParallelFor runs serially.
thread_local bool t_in_chunk = false;

// Polls `done` for up to `micros`; whether it came true.
template <typename F>
bool SpinFor(int micros, F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Start() {
  workers_.reserve(static_cast<size_t>(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

void ThreadPool::RunChunk(int chunk) {
  auto [begin, end] = ChunkRange(job_n_, job_chunks_, chunk);
  t_in_chunk = true;
  try {
    (*job_)(begin, end);
  } catch (...) {
    errors_[static_cast<size_t>(chunk)] = std::current_exception();
  }
  t_in_chunk = false;
}

void ThreadPool::WorkerLoop(int chunk) {
  uint64_t seen = 0;
  for (;;) {
    SpinFor(kSpinMicros, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      if (chunk >= job_chunks_) continue;  // this job has fewer chunks than threads
    }
    RunChunk(chunk);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // the caller checks pending_ under mu_ first
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  const int64_t max_chunks = n / std::max<int64_t>(1, grain);
  const int chunks = static_cast<int>(std::min<int64_t>(threads_, max_chunks));
  if (chunks <= 1 || t_in_chunk) {
    f(0, n);
    return;
  }
  if (workers_.empty()) Start();
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &f;
    job_n_ = n;
    job_chunks_ = chunks;
    errors_.assign(static_cast<size_t>(chunks), nullptr);
    pending_.store(chunks - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  RunChunk(0);
  SpinFor(kSpinMicros, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    job_ = nullptr;
  }
  for (const auto& e : errors_) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace concord::ref
