#include "ir/display_path.h"

#include <system_error>

namespace concord {

std::string DisplayPath(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return path.string();
  fs::path cwd = fs::current_path(ec);
  if (ec) return abs.string();
  fs::path rel = abs.lexically_relative(fs::weakly_canonical(cwd, ec));
  if (ec || rel.empty() || *rel.begin() == "..") return abs.string();
  return rel.string();
}

}  // namespace concord
