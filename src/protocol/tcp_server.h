// A TCP server of protocol conversations: one thread per client, at most `max_clients` served
// at a time (extra clients get ERROR "busy" and are closed), and a clean stop that hangs up
// every client. What a conversation does is the caller's handler (concord serve passes
// backends/session_server.h's ServeSession); this file owns the sockets, threads and shutdown.
//
//   TcpServer server(options);          // binds and listens; Error naming the address
//   server.port();                      // the bound port (options.port 0 picks a free one)
//   server.Serve(handler);              // blocks until Stop()
//   server.Stop();                      // from any thread or a signal handler
//
// Admission happens after the handshake: a connection counts against max_clients only once its
// handler calls admit() (ServeSession does after a valid HELLO and token). A connection that has
// not been admitted within handshake_timeout_ms is hung up, so junk connections (random bytes,
// truncated frames, connect-and-wait) never hold a client slot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "protocol/channel.h"

namespace concord::protocol {

struct TcpServerOptions {
  std::string bind = "127.0.0.1";   // IPv4 address; Error(kUsage) otherwise
  int port = 0;                     // 0: any free port
  int max_clients = 16;             // served at once; more are turned away with ERROR "busy"
  int idle_timeout_s = 0;           // > 0: a client that stops reading for this long is dropped
  int handshake_timeout_ms = 5000;  // not admitted within this: hung up
  int max_pending = 256;            // connections in their handshake at once; more: closed
  int stop_grace_s = 10;            // Stop(): how long to wait for running sessions
  Limits limits;                    // frame size limits of every channel
  // Log lines ("info", "warn", "error"); may be called from client threads.
  std::function<void(const std::string& level, const std::string& line)> log;
};

class TcpServer {
 public:
  // Binds and listens. Error(kUsage) for a bind address that is not IPv4, Error(kRuntime) when
  // the address cannot be bound.
  explicit TcpServer(TcpServerOptions options);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  int port() const { return port_; }
  // True when the bind address is a loopback address (127.0.0.0/8).
  bool loopback() const { return loopback_; }

  // Takes a client slot for the calling connection: true when admitted; false when max_clients
  // are already served or the server is stopping (the client has been sent ERROR "busy").
  using Admit = std::function<bool()>;
  using Handler = std::function<void(Channel&, const Admit&)>;

  // Accepts clients until Stop(); each connection runs handler(channel, admit) on its own
  // thread (the channel does not own the socket; the server closes it after a lingering
  // shutdown). Returns true once every session ended, false when some were still running after
  // stop_grace_s (their threads are left behind: the caller should exit the process).
  bool Serve(const Handler& handler);
  // The same for handlers without a handshake of their own: admitted on connect.
  bool Serve(const std::function<void(Channel&)>& handler);
  // Makes Serve() stop accepting, hang up every client and return. Async-signal-safe.
  void Stop();
  // Live connections and all connections accepted so far.
  int Serving() const;
  uint64_t Accepted() const;

 private:
  class Clients;
  void Log(const char* level, const std::string& line) const;
  void Accept(const Handler& handler);
  bool AdmitOrTurnAway(uint64_t id, Channel& ch);

  TcpServerOptions options_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  bool loopback_ = false;
  std::unique_ptr<Clients> clients_;
};

}  // namespace concord::protocol
