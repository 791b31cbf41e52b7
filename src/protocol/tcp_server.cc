#include "protocol/tcp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "ir/error.h"
#include "protocol/message.h"

namespace concord::protocol {

namespace {

// After the last reply: stop sending, then read (and drop) what the client still sends for a
// moment before closing, so that closing with unread data does not reset the connection and
// destroy the ERROR just sent.
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  ::close(fd);
}

std::string PeerName(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return fmt::format("{}:{}", ip, ntohs(a.sin_port));
}

}  // namespace

// Live connections, so shutdown can hang them up and wait for their threads. Keyed by a
// connection id, not the fd: a closed fd's number is reused by the next accept. A connection is
// pending (in its handshake, with a deadline) until admitted into serving.
class TcpServer::Clients {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  // Every client thread is counted by Enter and calls ThreadDone last. Enter returns false (close
  // the connection at once) when `max_pending` connections are already in their handshake.
  bool Enter(uint64_t id, int fd, Deadline deadline, int max_pending) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || static_cast<int>(pending_.size()) >= max_pending) return false;
    ++threads_;
    pending_[id] = {fd, deadline};
    return true;
  }
  // Moves a pending connection into serving; false when `limit` clients are already served or
  // the server is stopping.
  bool Admit(uint64_t id, int limit) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;  // hung up at its deadline meanwhile
    int fd = it->second.first;
    pending_.erase(it);
    if (stopping_ || static_cast<int>(serving_.size()) >= limit) return false;
    serving_[id] = fd;
    return true;
  }
  // Called before the fd is closed.
  void Leave(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    serving_.erase(id);
    pending_.erase(id);
  }
  void ThreadDone() {
    std::lock_guard<std::mutex> lock(mu_);
    --threads_;
    cv_.notify_all();
  }
  int Serving() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(serving_.size());
  }
  // Hangs up pending connections past their deadline (their handler's read fails); returns
  // how many, and the time of the next deadline in *next (max() when none).
  int HangUpLate(Deadline now, Deadline* next) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    *next = Deadline::max();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.second <= now) {
        ::shutdown(it->second.first, SHUT_RDWR);
        it = pending_.erase(it);
        ++n;
      } else {
        *next = std::min(*next, it->second.second);
        ++it;
      }
    }
    return n;
  }
  // Wakes every client thread blocked on its socket, then waits for all threads to finish.
  bool HangUpAll(std::chrono::seconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    for (const auto& [id, fd] : serving_) ::shutdown(fd, SHUT_RDWR);
    for (const auto& [id, p] : pending_) ::shutdown(p.first, SHUT_RDWR);
    return cv_.wait_for(lock, wait, [&] { return threads_ == 0; });
  }
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> late{0};  // hung up at the handshake deadline

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> serving_;
  std::map<uint64_t, std::pair<int, Deadline>> pending_;
  int threads_ = 0;
  bool stopping_ = false;
};

TcpServer::TcpServer(TcpServerOptions options)
    : options_(std::move(options)), clients_(std::make_unique<Clients>()) {
  in_addr bind_addr{};
  if (::inet_pton(AF_INET, options_.bind.c_str(), &bind_addr) != 1) {
    Fail(ErrorKind::kUsage, "--bind '{}' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)",
         options_.bind);
  }
  loopback_ = (ntohl(bind_addr.s_addr) >> 24) == 127;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Fail(ErrorKind::kRuntime, "cannot create a socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = bind_addr;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ::listen(listen_fd_, 64) < 0) {
    int e = errno;
    ::close(listen_fd_);
    Fail(ErrorKind::kRuntime, "cannot listen on {}:{}: {}", options_.bind, options_.port,
         std::strerror(e));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) < 0) {
    int e = errno;
    ::close(listen_fd_);
    Fail(ErrorKind::kRuntime, "cannot create the stop pipe: {}", std::strerror(e));
  }
}

TcpServer::~TcpServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  // The stop pipe stays open: a signal handler may still write to it after we are gone.
}

void TcpServer::Log(const char* level, const std::string& line) const {
  if (options_.log) options_.log(level, line);
}

void TcpServer::Stop() {
  int saved = errno;
  char c = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], &c, 1);
  errno = saved;
}

int TcpServer::Serving() const { return clients_->Serving(); }
uint64_t TcpServer::Accepted() const { return clients_->accepted.load(); }

bool TcpServer::Serve(const std::function<void(Channel&)>& handler) {
  return Serve([&handler](Channel& ch, const Admit& admit) {
    if (admit()) handler(ch);
  });
}

bool TcpServer::Serve(const Handler& handler) {
  while (true) {
    Clients::Deadline next;
    int late = clients_->HangUpLate(std::chrono::steady_clock::now(), &next);
    if (late > 0) clients_->late += static_cast<uint64_t>(late);
    int wait_ms = -1;
    if (next != Clients::Deadline::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next - std::chrono::steady_clock::now())
                    .count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(ms + 1, 1, 60000));
    }
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, 2, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      Log("error", fmt::format("poll failed: {}", std::strerror(errno)));
      break;
    }
    if (p[1].revents != 0) break;
    if ((p[0].revents & POLLIN) != 0) Accept(handler);
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  Log("info", fmt::format("stopping: hanging up {} client(s); {} connection(s) accepted in all, "
                          "{} dropped at the handshake deadline",
                          clients_->Serving(), clients_->accepted.load(), clients_->late.load()));
  return clients_->HangUpAll(std::chrono::seconds(options_.stop_grace_s));
}

bool TcpServer::AdmitOrTurnAway(uint64_t id, Channel& ch) {
  if (clients_->Admit(id, options_.max_clients)) {
    Log("info", fmt::format("{}: connected", ch.peer()));
    return true;
  }
  const int max = options_.max_clients;
  Log("warn", fmt::format("{}: busy ({} clients already); turned away", ch.peer(), max));
  try {
    ch.Send(ErrorMessage(ErrorKind::kRuntime,
                         fmt::format("busy: this concord serve already serves {} clients "
                                     "(--max-clients); try again later",
                                     max)));
  } catch (const std::exception&) {
    // the client left already
  }
  return false;
}

// One accept: the connection gets its own thread, which runs the handler; the handler's admit()
// takes a client slot once its handshake is done.
void TcpServer::Accept(const Handler& handler) {
  sockaddr_in peer{};
  socklen_t plen = sizeof peer;
  int cfd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
  if (cfd < 0) {
    if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
      Log("warn", fmt::format("accept failed: {}", std::strerror(errno)));
    }
    return;
  }
  int one = 1;
  ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  if (options_.idle_timeout_s > 0) {
    // A client that stops reading must not pin its thread in a blocked write forever.
    timeval tv{options_.idle_timeout_s, 0};
    ::setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  std::string name = PeerName(peer);
  uint64_t id = ++clients_->accepted;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::max(1, options_.handshake_timeout_ms));
  if (!clients_->Enter(id, cfd, deadline, options_.max_pending)) {
    Log("warn", fmt::format("{}: {} connections in their handshake already; closed at once", name,
                            options_.max_pending));
    ::close(cfd);
    return;
  }
  std::thread([this, &handler, id, cfd, name] {
    {
      Channel ch(cfd, cfd, name, /*owns_fds=*/false, options_.limits);
      bool admitted = false;
      Admit admit = [&] { return admitted = AdmitOrTurnAway(id, ch); };
      try {
        handler(ch, admit);
      } catch (const std::exception& e) {
        Log("warn", fmt::format("{}: {}", name, e.what()));
      }
      clients_->Leave(id);
      if (admitted) Log("info", fmt::format("{}: disconnected", name));
    }
    LingeringClose(cfd);
    clients_->ThreadDone();  // last: Serve may return once every thread got here
  }).detach();
}

}  // namespace concord::protocol
