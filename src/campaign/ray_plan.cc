#include "campaign/ray_plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/backend.h"
#include "backends/worker_backend.h"
#include "ir/error.h"

namespace concord {

namespace fs = std::filesystem;
using json = nlohmann::json;

json RayResources::ToJson() const {
  return {{"num_cpus", num_cpus}, {"num_gpus", num_gpus}, {"resources", custom}};
}

RayResources RayResourcesFor(const EnvSpec& env) {
  RayResources r;
  if (env.threads() > 0) r.num_cpus = env.threads();
  const std::string& d = env.device;
  if (d.rfind("cuda", 0) == 0 || d.rfind("gpu", 0) == 0) r.num_gpus = 1;
  if (d.rfind("opencl", 0) == 0) r.custom["opencl"] = 1;
  std::string host = env.Get("host");
  if (!host.empty()) {
    size_t colon = host.rfind(':');
    r.custom["board:" + host.substr(0, colon)] = 1;
  }
  return r;
}

RayResources RayResourcesForAll(const std::vector<EnvSpec>& envs) {
  RayResources all;
  for (const EnvSpec& e : envs) {
    RayResources r = RayResourcesFor(e);
    all.num_cpus = std::max(all.num_cpus, r.num_cpus);
    all.num_gpus = std::max(all.num_gpus, r.num_gpus);
    for (const auto& [k, v] : r.custom) all.custom[k] = std::max(all.custom[k], v);
  }
  return all;
}

void ValidateClusterEnvs(const std::vector<EnvSpec>& envs) {
  std::map<std::string, BackendInfo> infos;
  std::vector<std::string> problems;
  for (const EnvSpec& env : envs) {
    try {
      if (!env.Get("host").empty()) {
        ValidateEnv(env);
        continue;
      }
      auto it = infos.find(env.backend);
      if (it == infos.end())
        it = infos.emplace(env.backend, FindBackend(env.backend)->Info()).first;
      BackendInfo info = it->second;
      if (info.unavailable_devices.erase(env.device) > 0) info.devices.push_back(env.device);
      std::string isolate = env.Get("isolate", "0");
      if (isolate != "0" && isolate != "1") {
        Fail(ErrorKind::kUsage, "{}: isolate must be 0 or 1 (got '{}')", env.ToString(), isolate);
      }
      EnvTimeoutSeconds(env);
      CheckEnvAgainst(env, info);
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

std::string ConcordBinaryPath() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) Fail(ErrorKind::kInternal, "cannot find this program's path: {}", ec.message());
  return exe.string();
}

namespace {

json PlanJson(const RayCampaign& c) {
  json tasks = json::array();
  for (const RayTask& t : c.tasks) {
    tasks.push_back({{"key", t.key},
                     {"label", t.label},
                     {"args", t.args},
                     {"out_dir", t.out_dir},
                     {"resources", t.resources.ToJson()},
                     {"done", t.done}});
  }
  return {{"address", c.address},   {"kind", c.kind},
          {"store", c.store},       {"concord", ConcordBinaryPath()},
          {"progress", c.progress}, {"quiet", c.quiet},
          {"tasks", tasks}};
}

// Runs argv with stdout sent to stderr (stdout carries only the command's own --json) and
// returns its wait status.
int Spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) Fail(ErrorKind::kRuntime, "ray: cannot fork: {}", std::strerror(errno));
  if (pid == 0) {
    // The driver goes with this process (SIGTERM: it shuts its cluster connection or its
    // throwaway local cluster down first).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "ray: cannot run %s: %s (run scripts/setup)\n", argv[0],
                 std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

namespace {

RayOutcome RunDriver(const RayCampaign& c) {
  if (c.address.empty()) Fail(ErrorKind::kUsage, "--ray needs HOST:PORT or 'local'");
  std::string tmpl = (fs::temp_directory_path() / "concord-ray-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    Fail(ErrorKind::kRuntime, "ray: cannot create a temporary folder: {}", std::strerror(errno));
  }
  fs::path dir = tmpl;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  std::ofstream(dir / "plan.json") << PlanJson(c).dump(2);
  std::string driver = (fs::path(WorkerAdaptersDir()) / "ray_driver.py").string();
  int status = Spawn(
      {WorkerPythonPath(), driver, (dir / "plan.json").string(), (dir / "result.json").string()});
  RayOutcome out;
  std::ifstream in(dir / "result.json");
  if (in) {
    try {
      out.result = json::parse(in);
    } catch (const json::parse_error&) {
      out.result = nullptr;
    }
  }
  if (!WIFEXITED(status)) {
    Fail(ErrorKind::kRuntime,
         "ray: the driver {} was killed by signal {}; rerun the command to "
         "resume",
         driver, WTERMSIG(status));
  }
  out.exit_code = WEXITSTATUS(status);
  if (out.result.is_object() && out.result.contains("error")) {
    Fail(out.exit_code == 2 ? ErrorKind::kUsage : ErrorKind::kRuntime, "ray: {}",
         out.result["error"].get<std::string>());
  }
  if (!out.result.is_object() || (out.exit_code != 0 && out.exit_code != 1)) {
    Fail(ErrorKind::kRuntime,
         "ray: the driver {} exited with status {} without a result (its messages are above)",
         driver, out.exit_code);
  }
  return out;
}

}  // namespace

RayOutcome RunRayDriver(const RayCampaign& c) {
  try {
    return RunDriver(c);
  } catch (const Error& e) {
    // A usage error comes before any task ran: leave no store behind.
    if (c.fresh_store && e.kind() == ErrorKind::kUsage) {
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(c.store + suffix, ec);
    }
    throw;
  }
}

}  // namespace concord
