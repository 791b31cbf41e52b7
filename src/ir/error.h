// Error handling for all of Concord.
//
// Library code reports failures by throwing concord::Error; the CLI boundary (tools/concord)
// catches it, prints the message and maps the kind to the exit code: kInput/kUsage -> 2,
// kUnsupported/kRuntime -> 1 where a run failed, kInternal -> 2 (bug, but never a crash).
// Third-party exceptions (protobuf, OpenBLAS, cv::Exception, ...) are converted to Error at the
// layer that calls the library, with context. A broken internal invariant is CONCORD_CHECK,
// which aborts with file and line: it means a bug in Concord, not bad input.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace concord {

enum class ErrorKind {
  kUsage,        // bad command line
  kInput,        // malformed model / tensor / file the user gave us
  kUnsupported,  // valid input we cannot handle (unknown op, dtype not implemented)
  kRuntime,      // a run failed (shape mismatch at run time, backend error)
  kInternal,     // a bug in Concord that was caught before it could crash
};

const char* ErrorKindName(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <typename... Args>
[[noreturn]] void Fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kind, fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const std::string& msg);

}  // namespace concord

#define CONCORD_CHECK(cond, ...)                                                                   \
  do {                                                                                             \
    if (!(cond)) ::concord::CheckFailed(__FILE__, __LINE__, #cond, ::fmt::format("" __VA_ARGS__)); \
  } while (0)
