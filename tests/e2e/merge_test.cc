// `concord merge`: shards written with the store API, merged by the CLI; the result must hold
// exactly one run per (model, env, input, repeat) cell, and bad inputs must leave no output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "store/store.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

class MergeTest : public ::testing::Test {
 protected:
  std::string P(const std::string& n) { return (dir_ / n).string(); }

  // A shard with runs for the given input digests (one model, one env, repeat 0).
  void MakeShard(const std::string& path, const std::vector<std::string>& inputs,
                 const std::string& env, const std::string& digest_prefix = "digest-") {
    Store s = Store::Open(path);
    int64_t e = s.UpsertEnvironment({env, "ref", "cpu", "{}", "{}", "h"});
    int64_t m = s.UpsertModel("m.onnx", "sha-m", "m");
    for (const auto& d : inputs) {
      RunRecord r;
      r.model_id = m;
      r.env_id = e;
      r.input_id = s.UpsertInput(d, "{}");
      r.outputs.push_back({0, "y", "float", "[1]", digest_prefix + d, "", std::nullopt});
      s.RecordRun(r);
    }
  }
  test::TempDir tmp_{"concord_merge"};
  fs::path dir_ = tmp_.path();
};

TEST_F(MergeTest, UnionWithOneRowPerCell) {
  MakeShard(P("a.db"), {"in1", "in2"}, "ref");
  MakeShard(P("b.db"), {"in3", "in2"}, "ref");     // in2 overlaps
  MakeShard(P("c.db"), {"in1"}, "ref,threads=1");  // another env: a new cell
  CliResult r = RunConcord("merge " + P("a.db") + " " + P("b.db") + " " + P("c.db") + " -o " +
                           P("all.db") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["runs"], 4);
  EXPECT_EQ(j["inputs"][1]["runs_added"], 1);
  Store all = Store::Open(P("all.db"));
  auto runs = all.Runs();
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(all.RunCount(), 4);
  for (const auto& run : runs) EXPECT_EQ(all.Outputs(run.id).size(), 1u);
  EXPECT_FALSE(fs::exists(P("all.db.merging")));
}

// --into: merged in place, one store after another; a store merged again adds nothing, and a
// store that is not one leaves the target as it was.
TEST_F(MergeTest, IntoAddsInPlaceAndOnlyOnce) {
  MakeShard(P("a.db"), {"in1", "in2"}, "ref");
  MakeShard(P("b.db"), {"in3", "in2"}, "ref");
  CliResult r = RunConcord("merge " + P("a.db") + " --into " + P("all.db") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["runs"], 2);
  r = RunConcord("merge " + P("b.db") + " " + P("a.db") + " --into " + P("all.db") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["runs"], 3);
  EXPECT_EQ(j["inputs"][0]["runs_added"], 1);  // in3; in2 was already there
  EXPECT_EQ(j["inputs"][1]["runs_added"], 0);
  std::ofstream(P("junk.db")) << "not a database at all, just text";
  EXPECT_EQ(RunConcord("merge " + P("junk.db") + " --into " + P("all.db")).code, 2);
  EXPECT_EQ(Store::Open(P("all.db")).RunCount(), 3);
  EXPECT_EQ(RunConcord("merge " + P("a.db") + " --into " + P("x.db") + " -o " + P("y.db")).code, 2);
  EXPECT_EQ(RunConcord("merge " + P("a.db")).code, 2);
}

TEST_F(MergeTest, RefusesToOverwriteAndRejectsBadInputs) {
  MakeShard(P("a.db"), {"in1"}, "ref");
  ASSERT_EQ(RunConcord("merge " + P("a.db") + " -o " + P("out.db")).code, 0);
  EXPECT_EQ(RunConcord("merge " + P("a.db") + " -o " + P("out.db")).code, 2);
  EXPECT_EQ(RunConcord("merge " + P("a.db") + " -o " + P("out.db") + " --force").code, 0);
  EXPECT_EQ(RunConcord("merge " + P("a.db") + " -o " + P("a.db") + " --force").code, 2);
  std::ofstream(P("junk.db")) << "not a database at all, just text";
  CliResult bad = RunConcord("merge " + P("a.db") + " " + P("junk.db") + " -o " + P("new.db"));
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("junk.db"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(P("new.db"))) << "no half-merged output under the final name";
  EXPECT_EQ(RunConcord("merge " + P("missing.db") + " -o " + P("x.db")).code, 2);
}

TEST_F(MergeTest, ReportsOverlappingCellsAndDifferingOutputs) {
  MakeShard(P("a.db"), {"in1", "in2", "in3"}, "ref");
  MakeShard(P("b.db"), {"in2", "in4"}, "ref");            // in2 overlaps, same outputs
  MakeShard(P("c.db"), {"in3", "in5"}, "ref", "other-");  // in3 overlaps, other outputs
  std::string stores = P("a.db") + " " + P("b.db") + " " + P("c.db");
  CliResult r = RunConcord("merge " + stores + " -o " + P("all.db") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["runs"], 5);
  EXPECT_EQ(j["overlapping_cells"], 2);
  EXPECT_EQ(j["differing_cells"], 1);
  EXPECT_EQ(j["inputs"][0]["overlapping_cells"], 0);
  EXPECT_EQ(j["inputs"][1]["overlapping_cells"], 1);
  EXPECT_EQ(j["inputs"][1]["differing_cells"], 0);
  EXPECT_EQ(j["inputs"][2]["differing_cells"], 1);
  ASSERT_EQ(j["inputs"][2]["overlap_examples"].size(), 1u);
  EXPECT_EQ(j["inputs"][2]["overlap_examples"][0]["input"], "in3");
  EXPECT_TRUE(j["inputs"][2]["overlap_examples"][0]["outputs_differ"].get<bool>());
  CliResult t = RunConcord("merge " + stores + " -o " + P("all2.db"));
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("overlap 2 cell(s)"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("outputs differed in 1"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("DIFFER m | ref | input in3"), std::string::npos) << t.out;
}

TEST_F(MergeTest, RefusesTheSameStoreGivenTwice) {
  MakeShard(P("a.db"), {"in1"}, "ref");
  MakeShard(P("b.db"), {"in2"}, "ref");
  CliResult r =
      RunConcord("merge " + P("a.db") + " " + P("b.db") + " " + P("a.db") + " -o " + P("o.db"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("given twice"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(P("o.db")));
  // Another spelling of the same file is the same store.
  std::string other = (dir_ / "." / "a.db").string();
  r = RunConcord("merge " + P("a.db") + " " + other + " -o " + P("o.db"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_FALSE(fs::exists(P("o.db")));
  // The destination given as an input too (through another spelling).
  ASSERT_EQ(RunConcord("merge " + P("a.db") + " -o " + P("o.db")).code, 0);
  r = RunConcord("merge " + P("b.db") + " " + (dir_ / "." / "o.db").string() + " -o " + P("o.db") +
                 " --force");
  EXPECT_EQ(r.code, 2) << r.err;
}

}  // namespace
}  // namespace concord::e2e
