#include "backends/convert_tools.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "backends/worker_backend.h"
#include "ir/error.h"
#include "ir/model_format.h"

namespace concord {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> Argv(const ConvertRequest& r) {
  std::string script = (fs::path(WorkerAdaptersDir()) / "convert_plan.py").string();
  std::vector<std::string> args = {WorkerPythonPath(), script,    r.src, "--to", r.to, "-o", r.out,
                                   "--quantize",       r.quantize};
  for (const auto& v : r.via) args.insert(args.end(), {"--via", v});
  for (const auto& e : r.examples) args.insert(args.end(), {"--inputs", e});
  if (!r.calibration.empty()) args.insert(args.end(), {"--calibration", r.calibration});
  if (r.json) args.push_back("--json");
  return args;
}

}  // namespace

int RunConvertTools(const ConvertRequest& request, std::string* output) {
  std::vector<std::string> args = Argv(request);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  int pipe_fd[2] = {-1, -1};
  if (output != nullptr && ::pipe2(pipe_fd, O_CLOEXEC) < 0) {
    Fail(ErrorKind::kRuntime, "convert: cannot create a pipe: {}", std::strerror(errno));
  }
  std::cout.flush();
  pid_t pid = ::fork();
  if (pid < 0) Fail(ErrorKind::kRuntime, "convert: cannot fork: {}", std::strerror(errno));
  if (pid == 0) {
    if (output != nullptr) {
      ::dup2(pipe_fd[1], 1);
      ::dup2(pipe_fd[1], 2);
    }
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "convert: cannot run %s: %s (run scripts/setup)\n", argv[0],
                 std::strerror(errno));
    ::_exit(2);
  }
  if (output != nullptr) {
    ::close(pipe_fd[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipe_fd[0], buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      output->append(buf, static_cast<size_t>(n));
    }
    ::close(pipe_fd[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  Fail(ErrorKind::kRuntime, "convert: {} was killed by signal {}", args[1], WTERMSIG(status));
}

std::string OnnxTwinFor(const std::string& path, const std::string& scratch_dir, std::string* how) {
  ModelFormatInfo info = DetectModelFormat(path);
  if (info.format == ModelFormat::kOnnx || info.format == ModelFormat::kUnknown) {
    *how = "";
    return path;  // Model::Load names what is wrong with an unknown file
  }
  std::string beside = path + ".twin.onnx";
  if (fs::is_regular_file(beside)) {
    *how = fmt::format("{} model; its ONNX twin {} (written by concord convert)",
                       ModelFormatName(info.format), beside);
    return beside;
  }
  fs::create_directories(scratch_dir);
  std::string stem = fs::path(path).filename().string();
  std::string out = (fs::path(scratch_dir) / (stem + ".onnx")).string();
  // A torch.export program through the dynamo exporter without its optimizer: one node per aten
  // op, BatchNorm not folded into convolutions, each node's module scope in its metadata.
  std::vector<std::string> via;
  if (info.format == ModelFormat::kTorchExport) via.push_back("torch.onnx.dynamo.unoptimized");
  ConvertRequest r{path, "onnx", out, via, "none", {}, "", false};
  std::string output;
  int rc = RunConvertTools(r, &output);
  if (rc != 0) {
    if (output.size() > 1500) output = "..." + output.substr(output.size() - 1500);
    Fail(ErrorKind::kInput,
         "{} is a {} model; exporting it to ONNX (which localize compares) "
         "failed (exit {}): {}",
         path, ModelFormatName(info.format), rc, output);
  }
  *how = fmt::format("{} model; exported to ONNX now by {} into {}", ModelFormatName(info.format),
                     via.empty() ? "its default exporter" : via.front(), out);
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

nlohmann::json RunPythonJson(const std::string& cmd, const std::string& key) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {{key, "not checked"}, {"detail", "could not start Python"}};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  size_t brace = out.rfind("\n{");
  std::string last = brace == std::string::npos ? out : out.substr(brace + 1);
  try {
    return nlohmann::json::parse(last);
  } catch (const nlohmann::json::parse_error&) {
    return {{key, "not checked"}, {"detail", out.substr(0, 500)}};
  }
}

}  // namespace concord
