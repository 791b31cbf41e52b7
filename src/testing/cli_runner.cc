#include "testing/cli_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace concord::test {

namespace fs = std::filesystem;

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

CliResult RunCommand(const std::string& command, const std::string& env_prefix) {
  static int counter = 0;
  fs::path err_path = fs::temp_directory_path() / ("concord_e2e_err_" + std::to_string(::getpid()) +
                                                   "_" + std::to_string(counter++));
  std::string cmd = (env_prefix.empty() ? "" : "env " + env_prefix + " ") + command + " 2>" +
                    Quote(err_path.string());
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    r.err = "popen failed for: " + cmd;
    return r;
  }
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

}  // namespace concord::test
