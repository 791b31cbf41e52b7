// concord serve: a TCP target that runs any local env for remote clients (env host=ADDR:PORT).
//
// One thread per client, at most --max-clients at a time (extra clients get ERROR "busy"). Each
// conversation is ServeSession() (backends/session_server.h); this file owns the sockets, the
// client threads and shutdown: SIGINT/SIGTERM stop accepting, hang up every client and exit 0.
// Binding anything but a loopback address requires a token (--token or $CONCORD_TOKEN).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "backends/session_server.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;

struct ServeArgs {
  std::string bind = "127.0.0.1";
  int port = -1;
  std::string token;
  std::string workdir = ".";
  int max_clients = 16;
  int max_frame_mb = 1024;
  int idle_timeout_s = 600;
  bool json = false;
};

int g_signal_pipe[2] = {-1, -1};

extern "C" void OnStopSignal(int) {
  int saved = errno;
  char c = 1;
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &c, 1);
  errno = saved;
}

// After the last reply: stop sending, then read (and drop) what the client still sends for a
// moment before closing, so that closing with unread data does not reset the connection and
// destroy the ERROR we just sent.
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

// Live connections, so shutdown can hang them up and wait for their threads. Keyed by a
// connection id, not the fd: a closed fd's number is reused by the next accept.
class Clients {
 public:
  // Every client thread is counted by Admit and calls ThreadDone last. Admit returns false (turn
  // the client away) when `limit` clients are already being served or we are stopping.
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
  int Serving() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(serving_.size());
  }
  int Threads() {
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

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> serving_;
  int threads_ = 0;
  bool stopping_ = false;
};

std::string PeerName(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return fmt::format("{}:{}", ip, ntohs(a.sin_port));
}

int ServeMain(const ServeArgs& a) {
  in_addr bind_addr{};
  if (::inet_pton(AF_INET, a.bind.c_str(), &bind_addr) != 1) {
    Fail(ErrorKind::kUsage, "--bind '{}' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)",
         a.bind);
  }
  bool loopback = (ntohl(bind_addr.s_addr) >> 24) == 127;
  std::string token = a.token;
  if (token.empty()) {
    const char* t = std::getenv("CONCORD_TOKEN");
    if (t != nullptr) token = t;
  }
  if (!loopback && token.empty()) {
    Fail(ErrorKind::kUsage,
         "refusing to serve on {} without a token: anyone who can reach it could run models here; "
         "pass --token T (or set CONCORD_TOKEN), or bind 127.0.0.1",
         a.bind);
  }
  std::error_code ec;
  fs::path workdir = fs::absolute(a.workdir, ec);
  if (ec || !fs::is_directory(workdir))
    Fail(ErrorKind::kUsage, "--workdir '{}' is not an existing folder", a.workdir);

  auto log = spdlog::get("serve");
  if (!log) log = spdlog::stderr_color_mt("serve");
  log->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [serve] %^%l%$: %v");

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) Fail(ErrorKind::kRuntime, "cannot create a socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = bind_addr;
  addr.sin_port = htons(static_cast<uint16_t>(a.port));
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(lfd, 64) < 0) {
    int e = errno;
    ::close(lfd);
    Fail(ErrorKind::kRuntime, "cannot listen on {}:{}: {}", a.bind, a.port, std::strerror(e));
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);

  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    Fail(ErrorKind::kRuntime, "cannot create the signal pipe: {}", std::strerror(errno));
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  SessionServerOptions sopt;
  sopt.token = token;
  sopt.workdir = workdir.string();
  sopt.receive_timeout_ms = a.idle_timeout_s > 0 ? a.idle_timeout_s * 1000 : -1;
  sopt.log = [log](const std::string& line) { log->warn("{}", line); };
  protocol::Limits limits;
  limits.max_frame_bytes = static_cast<uint64_t>(a.max_frame_mb) << 20;

  std::string where = fmt::format("{}:{}", a.bind, port);
  if (a.json) {
    std::cout << nlohmann::json{{"listening", where},
                                {"address", a.bind},
                                {"port", port},
                                {"max_clients", a.max_clients},
                                {"max_frame_bytes", limits.max_frame_bytes},
                                {"auth", !token.empty()},
                                {"workdir", sopt.workdir}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "concord serve listening on " << where << std::endl;
  }
  log->info("listening on {} (max {} clients, frames up to {} MiB, token {})", where, a.max_clients,
            a.max_frame_mb, token.empty() ? "off" : "required");

  Clients clients;
  // Threads that only turn a client away count too; past this cap (a connection flood)
  // connections are closed at once instead.
  const int thread_cap = 2 * a.max_clients + 16;
  uint64_t accepted = 0;
  while (true) {
    pollfd p[2] = {{lfd, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      log->error("poll failed: {}", std::strerror(errno));
      break;
    }
    if (p[1].revents != 0) break;
    if ((p[0].revents & POLLIN) == 0) continue;
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    int cfd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
        log->warn("accept failed: {}", std::strerror(errno));
      }
      continue;
    }
    ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (a.idle_timeout_s > 0) {
      // A client that stops reading must not pin its thread in a blocked write forever.
      timeval tv{a.idle_timeout_s, 0};
      ::setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    std::string name = PeerName(peer);
    if (clients.Threads() >= thread_cap) {
      log->warn("{}: too many connections; closed at once", name);
      ::close(cfd);
      continue;
    }
    uint64_t id = ++accepted;
    bool admitted = clients.Admit(id, cfd, a.max_clients);
    std::thread([&clients, &sopt, &limits, log, id, cfd, name, admitted, max = a.max_clients] {
      if (!admitted) {
        log->warn("{}: busy ({} clients already); turned away", name, max);
        try {
          protocol::Channel ch(cfd, cfd, name, /*owns_fds=*/false, limits);
          ch.Send(protocol::ErrorMessage(ErrorKind::kRuntime,
                                         fmt::format("busy: this concord serve already serves {} "
                                                     "clients (--max-clients); try again later",
                                                     max)));
        } catch (const std::exception&) {
          // the client left already
        }
      } else {
        log->info("{}: connected", name);
        protocol::Channel ch(cfd, cfd, name, /*owns_fds=*/false, limits);
        ServeSession(ch, sopt);
        clients.Leave(id);
        log->info("{}: disconnected", name);
      }
      LingeringClose(cfd);
      clients.ThreadDone();  // last: ServeMain may return once every thread got here
    }).detach();
  }
  ::close(lfd);
  log->info("stopping: hanging up {} client(s); {} connection(s) accepted in all",
            clients.Serving(), accepted);
  if (!clients.HangUpAll(std::chrono::seconds(10))) {
    // A run that cannot be interrupted (a long inference) is still going: leave without it.
    log->warn("some sessions did not finish within 10 s; exiting anyway");
    std::cout.flush();
    std::_Exit(kExitOk);
  }
  log->info("stopped");
  return kExitOk;
}

}  // namespace

Command MakeServeCommand(CLI::App& root) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* app =
      root.add_subcommand("serve", "Serve local environments to remote clients over TCP");
  app->footer(
      "Clients run any env here by adding host=ADDR:PORT to it, e.g.\n"
      "  CONCORD_TOKEN=T concord run model.onnx --env ref,host=192.168.1.7:5555\n"
      "Binding a non-loopback address needs --token (or CONCORD_TOKEN). Clients send the token\n"
      "from $CONCORD_TOKEN or a token=T env option (prefer the variable: env strings are\n"
      "recorded in run records). Prints 'concord serve listening on ADDR:PORT' when ready\n"
      "(--port 0 picks a free port). SIGINT/SIGTERM stop it.\n"
      "Exit: 0 stopped by SIGINT/SIGTERM or --idle-timeout, 1 cannot listen (port in use), 2\n"
      "usage error (bad address or workdir, non-loopback bind without a token).");
  app->add_option("--bind", args->bind, "IPv4 address to listen on")->capture_default_str();
  app->add_option("--port,-p", args->port, "TCP port (0 = pick a free one and print it)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app->add_option("--token", args->token,
                  "Shared secret clients must send (default: $CONCORD_TOKEN)");
  app->add_option("--workdir", args->workdir, "The only folder the server may write to")
      ->capture_default_str();
  app->add_option("--max-clients", args->max_clients, "Clients served at once; more get ERROR busy")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app->add_option("--max-frame-mb", args->max_frame_mb,
                  "Largest frame (model, inputs) accepted, in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 2047));
  app->add_option("--idle-timeout", args->idle_timeout_s,
                  "Seconds a client may stay silent (or take to send one frame) before it is "
                  "dropped; 0 = never")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  AddOutputOptions(app, &args->json);
  return {app, [args] { return ServeMain(*args); }};
}

}  // namespace concord::cli
