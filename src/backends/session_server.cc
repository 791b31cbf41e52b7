#include "backends/session_server.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <vector>

#include "backends/backend.h"
#include "backends/protocol_session.h"
#include "ir/clock.h"
#include "protocol/values.h"

namespace concord {

using protocol::Message;
using protocol::MessageType;

namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// VmRSS / VmHWM from /proc/self/status, in bytes (0 when unreadable).
void ReadRss(int64_t* rss, int64_t* peak) {
  *rss = *peak = 0;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    auto parse = [&](const char* key, int64_t* out) {
      size_t n = std::char_traits<char>::length(key);
      if (line.compare(0, n, key) != 0) return;
      *out = std::strtoll(line.c_str() + n, nullptr, 10) * 1024;  // "VmRSS:   1234 kB"
    };
    parse("VmRSS:", rss);
    parse("VmHWM:", peak);
  }
}

bool IsExternal(const onnx::TensorProto& t) {
  return t.data_location() == onnx::TensorProto::EXTERNAL;
}

bool GraphUsesExternalData(const onnx::GraphProto& g);

bool NodesUseExternalData(const google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes) {
  for (const auto& n : nodes) {
    for (const auto& a : n.attribute()) {
      if (a.has_t() && IsExternal(a.t())) return true;
      for (const auto& t : a.tensors()) {
        if (IsExternal(t)) return true;
      }
      if (a.has_sparse_tensor() &&
          (IsExternal(a.sparse_tensor().values()) || IsExternal(a.sparse_tensor().indices()))) {
        return true;
      }
      for (const auto& st : a.sparse_tensors()) {
        if (IsExternal(st.values()) || IsExternal(st.indices())) return true;
      }
      if (a.has_g() && GraphUsesExternalData(a.g())) return true;
      for (const auto& sg : a.graphs()) {
        if (GraphUsesExternalData(sg)) return true;
      }
    }
  }
  return false;
}

bool GraphUsesExternalData(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer()) {
    if (IsExternal(t)) return true;
  }
  for (const auto& st : g.sparse_initializer()) {
    if (IsExternal(st.values()) || IsExternal(st.indices())) return true;
  }
  return NodesUseExternalData(g.node());
}

// Parses model bytes in memory (as Model::FromBytes does) but refuses external data before the
// loader could look for files: a client must never make the server open paths it names.
Model ModelFromWire(const std::string& bytes, const std::string& base_dir,
                    const std::string& what) {
  if (bytes.empty()) Fail(ErrorKind::kInput, "{}: MODEL carries no model bytes", what);
  if (bytes.size() > kMaxModelBytes)
    Fail(ErrorKind::kInput, "{}: model of {} bytes is over the 2 GiB limit", what, bytes.size());
  onnx::ModelProto proto;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(static_cast<int>(kMaxModelBytes));
  if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    Fail(ErrorKind::kInput,
         "{}: not a valid ONNX model (protobuf parse failed: truncated or corrupt)", what);
  }
  bool external = GraphUsesExternalData(proto.graph());
  for (const auto& f : proto.functions()) external = external || NodesUseExternalData(f.node());
  if (external) {
    Fail(ErrorKind::kInput,
         "{}: the model uses external data, which a remote server cannot read; embed the weights "
         "(onnx.save_model(..., save_as_external_data=False)) and send it again",
         what);
  }
  return Model::FromProto(std::move(proto), base_dir, what);
}

// An integer request field within [lo, hi]; Error(kUsage) naming it otherwise.
int64_t IntField(const nlohmann::json& meta, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!meta.contains(key)) return def;
  const auto& v = meta[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    Fail(ErrorKind::kUsage, "request field '{}' must be an integer in [{}, {}], got {}", key, lo,
         hi, v.dump());
  }
  return v.get<int64_t>();
}

bool BoolField(const nlohmann::json& meta, const char* key) {
  if (!meta.contains(key)) return false;
  if (!meta[key].is_boolean())
    Fail(ErrorKind::kUsage, "request field '{}' must be true or false", key);
  return meta[key].get<bool>();
}

std::string Shorten(std::string s, size_t n = 200) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

class Server {
 public:
  Server(protocol::Channel& channel, const SessionServerOptions& options,
         const std::function<bool()>& admit)
      : ch_(channel), opt_(options), admit_(admit) {}

  void Serve();

 private:
  void Log(const std::string& line) const {
    if (opt_.log) opt_.log(line);
  }
  // Sends, reporting whether the peer could still be reached.
  bool TrySend(const Message& m) {
    try {
      ch_.Send(m);
      return true;
    } catch (const std::exception& e) {
      Log(fmt::format("{}: {}", ch_.peer(), e.what()));
      return false;
    }
  }
  bool Hello(const Message& req);
  std::vector<Message> Handle(const Message& req);
  Message OnModel(const Message& req);
  Message OnData(const Message& req);
  std::vector<Message> OnProcess(const Message& req);
  Message OnStats();
  void RequireModel(const char* what) const {
    if (!session_) Fail(ErrorKind::kUsage, "{} before MODEL: send the model first", what);
  }

  protocol::Channel& ch_;
  const SessionServerOptions& opt_;
  const std::function<bool()>& admit_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Session> session_;
  ValueMap inputs_;
  std::vector<double> inference_ms_;
  Clock::time_point hello_wall_;
  double hello_cpu_s_ = 0;
};

bool Server::Hello(const Message& req) {
  if (req.type != MessageType::kHello) {
    TrySend(protocol::ErrorMessage(
        ErrorKind::kUsage,
        fmt::format("expected HELLO first, got {}", protocol::MessageTypeName(req.type))));
    Log(fmt::format("{}: first message was {}, not HELLO; closing", ch_.peer(),
                    protocol::MessageTypeName(req.type)));
    return false;
  }
  const auto& version = req.meta.contains("version") ? req.meta["version"] : nlohmann::json();
  if (!version.is_number_unsigned() || version.get<uint64_t>() != protocol::kVersion) {
    TrySend(protocol::ErrorMessage(
        ErrorKind::kUsage,
        fmt::format("protocol version {} is not supported (this server speaks {})",
                    Shorten(version.dump(), 40), protocol::kVersion)));
    Log(fmt::format("{}: protocol version mismatch ({}); closing", ch_.peer(),
                    Shorten(version.dump(), 40)));
    return false;
  }
  if (!opt_.token.empty()) {
    std::string given;
    if (req.meta.contains("token") && req.meta["token"].is_string())
      given = req.meta["token"].get<std::string>();
    // Compare even when the token is missing, so timing says nothing either way.
    bool ok = ConstantTimeEquals(given, opt_.token) && req.meta.contains("token");
    if (!ok) {
      TrySend(protocol::ErrorMessage(ErrorKind::kUsage, "authentication failed"));
      Log(fmt::format("{}: authentication failed ({} token); closing", ch_.peer(),
                      req.meta.contains("token") ? "wrong" : "missing"));
      return false;
    }
  }
  // A valid greeting: now the connection may take a client slot (the admitter answers busy).
  if (admit_ && !admit_()) return false;
  nlohmann::json envs = nlohmann::json::array();
  nlohmann::json versions = nlohmann::json::object();
  versions["concord"] = CONCORD_VERSION;
  for (const BackendInfo& info :
       opt_.describe_backends ? DescribeBackends(AllBackends()) : std::vector<BackendInfo>{}) {
    if (!info.available) continue;
    envs.push_back(info.name);
    versions[info.name] = info.version;
  }
  Message reply;
  reply.type = MessageType::kHello;
  reply.meta = {{"version", protocol::kVersion},
                {"server", "concord serve"},
                {"capabilities", {{"taps", true}, {"envs", envs}}},
                {"versions", versions}};
  hello_wall_ = Clock::now();
  hello_cpu_s_ = ProcessCpuSeconds();
  return TrySend(reply);
}

Message Server::OnModel(const Message& req) {
  if (req.blobs.size() != 1)
    Fail(ErrorKind::kInput, "MODEL must carry exactly one blob (the model), got {}",
         req.blobs.size());
  if (!req.meta.contains("env")) {
    Fail(ErrorKind::kUsage, "MODEL needs an 'env' object {{backend, device, options}}");
  }
  EnvSpec env = EnvFromWire(req.meta["env"]);
  if (!env.Get("host").empty()) {
    Fail(ErrorKind::kUsage,
         "env '{}' names host=: a concord serve target runs envs locally and does not forward",
         Shorten(env.ToString()));
  }
  // The server writes only inside its workdir: an env may not pick where files go (TVM's
  // compiled-model cache), and TVM's cache is kept under the workdir.
  if (env.options.count("cache")) {
    Fail(ErrorKind::kUsage,
         "env '{}' sets cache=: a concord serve target keeps its caches in "
         "its workdir",
         Shorten(env.ToString()));
  }
  if (env.backend == "tvm") {
    if (opt_.workdir.empty()) {
      Fail(ErrorKind::kUsage, "tvm needs a cache folder: start concord serve with --workdir");
    }
    env.options["cache"] = (std::filesystem::path(opt_.workdir) / "tvm-cache").string();
  }
  std::string name = req.meta.contains("name") && req.meta["name"].is_string()
                         ? req.meta["name"].get<std::string>()
                         : std::string("model");
  // Drop the old session first: a failed MODEL must not leave a stale model behind.
  session_.reset();
  model_.reset();
  inputs_.clear();
  auto start = Clock::now();
  std::string what = fmt::format("{} (sent by {})", Shorten(name), ch_.peer());
  auto model = std::make_unique<Model>(ModelFromWire(req.blobs[0], opt_.workdir, what));
  std::unique_ptr<Session> session = PrepareSession(*model, env);
  double prepare_ms = MsSince(start);
  Message ok;
  ok.type = MessageType::kOk;
  ok.meta = {{"prepare_ms", prepare_ms},
             {"effective_env", session->effective_env()},
             {"taps", session->supports_taps()}};
  model_ = std::move(model);
  session_ = std::move(session);
  return ok;
}

Message Server::OnData(const Message& req) {
  RequireModel("DATA");
  ValueMap inputs;
  for (auto& [name, v] : protocol::GetValues(req)) inputs[name] = std::move(v);
  inputs_ = std::move(inputs);
  Message ok;
  ok.type = MessageType::kOk;
  ok.meta = {{"inputs", inputs_.size()}};
  return ok;
}

std::vector<Message> Server::OnProcess(const Message& req) {
  RequireModel("PROCESS");
  bool want_taps = BoolField(req.meta, "taps");
  int64_t repeat = IntField(req.meta, "repeat", 1, 1, 100000);
  int64_t warmup = IntField(req.meta, "warmup", 0, 0, 100000);
  if (want_taps && !session_->supports_taps()) {
    Fail(ErrorKind::kUnsupported, "{} cannot return intermediate tensors (taps)",
         session_->effective_env());
  }
  std::vector<Value> outputs;
  ValueMap taps;
  std::vector<double> runs;
  for (int64_t i = 0; i < warmup + repeat; ++i) {
    RunTiming t;
    bool last = i == warmup + repeat - 1;
    outputs =
        want_taps && last ? session_->RunWithTaps(inputs_, &taps, &t) : session_->Run(inputs_, &t);
    if (i >= warmup) runs.push_back(t.run_ms);
  }
  auto infos = model_->Outputs();
  if (outputs.size() != infos.size()) {
    Fail(ErrorKind::kInternal, "{} returned {} outputs for a model with {}",
         session_->effective_env(), outputs.size(), infos.size());
  }
  std::vector<std::string> names;
  names.reserve(infos.size());
  for (const auto& i : infos) names.push_back(i.name);
  inference_ms_.insert(inference_ms_.end(), runs.begin(), runs.end());
  std::vector<double> sorted = runs;
  std::sort(sorted.begin(), sorted.end());
  Message out;
  out.type = MessageType::kOutput;
  out.meta["timing_ms"] = {{"run", sorted[sorted.size() / 2]}};
  if (runs.size() > 1) out.meta["timing_ms"]["runs"] = runs;
  protocol::PutValues(&out, names, outputs);
  std::vector<Message> replies;
  replies.push_back(std::move(out));
  if (want_taps) {
    Message tm;
    tm.type = MessageType::kTaps;
    std::vector<std::string> tap_names;
    std::vector<Value> tap_values;
    for (auto& [n, v] : taps) {
      tap_names.push_back(n);
      tap_values.push_back(std::move(v));
    }
    protocol::PutValues(&tm, tap_names, tap_values);
    replies.push_back(std::move(tm));
  }
  return replies;
}

Message Server::OnStats() {
  Message r;
  r.type = MessageType::kStats;
  double wall_s = MsSince(hello_wall_) / 1000.0;
  double cpu_s = ProcessCpuSeconds() - hello_cpu_s_;
  int64_t rss = 0, peak = 0;
  ReadRss(&rss, &peak);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = 0;
  r.meta = {{"inference_ms", inference_ms_},
            {"count", inference_ms_.size()},
            // Process-wide CPU time over wall time since HELLO (includes other clients' sessions).
            {"cpu_percent", wall_s > 0 ? 100.0 * cpu_s / wall_s : 0.0},
            {"rss_bytes", rss},
            {"peak_rss_bytes", peak},
            {"load_avg", {load[0], load[1], load[2]}}};
  return r;
}

std::vector<Message> Server::Handle(const Message& req) {
  switch (req.type) {
    case MessageType::kModel:
      return {OnModel(req)};
    case MessageType::kData:
      return {OnData(req)};
    case MessageType::kProcess:
      return OnProcess(req);
    case MessageType::kStats:
      return {OnStats()};
    case MessageType::kHello:
      Fail(ErrorKind::kUsage, "HELLO was already exchanged on this connection");
    default:
      Fail(ErrorKind::kUsage,
           "{} is a server-to-client message; a client may send MODEL, DATA, PROCESS, STATS, BYE",
           protocol::MessageTypeName(req.type));
  }
}

void Server::Serve() {
  bool greeted = false;
  while (true) {
    Message req;
    try {
      req = ch_.Receive(opt_.receive_timeout_ms);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInput) {
        // Malformed frame: the byte stream can no longer be trusted, so say why and hang up.
        TrySend(protocol::ErrorMessage(ErrorKind::kInput, e.what()));
        Log(fmt::format("{}: {}; closing", ch_.peer(), e.what()));
      } else {
        Log(e.what());  // EOF, timeout, vanished peer
      }
      return;
    } catch (const std::bad_alloc&) {
      TrySend(protocol::ErrorMessage(ErrorKind::kRuntime, "out of memory while receiving a frame"));
      Log(fmt::format("{}: out of memory while receiving a frame; closing", ch_.peer()));
      return;
    }
    if (!greeted) {
      if (!Hello(req)) return;
      greeted = true;
      continue;
    }
    if (req.type == MessageType::kBye) return;
    std::vector<Message> replies;
    try {
      replies = Handle(req);
    } catch (const Error& e) {
      replies = {protocol::ErrorMessage(e.kind(), e.what())};
    } catch (const std::bad_alloc&) {
      replies = {protocol::ErrorMessage(
          ErrorKind::kRuntime,
          fmt::format("out of memory while handling {}", protocol::MessageTypeName(req.type)))};
    } catch (const std::exception& e) {
      replies = {protocol::ErrorMessage(
          ErrorKind::kInternal, fmt::format("internal error while handling {}: {}",
                                            protocol::MessageTypeName(req.type), e.what()))};
    }
    for (const auto& r : replies) {
      if (r.type == MessageType::kError) {
        Log(fmt::format("{}: {} failed: {}", ch_.peer(), protocol::MessageTypeName(req.type),
                        r.meta.value("message", std::string())));
      }
      if (!TrySend(r)) return;
    }
  }
}

}  // namespace

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    unsigned char ca = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char cb = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(ca ^ cb);
  }
  return diff == 0;
}

void ServeSession(protocol::Channel& channel, const SessionServerOptions& options,
                  const std::function<bool()>& admit) {
  try {
    Server server(channel, options, admit);
    server.Serve();
  } catch (const std::exception& e) {
    // Only reachable through allocation failures outside a request (e.g. building a reply).
    try {
      if (options.log) options.log(fmt::format("{}: session ended: {}", channel.peer(), e.what()));
    } catch (...) {
    }
  } catch (...) {
  }
}

}  // namespace concord
