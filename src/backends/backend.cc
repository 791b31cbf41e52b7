#include "backends/backend.h"

#include "backends/opencv_backend.h"
#include "backends/ref_backend.h"
#include "backends/remote_backend.h"
#include "backends/worker_backend.h"

namespace concord {

std::vector<ref::Value> Session::RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                             RunTiming* timing) {
  (void)taps;
  Fail(ErrorKind::kUnsupported, "{} cannot return intermediate tensors (taps)", effective_env());
}

std::vector<std::unique_ptr<Backend>> AllBackends() {
  std::vector<std::unique_ptr<Backend>> all;
  all.push_back(MakeRefBackend());
  for (auto& b : MakeWorkerBackends()) all.push_back(std::move(b));
  all.push_back(MakeOpenCvBackend());
  return all;
}

std::unique_ptr<Backend> FindBackend(const std::string& name) {
  // Info() may probe libraries and devices (OpenCL, Python packages): ask each backend once
  // per process, not once per lookup.
  static const std::vector<BackendInfo> kInfos = [] {
    std::vector<BackendInfo> infos;
    for (auto& b : AllBackends()) infos.push_back(b->Info());
    return infos;
  }();
  std::vector<std::string> names;
  auto all = AllBackends();
  for (size_t i = 0; i < kInfos.size(); ++i) {
    const BackendInfo& info = kInfos[i];
    if (info.name == name) {
      if (!info.available) {
        Fail(ErrorKind::kUsage, "backend '{}' is not available on this machine: {}", name,
             info.unavailable_reason);
      }
      return std::move(all[i]);
    }
    names.push_back(info.name);
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
