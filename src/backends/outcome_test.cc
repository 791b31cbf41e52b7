#include "backends/outcome.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace concord {
namespace {

TEST(Outcome, CaptureKeepsTheKindOfEveryFailure) {
  EXPECT_TRUE(Capture([] {}).ok);
  Outcome usage = Capture([] { Fail(ErrorKind::kUsage, "bad option '{}'", "x"); });
  EXPECT_FALSE(usage.ok);
  EXPECT_EQ(usage.error, "bad option 'x'");
  EXPECT_TRUE(usage.usage_error());
  EXPECT_TRUE(Capture([] { Fail(ErrorKind::kInput, "bad input"); }).usage_error());
  Outcome runtime = Capture([] { Fail(ErrorKind::kRuntime, "worker crashed"); });
  EXPECT_FALSE(runtime.usage_error());
  EXPECT_EQ(runtime.error_kind, ErrorKind::kRuntime);
  Outcome oom = Capture([] { throw std::bad_alloc(); });
  EXPECT_EQ(oom.error, "out of memory");
  EXPECT_EQ(oom.error_kind, ErrorKind::kRuntime);
  Outcome internal = Capture([] { throw std::logic_error("broken invariant"); });
  EXPECT_EQ(internal.error, "internal error: broken invariant");
  EXPECT_EQ(internal.error_kind, ErrorKind::kInternal);
}

TEST(Outcome, ExitCodeRule) {
  Outcome ok;
  ok.ok = true;
  Outcome runtime;
  Outcome usage;
  usage.error_kind = ErrorKind::kUsage;
  EXPECT_EQ(ExitCodeFor(std::vector<Outcome>{ok, ok}, false), 0);
  EXPECT_EQ(ExitCodeFor(std::vector<Outcome>{ok, ok}, true), 1);
  EXPECT_EQ(ExitCodeFor(std::vector<Outcome>{ok, runtime}, false), 1);
  EXPECT_EQ(ExitCodeFor(std::vector<Outcome>{runtime, usage}, true), 2);  // usage wins
}

}  // namespace
}  // namespace concord
