// Backends for runtimes that only have a Python API (ONNX Runtime "ort", Apache TVM "tvm", and the
// frameworks "torch", "tflite", "openvino", "tf", "keras"): each Prepare() starts a worker
// process (python adapters/worker.py --backend NAME) speaking the runtime protocol over its
// stdin/stdout, so a crash or hang in the runtime is a per-run error, not ours. Framework
// models (Model::is_framework) go to the worker by path; the formats a backend runs are the
// adapter's declaration (HELLO capabilities "formats", BackendInfo::formats).
//
// Where things come from: ort and tvm run in $CONCORD_PYTHON, else <repo>/.venv/bin/python;
// the framework backends in their family's venv (torch, tflite, openvino: .venv-torch; tf,
// keras: .venv-tf; $CONCORD_PYTHON_TORCH / $CONCORD_PYTHON_TF override), made by
// scripts/setup_venvs (a missing venv makes the backend unavailable, naming that command); the
// adapters folder is $CONCORD_ADAPTERS, else <repo>/adapters, where <repo> is found from the
// executable's location (build/bin/.. /..) with the source folder of this build as fallback.
// The worker's stderr goes to an unlinked temporary file; what it wrote during a failed request
// (first and last lines) is quoted in the error.
//
// Env options and devices are the adapter's own: each adapter declares them once
// (adapters/adapter.py) and the worker sends that declaration in its HELLO reply, which is
// what Info() shows and what Prepare() checks an env against before MODEL: an option the
// adapter does not declare, an integer option out of range or an unknown device is
// Error(kUsage) naming it and the known ones. Besides those, timeout=SECONDS (a limit on each
// MODEL and run reply; default 600 s for MODEL, 300 s per run; the start-up HELLO always gets
// 30 s). The env reaches the worker as JSON {backend, device, options} (EnvToWire).
//
// Tensors: the session creates a shared-memory region (protocol/shared_region.h), hands it to
// the worker as descriptor 3 and offers it in HELLO; a worker that maps it gets tensors in it,
// not through the pipe (protocol_session.h). The region has no name (memfd) and is released
// with the session or as soon as the worker is found dead. CONCORD_WORKER_SHM=0 turns the offer
// off (the serialized path, as for remote targets). isolate=1 workers keep the pipe.
//
// Failure contract: an ERROR the worker answers keeps its kind (unsupported/usage/input/
// runtime) and the session stays usable. A worker that dies (exit or signal), hangs past the
// timeout (it is killed) or sends a malformed or out-of-order reply is Error(kRuntime) naming
// the env, the exit status or signal and the worker's stderr; that session is then dead and
// every later call says so, while a new Prepare() starts a fresh worker. Destroying a session
// sends BYE, waits a short grace period and SIGKILLs a worker that has not exited.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace concord {

std::vector<std::unique_ptr<Backend>> MakeWorkerBackends();

// Crash isolation for any env (isolate=1): runs `concord worker` (this executable) as a child
// process serving the env without isolate= over stdio, so a segfault or hang inside a native
// library (OpenCV, BLAS, ref itself) becomes Error(kRuntime) for this session only.
// timeout=SECONDS bounds prepare and each run. The worker is this binary (`/proc/self/exe
// worker`) unless CONCORD_WORKER_BIN names another concord binary (for test programs).
std::unique_ptr<Session> PrepareIsolatedSession(const Model& model, const EnvSpec& env);

// What every worker-backed Session also offers (tests and run records reach it by
// dynamic_cast): the worker's HELLO and MODEL replies, its STATS, and its process id.
class WorkerSession : public Session {
 public:
  // HELLO reply: {version, server, capabilities, versions}.
  virtual const nlohmann::json& server_hello() const = 0;
  // MODEL reply: {prepare_ms, compile_ms?, cache_hit?, effective_env, ...}.
  virtual const nlohmann::json& prepare_info() const = 0;
  // STATS round trip: {inference_ms, count, cpu_percent, rss_bytes, peak_rss_bytes}.
  virtual nlohmann::json Stats() = 0;
  virtual int pid() const = 0;
  // True while tensors travel in shared memory rather than through the pipe (the worker
  // accepted the offer; CONCORD_WORKER_SHM=0 turns the offer off).
  virtual bool uses_shared_memory() const = 0;
  // Empty while the worker serves; otherwise why it is gone, starting with "worker crashed",
  // "worker hung" or "worker sent a malformed" (fuzzing classifies findings by it).
  virtual const std::string& failure() const = 0;
};

// The device a session's runtime reported running on (a worker's MODEL reply "device", e.g.
// "cuda:0 NVIDIA H200 (143771 MiB)"); "" where the session reported none (CPU envs).
std::string ReportedDevice(const Session& session);

// How a session's tensors reach its runtime: "shared memory" or "pipe" (a worker process),
// "network" (a remote target, host=), "in process" (every other session).
std::string SessionTransport(const Session& session);

// The Python interpreter and adapters folder worker processes use (CONCORD_PYTHON and
// CONCORD_ADAPTERS override them), for other tools that run a Python helper the same way.
std::string WorkerPythonPath();
std::string WorkerAdaptersDir();
// The Python interpreter that runs `backend`'s worker on ONNX models (its venv), the main one
// for backends that are not Python workers.
std::string WorkerPythonFor(const std::string& backend);

}  // namespace concord
