#include "ir/display_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace concord {
namespace {

namespace fs = std::filesystem;

// Runs the checks from inside a fresh folder and restores the working directory after.
class DisplayPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = fs::current_path();
    dir_ = fs::temp_directory_path() / ("concord_display_path_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "out");
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(old_);
    fs::remove_all(dir_);
  }
  fs::path old_, dir_;
};

TEST_F(DisplayPathTest, RelativeUnderTheWorkingDirectoryAbsoluteElsewhere) {
  EXPECT_EQ(DisplayPath("out/concord.db"), "out/concord.db");
  EXPECT_EQ(DisplayPath(dir_ / "out" / "report.html"), "out/report.html");
  EXPECT_EQ(DisplayPath("./out/../out/x.onnx"), "out/x.onnx");
  EXPECT_EQ(DisplayPath("/usr/share"), "/usr/share");
  EXPECT_EQ(DisplayPath("../elsewhere.db"), (dir_.parent_path() / "elsewhere.db").string());
}

}  // namespace
}  // namespace concord
