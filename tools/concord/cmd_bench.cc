// TODO: concord bench.
#include "tools/concord/common.h"

namespace concord::cli {

Command MakeBenchCommand(CLI::App& root, GlobalOptions& global) {
  CLI::App* app = root.add_subcommand("bench", "(not implemented yet)");
  return {app, [] { return kExitUsage; }};
}

}  // namespace concord::cli
