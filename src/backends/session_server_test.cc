// ServeSession over a socketpair, driven by the real client (ProtocolSession) for good
// conversations and by hand-made frames for bad ones. Truth: the local ref backend.
#include "backends/session_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <future>

#include "backends/protocol_session.h"
#include "ir/tensor_io.h"
#include "protocol/values.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using protocol::Channel;
using protocol::Message;
using protocol::MessageType;

const std::string kExample = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn";

const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);  // a peer hanging up must be an error, not a signal
  return true;
}();

// One ServeSession on its own thread, talking over a socketpair; client_fd is our end.
class Served {
 public:
  explicit Served(SessionServerOptions options = {}, protocol::Limits limits = {})
      : options_(std::move(options)) {
    int fds[2];
    CONCORD_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
    client_fd = fds[0];
    int server_fd = fds[1];
    options_.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      log_ += line + "\n";
    };
    done_ = std::async(std::launch::async, [this, server_fd, limits] {
      Channel ch(server_fd, server_fd, "test client", /*owns_fds=*/true, limits);
      ServeSession(ch, options_);
    });
  }
  ~Served() {
    if (client_fd >= 0) ::close(client_fd);
    done_.wait();
  }
  // A channel over our end that does not own it.
  std::unique_ptr<Channel> ClientChannel() {
    return std::make_unique<Channel>(client_fd, client_fd, "test server", /*owns_fds=*/false);
  }
  bool Finished(int ms = 5000) {
    return done_.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready;
  }
  std::string log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void Hello(Channel& ch, const std::string& token = "") {
    Message h;
    h.type = MessageType::kHello;
    h.meta = {{"version", protocol::kVersion}, {"client", "test"}};
    if (!token.empty()) h.meta["token"] = token;
    // The reply describes every backend: a Python start-up per worker backend (in parallel).
    Message r = ch.Call(h, 30000);
    ASSERT_EQ(r.type, MessageType::kHello);
  }

  int client_fd = -1;

 private:
  SessionServerOptions options_;
  std::future<void> done_;
  std::mutex mu_;
  std::string log_;
};

Model TinyCnn() { return Model::Load(kExample + "/model.onnx"); }

ValueMap TinyInputs() {
  NamedTensor in = ReadTensorPb(kExample + "/test_data_set_0/input_0.pb");
  return {{"input", Value(in.tensor)}};
}

std::string ModelBytes(const Model& m) { return m.proto().SerializeAsString(); }

Message ModelMessage(const std::string& bytes, const std::string& env = "ref") {
  Message m;
  m.type = MessageType::kModel;
  m.meta = {{"env", EnvToWire(EnvSpec::Parse(env))}, {"name", "test.onnx"}};
  m.blobs.push_back(bytes);
  return m;
}

// Y = X + W with W stored as external data pointing outside any folder.
std::string ExternalDataModelBytes() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("ext");
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(1);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = w->add_external_data();
  kv->set_key("location");
  kv->set_value("../../../../etc/passwd");
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("X");
  n->add_input("W");
  n->add_output("Y");
  for (const char* name : {"X", "Y"}) {
    auto* vi = name[0] == 'X' ? g->add_input() : g->add_output();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
  }
  return m.SerializeAsString();
}

void SendRaw(int fd, const std::string& bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

std::string Header(uint8_t type, uint32_t meta_len, uint64_t body_len) {
  return protocol::EncodeHeader(type, meta_len, body_len);
}

void ExpectError(const Message& r, ErrorKind kind, const std::string& needle) {
  ASSERT_EQ(r.type, MessageType::kError) << r.meta.dump();
  EXPECT_EQ(r.meta.value("kind", ""), ErrorKindName(kind)) << r.meta.dump();
  EXPECT_NE(r.meta.value("message", "").find(needle), std::string::npos) << r.meta.dump();
}

TEST(SessionServer, RunsAndTapsEqualLocalRef) {
  test::TempDir tmp("concord_serve_wd");
  fs::path workdir = tmp.path();
  SessionServerOptions opt;
  opt.workdir = workdir.string();
  Served s(opt);
  Model model = TinyCnn();
  ValueMap inputs = TinyInputs();
  auto local = PrepareSession(model, EnvSpec::Parse("ref"));
  ValueMap want_taps;
  std::vector<Value> want = local->RunWithTaps(inputs, &want_taps);
  {
    ProtocolSession remote(s.ClientChannel(), model, EnvSpec::Parse("ref"), {});
    EXPECT_EQ(remote.server_hello()["server"], "concord serve");
    EXPECT_EQ(remote.server_hello()["capabilities"]["envs"][0], "ref");
    EXPECT_TRUE(remote.server_hello()["versions"].contains("ref"));
    EXPECT_EQ(remote.effective_env(), "ref@cpu");
    EXPECT_GE(remote.prepare_info()["prepare_ms"].get<double>(), 0.0);
    ASSERT_TRUE(remote.supports_taps());

    RunTiming timing;
    std::vector<Value> got = remote.Run(inputs, &timing);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].tensor.BitwiseEqual(want[0].tensor));
    EXPECT_GT(timing.run_ms, 0.0);

    ValueMap taps;
    got = remote.RunWithTaps(inputs, &taps, nullptr);
    EXPECT_TRUE(got[0].tensor.BitwiseEqual(want[0].tensor));
    ASSERT_EQ(taps.size(), want_taps.size());
    for (const auto& [name, v] : want_taps) {
      ASSERT_TRUE(taps.count(name)) << name;
      EXPECT_TRUE(taps[name].tensor.BitwiseEqual(v.tensor)) << name;
    }

    nlohmann::json stats = remote.Stats();
    EXPECT_EQ(stats["count"], 2);
    ASSERT_EQ(stats["inference_ms"].size(), 2u);
    EXPECT_GT(stats["inference_ms"][0].get<double>(), 0.0);
    EXPECT_GT(stats["rss_bytes"].get<int64_t>(), 1 << 20);
    EXPECT_GE(stats["peak_rss_bytes"].get<int64_t>(), stats["rss_bytes"].get<int64_t>());
    EXPECT_GE(stats["cpu_percent"].get<double>(), 0.0);
    EXPECT_EQ(stats["load_avg"].size(), 3u);
  }  // ~ProtocolSession says BYE
  EXPECT_TRUE(s.Finished());
  EXPECT_TRUE(fs::is_empty(workdir));  // nothing written, not even here
}

TEST(SessionServer, ProcessRepeatAndWarmup) {
  Served s;
  auto ch = s.ClientChannel();
  s.Hello(*ch);
  ch->Call(ModelMessage(ModelBytes(TinyCnn())), 30000);
  Message data;
  data.type = MessageType::kData;
  protocol::PutValues(&data, {"input"}, {TinyInputs().at("input")});
  ch->Call(data, 5000);
  Message p;
  p.type = MessageType::kProcess;
  p.meta = {{"repeat", 3}, {"warmup", 1}};
  Message out = ch->Call(p, 30000);
  ASSERT_EQ(out.type, MessageType::kOutput);
  EXPECT_EQ(out.meta["timing_ms"]["runs"].size(), 3u);
  EXPECT_EQ(out.meta["names"][0], "probs");
  p.meta = {{"repeat", 0}};
  ch->Send(p);
  ExpectError(ch->Receive(5000), ErrorKind::kUsage, "'repeat' must be an integer in [1, 100000]");
}

TEST(SessionServer, TokenIsRequiredWhenSet) {
  SessionServerOptions opt;
  opt.token = "s3cret-token";
  Model model = TinyCnn();
  for (std::string token : {"", "s3cret-tokeN", "s3cret", "s3cret-token-and-more"}) {
    Served s(opt);
    ProtocolSessionOptions copt;
    copt.token = token;
    try {
      ProtocolSession remote(s.ClientChannel(), model, EnvSpec::Parse("ref"), copt);
      ADD_FAILURE() << "token '" << token << "' was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(s.Finished()) << "server kept the unauthenticated connection open";
    EXPECT_NE(s.log().find(token.empty() ? "missing token" : "wrong token"), std::string::npos)
        << s.log();
  }
  Served s(opt);
  ProtocolSessionOptions copt;
  copt.token = "s3cret-token";
  ProtocolSession remote(s.ClientChannel(), model, EnvSpec::Parse("ref"), copt);
  EXPECT_EQ(remote.Run(TinyInputs(), nullptr).size(), 1u);
}

TEST(SessionServer, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0", 2), "a"));
}

TEST(SessionServer, HelloMustComeFirstWithOurVersion) {
  {
    Served s;
    auto ch = s.ClientChannel();
    Message st;
    st.type = MessageType::kStats;
    ch->Send(st);
    ExpectError(ch->Receive(5000), ErrorKind::kUsage, "expected HELLO first");
    EXPECT_TRUE(s.Finished());
  }
  {
    Served s;
    auto ch = s.ClientChannel();
    Message h;
    h.type = MessageType::kHello;
    h.meta = {{"version", 99}};
    ch->Send(h);
    ExpectError(ch->Receive(5000), ErrorKind::kUsage, "protocol version 99 is not supported");
    EXPECT_TRUE(s.Finished());
  }
}

TEST(SessionServer, RequestErrorsKeepTheSessionGoing) {
  Served s;
  auto ch = s.ClientChannel();
  s.Hello(*ch);
  auto call = [&](const Message& m) {
    ch->Send(m);
    return ch->Receive(30000);
  };
  Message m;
  m.type = MessageType::kData;
  ExpectError(call(m), ErrorKind::kUsage, "DATA before MODEL");
  m.type = MessageType::kProcess;
  ExpectError(call(m), ErrorKind::kUsage, "PROCESS before MODEL");
  ExpectError(call(ModelMessage("not a model at all")), ErrorKind::kInput,
              "not a valid ONNX model");
  ExpectError(call(ModelMessage(ExternalDataModelBytes())), ErrorKind::kInput,
              "uses external data");
  std::string good = ModelBytes(TinyCnn());
  ExpectError(call(ModelMessage(good, "nosuch")), ErrorKind::kUsage, "unknown backend 'nosuch'");
  ExpectError(call(ModelMessage(good, "ref,host=10.0.0.1:5555")), ErrorKind::kUsage,
              "does not forward");
  ExpectError(call(ModelMessage(good, "ref,frobnicate=1")), ErrorKind::kUsage, "frobnicate");
  Message no_env = ModelMessage(good);
  no_env.meta.erase("env");
  ExpectError(call(no_env), ErrorKind::kUsage, "'env'");
  // The env is structured JSON; env text is not parsed again on the server.
  Message text_env = ModelMessage(good);
  text_env.meta["env"] = "ref@cpu";
  ExpectError(call(text_env), ErrorKind::kInput, "{backend, device, options}");
  Message number_option = ModelMessage(good);
  number_option.meta["env"]["options"]["opt"] = 3;
  ExpectError(call(number_option), ErrorKind::kInput, "option 'opt' must be a string");
  m.type = MessageType::kOutput;
  ExpectError(call(m), ErrorKind::kUsage, "server-to-client");
  m.type = MessageType::kHello;
  ExpectError(call(m), ErrorKind::kUsage, "already");

  // Now a good model; then broken DATA and PROCESS requests, each answered and survived.
  Message ok = call(ModelMessage(good));
  ASSERT_EQ(ok.type, MessageType::kOk) << ok.meta.dump();
  EXPECT_EQ(ok.meta["effective_env"], "ref@cpu");
  Message bad_data;
  bad_data.type = MessageType::kData;
  bad_data.meta = {{"names", {"input"}}, {"kinds", {"tensor"}}};
  bad_data.blobs.push_back("\xff\xff\xff garbage");
  ExpectError(call(bad_data), ErrorKind::kInput, "not a TensorProto");
  Message wrong_shape;
  wrong_shape.type = MessageType::kData;
  protocol::PutValues(&wrong_shape, {"input"}, {Value(Tensor::FromVector<float>({2}, {1, 2}))});
  ASSERT_EQ(call(wrong_shape).type, MessageType::kOk);
  m = Message{};
  m.type = MessageType::kProcess;
  Message r = call(m);
  ASSERT_EQ(r.type, MessageType::kError);
  m.meta = {{"repeat", 0}};
  ExpectError(call(m), ErrorKind::kUsage, "'repeat'");
  m.meta = {{"taps", "yes"}};
  ExpectError(call(m), ErrorKind::kUsage, "'taps'");

  Message data;
  data.type = MessageType::kData;
  protocol::PutValues(&data, {"input"}, {TinyInputs().at("input")});
  ASSERT_EQ(call(data).type, MessageType::kOk);
  m.meta = {{"taps", true}};
  Message out = call(m);
  ASSERT_EQ(out.type, MessageType::kOutput) << out.meta.dump();
  auto got = protocol::GetValues(out);
  auto want = PrepareSession(TinyCnn(), EnvSpec::Parse("ref"))->Run(TinyInputs());
  EXPECT_TRUE(got.at(0).second.tensor.BitwiseEqual(want[0].tensor));
  Message taps = ch->Receive(5000);
  ASSERT_EQ(taps.type, MessageType::kTaps);
  EXPECT_EQ(taps.blobs.size(), 9u);
  Message bye;
  bye.type = MessageType::kBye;
  ch->Send(bye);
  EXPECT_TRUE(s.Finished());
}

TEST(SessionServer, MalformedFramesGetErrorAndEndTheSession) {
  struct Case {
    const char* name;
    std::string bytes;
    const char* needle;
  };
  std::vector<Case> cases = {
      {"unknown type", Header(42, 2, 0) + "{}", "unknown message type 42"},
      {"bad magic", "XXXX" + Header(1, 2, 0).substr(4) + "{}", "bad magic"},
      {"oversized", Header(3, 2, 2u << 20), "exceeds"},
      {"meta not JSON", Header(6, 3, 0) + "{{{", "not a JSON object"},
      {"blob past the end", Header(6, 2, 9) + "{}" + std::string("\x10\0\0\0\0\0\0\0x", 9),
       "runs past"},
  };
  protocol::Limits limits;
  limits.max_frame_bytes = 1 << 20;
  for (const auto& c : cases) {
    Served s({}, limits);
    auto ch = s.ClientChannel();
    s.Hello(*ch);
    SendRaw(s.client_fd, c.bytes);
    ExpectError(ch->Receive(5000), ErrorKind::kInput, c.needle);
    EXPECT_TRUE(s.Finished()) << c.name;
  }
}

TEST(SessionServer, TruncatedFramesAndVanishingClientsEndQuietly) {
  Message model = ModelMessage(ModelBytes(TinyCnn()));
  std::string frame = protocol::EncodeFrame(model);
  for (size_t cut : {size_t{7}, protocol::kHeaderSize + 3, frame.size() / 2, frame.size() - 1}) {
    Served s;
    auto ch = s.ClientChannel();
    s.Hello(*ch);
    SendRaw(s.client_fd, frame.substr(0, cut));
    ::shutdown(s.client_fd, SHUT_WR);  // the client vanishes mid-frame
    EXPECT_TRUE(s.Finished()) << "cut at " << cut;
    EXPECT_NE(s.log().find("truncated"), std::string::npos) << s.log();
  }
  // Vanishing between requests, and before HELLO.
  {
    Served s;
    ::shutdown(s.client_fd, SHUT_RDWR);
    EXPECT_TRUE(s.Finished());
  }
}

TEST(SessionServer, IdleClientsTimeOut) {
  SessionServerOptions opt;
  opt.receive_timeout_ms = 200;
  Served s(opt);
  EXPECT_TRUE(s.Finished(5000));
  EXPECT_NE(s.log().find("timed out"), std::string::npos) << s.log();
}

}  // namespace
}  // namespace concord
