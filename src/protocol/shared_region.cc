#include "protocol/shared_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "protocol/message.h"

namespace concord::protocol {

namespace {

uint64_t PageRound(uint64_t n) {
  uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return (std::max<uint64_t>(n, 1) + page - 1) / page * page;
}

}  // namespace

std::unique_ptr<SharedRegion> SharedRegion::Create(uint64_t size, const std::string& name) {
  size = PageRound(size);
  if (size > kMaxBytes) {
    Fail(ErrorKind::kRuntime, "shared memory of {} bytes exceeds the {}-byte limit", size,
         kMaxBytes);
  }
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) Fail(ErrorKind::kRuntime, "memfd_create: {}", std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    int err = errno;
    ::close(fd);
    Fail(ErrorKind::kRuntime, "shared memory of {} bytes: {}", size, std::strerror(err));
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    Fail(ErrorKind::kRuntime, "mmap of {} bytes of shared memory: {}", size, std::strerror(err));
  }
  return std::unique_ptr<SharedRegion>(new SharedRegion(fd, static_cast<uint8_t*>(p), size));
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

void SharedRegion::Map(uint64_t size) {
  void* p = ::mremap(data_, size_, size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    Fail(ErrorKind::kRuntime, "mremap of shared memory to {} bytes: {}", size,
         std::strerror(errno));
  }
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
}

void SharedRegion::Grow(uint64_t size) {
  if (size <= size_) return;
  if (size > kMaxBytes) {
    Fail(ErrorKind::kRuntime, "shared memory of {} bytes exceeds the {}-byte limit", size,
         kMaxBytes);
  }
  // Doubling keeps the number of remaps (on both sides) logarithmic in the largest request.
  size = std::min(PageRound(std::max(size, 2 * size_)), kMaxBytes);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) Fail(ErrorKind::kRuntime, "fstat: {}", std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) < size && ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    Fail(ErrorKind::kRuntime, "growing shared memory to {} bytes: {}", size, std::strerror(errno));
  Map(size);
}

void SharedRegion::Refresh(uint64_t claimed) {
  if (claimed <= size_) return;
  if (claimed > kMaxBytes) {
    ProtocolFail(
        fmt::format("shared memory of {} bytes exceeds the {}-byte limit", claimed, kMaxBytes));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) Fail(ErrorKind::kRuntime, "fstat: {}", std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) < claimed) {
    ProtocolFail(
        fmt::format("the peer says shared memory is {} bytes, but it is {}", claimed, st.st_size));
  }
  Map(claimed);
}

uint8_t* SharedRegion::At(uint64_t offset, uint64_t n, const std::string& what) {
  if (offset > size_ || n > size_ - offset) {
    ProtocolFail(fmt::format("{}: bytes [{}, {}) lie outside the {}-byte shared memory", what,
                             offset, offset + n, size_));
  }
  return data_ + offset;
}

}  // namespace concord::protocol
