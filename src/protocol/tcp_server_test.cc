// TcpServer over real loopback sockets: a conversation reaches the handler, clients past
// max_clients get ERROR "busy", Stop() hangs up a blocked client and Serve() returns.
#include "protocol/tcp_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "ir/error.h"
#include "protocol/message.h"

namespace concord::protocol {
namespace {

// A peer hanging up must be an error, not a signal (as concord's main does).
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// A channel over a new loopback connection to `port` (owns its socket).
std::unique_ptr<Channel> Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return std::make_unique<Channel>(fd, fd, "test", /*owns_fds=*/true);
}

Message Ok(int n) {
  Message m;
  m.type = MessageType::kOk;
  m.meta["n"] = n;
  return m;
}

// Echo handler: replies to every message with OK {n: meta.n + 1} until BYE or hang-up.
void Echo(Channel& ch) {
  try {
    while (true) {
      Message m = ch.Receive(10000);
      if (m.type == MessageType::kBye) return;
      ch.Send(Ok(m.meta.value("n", 0) + 1));
    }
  } catch (const Error&) {
    // hung up
  }
}

TEST(TcpServer, ConversationReachesTheHandler) {
  TcpServer server({});
  ASSERT_GT(server.port(), 0);
  EXPECT_TRUE(server.loopback());
  std::thread serve([&] { EXPECT_TRUE(server.Serve(Echo)); });
  auto ch = Connect(server.port());
  EXPECT_EQ(ch->Call(Ok(41), 5000).meta["n"], 42);
  EXPECT_EQ(ch->Call(Ok(1), 5000).meta["n"], 2);
  EXPECT_EQ(server.Accepted(), 1u);
  server.Stop();
  serve.join();
}

TEST(TcpServer, ClientsPastTheLimitAreTurnedAwayBusy) {
  TcpServerOptions o;
  o.max_clients = 1;
  TcpServer server(o);
  std::thread serve([&] { server.Serve(Echo); });
  auto first = Connect(server.port());
  EXPECT_EQ(first->Call(Ok(0), 5000).meta["n"], 1);  // admitted and served
  auto second = Connect(server.port());
  Message busy = second->Receive(5000);
  ASSERT_EQ(busy.type, MessageType::kError);
  EXPECT_NE(busy.meta["message"].get<std::string>().find("busy"), std::string::npos);
  EXPECT_EQ(first->Call(Ok(5), 5000).meta["n"], 6);  // the first client is unaffected
  server.Stop();
  serve.join();
}

TEST(TcpServer, StopHangsUpBlockedClientsAndServeReturns) {
  std::atomic<bool> handler_ended{false};
  TcpServer server({});
  std::thread serve([&] {
    EXPECT_TRUE(server.Serve([&](Channel& ch) {
      Echo(ch);
      handler_ended = true;
    }));
  });
  auto ch = Connect(server.port());
  EXPECT_EQ(ch->Call(Ok(0), 5000).meta["n"], 1);
  EXPECT_EQ(server.Serving(), 1);
  auto t0 = std::chrono::steady_clock::now();
  server.Stop();  // the handler is blocked in Receive: the server must shut its socket
  serve.join();
  EXPECT_TRUE(handler_ended);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_THROW(ch->Call(Ok(0), 2000), Error);
}

TEST(TcpServer, BadBindAddressIsAUsageError) {
  TcpServerOptions o;
  o.bind = "localhost:80";
  try {
    TcpServer server(o);
    FAIL() << "accepted a bad address";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("not an IPv4 address"), std::string::npos);
  }
}

TEST(TcpServer, PortInUseIsARuntimeErrorNamingTheAddress) {
  TcpServer first({});
  TcpServerOptions o;
  o.port = first.port();
  try {
    TcpServer second(o);
    FAIL() << "bound a port in use";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find(fmt::format("127.0.0.1:{}", first.port())),
              std::string::npos);
  }
}

}  // namespace
}  // namespace concord::protocol
