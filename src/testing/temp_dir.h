// TempDir: a fresh, empty directory for one test, removed when the TempDir goes away.
//
// The directory lives under the system temp dir and is named after a prefix, the process id and
// the running GoogleTest test, with a mkdtemp suffix, so parallel ctest processes and repeated
// fixtures never share one. Keep() leaves it in place (tests call it on failure so the files can
// be inspected). Not thread-safe; one TempDir per test body or fixture.
#pragma once

#include <filesystem>
#include <string>

namespace concord::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "concord_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / rel as a string (the form CLI arguments and Open() calls want).
  std::string File(const std::string& rel) const;
  // Writes `bytes` to path() / rel, creating parent folders; returns the full path.
  std::filesystem::path Write(const std::string& rel, const std::string& bytes) const;
  // Leaves the directory on disk when this TempDir is destroyed.
  void Keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace concord::test
