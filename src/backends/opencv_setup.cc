// Process-wide OpenCV setup: logging, the OpenCL device choice (CPU devices allowed when no GPU
// exists), the thread count and the stdout guard for OpenCL build logs.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "backends/opencv_internal.h"

namespace concord::opencv_internal {

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

void SetUpOpenCvLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (GetEnv("OPENCV_LOG_LEVEL").empty()) {
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    }
  });
}

std::string CompactCvMessage(const std::string& what) {
  size_t node = what.find("Node [");
  std::string s = node == std::string::npos ? what : what.substr(node);
  std::string out;
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n') {
      while (i + 1 < s.size() && (s[i + 1] == '>' || s[i + 1] == ' ')) ++i;
      c = ' ';
    }
    if (c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

const OpenClSetupResult& SetUpOpenCl() {
  static OpenClSetupResult result;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      if (!cv::ocl::haveOpenCL()) return;
      std::vector<cv::ocl::PlatformInfo> platforms;
      cv::ocl::getPlatfomsInfo(platforms);
      for (const auto& p : platforms) {
        for (int i = 0; i < p.deviceNumber(); ++i) {
          cv::ocl::Device d;
          p.getDevice(d, i);
          if (!result.any_device) result.first_device = p.name() + ": " + d.name();
          result.any_device = true;
          if (d.type() & cv::ocl::Device::TYPE_GPU) result.any_gpu = true;
        }
      }
    } catch (const std::exception&) {
      return;  // no usable OpenCL: sessions report the fallback
    }
    std::vector<std::string> set;
    if (!result.any_gpu && result.any_device && GetEnv(kOpenClDeviceVar).empty()) {
      setenv(kOpenClDeviceVar, ":CPU:", 0);
      set.push_back(fmt::format("{}=:CPU:", kOpenClDeviceVar));
    }
    if (GetEnv(kAllowAllVar).empty()) {
      setenv(kAllowAllVar, "1", 0);
      set.push_back(fmt::format("{}=1", kAllowAllVar));
    }
    if (!set.empty()) result.notes = fmt::format("set {}", fmt::join(set, " "));
  });
  return result;
}

void ApplyThreads(int threads) {
  static const int default_threads = cv::getNumThreads();
  int want = threads > 0 ? threads : default_threads;
  if (cv::getNumThreads() != want) cv::setNumThreads(want);
}

void FinishOpenClQueue() {
  try {
    cv::ocl::finish();
  } catch (const std::exception&) {
    // The forward error is what the caller reports; a failing clFinish adds nothing.
  }
}

StdoutToStderr::StdoutToStderr(bool active) {
  if (!active) return;
  std::fflush(stdout);
  std::cout.flush();
  saved_ = dup(STDOUT_FILENO);
  if (saved_ >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    close(saved_);
    saved_ = -1;
  }
}

StdoutToStderr::~StdoutToStderr() {
  if (saved_ < 0) return;
  std::fflush(stdout);
  dup2(saved_, STDOUT_FILENO);
  close(saved_);
}

}  // namespace concord::opencv_internal
