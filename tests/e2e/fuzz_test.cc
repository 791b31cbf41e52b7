// `concord fuzz` / `fuzz-report` end to end: a short campaign on ONNX Runtime and OpenCV with
// generated models, its JSON summary and store, operator support inference, the report in
// headless Chromium, and usage errors.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "store/store.h"
#include "testing/temp_dir.h"
#include "tests/e2e/browser.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / fmt::format("concord_fuzz_e2e_{}_{}", getpid(), name);
  fs::remove_all(d);
  return d;
}

std::string Attribute(const std::string& tag, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(tag, m, std::regex(name + "=\"([^\"]*)\""))) return "<absent>";
  return m[1].str();
}

TEST(FuzzCli, ShortCampaignRecordsEverythingAndTheReportRenders) {
  fs::path out = TempDir("campaign");
  CliResult r = RunConcord("fuzz --envs 'ort@cpu;opencv@cpu' --iterations 12 --seed 5 --out " +
                           Quote(out.string()) + " --json");
  ASSERT_LE(r.code, 1) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["models"], 12);
  EXPECT_EQ(s["tests"], 24);
  EXPECT_EQ(s["generator_failures"], 0);
  for (const char* env : {"ort@cpu", "opencv@cpu"}) {
    const json& e = s["envs"][env];
    int64_t symptoms = 0;
    for (const auto& [k, v] : e["symptoms"].items()) symptoms += v.get<int64_t>();
    EXPECT_EQ(e["ok"].get<int64_t>() + e["unsupported"].get<int64_t>() + symptoms, 12) << env;
  }
  EXPECT_GT(s["envs"]["ort@cpu"]["ok"].get<int64_t>(), 6);  // ORT runs most generated models
  // Both counts: raw findings and the root causes they group into; each finding names its own.
  EXPECT_EQ(s["findings_in_store"].get<size_t>(), s["findings"].size());
  EXPECT_LE(s["root_causes_in_store"].get<int64_t>(), s["findings_in_store"].get<int64_t>());
  EXPECT_EQ(s["root_causes_in_store"].get<size_t>(), s["root_causes"].size());
  for (const auto& f : s["findings"]) EXPECT_TRUE(f.contains("root_cause")) << f.dump();
  Store store = Store::Open((out / "fuzz.db").string());
  EXPECT_FALSE(store.OpCoverage().empty());
  EXPECT_FALSE(store.FuzzTicks().empty());
  // Coverage per target: both envs tested node kinds; clean runs never exceed tests.
  std::set<std::string> covered;
  for (const KindCoverageRecord& k : store.KindCoverage()) {
    covered.insert(k.env);
    EXPECT_LE(k.clean, k.tested) << k.env << " " << k.kind;
  }
  EXPECT_EQ(covered, (std::set<std::string>{"ort@cpu", "opencv@cpu"}));
  for (const auto& f : store.Findings()) {
    EXPECT_TRUE(fs::exists(fs::path(f.bundle) / "repro.sh")) << f.bundle;
    EXPECT_LE(f.reduced_nodes, f.original_nodes);
    // ORT's bugs get the upstream files: a standalone repro.py (onnxruntime + numpy), checked
    // once, and report.md in ORT's issue template.
    if (f.env.rfind("ort@", 0) == 0 &&
        (f.symptom == "inconsistent" || f.symptom == "error" || f.symptom == "crash")) {
      fs::path b(f.bundle);
      EXPECT_TRUE(fs::exists(b / "repro.py") && fs::exists(b / "expected.npz")) << f.bundle;
      std::ifstream in(b / "report.md");
      std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_NE(md.find("### ONNX Runtime Version or Commit ID"), std::string::npos) << md;
      json fj = json::parse(std::ifstream(b / "finding.json"));
      EXPECT_EQ(fj["details"]["standalone_repro"]["repro"], "reproduces") << fj.dump();
    }
  }
  // The report: every chart drawn, no script error.
  fs::path html = out / "fuzz_report.html";
  ASSERT_TRUE(fs::exists(html));
  BrowserResult b = RenderInChromium(html, out / "fuzz_report.png");
  ASSERT_TRUE(b.found) << b.error;
  std::smatch body;
  ASSERT_TRUE(std::regex_search(b.dom, body, std::regex("<body[^>]*>")));
  EXPECT_EQ(Attribute(body.str(), "data-render-status"), "ok") << body.str();
  int drawn = 0;
  std::regex canvas("<canvas[^>]*>");
  for (auto it = std::sregex_iterator(b.dom.begin(), b.dom.end(), canvas);
       it != std::sregex_iterator(); ++it) {
    drawn += Attribute(it->str(), "data-rendered") == "1";
  }
  EXPECT_EQ(drawn, 3);
  // fuzz-report rebuilds it from the store.
  CliResult rep = RunConcord("fuzz-report " + Quote((out / "fuzz.db").string()) + " --out " +
                             Quote((out / "again.html").string()));
  EXPECT_EQ(rep.code, r.code) << rep.err;  // 1 exactly when the store holds bug findings
  EXPECT_NE(rep.out.find("root cause"), std::string::npos) << rep.out;
  EXPECT_TRUE(fs::exists(out / "again.html"));
  // --recheck re-judges every stored wrong value (its repro run again on its env and ref) and
  // clusters the store again; every wrong value gets one verdict.
  int64_t wrong = 0;
  for (const auto& f : store.Findings()) wrong += f.symptom == "inconsistent" ? 1 : 0;
  CliResult re = RunConcord("fuzz-report " + Quote((out / "fuzz.db").string()) +
                            " --recheck --json --out " + Quote((out / "rechecked.html").string()));
  ASSERT_LE(re.code, 1) << re.err;
  json doc = json::parse(re.out)["document"];
  const json& rc = doc["recheck"];
  EXPECT_EQ(rc["wrong_value_findings"].get<int64_t>(), wrong) << rc.dump();
  EXPECT_EQ(rc["still_wrong"].get<int64_t>() + rc["relabelled_boundary"].get<int64_t>() +
                rc["agrees_now"].get<int64_t>() + rc["not_rechecked"].get<int64_t>(),
            wrong)
      << rc.dump();
  EXPECT_EQ(rc["root_causes"]["after"], doc["totals"]["root_causes"]) << rc.dump();
  EXPECT_EQ(Store::Open((out / "fuzz.db").string()).RootCauses().size(),
            doc["totals"]["root_causes"].get<size_t>());
  fs::remove_all(out);
}

// Raw findings and root causes in --json, and a second campaign on the same store: the same
// seeds find the same bugs, which the store marks as known root causes.
TEST(FuzzCli, RootCausesAreCountedAndKnownAcrossCampaigns) {
  fs::path out = TempDir("root_causes");
  std::string cmd =
      "fuzz --envs 'ort@cpu;tvm@cpu' --ops Elu,Relu,Add --dtypes float16 --iterations 4 "
      "--seed 5 --out " +
      Quote(out.string()) + " --json";
  CliResult r1 = RunConcord(cmd);
  ASSERT_LE(r1.code, 1) << r1.err;
  json a = json::parse(r1.out);
  // TVM 0.27 cannot import a float16 Elu (findings/tvm/elu_float16_constant_float32): at least
  // one bug. (This test used ORT's saturating int32 ReduceProd, now labelled undefined.)
  ASSERT_GE(a["root_causes_found"].get<int64_t>(), 1) << r1.out;
  EXPECT_GE(a["raw_findings"].get<int64_t>(), a["root_causes_found"].get<int64_t>());
  EXPECT_EQ(a["known_root_causes"], 0);  // a fresh store knows nothing
  EXPECT_EQ(a["new_root_causes"], a["root_causes_found"]);
  EXPECT_TRUE(a["labels"].is_object());
  CliResult r2 = RunConcord(cmd);
  ASSERT_LE(r2.code, 1) << r2.err;
  json b = json::parse(r2.out);
  EXPECT_EQ(b["root_causes_found"], a["root_causes_found"]);
  EXPECT_EQ(b["known_root_causes"], b["root_causes_found"]) << r2.out;
  EXPECT_EQ(b["new_root_causes"], 0);
  EXPECT_EQ(b["new_findings"], 0);
  Store store = Store::Open((out / "fuzz.db").string());
  EXPECT_EQ(store.RootCauses().size(), b["root_causes_in_store"].get<size_t>());
  for (const auto& f : store.Findings()) EXPECT_TRUE(f.root_cause.has_value()) << f.signature;
}

TEST(FuzzCli, OperatorSupportInferenceRecordsEveryEnv) {
  fs::path out = TempDir("support");
  CliResult r = RunConcord(
      "fuzz --envs 'ort@cpu;opencv@cpu' --infer-support --ops Relu,Greater "
      "--dtypes float32,int64 --iterations 2 --out " +
      Quote(out.string()) + " --json");
  ASSERT_LE(r.code, 1) << r.err;
  Store store = Store::Open((out / "fuzz.db").string());
  std::map<std::string, std::string> status;
  for (const auto& s : store.OpSupport()) status[s.env + " " + s.op + " " + s.dtype] = s.status;
  std::string all;
  for (const auto& [k, v] : status) all += k + "=" + v + "; ";
  // Relu float32 runs everywhere; ORT compares int64, OpenCV 4.6 cannot import int64 tensors.
  EXPECT_EQ(status["ort@cpu Relu float32"], "ok") << all;
  EXPECT_EQ(status["opencv@cpu Relu float32"], "ok") << all;
  ASSERT_TRUE(status.count("opencv@cpu Greater int64")) << all;
  EXPECT_EQ(status["ort@cpu Greater int64"], "ok") << all;
  EXPECT_NE(status["opencv@cpu Greater int64"], "ok") << all;
  // Each env's rejections are its own: the generator then avoids them only on that env's turn.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(opencv@cpu\s+rejects (\d+))"))) << r.err;
  EXPECT_GE(std::stoi(m[1]), 1) << r.err;
  EXPECT_NE(r.err.find("models take turns"), std::string::npos) << r.err;
  // A later campaign on the same store reuses the record instead of inferring again...
  std::string again =
      "fuzz --envs 'ort@cpu;opencv@cpu' --ops Relu,Greater --dtypes float32,int64 "
      "--iterations 1 --out " +
      Quote(out.string()) + " --json";
  CliResult r2 = RunConcord(again);
  ASSERT_LE(r2.code, 1) << r2.err;
  EXPECT_EQ(r2.err.find("inferring op support"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("avoiding the (op, dtype) pairs"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find(m.str()), std::string::npos) << r2.err;
  // ...unless asked to keep them.
  CliResult r3 = RunConcord(again + " --keep-unsupported");
  ASSERT_LE(r3.code, 1) << r3.err;
  EXPECT_EQ(r3.err.find("rejects"), std::string::npos) << r3.err;
  fs::remove_all(out);
}

TEST(FuzzCli, TimeBoundsTheWholeRunIncludingSupportInference) {
  fs::path out = TempDir("time");
  auto t0 = std::chrono::steady_clock::now();
  // Every op x dtype would take minutes; --time 4 must cut inference short.
  CliResult r = RunConcord("fuzz --envs 'ort@cpu;opencv@cpu' --infer-support --time 4 --out " +
                           Quote(out.string()) + " --json");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_LE(r.code, 1) << r.err;
  EXPECT_LT(s, 40) << r.err;  // the budget, plus one probe in flight and the report
  EXPECT_NE(r.err.find("op support"), std::string::npos) << r.err;  // progress was shown
  EXPECT_NE(r.err.find("out of time"), std::string::npos) << r.err;
  fs::remove_all(out);
}

TEST(FuzzCli, UsageErrorsExitTwo) {
  test::TempDir tmp("concord_fuzz_usage");
  std::string never = (tmp.path() / "never").string();
  CliResult r = RunConcord("fuzz --envs ort@cpu --out " + Quote(never));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--iterations"), std::string::npos) << r.err;
  r = RunConcord("fuzz --envs 'ref;nosuch@cpu' --iterations 1 --out " + Quote(never));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown backend 'nosuch'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(never)) << "an invalid env must not create --out";
  r = RunConcord("fuzz-report /no/such.db");
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace concord::e2e
