#include "backends/remote_backend.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "backends/protocol_session.h"

namespace concord {

namespace {

using Clock = std::chrono::steady_clock;

// A ProtocolSession whose effective env says where it ran.
class RemoteSession : public ProtocolSession {
 public:
  RemoteSession(std::unique_ptr<protocol::Channel> channel, const Model& model, const EnvSpec& env,
                const ProtocolSessionOptions& options, std::string host)
      : ProtocolSession(std::move(channel), model, env, options), host_(std::move(host)) {}
  // HELLO says whether the server can tap at all; MODEL's OK says whether this env can.
  bool supports_taps() const override {
    return ProtocolSession::supports_taps() && prepare_info().value("taps", true);
  }
  std::string effective_env() const override {
    return ProtocolSession::effective_env() + ",host=" + host_;
  }

 private:
  std::string host_;
};

void SplitHostPort(const std::string& text, std::string* host, std::string* port) {
  auto bad = [&]() {
    Fail(ErrorKind::kUsage,
         "host='{}' is not ADDR:PORT (e.g. host=192.168.1.7:5555 or host=[::1]:5555)", text);
  };
  size_t colon;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') bad();
    *host = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string::npos) bad();
    *host = text.substr(0, colon);
  }
  *port = text.substr(colon + 1);
  if (host->empty() || port->empty() || port->size() > 5 ||
      port->find_first_not_of("0123456789") != std::string::npos) {
    bad();
  }
  long p = std::strtol(port->c_str(), nullptr, 10);
  if (p < 1 || p > 65535) bad();
}

// Connects one address within the deadline; returns the fd or -1 with *err set.
int TryConnect(const addrinfo* ai, Clock::time_point deadline, int* err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (r < 0 && errno != EINPROGRESS) {
    *err = errno;
    ::close(fd);
    return -1;
  }
  if (r < 0) {
    while (true) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        *err = ETIMEDOUT;
        ::close(fd);
        return -1;
      }
      pollfd p{fd, POLLOUT, 0};
      int k = ::poll(&p, 1, static_cast<int>(left));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        *err = errno;
        ::close(fd);
        return -1;
      }
      if (k == 0) continue;  // re-check the deadline
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0) so_error = errno;
      if (so_error != 0) {
        *err = so_error;
        ::close(fd);
        return -1;
      }
      break;
    }
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// An option in seconds: `fallback` when absent, Error(kUsage) unless in (0, 3600].
double ParseSeconds(const EnvSpec& env, const char* key, double fallback) {
  std::string text = env.Get(key);
  if (text.empty()) return fallback;
  char* end = nullptr;
  double s = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(s > 0) || s > 3600) {
    Fail(ErrorKind::kUsage, "{}='{}' must be seconds in (0, 3600]", key, text);
  }
  return s;
}

// Spreads the retries of many clients turned away at once.
uint32_t Jitter() {
  static std::atomic<uint32_t> state{
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint32_t x = state.fetch_add(0x9E3779B9u);
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  return x;
}

std::unique_ptr<Session> ConnectRemote(const Model& model, const EnvSpec& remote,
                                       const ProtocolSessionOptions& options,
                                       const std::string& host, int timeout_ms) {
  int fd = ConnectTcp(host, timeout_ms);
  std::string peer = "concord serve at " + host;
  auto channel = std::make_unique<protocol::Channel>(fd, fd, peer, /*owns_fds=*/true);
  try {
    return std::make_unique<RemoteSession>(std::move(channel), model, remote, options, host);
  } catch (const Error& e) {
    // Frame errors from the channel do not say who sent the frame; a non-Concord service on
    // that port is the usual cause.
    std::string msg = e.what();
    if (msg.rfind(peer, 0) == 0) throw;
    if (msg.rfind("protocol error", 0) == 0) {
      Fail(ErrorKind::kRuntime, "{}: {} (is the service on that port a `concord serve`?)", peer,
           msg);
    }
    throw Error(e.kind(), peer + ": " + msg);
  }
}

}  // namespace

int ConnectTcp(const std::string& host_port, int timeout_ms) {
  std::string host, port;
  SplitHostPort(host_port, &host, &port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    Fail(ErrorKind::kRuntime, "cannot connect to concord serve at {}: unknown host '{}' ({})",
         host_port, host, gai_strerror(gai));
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int err = 0;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next)
    fd = TryConnect(ai, deadline, &err);
  ::freeaddrinfo(res);
  if (fd >= 0) return fd;
  if (err == ETIMEDOUT) {
    Fail(ErrorKind::kRuntime,
         "cannot connect to concord serve at {}: timed out after {} ms (is the host reachable and "
         "the port open? raise connect_timeout=SECONDS for slow links)",
         host_port, timeout_ms);
  }
  if (err == ECONNREFUSED) {
    Fail(ErrorKind::kRuntime,
         "cannot connect to concord serve at {}: connection refused (start `concord serve --port "
         "{}` "
         "there, or check the port)",
         host_port, port);
  }
  Fail(ErrorKind::kRuntime, "cannot connect to concord serve at {}: {}", host_port,
       std::strerror(err));
}

std::unique_ptr<Session> PrepareRemoteSession(const Model& model, const EnvSpec& env) {
  std::string host = env.Get("host");
  if (host.empty()) Fail(ErrorKind::kUsage, "env '{}' has no host=ADDR:PORT", env.backend);
  ProtocolSessionOptions options;
  options.token = env.Get("token");
  if (options.token.empty()) {
    const char* t = std::getenv("CONCORD_TOKEN");
    if (t != nullptr) options.token = t;
  }
  int timeout_ms = static_cast<int>(ParseSeconds(env, "connect_timeout", 10) * 1000);
  double busy_s = ParseSeconds(env, "busy_timeout", 60);
  // What the server prepares: the same env without the options that only mean something here.
  EnvSpec remote = env;
  remote.options.erase("token");
  remote.options.erase("connect_timeout");
  remote.options.erase("busy_timeout");
  // A server serving --max-clients already answers HELLO with "busy": try again with backoff
  // (0.1 s doubling to 2 s, jittered) until busy_timeout.
  auto give_up = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(busy_s * 1000));
  for (int attempt = 0;; ++attempt) {
    try {
      return ConnectRemote(model, remote, options, host, timeout_ms);
    } catch (const Error& e) {
      bool busy = std::string(e.what()).find(": busy: ") != std::string::npos;
      if (!busy || Clock::now() >= give_up) throw;
      int backoff = std::min(2000, 100 << std::min(attempt, 5));
      std::this_thread::sleep_for(
          std::chrono::milliseconds(backoff / 2 + static_cast<int>(Jitter() % (backoff / 2 + 1))));
    }
  }
}

}  // namespace concord
