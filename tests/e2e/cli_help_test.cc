// End-to-end tests of the CLI's manners: suggestions for mistyped commands and options, one
// JSON error document with --json, one spelling per meaning (--envs/--env aliases), exit codes
// that mean the same in every subcommand, `inspect`, and convert refusing to overwrite its input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/store.h"
#include "testing/cli_runner.h"
#include "testing/graph_builder.h"
#include "testing/temp_dir.h"

namespace concord::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// x[1,4] -> Relu -> Add(x) -> Relu -> y[1,4]: two Relu, one Add.
std::string WriteSmallModel(const TempDir& dir, const std::string& name = "m.onnx") {
  GraphBuilder b("small");
  b.Input("x", {1, 4});
  b.Output("y", {1, 4});
  b.Node("Relu", {"x"}, "r1");
  b.Node("Add", {"r1", "x"}, "s");
  b.Node("Relu", {"s"}, "y");
  std::string path = dir.File(name);
  b.Build().Save(path);
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CliHelp, UnknownCommandSuggestsTheNearestOne) {
  CliResult r = RunConcord("compre x");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'compre'; did you mean 'compare'?"), std::string::npos)
      << r.err;
  r = RunConcord("zzzzzz");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'zzzzzz'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("did you mean"), std::string::npos) << r.err;
}

TEST(CliHelp, UnknownOptionSuggestsTheNearestOne) {
  CliResult r = RunConcord("run m.onnx --tops-k 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option '--tops-k'; did you mean --top-k?"), std::string::npos)
      << r.err;
  r = RunConcord("compare m.onnx --envs ref --atoll=1e-3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --atol?"), std::string::npos) << r.err;
}

TEST(CliHelp, EverySubcommandDocumentsItsExitCodes) {
  for (const char* cmd :
       {"run", "inspect", "conformance", "envs", "compare", "bench", "matrix", "report", "gen",
        "fuzz", "fuzz-report", "reduce", "localize", "repair", "convert", "serve", "merge"}) {
    CliResult r = RunConcord(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    // The subcommand's own footer, not only the root's "Exit codes:" line.
    std::string own = r.out.substr(0, r.out.rfind("Exit codes: 0 ran and agreed"));
    EXPECT_NE(own.find("Exit"), std::string::npos) << cmd << ":\n" << r.out;
  }
}

TEST(CliHelp, JsonErrorsAreOneDocumentOnStdout) {
  TempDir dir("cli_help");
  struct Case {
    std::string args, kind;
  };
  std::string corrupt = dir.Write("bad.onnx", "this is not a protobuf").string();
  for (const Case& c :
       {Case{"compre x --json", "usage"}, Case{"run m.onnx --tops-k 3 --json", "usage"},
        Case{"run /no/such.onnx --json", "input"},
        Case{"inspect " + Quote(corrupt) + " --json", "input"}}) {
    CliResult r = RunConcord(c.args);
    EXPECT_EQ(r.code, 2) << c.args;
    json doc = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << c.args << ": " << r.out;
    EXPECT_EQ(doc["error"]["kind"], c.kind) << c.args;
    EXPECT_FALSE(doc["error"]["message"].get<std::string>().empty()) << c.args;
    EXPECT_EQ(doc["exit_code"], 2) << c.args;
  }
  // Without --json, stdout stays empty on error.
  EXPECT_TRUE(RunConcord("run /no/such.onnx").out.empty());
}

TEST(CliHelp, EnvAndEnvsAreAliasesWithOneMeaning) {
  TempDir dir("cli_help");
  std::string m = Quote(WriteSmallModel(dir));
  // A single-env command takes --envs when it names exactly one env...
  CliResult r = RunConcord("run " + m + " --envs ref --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["env"], "ref@cpu");
  // ...and refuses a list, naming the count.
  r = RunConcord("run " + m + " --env 'ref;ref'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("exactly one environment, got 2"), std::string::npos) << r.err;
  r = RunConcord("localize " + m + " " + m + " --source-env 'ref;ref'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--source-env: takes exactly one environment"), std::string::npos) << r.err;
  // A list command takes --env as an alias of --envs (repeatable, concatenated).
  r = RunConcord("compare " + m + " --env ref --env ref --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["envs"].size(), 2u);
  // A malformed env is a usage error at parse time.
  r = RunConcord("compare " + m + " --envs 'ref;@@'");
  EXPECT_EQ(r.code, 2) << r.err;
}

TEST(CliHelp, ComparingCommandsShowTheirTolerance) {
  TempDir dir("cli_help");
  std::string m = Quote(WriteSmallModel(dir));
  CliResult r = RunConcord("compare " + m + " --envs 'ref;ref' --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tolerance"]["rtol"], 1e-5);
  r = RunConcord("localize " + m + " " + m + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tolerance"]["rtol"], 1e-4);
  EXPECT_EQ(json::parse(r.out)["tolerance"]["atol"], 1e-5);
  r = RunConcord("localize " + m + " " + m + " --rtol 0.5");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tol     rtol 0.5, atol 1e-05"), std::string::npos) << r.out;
  r = RunConcord("repair " + m + " " + m + " --out " + Quote(dir.File("fixed.onnx")) + " --json");
  ASSERT_LE(r.code, 1) << r.err;
  EXPECT_EQ(json::parse(r.out)["tolerance"]["atol"], 1e-5);
}

TEST(CliHelp, FuzzReportExitsOneWhenTheStoreHoldsFindings) {
  TempDir dir("cli_help");
  std::string db = dir.File("fuzz.db");
  {
    Store store = Store::Open(db);
    FindingRecord f;
    f.env = "ort@cpu";
    f.symptom = "undefined";
    f.signature = "Relu";
    store.RecordFinding(f);
    f.symptom = "boundary";
    f.signature = "Floor";
    store.RecordFinding(f);
  }
  CliResult r = RunConcord("fuzz-report " + Quote(db) + " --out " + Quote(dir.File("a.html")));
  EXPECT_EQ(r.code, 0) << r.err;  // 'undefined' and 'boundary' are labels, not bugs
  {
    Store store = Store::Open(db);
    FindingRecord f;
    f.env = "ort@cpu";
    f.symptom = "crash";
    f.signature = "Add";
    store.RecordFinding(f);
  }
  r = RunConcord("fuzz-report " + Quote(db) + " --out " + Quote(dir.File("b.html")));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(fs::exists(dir.File("b.html")));
  r = RunConcord("fuzz-report --help");
  EXPECT_NE(r.out.find("1 the store holds findings"), std::string::npos) << r.out;
}

TEST(CliHelp, InspectDescribesAModelBuiltWithKnownOps) {
  TempDir dir("cli_help");
  std::string m = WriteSmallModel(dir);
  CliResult r = RunConcord("inspect " + Quote(m) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_EQ(d["format"], "onnx");
  EXPECT_EQ(d["nodes"], 3);
  EXPECT_EQ(d["ops"]["Relu"], 2);
  EXPECT_EQ(d["ops"]["Add"], 1);
  EXPECT_EQ(d["inputs"][0]["name"], "x");
  EXPECT_EQ(d["inputs"][0]["shape"], json::array({1, 4}));
  EXPECT_EQ(d["checker"], "ok");
  r = RunConcord("inspect " + Quote(m));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Relu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x                            float    [1,4]"), std::string::npos) << r.out;
}

TEST(CliHelp, InspectTheDemoModel) {
  std::string demo = std::string(CONCORD_SOURCE_DIR) + "/build/demo/efficientnet_lite0.onnx";
  if (!fs::exists(demo)) GTEST_SKIP() << "no demo model (scripts/demo builds it): " << demo;
  CliResult r = RunConcord("inspect " + Quote(demo) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_EQ(d["inputs"][0]["name"], "images");
  EXPECT_EQ(d["inputs"][0]["shape"], json::array({1, 3, 224, 224}));
  EXPECT_EQ(d["outputs"][0]["shape"], json::array({1, 1000}));
  EXPECT_EQ(d["opsets"][0]["version"], 17);
  EXPECT_GT(d["ops"]["Conv"].get<int>(), 10);
}

TEST(CliHelp, InspectRejectsMissingAndCorruptFiles) {
  TempDir dir("cli_help");
  CliResult r = RunConcord("inspect /no/such.onnx");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/no/such.onnx"), std::string::npos) << r.err;
  std::string corrupt = dir.Write("bad.onnx", std::string("\x08\xff\xff garbage", 11)).string();
  r = RunConcord("inspect " + Quote(corrupt));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_FALSE(r.signaled);
  EXPECT_NE(r.err.find("bad.onnx"), std::string::npos) << r.err;
}

TEST(CliHelp, ConvertRefusesToOverwriteItsInput) {
  TempDir dir("cli_help");
  std::string m = WriteSmallModel(dir);
  std::string before = ReadAll(m);
  for (const std::string& out : {m, (dir.path() / "." / "m.onnx").string()}) {
    CliResult r = RunConcord("convert " + Quote(m) + " " + Quote(out) + " --pass fold_constants");
    EXPECT_EQ(r.code, 2) << out;
    EXPECT_NE(r.err.find("is the input model"), std::string::npos) << r.err;
    EXPECT_EQ(ReadAll(m), before);
  }
  fs::create_symlink(m, dir.File("link.onnx"));
  CliResult r = RunConcord("convert " + Quote(m) + " " + Quote(dir.File("link.onnx")) +
                           " --pass fold_constants");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(ReadAll(m), before);
  r = RunConcord("convert " + Quote(m) + " " + Quote(dir.File("o.onnx")) +
                 " --pass fold_constants");
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace concord::test
