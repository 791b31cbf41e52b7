#include "protocol/channel.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace concord::protocol {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ErrorKind ErrorKindFromName(const std::string& name) {
  for (ErrorKind k : {ErrorKind::kUsage, ErrorKind::kInput, ErrorKind::kUnsupported,
                      ErrorKind::kRuntime, ErrorKind::kInternal}) {
    if (name == ErrorKindName(k)) return k;
  }
  return ErrorKind::kRuntime;
}

Channel::Channel(int read_fd, int write_fd, std::string peer, bool owns_fds, Limits limits)
    : read_fd_(read_fd),
      write_fd_(write_fd),
      peer_(std::move(peer)),
      owns_fds_(owns_fds),
      limits_(limits) {}

Channel::~Channel() { Close(); }

void Channel::Close() {
  if (owns_fds_) {
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
  }
  read_fd_ = write_fd_ = -1;
}

void Channel::Send(const Message& m) {
  std::string frame = EncodeFrame(m);
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::write(write_fd_, frame.data() + off, frame.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(ErrorKind::kRuntime, "{}: connection lost while sending {} ({})", peer_,
           MessageTypeName(m.type), std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
}

void Channel::ReadExact(char* dst, size_t n, int64_t deadline_ms, bool at_frame_start) {
  if (at_frame_start && spin_us_ > 0) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
    pollfd p{read_fd_, POLLIN, 0};
    while (::poll(&p, 1, 0) == 0 && std::chrono::steady_clock::now() < until) {
    }
  }
  size_t got = 0;
  while (got < n) {
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - NowMs();
      if (left <= 0) Fail(ErrorKind::kRuntime, "{}: timed out waiting for a reply", peer_);
      pollfd p{read_fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) Fail(ErrorKind::kRuntime, "{}: timed out waiting for a reply", peer_);
    }
    ssize_t k = ::read(read_fd_, dst + got, n - got);
    if (k < 0) {
      if (errno == EINTR) continue;
      Fail(ErrorKind::kRuntime, "{}: read failed: {}", peer_, std::strerror(errno));
    }
    if (k == 0) {
      if (at_frame_start && got == 0) Fail(ErrorKind::kRuntime, "{}: connection closed", peer_);
      Fail(ErrorKind::kRuntime, "{}: connection closed in the middle of a frame (truncated)",
           peer_);
    }
    got += static_cast<size_t>(k);
    at_frame_start = false;
  }
}

Message Channel::Receive(int timeout_ms) {
  int64_t deadline = timeout_ms < 0 ? -1 : NowMs() + timeout_ms;
  uint8_t header[kHeaderSize];
  ReadExact(reinterpret_cast<char*>(header), kHeaderSize, deadline, true);
  MessageType type;
  uint32_t meta_len;
  uint64_t body_len;
  DecodeHeader(header, &type, &meta_len, &body_len, limits_);
  std::string meta(meta_len, '\0');
  ReadExact(meta.data(), meta_len, deadline, false);
  std::string body(body_len, '\0');
  ReadExact(body.data(), body_len, deadline, false);
  return DecodeBody(type, meta, body);
}

Message Channel::Call(const Message& m, int timeout_ms) {
  Send(m);
  Message reply = Receive(timeout_ms);
  if (reply.type == MessageType::kError) {
    throw Error(
        ErrorKindFromName(reply.meta.value("kind", "runtime")),
        fmt::format("{}: {}", peer_, reply.meta.value("message", std::string("unknown error"))));
  }
  return reply;
}

}  // namespace concord::protocol
