#include "protocol/tcp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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
// connection id, not the fd: a closed fd's number is reused by the next accept.
class TcpServer::Clients {
 public:
  // Every client thread is counted by Admit and calls ThreadDone last. Admit returns false (turn
  // the client away) when `limit` clients are already being served or the server is stopping.
  bool Admit(uint64_t id, int fd, int limit) {
    std::lock_guard<std::mutex> lock(mu_);
    ++threads_;
    if (stopping_ || static_cast<int>(serving_.size()) >= limit) return false;
    serving_[id] = fd;
    return true;
  }
  // Called before the fd is closed.
  void Leave(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    serving_.erase(id);
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
  int Threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }
  // Wakes every client thread blocked on its socket, then waits for all threads to finish.
  bool HangUpAll(std::chrono::seconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    for (const auto& [id, fd] : serving_) ::shutdown(fd, SHUT_RDWR);
    return cv_.wait_for(lock, wait, [&] { return threads_ == 0; });
  }
  std::atomic<uint64_t> accepted{0};

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> serving_;
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
  while (true) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
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
  Log("info", fmt::format("stopping: hanging up {} client(s); {} connection(s) accepted in all",
                          clients_->Serving(), clients_->accepted.load()));
  return clients_->HangUpAll(std::chrono::seconds(options_.stop_grace_s));
}

// One accept: the connection gets its own thread, which serves it or turns it away.
void TcpServer::Accept(const std::function<void(Channel&)>& handler) {
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
  // Threads that only turn a client away count too; past this cap (a connection flood)
  // connections are closed at once instead.
  if (clients_->Threads() >= 2 * options_.max_clients + 16) {
    Log("warn", fmt::format("{}: too many connections; closed at once", name));
    ::close(cfd);
    return;
  }
  uint64_t id = ++clients_->accepted;
  bool admitted = clients_->Admit(id, cfd, options_.max_clients);
  std::thread([this, &handler, id, cfd, name, admitted] {
    const int max = options_.max_clients;
    if (!admitted) {
      Log("warn", fmt::format("{}: busy ({} clients already); turned away", name, max));
      try {
        Channel ch(cfd, cfd, name, /*owns_fds=*/false, options_.limits);
        ch.Send(ErrorMessage(ErrorKind::kRuntime,
                             fmt::format("busy: this concord serve already serves {} clients "
                                         "(--max-clients); try again later",
                                         max)));
      } catch (const std::exception&) {
        // the client left already
      }
    } else {
      Log("info", fmt::format("{}: connected", name));
      Channel ch(cfd, cfd, name, /*owns_fds=*/false, options_.limits);
      handler(ch);
      clients_->Leave(id);
      Log("info", fmt::format("{}: disconnected", name));
    }
    LingeringClose(cfd);
    clients_->ThreadDone();  // last: Serve may return once every thread got here
  }).detach();
}

}  // namespace concord::protocol
