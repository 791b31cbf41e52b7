// `concord serve` as a child process for end-to-end tests (--port 0: the port is read from the
// server's first line). SIGTERM on destruction.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ir/error.h"

extern char** environ;

namespace concord::e2e {

// `concord serve ARGS` as a child process; stderr goes to a file for the log assertions.
class Server {
 public:
  explicit Server(const std::vector<std::string>& args,
                  const std::vector<std::string>& extra_env = {}) {
    static int counter = 0;
    err_path_ =
        std::filesystem::temp_directory_path() /
        ("concord_serve_err_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    int out[2];
    CONCORD_CHECK(::pipe2(out, O_CLOEXEC) == 0, "pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_s = {CONCORD_BIN, "serve"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("CONCORD_TOKEN=", 0) != 0) env_s.push_back(*e);
    }
    env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, CONCORD_BIN, &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    CONCORD_CHECK(rc == 0, "posix_spawn failed");
    out_fd_ = out[0];
    first_line_ = ReadLine(20000);
    std::smatch m;
    if (std::regex_search(first_line_, m, std::regex(R"(listening on ([0-9.]+):([0-9]+))"))) {
      port = std::stoi(m[2]);
    } else if (std::regex_search(first_line_, m, std::regex(R"("port":([0-9]+))"))) {
      port = std::stoi(m[1]);
    }
  }
  ~Server() {
    Stop();
    if (out_fd_ >= 0) ::close(out_fd_);
    std::filesystem::remove(err_path_);
  }
  // SIGTERM, then the exit code (128+signal if it had to be killed).
  int Stop(int wait_ms = 15000) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    return Wait(wait_ms);
  }
  int Wait(int wait_ms) {
    if (pid_ <= 0) return status_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    int st = 0;
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  std::string err() const {
    std::ifstream in(err_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port); }
  const std::string& first_line() const { return first_line_; }

  int port = -1;

 private:
  std::string ReadLine(int timeout_ms) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return line;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return line;
      char c;
      if (::read(out_fd_, &c, 1) != 1) return line;
      if (c == '\n') return line;
      line += c;
    }
  }

  pid_t pid_ = -1;
  int status_ = -1;
  int out_fd_ = -1;
  std::filesystem::path err_path_;
  std::string first_line_;
};

}  // namespace concord::e2e
