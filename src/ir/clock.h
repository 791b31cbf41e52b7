// Time helpers shared by every layer: a monotonic clock for durations and UTC timestamps for
// records. Durations are measured with steady_clock (never the wall clock, which can jump).
#pragma once

#include <chrono>
#include <string>

namespace concord {

using Clock = std::chrono::steady_clock;

// Milliseconds from `a` to `b`, and from `start` to now.
inline double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
inline double MsSince(Clock::time_point start) { return Ms(start, Clock::now()); }
inline double SecondsSince(Clock::time_point start) { return MsSince(start) / 1000.0; }

// The current UTC time as ISO 8601 with seconds, e.g. "2026-12-05T08:30:00Z".
std::string NowIso();

}  // namespace concord
