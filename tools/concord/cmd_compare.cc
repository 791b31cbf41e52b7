// TODO: concord compare.
#include "tools/concord/common.h"

namespace concord::cli {

Command MakeCompareCommand(CLI::App& root, GlobalOptions& global) {
  CLI::App* app = root.add_subcommand("compare", "(not implemented yet)");
  return {app, [] { return kExitUsage; }};
}

}  // namespace concord::cli
