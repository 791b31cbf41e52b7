// ai.onnx.ml ZipMap end to end (scripts/make_zipmap_suite.py: expected sequences of maps from
// ONNX Runtime): ref computes them and the ORT worker sends them back through the protocol, both
// matching; an expected map with one value changed fails, naming the map and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "src/ir/model.h"
#include "src/ir/test_data.h"
#include "src/ir/value_io.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
const std::string kSuite = std::string(CONCORD_BUILD_DIR) + "/zipmap";

class ZipMapSuite : public ::testing::TestWithParam<const char*> {};

TEST_P(ZipMapSuite, EveryCaseMatchesOnnxRuntime) {
  CliResult r =
      RunConcord("conformance --suite " + Quote(kSuite) + " --env " + GetParam() + " --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["passed"], 4) << r.out;
  EXPECT_EQ(j["failed"], 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Envs, ZipMapSuite, ::testing::Values("ref", "ort@cpu"));

TEST(ZipMapSuite, AChangedProbabilityFailsAndNamesTheKey) {
  test::TempDir tmp("concord_zipmap_changed");
  fs::path suite = tmp.path() / "suite";
  fs::create_directories(suite);
  fs::copy(kSuite + "/zipmap_strings", suite / "zipmap_strings", fs::copy_options::recursive);
  fs::path set = suite / "zipmap_strings/test_data_set_0";
  Model model = Model::Load((suite / "zipmap_strings/model.onnx").string());
  std::vector<Value> expected = LoadExpectedOutputs(model, set.string());
  ASSERT_TRUE(expected.at(0).is_map_sequence());
  // Map 2, key "versicolor" (the labels' second): a clear change, far beyond the tolerance.
  expected[0].maps.at(2).values.data<float>()[1] += 0.5f;
  WriteValuePb((set / "output_0.pb").string(), expected[0], "Z");
  for (const char* env : {"ref", "ort@cpu"}) {
    CliResult r =
        RunConcord("conformance --suite " + Quote(suite.string()) + " --env " + env + " --json");
    EXPECT_EQ(r.code, 1) << env << ": " << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    std::string reason = j["cases"].at(0)["reason"];
    EXPECT_NE(reason.find("[2]"), std::string::npos) << env << ": " << reason;
    EXPECT_NE(reason.find("worst at key 'versicolor'"), std::string::npos) << env << ": " << reason;
  }
}

}  // namespace
}  // namespace concord::e2e
