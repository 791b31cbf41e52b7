#include "backends/protocol_session.h"

#include <onnx/onnx_pb.h>

#include <filesystem>

#include "ir/external_data.h"
#include "protocol/values.h"

namespace concord {

using protocol::Message;
using protocol::MessageType;

nlohmann::json EnvToWire(const EnvSpec& env) {
  return {{"backend", env.backend}, {"device", env.device}, {"options", env.options}};
}

EnvSpec EnvFromWire(const nlohmann::json& wire) {
  auto is_string = [&](const char* key) { return wire.contains(key) && wire[key].is_string(); };
  if (!wire.is_object() || !is_string("backend") || !is_string("device") ||
      (wire.contains("options") && !wire["options"].is_object())) {
    Fail(ErrorKind::kInput,
         "MODEL's env must be an object {{backend, device, options}} of strings, got {}",
         wire.dump().substr(0, 200));
  }
  EnvSpec env;
  env.backend = wire["backend"].get<std::string>();
  env.device = wire["device"].get<std::string>();
  const nlohmann::json options = wire.value("options", nlohmann::json::object());
  for (const auto& [key, value] : options.items()) {
    if (!value.is_string()) {
      Fail(ErrorKind::kInput, "MODEL's env option '{}' must be a string, got {}", key,
           value.dump().substr(0, 200));
    }
    env.options[key] = value.get<std::string>();
  }
  return env;
}

namespace {

ValueInfo SignatureEntry(const nlohmann::json& e, const std::string& what) {
  if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
    Fail(ErrorKind::kRuntime, "{} is not an object with a string name: {}", what,
         e.dump().substr(0, 200));
  }
  std::string dtype = e.value("dtype", std::string());
  DType dt = dtype.empty() ? DType::kUndefined : DTypeFromName(dtype);
  Shape shape;
  const nlohmann::json& dims = e.contains("shape") ? e["shape"] : nlohmann::json();
  if (!dims.is_null() && !dims.is_array())
    Fail(ErrorKind::kRuntime, "{}: shape must be a list or null", what);
  for (const auto& d : dims.is_array() ? dims : nlohmann::json::array()) {
    if (!d.is_null() && !d.is_number_integer())
      Fail(ErrorKind::kRuntime, "{}: dims must be integers or null", what);
    shape.push_back(d.is_null() ? -1 : std::max<int64_t>(d.get<int64_t>(), -1));
  }
  return TensorValueInfo(e["name"].get<std::string>(), dt, shape, dims.is_array());
}

}  // namespace

std::vector<ValueInfo> SignatureFromWire(const nlohmann::json& reply, const char* key,
                                         const std::string& peer) {
  if (!reply.contains("signature") || !reply["signature"].is_object() ||
      !reply["signature"].contains(key) || !reply["signature"][key].is_array()) {
    Fail(ErrorKind::kRuntime, "{}: the MODEL reply lacks signature.{} (a list)", peer, key);
  }
  std::vector<ValueInfo> out;
  for (const auto& e : reply["signature"][key]) {
    out.push_back(SignatureEntry(e, fmt::format("{}: signature.{}[{}]", peer, key, out.size())));
  }
  return out;
}

ProtocolSession::ProtocolSession(std::unique_ptr<protocol::Channel> channel, const Model& model,
                                 const EnvSpec& env, const ProtocolSessionOptions& options)
    : channel_(std::move(channel)), options_(options) {
  shared_ = std::move(options_.shared_memory);
  Message hello;
  hello.type = MessageType::kHello;
  hello.meta = {{"version", protocol::kVersion}, {"client", "concord"}};
  if (!options.token.empty()) hello.meta["token"] = options.token;
  if (shared_ != nullptr) {
    hello.meta["shm"] = {{"fd", options.shared_memory_fd}, {"size", shared_->size()}};
  }
  Message reply = channel_->Call(hello, options.hello_timeout_ms);
  if (reply.type != MessageType::kHello) {
    Fail(ErrorKind::kRuntime, "{}: expected HELLO, got {}", channel_->peer(),
         protocol::MessageTypeName(reply.type));
  }
  if (reply.meta.value("version", 0u) != protocol::kVersion) {
    Fail(ErrorKind::kRuntime, "{}: speaks protocol version {}, we speak {}", channel_->peer(),
         reply.meta.value("version", 0u), protocol::kVersion);
  }
  server_hello_ = reply.meta;
  const nlohmann::json caps = reply.meta.value("capabilities", nlohmann::json::object());
  supports_taps_ = caps.is_object() && caps.value("taps", false);
  if (!caps.is_object() || !caps.value("shm", false)) shared_.reset();
  if (options.check_hello) options.check_hello(server_hello_);

  env_ = env;
  SendModel(model);
}

void ProtocolSession::Reload(const Model& model) {
  bound_process_.reset();
  SendModel(model);
}

void ProtocolSession::SendModel(const Model& model) {
  input_names_.clear();
  output_names_.clear();
  Message m;
  m.type = MessageType::kModel;
  EnvSpec remote_env = env_;
  remote_env.options.erase("host");   // the server runs it locally
  remote_env.options.erase("token");  // authentication happened in HELLO
  m.meta = {{"env", EnvToWire(remote_env)}, {"name", model.path()}};
  if (model.is_framework()) {
    SendFrameworkModel(model, std::move(m));
    return;
  }
  std::string bytes;
  bool serialized = false;
  if (CountExternalTensors(model.proto()) > 0) {
    // The peer cannot see the model's folder: send the weights inside the model.
    onnx::ModelProto copy = model.proto();
    InlineExternalData(&copy, model.base_dir(), model.path());
    serialized = copy.SerializeToString(&bytes);
  } else {
    serialized = model.proto().SerializeToString(&bytes);
  }
  if (!serialized) Fail(ErrorKind::kInternal, "cannot serialize {}", model.path());
  m.blobs.push_back(std::move(bytes));
  CallModel(m);
  for (const auto& in : model.Inputs()) input_names_.push_back(in.name);
  for (const auto& out : model.Outputs()) output_names_.push_back(out.name);
}

ProtocolSession::~ProtocolSession() {
  try {
    Message bye;
    bye.type = MessageType::kBye;
    channel_->Send(bye);
  } catch (const Error&) {
    // peer already gone: nothing to say goodbye to
  }
}

std::vector<Value> ProtocolSession::Run(const ValueMap& inputs, RunTiming* timing) {
  return DoRun(inputs, nullptr, timing);
}

std::vector<Value> ProtocolSession::RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                                RunTiming* timing) {
  if (!supports_taps_)
    Fail(ErrorKind::kUnsupported, "{} cannot return intermediate tensors (taps)", effective_env_);
  return DoRun(inputs, taps, timing);
}

std::vector<Value> ProtocolSession::DoRun(const ValueMap& inputs, ValueMap* taps,
                                          RunTiming* timing) {
  bound_process_.reset();  // these inputs take the place of the bound ones
  return Exchange(MakeProcess(inputs, taps != nullptr), taps, timing);
}

void ProtocolSession::BindInputs(const ValueMap& inputs) {
  bound_process_.reset();
  Session::BindInputs(inputs);
  if (shared_ != nullptr) bound_process_ = MakeProcess(inputs, false);
}

std::vector<Value> ProtocolSession::RunBound(RunTiming* timing) {
  if (!bound_process_) return Session::RunBound(timing);  // pipe path, or placed over since
  return Exchange(*bound_process_, nullptr, timing);
}

Message ProtocolSession::MakeProcess(const ValueMap& inputs, bool taps) {
  std::vector<std::string> names;
  std::vector<const Value*> values;
  for (const auto& [name, v] : inputs) {
    names.push_back(name);
    values.push_back(&v);
  }
  Message process;
  process.type = MessageType::kProcess;
  process.meta = {{"taps", taps}};
  if (shared_ != nullptr) {
    // One round trip: the inputs ride on PROCESS, their bytes in shared memory.
    protocol::PutValues(&process, names, values, shared_.get(), 0);
  } else {
    Message data;
    data.type = MessageType::kData;
    protocol::PutValues(&data, names, values, nullptr, 0);
    channel_->Call(data, options_.run_timeout_ms);
  }
  return process;
}

std::vector<Value> ProtocolSession::Exchange(const Message& process, ValueMap* taps,
                                             RunTiming* timing) {
  // Busy-waiting for the reply saves the wake-up; a run longer than kMaxSpinUs sleeps after it.
  constexpr int64_t kMaxSpinUs = 2'000'000;
  channel_->SetSpinBeforeBlock(low_latency_ ? kMaxSpinUs : 0);
  Message out = channel_->Call(process, options_.run_timeout_ms);
  channel_->SetSpinBeforeBlock(0);
  if (out.type != MessageType::kOutput) {
    Fail(ErrorKind::kRuntime, "{}: expected OUTPUT, got {}", channel_->peer(),
         protocol::MessageTypeName(out.type));
  }
  auto got = protocol::GetValues(out, shared_.get());
  std::map<std::string, Value> by_name;
  for (auto& [n, v] : got) by_name[n] = std::move(v);
  std::vector<Value> result;
  for (const auto& n : output_names_) {
    auto it = by_name.find(n);
    if (it == by_name.end())
      Fail(ErrorKind::kRuntime, "{}: OUTPUT lacks model output '{}'", channel_->peer(), n);
    result.push_back(std::move(it->second));
  }
  if (timing) {
    const auto& t =
        out.meta.contains("timing_ms") ? out.meta["timing_ms"] : nlohmann::json::object();
    timing->run_ms = t.value("run", 0.0);
  }
  if (taps != nullptr) {
    Message tm = channel_->Receive(options_.run_timeout_ms);
    if (tm.type == MessageType::kError) {
      Fail(protocol::ErrorKindFromName(tm.meta.value("kind", "runtime")), "{}: {}",
           channel_->peer(), tm.meta.value("message", std::string("taps failed")));
    }
    if (tm.type != MessageType::kTaps) {
      Fail(ErrorKind::kRuntime, "{}: expected TAPS, got {}", channel_->peer(),
           protocol::MessageTypeName(tm.type));
    }
    for (auto& [n, v] : protocol::GetValues(tm, shared_.get())) (*taps)[n] = std::move(v);
  }
  return result;
}

Message ProtocolSession::CallModel(const Message& m) {
  Message reply = channel_->Call(m, options_.prepare_timeout_ms);
  if (reply.type != MessageType::kOk) {
    Fail(ErrorKind::kRuntime, "{}: expected OK to MODEL, got {}", channel_->peer(),
         protocol::MessageTypeName(reply.type));
  }
  prepare_info_ = reply.meta;
  effective_env_ = reply.meta.value("effective_env", env_.ToString());
  return reply;
}

void ProtocolSession::SendFrameworkModel(const Model& model, Message m) {
  std::error_code ec;
  std::string path = std::filesystem::absolute(model.path(), ec).string();
  m.meta["path"] = ec ? model.path() : path;
  m.meta["format"] = ModelFormatName(model.format());
  Message reply = CallModel(m);
  for (const auto& in : SignatureFromWire(reply.meta, "inputs", channel_->peer()))
    input_names_.push_back(in.name);
  for (const auto& out : SignatureFromWire(reply.meta, "outputs", channel_->peer()))
    output_names_.push_back(out.name);
}

nlohmann::json ProtocolSession::Stats() {
  Message m;
  m.type = MessageType::kStats;
  Message r = channel_->Call(m, options_.run_timeout_ms);
  if (r.type != MessageType::kStats) {
    Fail(ErrorKind::kRuntime, "{}: expected STATS, got {}", channel_->peer(),
         protocol::MessageTypeName(r.type));
  }
  return r.meta;
}

}  // namespace concord
