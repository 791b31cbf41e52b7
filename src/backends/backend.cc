#include "backends/backend.h"

#include <map>
#include <mutex>

#include "backends/opencv_backend.h"
#include "backends/ref_backend.h"
#include "backends/remote_backend.h"
#include "backends/worker_backend.h"

namespace concord {

std::vector<Value> Session::RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                             RunTiming* timing) {
  (void)taps;
  Fail(ErrorKind::kUnsupported, "{} cannot return intermediate tensors (taps)", effective_env());
}

void Session::Reload(const Model& model) {
  (void)model;
  Fail(ErrorKind::kUnsupported, "{} cannot replace its model; prepare a new session",
       effective_env());
}

std::vector<std::unique_ptr<Backend>> AllBackends() {
  std::vector<std::unique_ptr<Backend>> all;
  all.push_back(MakeRefBackend());
  for (auto& b : MakeWorkerBackends()) all.push_back(std::move(b));
  all.push_back(MakeOpenCvBackend());
  return all;
}

std::unique_ptr<Backend> FindBackend(const std::string& name) {
  // Only the matching backend is probed (Info() may import Python packages or open OpenCL),
  // and only once per process.
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
    return std::move(b);
  }
  Fail(ErrorKind::kUsage, "unknown backend '{}' (known: {}; see `concord envs`)", name,
       fmt::format("{}", fmt::join(names, ", ")));
}

std::unique_ptr<Session> PrepareSession(const Model& model, const EnvSpec& env) {
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
