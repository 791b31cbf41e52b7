// Root causes in the fuzz report: findings of one env and symptom with the same normalised
// message group when one reduced repro explains another (its nodes are a subset; for errors,
// one shared node kind), and the document carries both counts.
#include "report/fuzz_render.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace concord::report {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void Add(Store& store, const std::string& env, const std::string& symptom,
         const std::string& signature, std::vector<std::string> nodes, const std::string& message) {
  FindingRecord f;
  f.env = env;
  f.symptom = symptom;
  f.signature = signature;
  f.details_json = json{{"root_cause", {{"nodes", nodes}, {"message", message}}}}.dump();
  store.RecordFinding(f);
}

TEST(FuzzDocument, GroupsFindingsIntoRootCauses) {
  fs::path db = fs::temp_directory_path() / fmt::format("concord_fuzz_render_{}.db", getpid());
  fs::remove(db);
  {
    Store store = Store::Open(db.string());
    const std::string leak = "CallTIRRewrite: expected float16, got float32";
    const std::string differ = "output N: N of N elements differ";
    // One float16 BatchNormalization leak, failing on whichever binary op follows: one cause.
    Add(store, "tvm", "error", "Add,BatchNormalization",
        {"Add():float16", "BatchNormalization(epsilon):float16"}, leak);  // #1
    Add(store, "tvm", "error", "BatchNormalization,Mul",
        {"BatchNormalization(epsilon):float16", "Mul():float16"}, leak);  // #2
    // int32 ReduceMean: the one-node repro explains the two-node one.
    Add(store, "tvm", "inconsistent", "ReduceMean,Relu", {"ReduceMean(axes):int32", "Relu():int32"},
        differ);                                                                          // #3
    Add(store, "tvm", "inconsistent", "ReduceMean", {"ReduceMean(axes):int32"}, differ);  // #4
    // Same message, unrelated nodes: inconsistent results need the subset rule.
    Add(store, "tvm", "inconsistent", "Relu", {"Relu():float32"}, differ);  // #5
    // Another env is another cause even with the same nodes and message.
    Add(store, "ort", "error", "Add,BatchNormalization",
        {"Add():float16", "BatchNormalization(epsilon):float16"}, leak);  // #6
    json doc = FuzzDocument(store);
    EXPECT_EQ(doc["totals"]["findings"], 6);
    EXPECT_EQ(doc["totals"]["root_causes"], 4) << doc["root_causes"].dump(2);
    std::map<int64_t, int64_t> cause;
    for (const auto& f : doc["findings"]) cause[f["id"]] = f["root_cause"];
    EXPECT_EQ(cause[1], 1);
    EXPECT_EQ(cause[2], 1);
    EXPECT_EQ(cause[3], 4);  // named after the smaller repro
    EXPECT_EQ(cause[4], 4);
    EXPECT_EQ(cause[5], 5);
    EXPECT_EQ(cause[6], 6);
    std::string html = RenderFuzzHtml(doc);
    EXPECT_NE(html.find("6 distinct findings from 4 root cause(s)"), std::string::npos);
  }
  fs::remove(db);
}

}  // namespace
}  // namespace concord::report
