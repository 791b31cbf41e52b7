// Parallel loops for the reference kernels.
//
// A ThreadPool splits [0, n) into at most threads() contiguous chunks of at least `grain` items
// and runs f(begin, end) on each, chunk 0 on the calling thread. Which thread computes an item
// never changes how it is computed: kernels partition only over independent outputs (elements,
// channels, rows), each computed by the same arithmetic in the same order as in a serial loop,
// and never split a reduction. So a model's outputs are bitwise identical for any thread count.
//
// A std::thread pool rather than OpenMP: the pool belongs to one interpreter, so sessions with
// different threads= in one process (compare, bench) do not share a global setting, and an
// exception thrown by a worker's chunk (a kernel's ctx.Fail) is carried back to the caller and
// rethrown there: ParallelFor throws what the lowest failing chunk threw, after every chunk has
// finished. OpenMP regions cannot let an exception escape.
//
// Threads start on the first ParallelFor that needs more than one chunk and stop with the pool.
// One ParallelFor at a time per pool (the interpreter runs one node at a time); a ParallelFor
// called from inside a chunk runs serially on that thread.
//
// Between jobs a worker polls for the next one for a short while (kSpinMicros) before it sleeps
// on the condition variable, and the caller polls for the chunks it waits on: a network runs one
// ParallelFor per node, tens of microseconds apart, and a futex wake-up costs about as much as a
// small node's work (on a 2-core VM it was what kept threads=2 from scaling).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace concord::ref {

class ThreadPool {
 public:
  // threads <= 1 runs everything on the caller.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // Runs f(begin, end) over contiguous chunks covering [0, n); each chunk holds at least
  // `grain` items (so n < 2 * grain runs as one chunk on the caller).
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

 private:
  void Start();
  void WorkerLoop(int chunk);
  void RunChunk(int chunk);

  static constexpr int kSpinMicros = 50;

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // The current job, written under mu_ before generation_ advances.
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_chunks_ = 0;
  std::vector<std::exception_ptr> errors_;
  std::atomic<uint64_t> generation_{0};  // advanced under mu_, polled without it
  std::atomic<int> pending_{0};          // chunks not yet finished by the workers
  bool stop_ = false;
};

// The [begin, end) range of chunk i when n items are cut into `chunks` near-equal pieces.
inline std::pair<int64_t, int64_t> ChunkRange(int64_t n, int chunks, int i) {
  return {n * i / chunks, n * (i + 1) / chunks};
}

}  // namespace concord::ref
