#include "backends/backend.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>

#include "backends/dnnl_backend.h"
#include "backends/opencv_backend.h"
#include "backends/ref_backend.h"
#include "backends/remote_backend.h"
#include "backends/worker_backend.h"

namespace concord {

std::vector<Value> Session::RunWithTaps(const ValueMap& inputs, ValueMap* taps, RunTiming* timing) {
  (void)taps;
  Fail(ErrorKind::kUnsupported, "{} cannot return intermediate tensors (taps)", effective_env());
}

void Session::Reload(const Model& model) {
  (void)model;
  Fail(ErrorKind::kUnsupported, "{} cannot replace its model; prepare a new session",
       effective_env());
}

void Session::BindInputs(const ValueMap& inputs) { bound_ = inputs; }

std::vector<Value> Session::RunBound(RunTiming* timing) {
  if (!bound_) Fail(ErrorKind::kUsage, "{}: RunBound before BindInputs", effective_env());
  return Run(*bound_, timing);
}

std::vector<std::unique_ptr<Backend>> AllBackends() {
  std::vector<std::unique_ptr<Backend>> all;
  all.push_back(MakeRefBackend());
  for (auto& b : MakeWorkerBackends()) all.push_back(std::move(b));
  all.push_back(MakeOpenCvBackend());
  all.push_back(MakeDnnlBackend());
  return all;
}

std::vector<BackendInfo> DescribeBackends(const std::vector<std::unique_ptr<Backend>>& backends) {
  std::vector<std::future<BackendInfo>> probes;
  for (const auto& b : backends) {
    probes.push_back(std::async(std::launch::async, [&b] { return b->Info(); }));
  }
  std::vector<BackendInfo> infos;
  for (auto& p : probes) infos.push_back(p.get());
  return infos;
}

namespace {

// The backend called `name` and its Info(), probed once per process (Info() may import Python
// packages or open OpenCL); Error(kUsage) when unknown or unavailable.
std::unique_ptr<Backend> FindAndProbe(const std::string& name, BackendInfo* info_out) {
  static std::mutex mu;
  static std::map<std::string, BackendInfo> probed;
  std::vector<std::string> names;
  for (auto& b : AllBackends()) {
    if (b->name() != name) {
      names.push_back(b->name());
      continue;
    }
    BackendInfo info;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = probed.find(name);
      if (it == probed.end()) it = probed.emplace(name, b->Info()).first;
      info = it->second;
    }
    if (!info.available) {
      Fail(ErrorKind::kUsage, "backend '{}' is not available on this machine: {}", name,
           info.unavailable_reason);
    }
    if (info_out != nullptr) *info_out = info;
    return std::move(b);
  }
  Fail(ErrorKind::kUsage, "unknown backend '{}' (known: {}; see `concord envs`)", name,
       fmt::format("{}", fmt::join(names, ", ")));
}

BackendInfo ProbeBackend(const std::string& name) {
  BackendInfo info;
  FindAndProbe(name, &info);
  return info;
}

}  // namespace

std::unique_ptr<Backend> FindBackend(const std::string& name) {
  return FindAndProbe(name, nullptr);
}

namespace {

// Options every env may carry, handled by PrepareSession and the transport, not the backend
// (twin: which of a matrix model's files the env runs; concord matrix consumes it).
bool IsGenericOption(const std::string& key) {
  return key == "isolate" || key == "timeout" || key == "host" || key == "token" || key == "twin";
}

bool IsInteger(const std::string& v, int64_t* out) {
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, *out);
  return !v.empty() && ec == std::errc() && ptr == end;
}

// An int option's range: min..max when declared, else `allowed` when it reads "LO..HI".
bool IntRange(const BackendOption& o, int64_t* lo, int64_t* hi) {
  if (o.max >= o.min) {
    *lo = o.min;
    *hi = o.max;
    return true;
  }
  size_t dots = o.allowed.find("..");
  return dots != std::string::npos && IsInteger(o.allowed.substr(0, dots), lo) &&
         IsInteger(o.allowed.substr(dots + 2), hi);
}

// `value` against a declared option: an int inside its range, or a str among `allowed`
// ("a|b|c") when that is set.
void CheckOptionValue(const EnvSpec& env, const BackendOption& o, const std::string& value) {
  if (o.type == "int") {
    int64_t v = 0, lo = 0, hi = 0;
    bool ranged = IntRange(o, &lo, &hi);
    if (!IsInteger(value, &v) || (ranged && (v < lo || v > hi))) {
      Fail(ErrorKind::kUsage, "{}: option {} of backend {} must be an integer{} (got '{}')",
           env.ToString(), o.name, env.backend, ranged ? fmt::format(" in {}..{}", lo, hi) : "",
           value);
    }
    return;
  }
  if (o.allowed.empty()) return;
  bool listed = false;
  for (size_t start = 0; start <= o.allowed.size();) {
    size_t bar = std::min(o.allowed.find('|', start), o.allowed.size());
    listed |= o.allowed.compare(start, bar - start, value) == 0;
    start = bar + 1;
  }
  if (!listed) {
    Fail(ErrorKind::kUsage, "{}: option {} of backend {} must be one of {} (got '{}')",
         env.ToString(), o.name, env.backend, o.allowed, value);
  }
}

}  // namespace

double EnvTimeoutSeconds(const EnvSpec& env) {
  auto it = env.options.find("timeout");
  if (it == env.options.end()) return 0;
  const std::string& t = it->second;
  char* end = nullptr;
  double seconds = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !(seconds > 0) || seconds > 86400 * 7) {
    Fail(ErrorKind::kUsage, "{}: timeout must be a positive number of seconds (got '{}')",
         env.ToString(), t);
  }
  return seconds;
}

void CheckEnvAgainst(const EnvSpec& env, const BackendInfo& info) {
  if (auto it = info.unavailable_devices.find(env.device); it != info.unavailable_devices.end()) {
    Fail(ErrorKind::kUsage, "{}: unsupported on this machine: {}", env.ToString(), it->second);
  }
  if (std::find(info.devices.begin(), info.devices.end(), env.device) == info.devices.end()) {
    Fail(ErrorKind::kUsage, "{}: backend {} has no device '{}' (devices: {})", env.ToString(),
         env.backend, env.device, fmt::format("{}", fmt::join(info.devices, ", ")));
  }
  for (const auto& [key, value] : env.options) {
    if (IsGenericOption(key)) continue;
    auto it = std::find_if(info.options.begin(), info.options.end(),
                           [&](const BackendOption& o) { return o.name == key; });
    if (it == info.options.end()) {
      std::vector<std::string> known;
      for (const auto& o : info.options) known.push_back(o.name);
      Fail(ErrorKind::kUsage, "{}: backend {} does not know option '{}' (known: {})",
           env.ToString(), env.backend, key, fmt::format("{}", fmt::join(known, ", ")));
    }
    CheckOptionValue(env, *it, value);
  }
}

void ValidateEnv(const EnvSpec& env) {
  std::string isolate = env.Get("isolate", "0");
  if (isolate != "0" && isolate != "1") {
    Fail(ErrorKind::kUsage, "{}: isolate must be 0 or 1 (got '{}')", env.ToString(), isolate);
  }
  EnvTimeoutSeconds(env);
  if (!env.Get("host").empty()) return;  // the server validates the rest
  CheckEnvAgainst(env, ProbeBackend(env.backend));
}

void ValidateEnvs(const std::vector<EnvSpec>& envs) {
  std::vector<std::string> problems;
  for (const EnvSpec& env : envs) {
    try {
      ValidateEnv(env);
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  if (problems.size() == 1) Fail(ErrorKind::kUsage, "{}", problems.front());
  if (!problems.empty()) {
    Fail(ErrorKind::kUsage, "{} of {} envs are invalid:\n  {}", problems.size(), envs.size(),
         fmt::format("{}", fmt::join(problems, "\n  ")));
  }
}

const char* NativeEnvOf(ModelFormat format) {
  switch (format) {
    case ModelFormat::kTorchScript:
    case ModelFormat::kTorchExport:
      return "torch@cpu";
    case ModelFormat::kKeras:
      return "keras@cpu";
    case ModelFormat::kSavedModel:
      return "tf@cpu";
    case ModelFormat::kTflite:
      return "tflite@cpu";
    case ModelFormat::kOpenVino:
      return "openvino@cpu";
    case ModelFormat::kOnnx:
    case ModelFormat::kUnknown:
      break;
  }
  return "ref";
}

void CheckEnvRunsFormat(const EnvSpec& env, ModelFormat format, const std::string& path) {
  const char* name = ModelFormatName(format);
  bool framework = format != ModelFormat::kOnnx;
  if (framework && (!env.Get("host").empty() || env.Get("isolate") == "1")) {
    Fail(ErrorKind::kUsage,
         "{} is a {} model: it runs on a local worker of its framework ({}), not with host= "
         "or isolate=1 (env {})",
         path, name, NativeEnvOf(format), env.ToString());
  }
  if (!env.Get("host").empty()) return;  // remote targets run ONNX; the server checks the rest
  BackendInfo info = ProbeBackend(env.backend);
  if (std::find(info.formats.begin(), info.formats.end(), name) != info.formats.end()) return;
  Fail(ErrorKind::kUsage, "{} is a {} model, which env {} cannot run (it runs {} models); use {}",
       path, name, env.ToString(), fmt::format("{}", fmt::join(info.formats, ", ")),
       framework ? std::string(NativeEnvOf(format)) + " or export it to ONNX with its framework"
                 : std::string("an env that runs ONNX (see `concord envs`)"));
}

std::unique_ptr<Session> PrepareSession(const Model& model, const EnvSpec& env) {
  if (env.options.count("twin")) {
    Fail(ErrorKind::kUsage,
         "twin={} picks a direction of a matrix model: only `concord matrix` configs take it; "
         "give the converted file itself here",
         env.Get("twin"));
  }
  CheckEnvRunsFormat(env, model.format(), model.path());
  if (!env.Get("host").empty()) return PrepareRemoteSession(model, env);
  if (env.Get("isolate") == "1") return PrepareIsolatedSession(model, env);
  if (env.options.count("isolate") && env.Get("isolate") != "0") {
    Fail(ErrorKind::kUsage, "isolate must be 0 or 1 (got '{}')", env.Get("isolate"));
  }
  if (env.options.count("isolate")) {
    EnvSpec plain = env;
    plain.options.erase("isolate");
    return FindBackend(env.backend)->Prepare(model, plain);
  }
  return FindBackend(env.backend)->Prepare(model, env);
}

}  // namespace concord
