#include "backends/env.h"

#include <gtest/gtest.h>

#include "ir/error.h"

namespace concord {
namespace {

TEST(EnvSpec, ParsesFullForm) {
  EnvSpec e = EnvSpec::Parse("tvm@cpu,opt=3,target=llvm -mcpu=core-avx2,threads=2");
  EXPECT_EQ(e.backend, "tvm");
  EXPECT_EQ(e.device, "cpu");
  EXPECT_EQ(e.opt(), 3);
  EXPECT_EQ(e.threads(), 2);
  EXPECT_EQ(e.Get("target"), "llvm -mcpu=core-avx2");
  EXPECT_EQ(e.ToString(), "tvm@cpu,opt=3,target=llvm -mcpu=core-avx2,threads=2");
}

TEST(EnvSpec, TokenIsNeverPrinted) {
  EnvSpec e = EnvSpec::Parse("ort@cpu,host=10.0.0.1:9000,token=s3cret");
  EXPECT_EQ(e.Get("token"), "s3cret");
  EXPECT_EQ(e.ToString().find("s3cret"), std::string::npos);
}

TEST(EnvSpec, Defaults) {
  EnvSpec e = EnvSpec::Parse("ref");
  EXPECT_EQ(e.device, "cpu");
  EXPECT_EQ(e.opt(), 3);
  EXPECT_EQ(e.threads(), 0);
}

TEST(EnvSpec, RejectsMalformed) {
  for (const char* bad : {"", "@cpu", "ort@", "ort,opt", "ort,opt=4", "ort,opt=1,opt=2",
                          "ort,threads=-1", "o rt"}) {
    EXPECT_THROW(EnvSpec::Parse(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace concord
