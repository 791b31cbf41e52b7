// concord worker: serve one client over stdin/stdout with the runtime protocol. Started by
// Concord itself for crash isolation (env option isolate=1); not meant to be typed by hand.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "backends/session_server.h"
#include "tools/concord/common.h"

namespace concord::cli {

Command MakeWorkerCommand(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "worker", "Serve one client over stdin/stdout (crash isolation for isolate=1; internal)");
  app->group("");  // hidden from the command list
  return {app, [] {
            // Test hook: CONCORD_TEST_FAULT=segv makes the worker die as a crashing native
            // library would (used by the e2e tests of isolate=1).
            if (const char* f = std::getenv("CONCORD_TEST_FAULT"); f && std::string(f) == "segv") {
              std::raise(SIGSEGV);
            }
            // Frames go to a private copy of stdout; stdout itself is pointed at stderr so that
            // a library printing to stdout (OpenCV's OpenCL build log) cannot corrupt a frame.
            int frames_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
            if (frames_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) return kExitUsage;
            protocol::Channel channel(STDIN_FILENO, frames_fd, "client", /*owns_fds=*/false);
            SessionServerOptions options;
            options.describe_backends = false;
            ServeSession(channel, options);
            ::close(frames_fd);
            return kExitOk;
          }};
}

}  // namespace concord::cli
