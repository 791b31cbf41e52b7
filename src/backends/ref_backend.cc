#include "backends/ref_backend.h"

#include <cblas.h>
#include <onnx/common/version.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "ref/interpreter.h"

namespace concord {

namespace {

// OpenBLAS's own default: OPENBLAS_NUM_THREADS when set, else one per core.
int DefaultThreads() {
  static const int kDefault = [] {
    const char* e = std::getenv("OPENBLAS_NUM_THREADS");
    int v = e ? std::atoi(e) : 0;
    return v > 0 ? v : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return kDefault;
}

// threads= for the interpreter's pool (which also splits its GEMMs; OpenBLAS runs on the
// calling thread); 0 means OpenBLAS's default.
int SessionThreads(const EnvSpec& env) {
  return env.threads() > 0 ? env.threads() : DefaultThreads();
}

class RefSession : public Session {
 public:
  RefSession(const Model& model, const EnvSpec& env)
      : interp_(model, ref::DefaultRegistry(), SessionThreads(env)), env_(env) {
    if (env.device != "cpu")
      Fail(ErrorKind::kUsage, "ref runs on cpu only (got device '{}')", env.device);
    for (const auto& [k, v] : env.options) {
      if (k != "opt" && k != "threads") Fail(ErrorKind::kUsage, "ref does not know option '{}'", k);
    }
  }
  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override {
    return RunWithTaps(inputs, nullptr, timing);
  }
  bool supports_taps() const override { return true; }
  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                 RunTiming* timing) override {
    auto start = std::chrono::steady_clock::now();
    auto out = interp_.Run(inputs, taps);
    if (timing) {
      timing->run_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
    }
    return out;
  }
  std::string effective_env() const override { return env_.ToString(); }

 private:
  ref::Interpreter interp_;
  EnvSpec env_;
};

class RefBackend : public Backend {
 public:
  std::string name() const override { return "ref"; }
  BackendInfo Info() const override {
    BackendInfo info;
    info.name = "ref";
    size_t ops = ref::DefaultRegistry().Ops().size();
    info.description = fmt::format(
        "Concord reference interpreter: exact ONNX semantics, {} operator kernels", ops);
    info.version = fmt::format("concord-ref {} (ONNX {}, {})", CONCORD_VERSION,
                               onnx::LAST_RELEASE_VERSION, openblas_get_config());
    info.devices = {"cpu"};
    info.options = {
        {"opt", "int", "0..3", "3", "optimization level (see opt mapping)"},
        {"threads", "int", "0..4096", "0",
         "threads for kernels and their GEMMs (0 = OPENBLAS_NUM_THREADS, else one per core)"}};
    info.opt_mapping = "opt accepted and ignored: the oracle never rewrites the graph";
    return info;
  }
  std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) override {
    return std::make_unique<RefSession>(model, env);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeRefBackend() { return std::make_unique<RefBackend>(); }

std::unique_ptr<Session> PrepareReference(const Model& model) {
  return std::make_unique<RefSession>(model, EnvSpec::Parse("ref"));
}

std::vector<Value> RunReference(const Model& model, const ValueMap& inputs, ValueMap* taps) {
  return PrepareReference(model)->RunWithTaps(inputs, taps);
}

}  // namespace concord
