// CliRunner: runs the concord binary as a user would and captures exit code, stdout and stderr.
//
// RunCommand runs any shell command line; RunConcord prefixes the binary that the including test
// target names in its CONCORD_BIN compile definition (tests/CMakeLists.txt sets it to
// $<TARGET_FILE:concord>), so only tests that define it can call it. Blocking, one child at a
// time; stderr goes through a private temp file so it never mixes with stdout.
#pragma once

#include <string>

namespace concord::test {

struct CliResult {
  int code = -1;          // exit status, or 128 + signal number when killed by a signal
  bool signaled = false;  // killed by a signal (a crash, not an error exit)
  std::string out;
  std::string err;
};

// `s` in single quotes for /bin/sh, with embedded quotes escaped.
std::string Quote(const std::string& s);

// Runs `command` through /bin/sh; `env_prefix` ("KEY=VALUE ...") is set for that command only.
CliResult RunCommand(const std::string& command, const std::string& env_prefix = "");

#ifdef CONCORD_BIN
// Runs `concord ARGS` (ARGS is shell text: quote paths with Quote()).
inline CliResult RunConcord(const std::string& args, const std::string& env_prefix = "") {
  return RunCommand(std::string(CONCORD_BIN) + " " + args, env_prefix);
}
#endif

// ONNX's backend test data (Debian package onnx-testdata / libonnx-testdata).
inline const std::string kTestData = "/usr/share/libonnx-testdata/data";

}  // namespace concord::test
