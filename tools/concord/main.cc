// concord: build, run, compare, localize and repair DNNs across computational environments.
// One file per subcommand; this file wires them up and maps errors to exit codes.
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "tools/concord/common.h"

int main(int argc, char** argv) {
  using namespace concord::cli;
  CLI::App root{"concord: run, compare, localize and repair neural networks across environments"};
  root.require_subcommand(1);
  root.set_version_flag("--version", std::string("concord ") + CONCORD_VERSION);
  root.footer("Exit codes: 0 ok, 1 divergence or failure found, 2 usage or input error.\n"
              "Run `concord COMMAND --help` for details.");
  GlobalOptions global;
  std::vector<Command> commands = {
      MakeRunCommand(root, global),
      MakeConformanceCommand(root, global),
      MakeEnvsCommand(root, global),
      MakeCompareCommand(root, global),
      MakeBenchCommand(root, global),
      MakeMatrixCommand(root, global),
      MakeReportCommand(root, global),
      MakeGenCommand(root, global),
      MakeFuzzCommand(root, global),
      MakeFuzzReportCommand(root, global),
      MakeReduceCommand(root, global),
      MakeLocalizeCommand(root, global),
      MakeRepairCommand(root, global),
      MakeConvertCommand(root, global),
      MakeServeCommand(root, global),
      MakeMergeCommand(root, global),
      MakeWorkerCommand(root, global),
  };
  spdlog::set_pattern("%^%l%$: %v");
  // Peers (workers, remote clients) may vanish; a write to them must be an error, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = root.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const concord::Error& e) {
    std::cerr << "concord: error: " << e.what() << "\n";
    return e.kind() == concord::ErrorKind::kRuntime || e.kind() == concord::ErrorKind::kUnsupported
               ? kExitDiverged
               : kExitUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "concord: error: out of memory\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "concord: internal error: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
