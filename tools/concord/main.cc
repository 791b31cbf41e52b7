// concord: build, run, compare, localize and repair DNNs across computational environments.
// One file per subcommand; this file wires them up and maps errors to exit codes (errors.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "backends/process_settings.h"
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

}  // namespace

int main(int argc, char** argv) {
  concord::RestartWithLibrarySettings(argv);
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
