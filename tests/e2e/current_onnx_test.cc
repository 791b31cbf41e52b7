// Current-ONNX blocks (scripts/make_current_models.py: IR 11, opset 23 — an Attention-23 block
// with a KV cache, RMSNormalization + RotaryEmbedding, a float8 QDQ MatMul, and an RMS norm from
// primitives) whose expected outputs are NumPy's: ref and ONNX Runtime both reproduce them, and
// `concord convert --opset 17` lowers the one ONNX's version converter can and says why for the
// others.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "src/ir/model.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
const std::string kCurrent = std::string(CONCORD_BUILD_DIR) + "/current";

class CurrentBlocks : public ::testing::TestWithParam<const char*> {};

TEST_P(CurrentBlocks, EveryBlockMatchesNumPy) {
  CliResult r =
      RunConcord("conformance --suite " + Quote(kCurrent) + " --env " + GetParam() + " --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["passed"], 4) << r.out;
  EXPECT_EQ(j["failed"], 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Envs, CurrentBlocks, ::testing::Values("ref", "ort@cpu"));

TEST(CurrentLowering, PrimitivesLowerToOpset17AndStillMatch) {
  test::TempDir tmp("concord_current_lower");
  fs::path suite = tmp.path() / "lowered";
  fs::create_directories(suite / "rms_primitives");
  fs::copy(kCurrent + "/rms_primitives/test_data_set_0", suite / "rms_primitives/test_data_set_0");
  std::string out = (suite / "rms_primitives/model.onnx").string();
  CliResult c = RunConcord("convert " + Quote(kCurrent + "/rms_primitives/model.onnx") + " " +
                           Quote(out) + " --opset 17");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(Model::Load(out).Opset(), 17);
  CliResult r = RunConcord("conformance --suite " + Quote(suite.string()) + " --env ref --json");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
}

TEST(CurrentLowering, BlocksWithNewOpsSayWhichOpStopsTheConverter) {
  test::TempDir tmp("concord_current_nolower");
  const std::pair<const char*, const char*> cases[] = {{"attention23", "Attention"},
                                                       {"rmsnorm_rope", "RMSNormalization"},
                                                       {"float8_qdq", "QuantizeLinear"}};
  for (const auto& [name, op] : cases) {
    fs::path out = tmp.path() / (std::string(name) + ".onnx");
    CliResult r = RunConcord("convert " + Quote(kCurrent + "/" + name + "/model.onnx") + " " +
                             Quote(out.string()) + " --opset 17");
    EXPECT_EQ(r.code, 1) << name << ": " << r.err;
    EXPECT_NE(r.err.find("opset 23 -> 17"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(op), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << name;
  }
}

}  // namespace
}  // namespace concord::e2e
