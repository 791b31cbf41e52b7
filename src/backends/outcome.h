// Running one env without letting its failure stop the others (compare, bench): Capture runs a
// callable and turns every failure into an Outcome, and ExitCodeFor is the one rule that maps a
// command's outcomes to its exit code.
#pragma once

#include <fmt/format.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "ir/error.h"

namespace concord {

// The exit codes of every concord command (README's table): 0 ran and agreed, 1 ran and found
// a divergence or a failure, 2 usage or input error (nothing was judged).
inline constexpr int kExitCodeOk = 0;
inline constexpr int kExitCodeDiverged = 1;
inline constexpr int kExitCodeUsage = 2;

struct Outcome {
  bool ok = false;
  std::string error;  // empty when ok
  ErrorKind error_kind = ErrorKind::kRuntime;
  // A usage or input error: the env string or the inputs were wrong, not the env's result.
  bool usage_error() const {
    return !ok && (error_kind == ErrorKind::kUsage || error_kind == ErrorKind::kInput);
  }
};

// Runs fn(); any concord::Error keeps its kind, std::bad_alloc is "out of memory" (runtime),
// any other exception is an internal error with its message. Never throws.
template <class Fn>
Outcome Capture(Fn&& fn) {
  Outcome o;
  try {
    std::forward<Fn>(fn)();
    o.ok = true;
  } catch (const Error& e) {
    o.error = e.what();
    o.error_kind = e.kind();
  } catch (const std::bad_alloc&) {
    o.error = "out of memory";
  } catch (const std::exception& e) {
    o.error = fmt::format("internal error: {}", e.what());
    o.error_kind = ErrorKind::kInternal;
  }
  return o;
}

// 2 when any outcome is a usage/input error; else 1 when any failed or `diverged`; else 0.
template <class Range>
int ExitCodeFor(const Range& outcomes, bool diverged) {
  bool usage = false, failed = false;
  for (const Outcome& o : outcomes) {
    usage |= o.usage_error();
    failed |= !o.ok;
  }
  if (usage) return kExitCodeUsage;
  return failed || diverged ? kExitCodeDiverged : kExitCodeOk;
}

}  // namespace concord
