// Runs the concord binary as a user would and captures exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace concord::e2e {

struct CliResult {
  int code = -1;
  bool signaled = false;
  std::string out;
  std::string err;
};

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''"; else q += c;
  }
  return q + "'";
}

// Runs `concord ARGS`; `env_prefix` ("KEY=VALUE ...") is set for that command only.
inline CliResult RunConcord(const std::string& args, const std::string& env_prefix = "") {
  namespace fs = std::filesystem;
  static int counter = 0;
  fs::path err_path = fs::temp_directory_path() /
                      ("concord_e2e_err_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::string cmd = (env_prefix.empty() ? "" : "env " + env_prefix + " ") + std::string(CONCORD_BIN) +
                    " " + args + " 2>" + Quote(err_path.string());
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.signaled = WIFSIGNALED(status);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(err_path);
  return r;
}

inline const std::string kTestData = "/usr/share/libonnx-testdata/data";

}  // namespace concord::e2e
