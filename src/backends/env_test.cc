#include "backends/env.h"

#include <gtest/gtest.h>

#include "backends/backend.h"
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
  for (const char* bad :
       {"", "@cpu", "ort@", "ort,opt", "ort,opt=4", "ort,opt=1,opt=2", "ort,threads=-1", "o rt"}) {
    EXPECT_THROW(EnvSpec::Parse(bad), Error) << bad;
  }
}

// The error ValidateEnv gives for `env`, or "" when it accepts it.
std::string Invalid(const std::string& env) {
  try {
    ValidateEnv(EnvSpec::Parse(env));
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage) << env;
    return e.what();
  }
}

TEST(ValidateEnv, AcceptsWhatTheBackendDeclares) {
  EXPECT_EQ(Invalid("ref"), "");
  EXPECT_EQ(Invalid("ref,opt=0,threads=2"), "");
  EXPECT_EQ(Invalid("opencv@opencl,opt=1,isolate=1,timeout=2.5"), "");
  EXPECT_EQ(Invalid("nosuch,host=127.0.0.1:1"), "");  // a server checks its own backends
}

TEST(ValidateEnv, NamesWhatIsWrong) {
  EXPECT_NE(Invalid("nosuch").find("unknown backend 'nosuch'"), std::string::npos);
  EXPECT_NE(Invalid("ref@opencl").find("no device 'opencl'"), std::string::npos);
  EXPECT_NE(Invalid("opencv,fast=1").find("does not know option 'fast'"), std::string::npos);
  EXPECT_NE(Invalid("ref,isolate=2").find("isolate must be 0 or 1"), std::string::npos);
  EXPECT_NE(Invalid("ref,timeout=soon").find("timeout must be"), std::string::npos);
}

TEST(ValidateEnv, ListsEveryInvalidEnvAtOnce) {
  try {
    ValidateEnvs({EnvSpec::Parse("ref"), EnvSpec::Parse("nosuch"), EnvSpec::Parse("ref@gpu")});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("2 of 3 envs are invalid"), std::string::npos) << what;
    EXPECT_NE(what.find("nosuch"), std::string::npos) << what;
    EXPECT_NE(what.find("ref@gpu"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace concord
