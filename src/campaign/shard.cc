#include "campaign/shard.h"

#include <fmt/format.h>

#include <charconv>

#include "ir/error.h"

namespace concord {

namespace {

bool ParseInt(const std::string& s, int64_t* out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return !s.empty() && ec == std::errc() && p == end;
}

}  // namespace

Shard Shard::Parse(const std::string& text) {
  size_t slash = text.find('/');
  Shard s;
  if (slash == std::string::npos || !ParseInt(text.substr(0, slash), &s.index) ||
      !ParseInt(text.substr(slash + 1), &s.count) || s.count < 1 || s.index < 0 ||
      s.index >= s.count) {
    Fail(ErrorKind::kUsage,
         "--shard '{}': expected I/N with 0 <= I < N (e.g. 0/4 for the first of four shards; "
         "in a Slurm array: $SLURM_ARRAY_TASK_ID/N)",
         text);
  }
  return s;
}

std::string Shard::ToString() const { return fmt::format("{}/{}", index, count); }

}  // namespace concord
