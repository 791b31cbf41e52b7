// How a file path is shown to a user: relative to the working directory when the file lies
// under it ("out/demo/concord.db"), absolute otherwise, so printed output does not carry the
// layout of the machine it ran on.
#pragma once

#include <filesystem>
#include <string>

namespace concord {

std::string DisplayPath(const std::filesystem::path& path);

}  // namespace concord
