// Campaigns from several machines and shards: the same env string run on two machines stays two
// environments through `concord merge` and the report (one with --group-by-env); a matrix and a
// fuzz campaign split with --shard and merged equal one process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "store/store.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kTinyCnn = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx";

class ClusterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) tmp_.Keep();
  }
  std::string P(const std::string& name) { return (dir_ / name).string(); }
  std::string WriteConfig(const json& config) {
    std::ofstream(P("matrix.json")) << config.dump(2);
    return P("matrix.json");
  }
  json Analysis(const std::string& db, const std::string& flags = "") {
    CliResult r = RunConcord("report " + Quote(db) + " --out " + Quote(P("r.html")) +
                             " --analysis-json " + Quote(P("a.json")) + " " + flags);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(std::ifstream(P("a.json")));
  }
  test::TempDir tmp_{"concord_cluster_test"};
  fs::path dir_ = tmp_.path();
};

// The tiny CNN on the in-process reference interpreter: deterministic, so two machines (two
// labels on this one) must produce bit-identical outputs.
json RefConfig(int inputs) {
  return {{"name", "cluster"},
          {"models", {{{"path", kTinyCnn}}}},
          {"envs", {"ref"}},
          {"dataset", {{"random", inputs}, {"seed", 3}}},
          {"repeats", 1}};
}

TEST_F(ClusterTest, SameEnvOnTwoMachinesIsTwoEnvironmentsInTheMergedReport) {
  std::string config = WriteConfig(RefConfig(3));
  for (const std::string node : {"node-a", "node-b"}) {
    CliResult r =
        RunConcord("matrix " + Quote(config) + " --no-report --db " + Quote(P(node + ".db")),
                   "CONCORD_MACHINE_LABEL=" + node);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  CliResult m = RunConcord("merge " + Quote(P("node-a.db")) + " " + Quote(P("node-b.db")) + " -o " +
                           Quote(P("all.db")) + " --json");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(json::parse(m.out)["runs"], 6);  // 3 cells per machine, none overlapping

  json doc = Analysis(P("all.db"));
  ASSERT_EQ(doc["envs"].size(), 2u);
  EXPECT_EQ(doc["envs"][0]["env"], "ref@cpu [node-a]");
  EXPECT_EQ(doc["envs"][1]["env"], "ref@cpu [node-b]");
  EXPECT_EQ(doc["envs"][1]["env_string"], "ref@cpu");
  EXPECT_EQ(doc["envs"][1]["machine"]["label"], "node-b");
  const json& model = doc["models"][0];
  ASSERT_EQ(model["pairs"].size(), 1u);  // the two machines compared with each other
  EXPECT_EQ(model["pairs"][0]["a"], "ref@cpu [node-a]");
  EXPECT_EQ(model["pairs"][0]["b"], "ref@cpu [node-b]");
  EXPECT_EQ(model["pairs"][0]["inputs"], 3);
  EXPECT_EQ(model["pairs"][0]["identical_outputs"], 3);
  EXPECT_EQ(model["performance"].size(), 2u);
  std::ifstream html_in(P("r.html"));
  std::string html((std::istreambuf_iterator<char>(html_in)), {});
  EXPECT_NE(html.find("ref@cpu [node-a]"), std::string::npos);
  EXPECT_NE(html.find("ref@cpu [node-b]"), std::string::npos);

  json grouped = Analysis(P("all.db"), "--group-by-env");
  ASSERT_EQ(grouped["envs"].size(), 1u);
  EXPECT_EQ(grouped["envs"][0]["env"], "ref@cpu");
  EXPECT_EQ(grouped["envs"][0]["machines"], json({"node-a", "node-b"}));
  const json& g = grouped["models"][0];
  EXPECT_EQ(g["cells"]["total"], 6);
  ASSERT_EQ(g["repeats"].size(), 1u);  // node-b's runs are repeat 1 of node-a's cells
  EXPECT_EQ(g["repeats"][0]["repeats"], 2);
  EXPECT_EQ(g["repeats"][0]["identical"], true);
  EXPECT_EQ(g["performance"][0]["latencies_ms"].size(), 6u);
}

}  // namespace
}  // namespace concord::e2e
