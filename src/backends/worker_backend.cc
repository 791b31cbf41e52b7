#include "backends/worker_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "backends/protocol_session.h"
#include "ir/display_path.h"

extern char** environ;

namespace concord {

namespace {

namespace fs = std::filesystem;

constexpr int kExitGraceMs = 2000;      // after BYE, before SIGKILL
constexpr int kDeathWaitMs = 2000;      // after EOF, for the exit status to appear
constexpr int kProbeTimeoutMs = 60000;  // version probe (imports tvm: seconds on a busy box)
constexpr size_t kStderrHeadLines = 8;
constexpr size_t kStderrTailLines = 8;
// Shared memory a worker session starts with (pages are only allocated when written; it grows
// when a run's tensors do not fit).
constexpr uint64_t kSharedInitialBytes = 4ull << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// CONCORD_WORKER_SHM=0 keeps tensors on the pipe (serialized) for local workers too.
bool SharedMemoryEnabled() {
  const char* v = std::getenv("CONCORD_WORKER_SHM");
  return v == nullptr || std::string(v) != "0";
}

// <repo>: two levels above the executable (build/bin/concord) when that folder holds
// adapters/worker.py, else the source folder this build was configured from.
std::string RepoDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path repo = exe.parent_path().parent_path().parent_path();
    if (fs::exists(repo / "adapters" / "worker.py", ec)) return repo.string();
  }
  return CONCORD_SOURCE_DIR;
}

std::string PythonPath() {
  const char* p = std::getenv("CONCORD_PYTHON");
  if (p != nullptr && *p != '\0') return p;
  return (fs::path(RepoDir()) / ".venv" / "bin" / "python").string();
}

// A framework family's Python: $CONCORD_PYTHON_<FAMILY> (e.g. CONCORD_PYTHON_TORCH), else
// <repo>/.venv-<family>/bin/python (scripts/setup_venvs links it).
std::string FamilyPythonPath(const std::string& family) {
  if (family.empty()) return PythonPath();
  std::string var = "CONCORD_PYTHON_";
  for (char c : family) var += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const char* p = std::getenv(var.c_str());
  if (p != nullptr && *p != '\0') return p;
  return (fs::path(RepoDir()) / (".venv-" + family) / "bin" / "python").string();
}

std::string AdaptersDir() {
  const char* p = std::getenv("CONCORD_ADAPTERS");
  if (p != nullptr && *p != '\0') return p;
  return (fs::path(RepoDir()) / "adapters").string();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return fmt::format("was killed by signal {} (SIG{}: {})", sig, abbrev ? abbrev : "?",
                       strsignal(sig));
  }
  return fmt::format("ended with wait status {}", status);
}

// A child process with pipes on stdin/stdout and stderr in an unlinked temporary file. The
// child leads its own process group so that killing it also kills anything it started.
class ChildProcess {
 public:
  // Starts argv[0] (searched in PATH when it has no '/') with the current environment plus
  // `extra_env` ("KEY=VALUE"); `inherit_fd` >= 0 is handed to the child as descriptor
  // kInheritedFd. Throws Error(kRuntime) when the process cannot be started.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
               int inherit_fd = -1) {
    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0)
      Fail(ErrorKind::kRuntime, "pipe: {}", std::strerror(errno));
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
      ::close(in_pipe[0]);
      ::close(in_pipe[1]);
      Fail(ErrorKind::kRuntime, "pipe: {}", std::strerror(errno));
    }
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl =
        fmt::format("{}/concord-worker-stderr-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    stderr_fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (stderr_fd_ >= 0) ::unlink(tmpl.c_str());

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      std::string key = kv.substr(0, kv.find('='));
      bool overridden = false;
      for (const auto& x : extra_env) overridden |= StartsWith(x, key + "=");
      if (!overridden) env_strings.push_back(std::move(kv));
    }
    for (const auto& x : extra_env) env_strings.push_back(x);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    if (stderr_fd_ >= 0) {
      posix_spawn_file_actions_adddup2(&actions, stderr_fd_, 2);
    } else {
      posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    }
    // dup2 clears close-on-exec on the copy (also when the numbers are equal: glibc >= 2.29).
    if (inherit_fd >= 0) posix_spawn_file_actions_adddup2(&actions, inherit_fd, kInheritedFd);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t no_signals, default_signals;
    sigemptyset(&no_signals);
    sigemptyset(&default_signals);
    sigaddset(&default_signals, SIGPIPE);
    sigaddset(&default_signals, SIGINT);
    sigaddset(&default_signals, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &no_signals);
    posix_spawnattr_setsigdefault(&attr, &default_signals);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    int rc = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    if (rc != 0) {
      ::close(in_pipe[1]);
      ::close(out_pipe[0]);
      if (stderr_fd_ >= 0) ::close(stderr_fd_);
      pid_ = -1;
      Fail(ErrorKind::kRuntime, "cannot start {}: {}", argv[0], std::strerror(rc));
    }
    write_fd_ = in_pipe[1];
    read_fd_ = out_pipe[0];
  }

  ~ChildProcess() {
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0) ::close(write_fd_);
    if (!WaitExit(kExitGraceMs)) Kill();
    if (stderr_fd_ >= 0) ::close(stderr_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The descriptor number the child sees `inherit_fd` as.
  static constexpr int kInheritedFd = 3;

  int pid() const { return pid_; }
  // The pipe ends, handed over once to whoever owns them from then on (a Channel).
  int TakeReadFd() { return std::exchange(read_fd_, -1); }
  int TakeWriteFd() { return std::exchange(write_fd_, -1); }

  bool exited() {
    if (!exited_ && pid_ > 0) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = status;
      }
    }
    return exited_;
  }
  // Waits up to timeout_ms for the child to end; true if it did.
  bool WaitExit(int timeout_ms) {
    int64_t deadline = NowMs() + timeout_ms;
    while (!exited()) {
      if (NowMs() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  void Kill() {
    if (pid_ <= 0 || exited()) return;
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
    status_ = status;
  }
  std::string StatusText() const {
    return exited_ ? DescribeWaitStatus(status_) : std::string("is still running");
  }

  // Bytes the child has written to stderr so far.
  off_t StderrSize() const {
    struct stat st {};
    if (stderr_fd_ < 0 || ::fstat(stderr_fd_, &st) != 0) return 0;
    return st.st_size;
  }
  // What the child wrote to stderr since `offset`: all of it when short, else its first and
  // last lines (runtimes print long native backtraces after the line that matters).
  std::string StderrSince(off_t offset) const {
    off_t size = StderrSize();
    if (size <= offset) return "";
    size_t n = static_cast<size_t>(std::min<off_t>(size - offset, 1 << 20));
    std::string buf(n, '\0');
    ssize_t got = ::pread(stderr_fd_, buf.data(), n, size - static_cast<off_t>(n));
    if (got <= 0) return "";
    buf.resize(static_cast<size_t>(got));
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < buf.size();) {
      size_t nl = buf.find('\n', pos);
      std::string line = buf.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (line.size() > 300) line = line.substr(0, 300) + " ...";
      if (!line.empty()) lines.push_back(std::move(line));
      pos = nl == std::string::npos ? buf.size() : nl + 1;
    }
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines.size() > kStderrHeadLines + kStderrTailLines && i == kStderrHeadLines) {
        out += fmt::format("    ... ({} lines left out)\n",
                           lines.size() - kStderrHeadLines - kStderrTailLines);
        i = lines.size() - kStderrTailLines;
      }
      out += "    " + lines[i] + "\n";
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
  int stderr_fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

struct BackendSpec {
  const char* name;
  const char* package;      // distribution name shown in the version line
  const char* version_key;  // the runtime's key in the worker's HELLO "versions"
  const char* description;
  const char* family;  // "": the main .venv; else the framework venv .venv-<family>
  // The venv whose Python runs this backend's worker for a framework file (tvm: the tvmtorch
  // overlay, where TVM's PyTorch and TFLite frontends find torch and `tflite`); "": `family`.
  const char* framework_family = "";
};

const BackendSpec kOrt{
    "ort", "onnxruntime", "onnxruntime",
    "ONNX Runtime, CPU execution provider (Python worker: adapters/ort_adapter.py; taps)", ""};
const BackendSpec kTvm{"tvm",
                       "apache-tvm",
                       "tvm",
                       "Apache TVM Relax: ONNX (from_onnx), torch.export and TFLite (TVM's own "
                       "frontends, in the tvmtorch venv) -> the opt level's passes "
                       "(tvm_pipeline.py) -> relax.VirtualMachine (Python worker: "
                       "adapters/tvm_adapter.py; compiled models cached)",
                       "",
                       "tvmtorch"};
const BackendSpec kTorch{"torch", "torch", "torch",
                         "PyTorch on CPU: TorchScript (.pt) and torch.export (.pt2) models, eager "
                         "or torch.compile (adapters/torch_adapter.py; taps by module path)",
                         "torch"};
const BackendSpec kTflite{"tflite", "ai-edge-litert", "ai-edge-litert",
                          "LiteRT (TFLite) interpreter, XNNPACK on or off "
                          "(adapters/tflite_adapter.py; taps of every tensor, dequantized)",
                          "torch"};
const BackendSpec kOpenVino{"openvino", "openvino", "openvino",
                            "OpenVINO CPU plugin: IR (.xml+.bin) and ONNX models, f32 unless "
                            "precision= says otherwise (adapters/openvino_adapter.py; taps)",
                            "torch"};
const BackendSpec kTf{"tf", "tensorflow-cpu", "tensorflow",
                      "TensorFlow on CPU: SavedModel folders and .keras files, eager, tf.function "
                      "or XLA (adapters/tf_adapter.py; taps by layer name)",
                      "tf"};
const BackendSpec kKeras{"keras", "keras", "keras",
                         "Keras 3 (TensorFlow backend) on CPU: .keras files and SavedModel "
                         "folders, as tf (adapters/tf_adapter.py; taps by layer name)",
                         "tf"};

// What a worker declares in its HELLO reply's "capabilities" (adapters/adapter.py): the env
// options its adapter accepts, how opt maps to the runtime's levels, and its devices.
struct Declaration {
  nlohmann::json options = nlohmann::json::array();  // [{name, type, allowed, min?, max?, ...}]
  std::string opt_mapping;
  std::vector<std::string> devices;            // the devices the adapter knows
  std::vector<std::string> available_devices;  // those this machine has
  std::vector<std::string> formats;            // model formats it runs (ModelFormatName)
  std::map<std::string, std::string> unavailable_devices;  // known, not here -> why
  nlohmann::json versions = nlohmann::json::object();
};

std::vector<std::string> StringList(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& x : j)
    if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

Declaration ReadDeclaration(const nlohmann::json& hello) {
  Declaration d;
  const nlohmann::json caps = hello.value("capabilities", nlohmann::json::object());
  if (!caps.is_object()) return d;
  if (caps.contains("options") && caps["options"].is_array()) {
    for (const auto& o : caps["options"])
      if (o.is_object() && o.contains("name") && o["name"].is_string()) d.options.push_back(o);
  }
  d.opt_mapping = caps.value("opt_mapping", std::string());
  d.devices = StringList(caps.value("devices", nlohmann::json::array()));
  d.available_devices = StringList(caps.value("available_devices", nlohmann::json::array()));
  d.formats = StringList(caps.value("formats", nlohmann::json::array({"onnx"})));
  const nlohmann::json missing = caps.value("unavailable_devices", nlohmann::json::object());
  if (missing.is_object()) {
    for (const auto& [device, why] : missing.items())
      if (why.is_string()) d.unavailable_devices[device] = why.get<std::string>();
  }
  if (hello.contains("versions") && hello["versions"].is_object()) d.versions = hello["versions"];
  return d;
}

// The adapter's declared options as BackendInfo options, plus the client-side timeout= every
// worker backend takes (it configures the client, not the runtime).
std::vector<BackendOption> DeclaredOptions(const Declaration& d) {
  std::vector<BackendOption> out;
  for (const auto& o : d.options) {
    BackendOption b{o.value("name", std::string()), o.value("type", std::string()),
                    o.value("allowed", std::string()), o.value("default", std::string()),
                    o.value("help", std::string())};
    if (b.type == "int" && o.contains("min") && o.contains("max")) {
      b.min = o.value("min", int64_t{0});
      b.max = o.value("max", int64_t{-1});
    }
    out.push_back(std::move(b));
  }
  out.push_back({"timeout", "str", "", "",
                 "seconds allowed for MODEL (600) and each run (300); the worker is killed past "
                 "it"});
  return out;
}

// Checks `env` against the worker's HELLO declaration (the devices and options the adapter
// knows): Error(kUsage) as ValidateEnv gives.
void CheckEnv(const EnvSpec& env, const Declaration& d) {
  BackendInfo info;
  info.devices = d.devices;
  info.unavailable_devices = d.unavailable_devices;
  info.options = DeclaredOptions(d);
  CheckEnvAgainst(env, info);
}

// The worker's command line; `framework`: for a framework file, whose worker runs in the
// spec's framework_family venv where it has one.
std::vector<std::string> WorkerArgv(const BackendSpec& spec, bool framework = false) {
  const char* family = framework && *spec.framework_family ? spec.framework_family : spec.family;
  return {FamilyPythonPath(family), "-u", (fs::path(AdaptersDir()) / "worker.py").string(),
          "--backend", spec.name};
}

const std::vector<std::string> kWorkerEnv = {"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"};

struct Probe {
  bool ok = false;
  std::string reason;
  Declaration declaration;
};

// Starts the worker, reads its HELLO reply (versions and the adapter's declaration) and says BYE.
Probe RunProbe(const BackendSpec& spec, const std::string& python, const std::string& adapters) {
  Probe probe;
  if (python.find('/') != std::string::npos && !IsExecutable(python)) {
    std::string family = spec.family;
    probe.reason =
        family.empty()
            ? fmt::format(
                  "no Python at {} (run scripts/setup to create .venv, or set "
                  "CONCORD_PYTHON)",
                  python)
            : fmt::format(
                  "no Python at {}: the {} venv is missing (run `scripts/setup_venvs {}`, "
                  "or set CONCORD_PYTHON_{})",
                  python, family, family, family == "tf" ? "TF" : "TORCH");
  } else if (!fs::exists(fs::path(adapters) / "worker.py")) {
    probe.reason = fmt::format(
        "no {}/worker.py (set CONCORD_ADAPTERS to Concord's adapters folder)", adapters);
  } else {
    try {
      ChildProcess child(WorkerArgv(spec), kWorkerEnv);
      std::string peer = fmt::format("{} worker (pid {})", spec.name, child.pid());
      protocol::Channel channel(child.TakeReadFd(), child.TakeWriteFd(), peer, /*owns_fds=*/true);
      protocol::Message hello;
      hello.type = protocol::MessageType::kHello;
      hello.meta = {{"version", protocol::kVersion}, {"client", "concord"}};
      protocol::Message reply = channel.Call(hello, kProbeTimeoutMs);
      protocol::Message bye;
      bye.type = protocol::MessageType::kBye;
      channel.Send(bye);
      if (reply.type != protocol::MessageType::kHello) {
        probe.reason =
            fmt::format("{} answered {} to HELLO", peer, protocol::MessageTypeName(reply.type));
      } else {
        probe.ok = true;
        probe.declaration = ReadDeclaration(reply.meta);
      }
    } catch (const Error& e) {
      probe.reason = fmt::format("{} (needs {}, onnx and numpy; run {})", e.what(), spec.package,
                                 *spec.family ? fmt::format("scripts/setup_venvs {}", spec.family)
                                              : std::string("scripts/setup"));
    }
  }
  return probe;
}

// RunProbe once per process per (backend, python, adapters). Different backends probe in
// parallel (each probe is a Python start-up), callers of one key wait for its single probe.
Probe ProbeBackend(const BackendSpec& spec) {
  static std::mutex mu;
  static std::map<std::string, std::shared_future<Probe>> cache;
  std::string python = FamilyPythonPath(spec.family);
  std::string adapters = AdaptersDir();
  std::string key = fmt::format("{}\n{}\n{}", spec.name, python, adapters);
  std::promise<Probe> promise;
  std::shared_future<Probe> result;
  bool mine = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    mine = it == cache.end();
    result = mine ? cache.emplace(key, promise.get_future().share()).first->second : it->second;
  }
  if (mine) {
    try {
      promise.set_value(RunProbe(spec, python, adapters));
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
  }
  return result.get();
}

std::string DescribeCommand(const std::vector<std::string>& argv) {
  return fmt::format("{}", fmt::join(argv, " "));
}

class WorkerSessionImpl : public WorkerSession {
 public:
  WorkerSessionImpl(const Model& model, const EnvSpec& env, const EnvSpec& worker_env,
                    std::vector<std::string> argv, std::vector<std::string> extra_env,
                    const ProtocolSessionOptions& options, bool offer_shared_memory)
      : env_text_(env.ToString()), argv_(std::move(argv)), options_(options) {
    ProtocolSessionOptions inner_options = options;
    if (offer_shared_memory && SharedMemoryEnabled()) {
      inner_options.shared_memory =
          protocol::SharedRegion::Create(kSharedInitialBytes, "concord-worker");
      inner_options.shared_memory_fd = ChildProcess::kInheritedFd;
    }
    int inherit = inner_options.shared_memory ? inner_options.shared_memory->fd() : -1;
    proc_ = std::make_unique<ChildProcess>(argv_, extra_env, inherit);
    peer_ = fmt::format("{} worker (pid {})", env_text_, proc_->pid());
    auto channel =
        std::make_unique<protocol::Channel>(proc_->TakeReadFd(), proc_->TakeWriteFd(), peer_,
                                            /*owns_fds=*/true);
    try {
      inner_ = std::make_unique<ProtocolSession>(std::move(channel), model, worker_env,
                                                 std::move(inner_options));
    } catch (const Error& e) {
      Rethrow(e, "prepare (HELLO/MODEL)",
              fmt::format("{} ms for HELLO, {} ms for MODEL", options.hello_timeout_ms,
                          options.prepare_timeout_ms));
    }
  }

  ~WorkerSessionImpl() override {
    inner_.reset();  // BYE, then our pipe ends close
    proc_.reset();   // waits kExitGraceMs, then SIGKILL
  }

  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override {
    CheckAlive();
    request_stderr_offset_ = proc_->StderrSize();
    try {
      return inner_->Run(inputs, timing);
    } catch (const Error& e) {
      Rethrow(e, "run", fmt::format("{} ms", options_.run_timeout_ms));
    }
  }
  void BindInputs(const ValueMap& inputs) override {
    CheckAlive();
    try {
      inner_->BindInputs(inputs);
    } catch (const Error& e) {
      Rethrow(e, "bind inputs", fmt::format("{} ms", options_.run_timeout_ms));
    }
  }
  std::vector<Value> RunBound(RunTiming* timing) override {
    CheckAlive();
    request_stderr_offset_ = proc_->StderrSize();
    try {
      return inner_->RunBound(timing);
    } catch (const Error& e) {
      Rethrow(e, "run", fmt::format("{} ms", options_.run_timeout_ms));
    }
  }
  void SetLowLatency(bool on) override {
    if (inner_) inner_->SetLowLatency(on);
  }
  bool supports_taps() const override { return inner_ && inner_->supports_taps(); }
  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                 RunTiming* timing) override {
    CheckAlive();
    request_stderr_offset_ = proc_->StderrSize();
    try {
      return inner_->RunWithTaps(inputs, taps, timing);
    } catch (const Error& e) {
      Rethrow(e, "run with taps", fmt::format("{} ms", options_.run_timeout_ms));
    }
  }
  std::string effective_env() const override {
    return inner_ ? inner_->effective_env() : env_text_;
  }

  const nlohmann::json& server_hello() const override { return inner_->server_hello(); }
  const nlohmann::json& prepare_info() const override { return inner_->prepare_info(); }
  nlohmann::json Stats() override {
    CheckAlive();
    request_stderr_offset_ = proc_->StderrSize();
    try {
      return inner_->Stats();
    } catch (const Error& e) {
      Rethrow(e, "STATS", fmt::format("{} ms", options_.run_timeout_ms));
    }
  }
  int pid() const override { return proc_ ? proc_->pid() : -1; }
  bool uses_shared_memory() const override { return inner_ && inner_->uses_shared_memory(); }
  const std::string& failure() const override { return dead_; }
  bool supports_reload() const override { return true; }
  void Reload(const Model& model) override {
    CheckAlive();
    request_stderr_offset_ = proc_->StderrSize();
    try {
      inner_->Reload(model);
    } catch (const Error& e) {
      Rethrow(e, "prepare (MODEL)", fmt::format("{} ms", options_.prepare_timeout_ms));
    }
  }

 private:
  void CheckAlive() {
    if (!dead_.empty()) {
      Fail(ErrorKind::kRuntime, "{}: this session's worker is gone ({}); prepare a new session",
           env_text_, dead_);
    }
  }

  // Channel/ProtocolSession failures that mean the worker itself broke, as opposed to an ERROR
  // it answered (which keeps its kind and leaves the session usable).
  bool IsTransportFailure(const std::string& what, bool* timed_out, bool* closed) const {
    *timed_out = what == peer_ + ": timed out waiting for a reply";
    *closed = StartsWith(what, peer_ + ": connection closed") ||
              StartsWith(what, peer_ + ": connection lost") ||
              StartsWith(what, peer_ + ": read failed");
    return *timed_out || *closed || StartsWith(what, peer_ + ": expected ") ||
           StartsWith(what, peer_ + ": speaks protocol version") ||
           StartsWith(what, peer_ + ": OUTPUT lacks") || StartsWith(what, "protocol error: ");
  }

  [[noreturn]] void Rethrow(const Error& e, const char* stage, const std::string& limit) {
    std::string what = e.what();
    bool timed_out = false, closed = false;
    bool transport = IsTransportFailure(what, &timed_out, &closed);
    if (!transport && !proc_->exited()) throw e;  // the worker answered ERROR and lives on
    std::string cause;
    if (timed_out) {
      proc_->Kill();
      cause = fmt::format("hung: no reply within {}, so it was killed", limit);
    } else if (closed ? proc_->WaitExit(kDeathWaitMs) : proc_->exited()) {
      cause = fmt::format("crashed: it {}", proc_->StatusText());
    } else {
      proc_->Kill();
      cause = "sent a malformed or out-of-order reply, so it was killed";
    }
    std::string log = proc_->StderrSince(request_stderr_offset_);
    dead_ = fmt::format("worker {} during {}", cause, stage);
    if (inner_) inner_->ReleaseSharedMemory();  // the worker's mapping died with it
    Fail(ErrorKind::kRuntime, "{}: the worker {} during {} ({}).\n  worker: {}\n  {}", env_text_,
         cause, stage, what, DescribeCommand(argv_),
         log.empty() ? std::string("it wrote nothing to stderr meanwhile")
                     : "its stderr during the " + std::string(stage) + ":\n" + log);
  }

  std::string env_text_;
  std::vector<std::string> argv_;
  ProtocolSessionOptions options_;
  std::string peer_;
  std::string dead_;                    // why the worker is gone; empty while it serves
  off_t request_stderr_offset_ = 0;     // stderr size when the current request began
  std::unique_ptr<ChildProcess> proc_;  // destroyed after inner_
  std::unique_ptr<ProtocolSession> inner_;
};

class WorkerBackend : public Backend {
 public:
  explicit WorkerBackend(const BackendSpec& spec) : spec_(spec) {}
  std::string name() const override { return spec_.name; }

  BackendInfo Info() const override {
    BackendInfo info;
    info.name = spec_.name;
    info.description = spec_.description;
    Probe probe = ProbeBackend(spec_);
    info.available = probe.ok;
    info.unavailable_reason = probe.reason;
    const Declaration& d = probe.declaration;
    info.opt_mapping = d.opt_mapping;
    if (probe.ok) info.formats = d.formats;
    info.options = DeclaredOptions(d);
    auto str = [&](const char* k) {
      return d.versions.contains(k) && d.versions[k].is_string() ? d.versions[k].get<std::string>()
                                                                 : std::string("?");
    };
    info.version = fmt::format("{} {} (Python {}, onnx {}, numpy {}; worker {}/worker.py)",
                               spec_.package, str(spec_.version_key), str("python"), str("onnx"),
                               str("numpy"), DisplayPath(AdaptersDir()));
    info.devices = probe.ok ? d.available_devices : std::vector<std::string>{"cpu"};
    info.unavailable_devices = d.unavailable_devices;
    return info;
  }

  std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) override {
    ProtocolSessionOptions options;
    EnvSpec worker_env = env;
    if (double s = EnvTimeoutSeconds(env); s > 0) {
      int ms = static_cast<int>(s * 1000);
      options.prepare_timeout_ms = options.run_timeout_ms = std::max(ms, 1);
      worker_env.options.erase("timeout");
    }
    // The adapter declares its options and devices in HELLO; the env is checked against that
    // declaration before MODEL.
    options.check_hello = [env](const nlohmann::json& hello) {
      CheckEnv(env, ReadDeclaration(hello));
    };
    std::vector<std::string> extra_env = kWorkerEnv;
    if (env.threads() > 0 && spec_.name == std::string("tvm")) {
      extra_env.push_back(fmt::format("TVM_NUM_THREADS={}", env.threads()));
    }
    bool framework = model.format() != ModelFormat::kOnnx;
    std::vector<std::string> argv = WorkerArgv(spec_, framework);
    if (framework && *spec_.framework_family && argv.front().find('/') != std::string::npos &&
        !IsExecutable(argv.front())) {
      Fail(ErrorKind::kUsage,
           "{} runs {} models in the {} venv, which is missing (no {}): run `scripts/setup_venvs "
           "{}`",
           env.ToString(), ModelFormatName(model.format()), spec_.framework_family, argv.front(),
           spec_.framework_family);
    }
    return std::make_unique<WorkerSessionImpl>(model, env, worker_env, std::move(argv),
                                               std::move(extra_env), options,
                                               /*offer_shared_memory=*/true);
  }

 private:
  const BackendSpec& spec_;
};

}  // namespace

std::string ReportedDevice(const Session& session) {
  const auto* w = dynamic_cast<const WorkerSession*>(&session);
  if (w == nullptr) return "";
  const nlohmann::json& info = w->prepare_info();
  auto it = info.find("device");
  return it != info.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string SessionTransport(const Session& session) {
  if (const auto* w = dynamic_cast<const WorkerSession*>(&session))
    return w->uses_shared_memory() ? "shared memory" : "pipe";
  if (dynamic_cast<const ProtocolSession*>(&session) != nullptr) return "network";
  return "in process";
}

std::unique_ptr<Session> PrepareIsolatedSession(const Model& model, const EnvSpec& env) {
  ProtocolSessionOptions options;
  EnvSpec worker_env = env;
  worker_env.options.erase("isolate");
  if (double s = EnvTimeoutSeconds(env); s > 0) {
    options.prepare_timeout_ms = options.run_timeout_ms = std::max(static_cast<int>(s * 1000), 1);
    worker_env.options.erase("timeout");
  }
  // /proc/self/exe rather than the path it points to: it still starts this very binary when
  // the file was replaced on disk meanwhile (a rebuild during a long campaign). Programs that
  // are not `concord` (test binaries) name the concord binary in CONCORD_WORKER_BIN.
  const char* bin = std::getenv("CONCORD_WORKER_BIN");
  std::vector<std::string> argv = {bin != nullptr && *bin != '\0' ? bin : "/proc/self/exe",
                                   "worker"};
  return std::make_unique<WorkerSessionImpl>(model, env, worker_env, std::move(argv),
                                             std::vector<std::string>{}, options,
                                             /*offer_shared_memory=*/false);
}

std::vector<std::unique_ptr<Backend>> MakeWorkerBackends() {
  std::vector<std::unique_ptr<Backend>> all;
  all.push_back(std::make_unique<WorkerBackend>(kOrt));
  all.push_back(std::make_unique<WorkerBackend>(kTvm));
  for (const BackendSpec* spec : {&kTorch, &kTflite, &kOpenVino, &kTf, &kKeras})
    all.push_back(std::make_unique<WorkerBackend>(*spec));
  return all;
}

std::string WorkerPythonPath() { return PythonPath(); }

std::string WorkerPythonFor(const std::string& backend) {
  for (const BackendSpec* spec : {&kOrt, &kTvm, &kTorch, &kTflite, &kOpenVino, &kTf, &kKeras}) {
    if (backend == spec->name) return FamilyPythonPath(spec->family);
  }
  return PythonPath();
}
std::string WorkerAdaptersDir() { return AdaptersDir(); }

}  // namespace concord
