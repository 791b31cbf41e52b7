// concord: build, run, compare, localize and repair DNNs across computational environments.
// One file per subcommand; this file wires them up and maps errors to exit codes (errors.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

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

// oneDNN's OpenMP threads (the dnnl env) busy-wait about 300,000 spins after each parallel
// region by default: on a machine whose cores are shared (other processes, ref's OpenBLAS
// threads), a spinning thread holds the core the next region waits for, and a 0.1 ms model took
// 200 ms. libgomp reads its settings once, before main; so unless the user chose a policy,
// concord restarts itself once with a short spin (enough to bridge consecutive primitives),
// then takes the setting out of the environment again so that the runtimes it starts (PyTorch
// workers use libgomp too) see the user's environment.
void UseShortOpenMpSpin(char** argv) {
  constexpr const char* kMarker = "CONCORD_SHORT_OMP_SPIN";
  if (std::getenv(kMarker)) {
    unsetenv(kMarker);
    unsetenv("GOMP_SPINCOUNT");
    return;
  }
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("GOMP_SPINCOUNT", "10000", 1);
  setenv(kMarker, "1", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the default spin
  unsetenv(kMarker);
  unsetenv("GOMP_SPINCOUNT");
}

}  // namespace

int main(int argc, char** argv) {
  UseShortOpenMpSpin(argv);
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
