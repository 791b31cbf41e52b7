// A bidirectional message channel over file descriptors (pipes to a worker, or a socket).
//
// Receive() waits at most `timeout_ms` (negative = forever) for a whole frame: a timeout, an
// early EOF (peer vanished mid-frame) or a read error is Error(kRuntime) naming the peer; a
// malformed frame is a protocol error (Error kInput). Send() fails with Error(kRuntime) when
// the peer is gone. SIGPIPE must be ignored by the process (concord's main does this).
// A Channel owns the descriptors it was given when `owns_fds` is true. Not thread-safe.
#pragma once

#include <string>

#include "protocol/message.h"

namespace concord::protocol {

class Channel {
 public:
  Channel(int read_fd, int write_fd, std::string peer, bool owns_fds, Limits limits = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void Send(const Message& m);
  Message Receive(int timeout_ms);
  // Sends `m` and waits for the reply; an ERROR reply is rethrown as Error with its kind.
  Message Call(const Message& m, int timeout_ms);

  const std::string& peer() const { return peer_; }
  void Close();
  // Before blocking for the start of a reply, poll for it for up to `us` microseconds (0: block
  // at once). A local worker's reply is then read without a wake-up from sleep; the polling
  // holds a core, so callers enable it only while the peer leaves one free.
  void SetSpinBeforeBlock(int64_t us) { spin_us_ = us; }

 private:
  void ReadExact(char* dst, size_t n, int64_t deadline_ms, bool at_frame_start);

  int read_fd_;
  int write_fd_;
  std::string peer_;
  bool owns_fds_;
  Limits limits_;
  int64_t spin_us_ = 0;
};

ErrorKind ErrorKindFromName(const std::string& name);

}  // namespace concord::protocol
