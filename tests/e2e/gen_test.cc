// End-to-end: `concord gen` as a user runs it — files written, same seed same bytes across
// processes, --inputs-out cases form a suite that `concord conformance` passes on ref, bad
// options are usage errors (exit 2) that name the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ir/tensor_io.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

class GenCliTest : public ::testing::Test {
 protected:
  std::string P(const std::string& rel) const { return tmp_.File(rel); }
  test::TempDir tmp_{"concord_gen_cli"};
};

TEST_F(GenCliTest, SameSeedSameBytesAcrossProcesses) {
  auto a = RunConcord("gen --seed 11 --max-nodes 15 --out " + P("a.onnx"));
  auto b = RunConcord("gen --seed 11 --max-nodes 15 --out " + P("b.onnx"));
  auto c = RunConcord("gen --seed 12 --max-nodes 15 --out " + P("c.onnx"));
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  ASSERT_EQ(c.code, 0) << c.err;
  std::string ba = ReadFileBytes(P("a.onnx"), 1 << 26), bb = ReadFileBytes(P("b.onnx"), 1 << 26);
  EXPECT_FALSE(ba.empty());
  EXPECT_EQ(ba, bb);
  EXPECT_NE(ba, ReadFileBytes(P("c.onnx"), 1 << 26));
}

TEST_F(GenCliTest, GeneratedCasesAreAConformanceSuite) {
  for (int s = 0; s < 5; ++s) {
    std::string c = P("suite/s" + std::to_string(s));
    auto r = RunConcord("gen --seed " + std::to_string(s) + " --out " + c +
                        "/model.onnx --inputs-out " + c);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(c + "/test_data_set_0/input_0.pb"));
    EXPECT_TRUE(fs::exists(c + "/test_data_set_0/output_0.pb"));
  }
  auto r = RunConcord("conformance --suite " + P("suite") + " --env ref --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"passed\""), std::string::npos);
}

TEST_F(GenCliTest, JsonListOpsAndUsageErrors) {
  auto j = RunConcord("gen --seed 3 --ops Conv,Relu,Add --dtypes float32 --out " + P("m.onnx") +
                      " --json");
  ASSERT_EQ(j.code, 0) << j.err;
  auto rec = nlohmann::json::parse(j.out);
  EXPECT_EQ(rec["seed"], 3);
  for (const auto& op : rec["op_types"]) {
    std::string s = op.get<std::string>();
    EXPECT_TRUE(s == "Conv" || s == "Relu" || s == "Add" || s == "Abs") << s;
  }
  auto l = RunConcord("gen --list-ops");
  ASSERT_EQ(l.code, 0);
  EXPECT_NE(l.out.find("ConvTranspose\n"), std::string::npos);
  auto bad = RunConcord("gen --seed 1 --ops Bogus --out " + P("x.onnx"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("Bogus"), std::string::npos);
  EXPECT_FALSE(fs::exists(P("x.onnx")));
  auto bad2 = RunConcord("gen --seed 1 --dtypes float64 --out " + P("x.onnx"));
  EXPECT_EQ(bad2.code, 2);
  EXPECT_NE(bad2.err.find("float64"), std::string::npos);
  auto noout = RunConcord("gen --seed 1");
  EXPECT_EQ(noout.code, 2);
}

}  // namespace
}  // namespace concord::e2e
