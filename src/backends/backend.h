// The backend interface: Prepare(model, env) -> Session; Session::Run(inputs) -> outputs.
//
// Every way Concord runs a model (the reference interpreter, native libraries, worker
// processes, remote targets) is a Backend. Prepare() fails with Error(kUnsupported) when the
// backend cannot take the model (an op it lacks), Error(kUsage) for an env option it does not
// know, Error(kInput) for a malformed model. Run() returns one Value per graph output, in graph
// order; a failure during the run is Error(kRuntime) naming the backend. RunWithTaps is an
// optional capability (supports_taps()): it additionally fills every intermediate value by
// tensor name. Sessions are used from one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backends/env.h"
#include "ir/model.h"
#include "ir/value.h"

namespace concord {

struct RunTiming {
  double run_ms = 0;  // time of the inference call itself, measured by the backend
};

class Session {
 public:
  virtual ~Session() = default;
  virtual std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing = nullptr) = 0;
  virtual bool supports_taps() const { return false; }
  virtual std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                         RunTiming* timing = nullptr);
  // What actually ran (e.g. the OpenCV target that was really used); shown in run records.
  virtual std::string effective_env() const = 0;
  // Resource and timing figures measured where the model runs (STATS of workers and remote
  // targets: inference_ms, cpu_percent, rss_bytes, and runtime_ms where the runtime reports its
  // own timing). Empty object for in-process sessions.
  virtual nlohmann::json Stats() { return nlohmann::json::object(); }
  // Replaces the session's model by another one for the same env, keeping the process or
  // connection (worker and remote sessions: one MODEL message instead of a new worker, which
  // makes fuzzing many small models cheap). Error(kUnsupported) where not offered; a failed
  // Reload leaves no model loaded (Run fails until a successful Reload).
  virtual bool supports_reload() const { return false; }
  virtual void Reload(const Model& model);

  // Benchmarking: inputs bound once, then run many times (as onnxruntime_perf_test binds them).
  // A worker session places them in shared memory once, so repeated runs send no tensor bytes;
  // the default keeps a copy and calls Run. RunBound before BindInputs is Error(kUsage).
  virtual void BindInputs(const ValueMap& inputs);
  virtual std::vector<Value> RunBound(RunTiming* timing = nullptr);
  // Let the client busy-wait for an out-of-process runtime's reply rather than sleep until it
  // comes (saves the wake-up, holds a core: for a runtime that leaves one free). No-op in process.
  virtual void SetLowLatency(bool) {}

 private:
  std::optional<ValueMap> bound_;
};

// One env option a backend accepts, as the backend itself declares it (worker backends: the
// adapter's declaration in its HELLO reply).
struct BackendOption {
  std::string name;           // "opt"
  std::string type;           // "int" or "str"
  std::string allowed;        // "0..3", "0|1", or empty for any value of the type
  std::string default_value;  // empty when the backend picks
  std::string help;           // one line
  int64_t min = 0, max = -1;  // int options: the range when max >= min (else parsed from allowed)
};

struct BackendInfo {
  std::string name;                  // "ref"
  std::string description;           // one line
  std::string version;               // library version(s)
  std::vector<std::string> devices;  // the devices this machine can run the backend on
  // Devices the backend knows but this machine cannot run, each with why ("no CUDA device:
  // libcuda.so.1 not found ..."): an env naming one is refused with that reason.
  std::map<std::string, std::string> unavailable_devices;
  bool available = true;
  std::string unavailable_reason;
  std::string opt_mapping;             // how opt=0..3 maps to the backend's own levels
  std::vector<BackendOption> options;  // declared env options; empty where not declared
  // Model formats it runs, as ModelFormatName() spells them (worker backends: the adapter's
  // declaration). Native backends run ONNX only.
  std::vector<std::string> formats = {"onnx"};
};

class Backend {
 public:
  virtual ~Backend() = default;
  // The name used in env strings; must be cheap (no probing), unlike Info().
  virtual std::string name() const = 0;
  // Full description; may probe libraries and devices (Python imports, OpenCL).
  virtual BackendInfo Info() const = 0;
  virtual std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) = 0;
};

// All backends this build knows, available or not.
std::vector<std::unique_ptr<Backend>> AllBackends();
// Info() of every backend, probed in parallel (each worker probe is a Python start-up), in
// the order given.
std::vector<BackendInfo> DescribeBackends(const std::vector<std::unique_ptr<Backend>>& backends);
// Backend for env.backend; Error(kUsage) listing known names when unknown or unavailable.
std::unique_ptr<Backend> FindBackend(const std::string& name);
// Checks an env before any work: backend known and available, device one the backend has,
// every option one it declares (BackendInfo::options) with a value in its range, isolate=0|1,
// timeout= a number of seconds. Envs with host= run elsewhere: only the generic options are
// checked here (the server checks the rest). Error(kUsage) naming the env and what is wrong.
void ValidateEnv(const EnvSpec& env);
// The backend-specific half of ValidateEnv, against a given declaration: device among
// info.devices, every option other than the generic ones (isolate, timeout, host, token, twin)
// declared in info.options with a value of its type inside `allowed`. Worker sessions call it
// with the adapter's HELLO declaration. Error(kUsage) naming the env and what is wrong.
void CheckEnvAgainst(const EnvSpec& env, const BackendInfo& info);
// The env's timeout= in seconds (0 when absent); Error(kUsage) unless a positive number of at
// most a week.
double EnvTimeoutSeconds(const EnvSpec& env);
// ValidateEnv on each; one Error(kUsage) listing every invalid env (one line each).
void ValidateEnvs(const std::vector<EnvSpec>& envs);
// Checks that `env` can run a model of `format` (the file at `path`): its backend declares the
// format, and framework formats run on local workers only (no host=, no isolate=1: workers are
// already isolated). Error(kUsage) naming the file, its format, the env, the formats the env
// runs and an env that runs the file's format.
void CheckEnvRunsFormat(const EnvSpec& env, ModelFormat format, const std::string& path);
// The env that runs `format` natively ("torch@cpu" for TorchScript and torch.export, "tf@cpu",
// "keras@cpu", "tflite@cpu", "openvino@cpu"; "ref" for ONNX).
const char* NativeEnvOf(ModelFormat format);
// CheckEnvRunsFormat, then FindBackend(env.backend)->Prepare(model, env) (host=: a remote
// session; isolate=1: an isolated worker). twin= is Error(kUsage): concord matrix strips it.
std::unique_ptr<Session> PrepareSession(const Model& model, const EnvSpec& env);

// A model opened for a list of envs: ONNX files through Model::Load; a framework file through
// the first env's worker, which loads it and reports its signature (the MODEL reply's
// "signature"), so `session` is that env's prepared session, kept for reuse (null for ONNX).
struct OpenedModel {
  Model model;
  std::unique_ptr<Session> session;
};
// Checks every env with CheckEnvRunsFormat before any work. Error(kInput) for an unreadable or
// unknown file; Error(kUsage) for an env that cannot run its format.
OpenedModel OpenModel(const std::string& path, const std::vector<EnvSpec>& envs);

}  // namespace concord
