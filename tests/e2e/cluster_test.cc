// Campaigns from several machines and shards: the same env string run on two machines stays two
// environments through `concord merge` and the report (one with --group-by-env); a matrix and a
// fuzz campaign split with --shard and merged equal one process.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
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

// Every run of a store as comparable values: cell key, machine, status and output digests.
using RowKey = std::tuple<std::string, std::string, std::string, std::string, int64_t, std::string,
                          std::string>;
std::multiset<RowKey> Rows(const std::string& db) {
  Store s = Store::Open(db);
  std::multiset<RowKey> rows;
  for (const RunRow& r : s.Runs()) {
    std::string digests;
    for (const auto& o : s.Outputs(r.id)) digests += o.digest + ";";
    rows.insert({r.model_sha256, r.env, r.machine, r.input_digest, r.repeat, r.status, digests});
  }
  return rows;
}

TEST_F(ClusterTest, MatrixShardsMergedEqualOneProcess) {
  // 2 models x 2 envs = 4 sessions over 3 shards: shard 0 owns sessions 0 and 3.
  json config = RefConfig(3);
  config["models"].push_back(
      {{"path", kTestData + "/node/test_relu/model.onnx"}, {"name", "relu"}});
  config["envs"] = {"ref", "opencv@cpu"};
  config["repeats"] = 2;
  std::string cfg = WriteConfig(config);
  const std::string label = "CONCORD_MACHINE_LABEL=node-a";
  CliResult one =
      RunConcord("matrix " + Quote(cfg) + " --no-report --db " + Quote(P("one.db")), label);
  ASSERT_EQ(one.code, 0) << one.err;
  std::string merge = "merge";
  std::vector<size_t> shard_rows;
  for (int i = 0; i < 3; ++i) {
    std::string db = P(fmt::format("s{}.db", i));
    CliResult r = RunConcord(
        fmt::format("matrix {} --no-report --shard {}/3 --db {}", Quote(cfg), i, Quote(db)), label);
    ASSERT_EQ(r.code, 0) << r.err;
    shard_rows.push_back(Rows(db).size());
    merge += " " + Quote(db);
  }
  EXPECT_EQ(shard_rows, (std::vector<size_t>{12, 6, 6}));  // 6 cells per session
  ASSERT_EQ(RunConcord(merge + " -o " + Quote(P("all.db"))).code, 0);
  std::multiset<RowKey> single = Rows(P("one.db"));
  EXPECT_EQ(single.size(), 24u);
  EXPECT_EQ(Rows(P("all.db")), single);

  CliResult bad = RunConcord("matrix " + Quote(cfg) + " --shard 3/3 --db " + Quote(P("bad.db")));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("0 <= I < N"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(P("bad.db"))) << "a bad --shard must not leave a store behind";
}

// (env, symptom, signature) -> count of a fuzz store.
std::map<std::tuple<std::string, std::string, std::string>, int64_t> Findings(
    const std::string& db) {
  Store s = Store::Open(db);
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> out;
  for (const auto& f : s.Findings()) out[{f.env, f.symptom, f.signature}] = f.count;
  return out;
}

TEST_F(ClusterTest, FuzzShardsMergedHaveTheFindingsOfOneRun) {
  // One-node models against opencv and an unreachable remote env: every model is an error
  // finding on the remote env, and op types repeat, so counts above 1 must add up across shards.
  const std::string fuzz =
      "fuzz --envs 'opencv@cpu;ref,host=127.0.0.1:9' --iterations 24 --seed 11 --max-nodes 1 "
      "--no-reduce --quiet ";
  CliResult one = RunConcord(fuzz + "--out " + Quote(P("one")));
  ASSERT_LE(one.code, 1) << one.err;
  std::string merge = "merge";
  for (int i = 0; i < 3; ++i) {
    std::string out = P(fmt::format("f{}", i));
    CliResult r = RunConcord(fuzz + fmt::format("--shard {}/3 --out {}", i, Quote(out)));
    ASSERT_LE(r.code, 1) << r.err;
    merge += " " + Quote(out + "/fuzz.db");
  }
  ASSERT_EQ(RunConcord(merge + " -o " + Quote(P("all.db"))).code, 0);
  auto single = Findings(P("one/fuzz.db"));
  int64_t hits = 0, repeated = 0;
  for (const auto& [key, n] : single) {
    hits += n;
    repeated += n > 1;
  }
  EXPECT_GE(hits, 24);     // at least the remote env's error on every model
  EXPECT_GT(repeated, 0);  // some signature hit more than once
  EXPECT_EQ(Findings(P("all.db")), single);
  Store merged = Store::Open(P("all.db"));
  Store ref = Store::Open(P("one/fuzz.db"));
  EXPECT_EQ(merged.OpCoverage(), ref.OpCoverage());
  EXPECT_EQ(merged.FuzzTicks().size(), 3u);  // each shard's final tick
  // Merging the merged store with a shard it already holds changes nothing.
  ASSERT_EQ(RunConcord("merge " + Quote(P("all.db")) + " " + Quote(P("f0/fuzz.db")) + " -o " +
                       Quote(P("again.db")))
                .code,
            0);
  EXPECT_EQ(Findings(P("again.db")), single);
}

}  // namespace
}  // namespace concord::e2e
