#include "ir/error.h"

#include <cstdio>
#include <cstdlib>

namespace concord {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kInput:
      return "input";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kRuntime:
      return "runtime";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

void CheckFailed(const char* file, int line, const char* expr, const std::string& msg) {
  std::fprintf(stderr, "concord: internal check failed at %s:%d: %s %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

}  // namespace concord
