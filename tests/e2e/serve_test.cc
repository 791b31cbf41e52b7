// End-to-end tests of `concord serve`: the real binary as a child process (--port 0, port read
// from its first line), driven by `concord run --env ref,host=...`, by the library client
// (PrepareRemoteSession) and by hand-made bad frames. Truth: the local ref backend.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "backends/protocol_session.h"
#include "backends/remote_backend.h"
#include "ir/tensor_io.h"
#include "protocol/values.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"
#include "tests/e2e/serve_runner.h"

extern char** environ;

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using protocol::Channel;
using protocol::Message;
using protocol::MessageType;

const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);  // a server hanging up on us must be an error, not a signal
  return true;
}();

const std::string kExample = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn";

Model TinyCnn() { return Model::Load(kExample + "/model.onnx"); }

ValueMap TinyInputs() {
  return {{"input", Value(ReadTensorPb(kExample + "/test_data_set_0/input_0.pb").tensor)}};
}

const Tensor& LocalRefOutput() {
  static const Tensor out =
      PrepareSession(TinyCnn(), EnvSpec::Parse("ref"))->Run(TinyInputs())[0].tensor;
  return out;
}

// A good client: runs the example remotely and checks the result against the local ref run.
void ExpectGoodClient(const Server& s, const std::string& extra = "") {
  auto session = PrepareSession(TinyCnn(), EnvSpec::Parse("ref,host=" + s.host() + extra));
  auto got = session->Run(TinyInputs());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].tensor.BitwiseEqual(LocalRefOutput()));
}

std::unique_ptr<Channel> RawClient(const Server& s) {
  int fd = ConnectTcp(s.host(), 5000);
  return std::make_unique<Channel>(fd, fd, "server", /*owns_fds=*/true);
}

void Hello(Channel& ch) {
  Message h;
  h.type = MessageType::kHello;
  h.meta = {{"version", protocol::kVersion}};
  ASSERT_EQ(ch.Call(h, 30000).type, MessageType::kHello);
}

std::string Header(uint8_t type, uint32_t meta_len, uint64_t body_len) {
  return protocol::EncodeHeader(type, meta_len, body_len);
}

// Writes raw bytes to the channel's socket (Channel has no raw write).
void SendRaw(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) return;  // the server may hang up first: fine, it is what we test
    off += static_cast<size_t>(n);
  }
}

TEST(Serve, RemoteRunEqualsLocalRefRun) {
  Server s({"--port", "0"});
  ASSERT_GT(s.port, 0) << s.first_line() << s.err();
  test::TempDir tmp("concord_serve_run");
  fs::path dir = tmp.path();
  std::string model = kExample + "/model.onnx --inputs " + kExample + "/test_data_set_0";
  CliResult remote = RunConcord("run " + model + " --env " + Quote("ref,host=" + s.host()) +
                                " --json --out " + Quote((dir / "remote").string()));
  ASSERT_EQ(remote.code, 0) << remote.err;
  CliResult local =
      RunConcord("run " + model + " --env ref --out " + Quote((dir / "local").string()));
  ASSERT_EQ(local.code, 0) << local.err;
  NamedTensor r = ReadTensorPb((dir / "remote/output_0.pb").string());
  NamedTensor l = ReadTensorPb((dir / "local/output_0.pb").string());
  EXPECT_EQ(r.name, "probs");
  EXPECT_TRUE(r.tensor.BitwiseEqual(l.tensor));
  EXPECT_TRUE(r.tensor.BitwiseEqual(LocalRefOutput()));
  auto rec = nlohmann::json::parse(remote.out);
  EXPECT_EQ(rec["effective_env"], "ref@cpu,host=" + s.host());
  // Taps travel too.
  CliResult taps = RunConcord("run " + model + " --env " + Quote("ref,host=" + s.host()) +
                              " --taps --json --out " + Quote((dir / "taps").string()));
  ASSERT_EQ(taps.code, 0) << taps.err;
  EXPECT_EQ(nlohmann::json::parse(taps.out)["taps"].size(), 9u);
  EXPECT_EQ(s.Stop(), 0) << s.err();
  EXPECT_NE(s.err().find("connected"), std::string::npos) << s.err();
}

TEST(Serve, TokenRequiredAndCheckedBadClientsDoNotStopIt) {
  Server s({"--port", "0", "--token", "open-sesame"});
  ASSERT_GT(s.port, 0) << s.err();
  std::string run = "run " + kExample + "/model.onnx --env ";
  CliResult missing = RunConcord(run + Quote("ref,host=" + s.host()));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("authentication failed"), std::string::npos) << missing.err;
  CliResult wrong = RunConcord(run + Quote("ref,host=" + s.host() + ",token=open-sesamE"));
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("authentication failed"), std::string::npos) << wrong.err;
  CliResult good = RunConcord(run + Quote("ref,host=" + s.host() + ",token=open-sesame"));
  EXPECT_EQ(good.code, 0) << good.err;
  // The token's only other way in: $CONCORD_TOKEN (popen's shell sees the assignment).
  std::string cmd_env = "CONCORD_TOKEN=open-sesame ";
  FILE* p =
      popen((cmd_env + CONCORD_BIN + " " + run + Quote("ref,host=" + s.host()) + " >/dev/null 2>&1")
                .c_str(),
            "r");
  ASSERT_NE(p, nullptr);
  int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ExpectGoodClient(s, ",token=open-sesame");
  EXPECT_NE(s.err().find("authentication failed (missing token)"), std::string::npos) << s.err();
  EXPECT_NE(s.err().find("authentication failed (wrong token)"), std::string::npos) << s.err();
}

TEST(Serve, RefusesNonLoopbackBindWithoutToken) {
  Server s({"--bind", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(s.port, -1) << s.first_line();
  EXPECT_EQ(s.Wait(10000), 2);
  EXPECT_NE(s.err().find("without a token"), std::string::npos) << s.err();
  Server bad({"--bind", "localhost", "--port", "0"});
  EXPECT_EQ(bad.Wait(10000), 2);
  EXPECT_NE(bad.err().find("not an IPv4 address"), std::string::npos) << bad.err();
  // With a token it starts (on every interface) and serves.
  Server ok({"--bind", "0.0.0.0", "--port", "0"}, {"CONCORD_TOKEN=t0ken"});
  ASSERT_GT(ok.port, 0) << ok.err();
  ExpectGoodClient(ok, ",token=t0ken");
}

TEST(Serve, BadFramesGetErrorAndTheServerKeepsServing) {
  Server s({"--port", "0", "--max-frame-mb", "1"});
  ASSERT_GT(s.port, 0) << s.err();
  {  // oversized: a header announcing 2 MiB against a 1 MiB limit
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    Hello(ch);
    SendRaw(fd, Header(3, 2, 2u << 20) + "{}" + std::string(100000, 'x'));
    Message r = ch.Receive(5000);
    ASSERT_EQ(r.type, MessageType::kError);
    EXPECT_NE(r.meta.value("message", "").find("exceeds the 1048576-byte limit"), std::string::npos)
        << r.meta.dump();
    ExpectGoodClient(s);
  }
  {  // unknown message type
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    Hello(ch);
    SendRaw(fd, Header(77, 2, 0) + "{}");
    Message r = ch.Receive(5000);
    ASSERT_EQ(r.type, MessageType::kError);
    EXPECT_NE(r.meta.value("message", "").find("unknown message type 77"), std::string::npos)
        << r.meta.dump();
    ExpectGoodClient(s);
  }
  {  // not our protocol at all, before HELLO
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    SendRaw(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    Message r = ch.Receive(5000);
    ASSERT_EQ(r.type, MessageType::kError);
    EXPECT_NE(r.meta.value("message", "").find("bad magic"), std::string::npos) << r.meta.dump();
    ExpectGoodClient(s);
  }
  std::string model_frame;
  {
    Message m;
    m.type = MessageType::kModel;
    m.meta = {{"env", EnvToWire(EnvSpec::Parse("ref"))}};
    m.blobs.push_back(TinyCnn().proto().SerializeAsString());
    model_frame = protocol::EncodeFrame(m);
  }
  {  // truncated: half a frame, then close
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    Hello(ch);
    SendRaw(fd, model_frame.substr(0, model_frame.size() / 2));
    ch.Close();
    ExpectGoodClient(s);
  }
  {  // vanishing mid-transfer: a big frame announced, a slice sent, connection reset
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    Hello(ch);
    SendRaw(fd, Header(3, 2, 900000) + "{}" + std::string(300000, '\0'));
    linger lg{1, 0};  // close with RST, as a crashed client would
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ch.Close();
    ExpectGoodClient(s);
  }
  {  // vanishing between requests, after a successful MODEL
    int fd = ConnectTcp(s.host(), 5000);
    Channel ch(fd, fd, "server", true);
    Hello(ch);
    SendRaw(fd, model_frame);
    EXPECT_EQ(ch.Receive(30000).type, MessageType::kOk);
    ch.Close();
    ExpectGoodClient(s);
  }
  EXPECT_EQ(s.Stop(), 0) << s.err();
  std::string err = s.err();
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  EXPECT_NE(err.find("exceeds"), std::string::npos) << err;
}

TEST(Serve, EightConcurrentClientsAllGetCorrectResults) {
  Server s({"--port", "0"});
  ASSERT_GT(s.port, 0) << s.err();
  Model model = TinyCnn();
  ValueMap inputs = TinyInputs();
  const Tensor& want = LocalRefOutput();
  std::atomic<int> ok{0};
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  std::latch all_connected(8);  // all 8 sessions are open at once before anyone runs
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      try {
        std::unique_ptr<Session> session;
        try {
          session = PrepareSession(model, EnvSpec::Parse("ref,threads=1,host=" + s.host()));
        } catch (...) {
          all_connected.count_down();
          throw;
        }
        all_connected.arrive_and_wait();
        bool all = true;
        for (int k = 0; k < 5; ++k) all = all && session->Run(inputs)[0].tensor.BitwiseEqual(want);
        if (all)
          ++ok;
        else
          errors[i] = "wrong result";
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8) << fmt::format("{}", fmt::join(errors, " | "));
  EXPECT_EQ(s.Stop(), 0);
}

TEST(Serve, ExtraClientsAreTurnedAwayAsBusy) {
  Server s({"--port", "0", "--max-clients", "1"});
  ASSERT_GT(s.port, 0) << s.err();
  {
    auto first = PrepareSession(TinyCnn(), EnvSpec::Parse("ref,host=" + s.host()));
    auto t0 = std::chrono::steady_clock::now();
    try {
      // The client retries busy with backoff, up to busy_timeout.
      PrepareSession(TinyCnn(), EnvSpec::Parse("ref,busy_timeout=1,host=" + s.host()));
      ADD_FAILURE() << "a second client was served with --max-clients 1";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("busy"), std::string::npos) << e.what();
    }
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, std::chrono::milliseconds(900));
    EXPECT_LT(waited, std::chrono::seconds(5));
    EXPECT_TRUE(first->Run(TinyInputs())[0].tensor.BitwiseEqual(LocalRefOutput()));
  }
  // Once the first client has left, the next one is served (the server notices the BYE at once).
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    try {
      ExpectGoodClient(s);
      served = true;
    } catch (const Error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(served);
}

// Slots are not held forever: with --max-clients 1, a silent client and then a client that
// sends requests but never reads the replies each lose the slot after --idle-timeout.
TEST(Serve, SilentAndNonReadingClientsAreDropped) {
  Server s({"--port", "0", "--max-clients", "1", "--idle-timeout", "1"});
  ASSERT_GT(s.port, 0) << s.err();
  auto served_within = [&](int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        ExpectGoodClient(s);
        return true;
      } catch (const Error& e) {
        if (std::string(e.what()).find("busy") == std::string::npos) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    return false;
  };
  {
    auto silent = RawClient(s);
    Hello(*silent);
    EXPECT_TRUE(served_within(10)) << s.err();
  }
  {
    // The good client's slot frees a moment after its BYE: retry while busy.
    std::unique_ptr<Channel> chp;
    int fd = -1;
    for (int i = 0; i < 50 && !chp; ++i) {
      fd = ConnectTcp(s.host(), 5000);
      chp = std::make_unique<Channel>(fd, fd, "server", true);
      Message h;
      h.type = MessageType::kHello;
      h.meta = {{"version", protocol::kVersion}};
      try {
        chp->Call(h, 5000);
      } catch (const Error&) {
        chp.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ASSERT_TRUE(chp);
    Channel& ch = *chp;
    Message m;
    m.type = MessageType::kModel;
    m.meta = {{"env", EnvToWire(EnvSpec::Parse("ref"))}};
    m.blobs.push_back(TinyCnn().proto().SerializeAsString());
    ASSERT_EQ(ch.Call(m, 30000).type, MessageType::kOk);
    Message data;
    data.type = MessageType::kData;
    protocol::PutValues(&data, {"input"}, {TinyInputs().at("input")});
    ASSERT_EQ(ch.Call(data, 30000).type, MessageType::kOk);
    Message process;
    process.type = MessageType::kProcess;
    process.meta = {{"taps", true}};
    std::string req = protocol::EncodeFrame(process);
    // Keep asking, never read: the replies pile up until the server's write times out.
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      while (!stop) {
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) <= 0) break;
      }
    });
    EXPECT_TRUE(served_within(30)) << s.err();
    stop = true;
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
  }
  EXPECT_NE(s.err().find("timed out"), std::string::npos) << s.err();
  EXPECT_NE(s.err().find("connection lost while sending"), std::string::npos) << s.err();
}

TEST(Serve, StatsReportInferenceTimesAndMemory) {
  Server s({"--port", "0"});
  ASSERT_GT(s.port, 0) << s.err();
  auto session = PrepareSession(TinyCnn(), EnvSpec::Parse("ref,host=" + s.host()));
  auto* remote = dynamic_cast<ProtocolSession*>(session.get());
  ASSERT_NE(remote, nullptr);
  for (int i = 0; i < 3; ++i) session->Run(TinyInputs());
  nlohmann::json st = remote->Stats();
  EXPECT_EQ(st["count"], 3);
  ASSERT_EQ(st["inference_ms"].size(), 3u);
  for (const auto& t : st["inference_ms"]) EXPECT_GT(t.get<double>(), 0.0);
  EXPECT_GT(st["rss_bytes"].get<int64_t>(), 1 << 20);
  EXPECT_GE(st["peak_rss_bytes"].get<int64_t>(), st["rss_bytes"].get<int64_t>());
  EXPECT_GE(st["cpu_percent"].get<double>(), 0.0);
  EXPECT_EQ(st["load_avg"].size(), 3u);
}

TEST(Serve, JsonReadinessLineAndCleanStopWithAClientConnected) {
  Server s({"--port", "0", "--json"});
  ASSERT_GT(s.port, 0) << s.first_line() << s.err();
  auto j = nlohmann::json::parse(s.first_line());
  EXPECT_EQ(j["address"], "127.0.0.1");
  EXPECT_EQ(j["auth"], false);
  auto idle = RawClient(s);
  Hello(*idle);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(s.Stop(), 0) << s.err();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(s.err().find("stopped"), std::string::npos) << s.err();
}

TEST(Serve, ClearErrorsWhenNothingListens) {
  // Reserve a port, then free it: nothing listens there.
  int port;
  {
    Server s({"--port", "0"});
    ASSERT_GT(s.port, 0);
    port = s.port;
  }
  CliResult r = RunConcord("run " + kExample + "/model.onnx --env " +
                           Quote("ref,host=127.0.0.1:" + std::to_string(port)));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:" + std::to_string(port) + ": connection refused"),
            std::string::npos)
      << r.err;
  r = RunConcord("run " + kExample + "/model.onnx --env " +
                 Quote("ref,host=no-such-host.invalid:5555"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown host 'no-such-host.invalid'"), std::string::npos) << r.err;
  r = RunConcord("run " + kExample + "/model.onnx --env " + Quote("ref,host=127.0.0.1"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not ADDR:PORT"), std::string::npos) << r.err;
}

// A busy client keeps retrying (backoff) and is served once a slot frees.
TEST(Serve, BusyClientsRetryUntilASlotFrees) {
  Server s({"--port", "0", "--max-clients", "1"});
  ASSERT_GT(s.port, 0) << s.err();
  auto first = PrepareSession(TinyCnn(), EnvSpec::Parse("ref,host=" + s.host()));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    first.reset();  // BYE: the slot frees
  });
  ExpectGoodClient(s, ",busy_timeout=20");
  release.join();
  EXPECT_NE(s.err().find("busy"), std::string::npos) << s.err();
}

// Junk connections do not hold client slots: they get a short handshake deadline and never
// count against --max-clients. 200 junk connections of five kinds beside 12 valid clients at
// once (max 4 served at a time): every valid client is served, with correct results.
TEST(Serve, JunkConnectionsBesideValidClientsEveryValidClientServed) {
  Server s({"--port", "0", "--max-clients", "4", "--handshake-timeout", "0.5"});
  ASSERT_GT(s.port, 0) << s.err();
  std::atomic<int> junk_sent{0};
  // 40 connections of one kind, all open at once (the slow kinds hold theirs past the deadline).
  auto junk = [&](int kind) {
    std::vector<int> fds;
    for (int i = 0; i < 40; ++i) {
      try {
        fds.push_back(ConnectTcp(s.host(), 5000));
      } catch (const Error&) {
        continue;  // refused while the accept queue is full: also fine
      }
      int fd = fds.back();
      if (kind == 0) SendRaw(fd, std::string(512, static_cast<char>(0x5A + i)));  // random bytes
      if (kind == 1) {  // a header announcing a huge frame
        SendRaw(fd, Header(static_cast<uint8_t>(MessageType::kHello), 16, uint64_t{1} << 40));
      }
      if (kind == 2) {  // a truncated frame, then silence
        SendRaw(fd, Header(static_cast<uint8_t>(MessageType::kHello), 64, 0) + "{\"ver");
      }
      if (kind == 3) {  // connect and vanish
        ::close(fd);
        fds.pop_back();
        ++junk_sent;
      }
    }
    if (kind == 2 || kind == 4) std::this_thread::sleep_for(std::chrono::milliseconds(800));
    for (int fd : fds) {
      ::close(fd);
      ++junk_sent;
    }
  };
  std::vector<std::thread> junkers;
  for (int k = 0; k < 5; ++k) junkers.emplace_back(junk, k);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the junk arrives first
  Model model = TinyCnn();
  ValueMap inputs = TinyInputs();
  const Tensor& want = LocalRefOutput();
  std::atomic<int> ok{0};
  std::vector<std::string> errors(12);
  std::vector<std::thread> clients;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&, i] {
      try {
        auto session = PrepareSession(model, EnvSpec::Parse("ref,threads=1,host=" + s.host()));
        bool all = true;
        for (int k = 0; k < 3; ++k) all = all && session->Run(inputs)[0].tensor.BitwiseEqual(want);
        if (all) ++ok;
        if (!all) errors[i] = "wrong result";
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : clients) t.join();
  double valid_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& t : junkers) t.join();
  EXPECT_EQ(ok.load(), 12) << fmt::format("{}", fmt::join(errors, " | "));
  EXPECT_EQ(junk_sent.load(), 200);
  std::cerr << fmt::format("12 valid clients served in {:.2f} s beside {} junk connections\n",
                           valid_s, junk_sent.load());
  EXPECT_EQ(s.Stop(), 0) << s.err();
  EXPECT_NE(s.err().find("dropped at the handshake deadline"), std::string::npos) << s.err();
}

}  // namespace
}  // namespace concord::e2e
