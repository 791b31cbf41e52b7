// concord: build, run, compare, localize and repair DNNs across computational environments.
// One file per subcommand; this file wires them up and maps errors to exit codes (errors.h).
#include <cblas.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "tools/concord/common.h"
#include "tools/concord/errors.h"

namespace {

using namespace concord::cli;

std::vector<Command> MakeCommands(CLI::App& root) {
  return {
      MakeRunCommand(root),      MakeInspectCommand(root),    MakeConformanceCommand(root),
      MakeEnvsCommand(root),     MakeCompareCommand(root),    MakeBenchCommand(root),
      MakeMatrixCommand(root),   MakeReportCommand(root),     MakeGenCommand(root),
      MakeFuzzCommand(root),     MakeFuzzReportCommand(root), MakeReduceCommand(root),
      MakeLocalizeCommand(root), MakeRepairCommand(root),     MakeConvertCommand(root),
      MakeServeCommand(root),    MakeMergeCommand(root),      MakeWorkerCommand(root),
  };
}

// Runs the chosen subcommand; every exception becomes a reported error with its exit code.
int RunChosen(std::vector<Command>& commands, bool json) {
  try {
    for (auto& c : commands) {
      if (c.app->parsed()) return c.run();
    }
    return ReportError(concord::ErrorKind::kUsage, "no subcommand given", json);
  } catch (const concord::Error& e) {
    return ReportError(e.kind(), e.what(), json);
  } catch (const std::bad_alloc&) {
    return ReportError(concord::ErrorKind::kInput, "out of memory (model or inputs too large)",
                       json);
  } catch (const std::exception& e) {
    return ReportError(concord::ErrorKind::kInternal, e.what(), json);
  }
}

// OpenBLAS (ref's GEMM) picks its kernels by CPU model once, when it loads; 0.3.21 (Debian 12)
// does not know CPUs newer than it (Sapphire/Emerald Rapids: model 0x8f, 0xcf) and falls back
// to its generic "Prescott" SSE3 kernels, 2.5x slower on ResNet-18-shaped. The OpenBLAS core
// for such a CPU, chosen by its features; "" when the detected core is right or the user chose.
std::string OpenBlasCoreFix() {
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  if (std::string(openblas_get_corename()) != "Prescott") return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

// Settings libraries read once, before main, which concord restarts itself once to give them:
//  - oneDNN's OpenMP threads (the dnnl env) busy-wait about 300,000 spins after each parallel
//    region by default: on a machine whose cores are shared (other processes, ref's OpenBLAS
//    threads), a spinning thread holds the core the next region waits for, and a 0.1 ms model
//    took 200 ms. Unless the user chose a policy: a short spin (enough to bridge consecutive
//    primitives).
//  - OpenBLAS's kernels on a CPU it does not know (OpenBlasCoreFix).
// After the restart the settings are taken out of the environment again, so that the runtimes
// concord starts (PyTorch workers use libgomp too; numpy has its own OpenBLAS) see the user's.
void RestartWithLibrarySettings(char** argv) {
  constexpr const char* kMarker = "CONCORD_LIBRARY_SETTINGS";
  if (const char* set = std::getenv(kMarker)) {
    std::string names = set;
    for (size_t b = 0, e; b < names.size(); b = e + 1) {
      e = names.find(',', b);
      if (e == std::string::npos) e = names.size();
      unsetenv(names.substr(b, e - b).c_str());
    }
    unsetenv(kMarker);
    return;
  }
  std::vector<std::pair<std::string, std::string>> settings;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT"))
    settings.emplace_back("GOMP_SPINCOUNT", "10000");
  if (std::string core = OpenBlasCoreFix(); !core.empty())
    settings.emplace_back("OPENBLAS_CORETYPE", core);
  if (settings.empty()) return;
  std::string names;
  for (const auto& [k, v] : settings) {
    setenv(k.c_str(), v.c_str(), 1);
    names += (names.empty() ? "" : ",") + k;
  }
  setenv(kMarker, names.c_str(), 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the defaults
  unsetenv(kMarker);
  for (const auto& [k, v] : settings) unsetenv(k.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  RestartWithLibrarySettings(argv);
  CLI::App root{"concord: run, compare, localize and repair neural networks across environments"};
  root.require_subcommand(1);
  root.set_version_flag("--version", std::string("concord ") + CONCORD_VERSION);
  root.footer(
      "Exit codes: 0 ran and agreed, 1 ran and found a divergence, failure or findings,\n"
      "2 usage or input error (with --json, errors are one JSON document on stdout).\n"
      "Run `concord COMMAND --help` for details.");
  std::vector<Command> commands = MakeCommands(root);
  spdlog::set_pattern("%^%l%$: %v");
  // Peers (workers, remote clients) may vanish; a write to them must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  bool json = JsonRequested(argc, argv);
  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    return ReportError(concord::ErrorKind::kUsage, ExplainParseError(root, e, argc, argv), json);
  }
  return RunChosen(commands, json);
}
