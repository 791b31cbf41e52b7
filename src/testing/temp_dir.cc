#include "testing/temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "ir/error.h"

namespace concord::test {

namespace fs = std::filesystem;

namespace {

// Characters of a test name that are safe in a file name ('/' from TEST_P names, for one).
std::string Sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string name = prefix + "_" + std::to_string(::getpid());
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "_" + Sanitize(info->name());
  }
  std::string tmpl = (fs::temp_directory_path() / (name + "_XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  CONCORD_CHECK(::mkdtemp(buf.data()) != nullptr, "mkdtemp failed for {}", tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::File(const std::string& rel) const { return (path_ / rel).string(); }

fs::path TempDir::Write(const std::string& rel, const std::string& bytes) const {
  fs::path p = path_ / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

}  // namespace concord::test
