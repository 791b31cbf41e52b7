// TODO: concord serve.
#include "tools/concord/common.h"

namespace concord::cli {

Command MakeServeCommand(CLI::App& root, GlobalOptions& global) {
  CLI::App* app = root.add_subcommand("serve", "(not implemented yet)");
  return {app, [] { return kExitUsage; }};
}

}  // namespace concord::cli
