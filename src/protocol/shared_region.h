// Shared memory between Concord and a local worker process: one anonymous memory file (memfd)
// per session, created here, inherited by the worker as a file descriptor and mapped by both
// sides. Tensors travel in it instead of through the pipe; the frames carry only their
// descriptors (values.h). The file has no name in any file system, so nothing can leak: the
// kernel frees it when the last descriptor and mapping are gone (the worker's go with its
// process, ours with this object).
//
// Either side may grow the region (ftruncate) when a request or a reply does not fit; the
// other side maps the new size when a frame says so (Refresh). The file is sealed against
// shrinking (F_SEAL_SHRINK), so a mapping never reaches past the end of the file and no access
// through At() can fault: At() checks every range against the mapped size and a range outside
// it is a protocol error (Error kind kInput) naming the value, never a crash.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace concord::protocol {

class SharedRegion {
 public:
  // Largest size a region grows to; values that would not fit travel as blobs instead.
  static constexpr uint64_t kMaxBytes = 8ull << 30;
  // Placement of tensors in a region: each starts at a multiple of this (cache line, and enough
  // for every element type).
  static constexpr uint64_t kAlignment = 64;

  // A region of `size` bytes (rounded up to a page). Error(kRuntime) when the system refuses.
  static std::unique_ptr<SharedRegion> Create(uint64_t size, const std::string& name);
  ~SharedRegion();
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

  // Grows the file and our mapping to at least `size` bytes (no-op when already that large).
  // Error(kRuntime) when the system refuses; the region stays as it was.
  void Grow(uint64_t size);
  // The peer says the region is now `claimed` bytes: maps that much. A claim larger than the
  // file or than kMaxBytes is a protocol error.
  void Refresh(uint64_t claimed);

  // [offset, offset + n) inside the mapping, for reading or writing; ProtocolFail naming
  // `what` when the range does not fit.
  uint8_t* At(uint64_t offset, uint64_t n, const std::string& what);

 private:
  SharedRegion(int fd, uint8_t* data, uint64_t size) : fd_(fd), data_(data), size_(size) {}
  void Map(uint64_t size);

  int fd_ = -1;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Rounds `n` up to a multiple of SharedRegion::kAlignment.
inline uint64_t AlignShared(uint64_t n) {
  return (n + SharedRegion::kAlignment - 1) / SharedRegion::kAlignment * SharedRegion::kAlignment;
}

}  // namespace concord::protocol
