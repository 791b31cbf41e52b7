#include "ref/parallel.h"

#include <algorithm>

namespace concord::ref {

namespace {
// Set while a thread runs a chunk, so that a nested ParallelFor runs serially.
thread_local bool t_in_chunk = false;
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
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (chunk >= job_chunks_) continue;  // this job has fewer chunks than threads
    }
    RunChunk(chunk);
    std::lock_guard<std::mutex> lock(mu_);
    if (--pending_ == 0) done_cv_.notify_one();
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
    pending_ = chunks - 1;
    ++generation_;
  }
  work_cv_.notify_all();
  RunChunk(0);
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }
  for (const auto& e : errors_) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace concord::ref
