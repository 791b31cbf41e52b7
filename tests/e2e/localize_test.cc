// End-to-end tests of `concord localize` and `concord repair`, driving the real binary.
//
// Built three times (tests/CMakeLists.txt), selected by LOCALIZE_GROUP:
//   1 (label e2e):     the fault suite built with Concord's injector (every fault and both
//                      controls: node, kind, exit codes; repair exit 0 and a model that agrees),
//                      --inputs forms, bad input errors, Markdown/HTML files;
//   2 (label python):  the independent suite of scripts/make_fault_suite.py (onnx.helper,
//                      PyTorch-style names, checked with onnxruntime), and env-vs-env mode
//                      (ref vs ort@cpu on one model -> null);
//   3 (label browser): the localize HTML page renders its Chart.js plot in headless Chromium.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "ir/tensor_io.h"
#include "localize/localize_testing.h"
#include "passes/fault_inject.h"
#include "passes/fault_suite_net.h"
#include "tests/e2e/cli_runner.h"
#if LOCALIZE_GROUP == 3
#include "tests/e2e/browser.h"
#endif

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class LocalizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("concord_localize_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) { return (dir_ / name).string(); }

  // Source net + `n` input sets under DIR/inputs/test_data_set_K.
  std::string WriteSuiteSource(int n = 3) {
    passes::BuildFaultSuiteSourceNet().Save(P("source.onnx"));
    for (int s = 0; s < n; ++s) {
      fs::create_directories(P("inputs/test_data_set_" + std::to_string(s)));
      std::mt19937_64 rng(100 + s);
      std::uniform_real_distribution<float> d(0.0f, 1.0f);
      std::vector<float> v(3 * 32 * 32);
      for (auto& x : v) x = d(rng);
      WriteTensorPb(P("inputs/test_data_set_" + std::to_string(s) + "/input_0.pb"),
                    Tensor::FromVector<float>({1, 3, 32, 32}, v), "image");
    }
    return P("source.onnx");
  }
  fs::path dir_;
};

[[maybe_unused]] json ParseJson(const CliResult& r) {  // unused by some LOCALIZE_GROUPs
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\nstdout: " << r.out.substr(0, 2000)
                  << "\nstderr: " << r.err;
    return json::object();
  }
}

#if LOCALIZE_GROUP == 1

TEST_F(LocalizeCli, HelpExplainsBothCommands) {
  for (const char* cmd : {"localize --help", "repair --help"}) {
    CliResult r = RunConcord(cmd);
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
  }
  EXPECT_EQ(RunConcord("localize").code, 2);
  EXPECT_EQ(RunConcord("repair a.onnx b.onnx").code, 2);  // --out is required
}

TEST_F(LocalizeCli, FaultSuiteLocalizesEveryFaultAndRepairsIt) {
  std::string src = WriteSuiteSource(3);
  Model source = Model::Load(src);
  int faults = 0;
  for (const auto& name : passes::FaultNames()) {
    SCOPED_TRACE(name);
    passes::FaultLog log;
    Model tgt = passes::InjectFault(source, {name, "", 0}, &log);
    std::string t = P(name + ".onnx");
    tgt.Save(t);
    CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(t) + " --inputs " +
                             Quote(P("inputs")) + " --json");
    json j = ParseJson(r);
    EXPECT_EQ(j.value("input_sets", 0), 3);
    if (log.kind.empty()) {
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_TRUE(j["first_divergent_node"].is_null()) << r.out.substr(0, 3000);
      EXPECT_TRUE(j["kind"].is_null());
    } else {
      ++faults;
      EXPECT_EQ(r.code, 1) << r.err;
      EXPECT_EQ(j["first_divergent_node"], log.injected_node) << log.description;
      EXPECT_EQ(j["kind"], log.kind) << log.description;
      EXPECT_FALSE(j["nodes"].empty());
    }
    std::string fixed = P(name + ".fixed.onnx");
    CliResult rr = RunConcord("repair " + Quote(src) + " " + Quote(t) + " --inputs " +
                              Quote(P("inputs")) + " --out " + Quote(fixed) + " --json");
    EXPECT_EQ(rr.code, 0) << rr.out.substr(0, 3000) << rr.err;
    json rj = ParseJson(rr);
    EXPECT_EQ(rj.value("holdout_sets", 0), 1);  // 3 sets: 2 search, 1 held out
    if (log.kind.empty()) {                     // a control: nothing to repair, nothing written
      EXPECT_EQ(rj["status"], "nothing_to_repair");
      EXPECT_FALSE(rj.value("repaired", true));
      EXPECT_FALSE(fs::exists(fixed));
      continue;
    }
    EXPECT_EQ(rj["status"], "repaired");
    EXPECT_TRUE(rj.value("repaired", false));
    ASSERT_TRUE(fs::exists(fixed));
    ASSERT_TRUE(fs::exists(P(name + ".fixed.patch.json")));
    // The repaired model, localized afresh on all sets, agrees.
    CliResult again = RunConcord("localize " + Quote(src) + " " + Quote(fixed) + " --inputs " +
                                 Quote(P("inputs")) + " --json");
    EXPECT_EQ(again.code, 0) << again.out.substr(0, 2000);
    if (!log.kind.empty()) {
      ASSERT_FALSE(rj["patches"].empty());
      EXPECT_EQ(rj["patches"][0]["node"], log.injected_node);
      EXPECT_TRUE(rj["patches"][0].contains("before"));
      EXPECT_TRUE(rj["patches"].back()["agreement_after"]["agree"].get<bool>());
    }
  }
  EXPECT_GE(faults, 26);
}

// localize on `concord convert`'s own int8 QDQ output: kind quantization with the per-layer
// error of every quantized tensor, not an inserted-node graph fault.
TEST_F(LocalizeCli, ConvertInt8OutputIsQuantization) {
  std::string src = WriteSuiteSource(3);
  CliResult c = RunConcord("convert " + Quote(src) + " " + Quote(P("q.onnx")) +
                           " --pass quantize_int8 --calibration " + Quote(P("inputs")));
  ASSERT_EQ(c.code, 0) << c.err;
  CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(P("q.onnx")) + " --inputs " +
                           Quote(P("inputs")) + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  json j = ParseJson(r);
  EXPECT_EQ(j["kind"], "quantization") << j["evidence"].dump(1);
  ASSERT_TRUE(j.contains("quantization"));
  bool activation = false, weight = false;
  for (const auto& t : j["quantization"]) {
    activation = activation || t["kind"] == "activation";
    weight = weight || t["kind"] == "weight";
    ASSERT_TRUE(t["rel_error"].is_number()) << t.dump();
    EXPECT_LT(t["rel_error"].get<double>(), 0.05) << t.dump();
  }
  EXPECT_TRUE(activation && weight) << j["quantization"].dump(1);
  CliResult text = RunConcord("localize " + Quote(src) + " " + Quote(P("q.onnx")) + " --inputs " +
                              Quote(P("inputs")));
  EXPECT_NE(text.out.find("kind     quantization"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("quantized tensor(s)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("node inserted"), std::string::npos) << text.out;
}

// `concord convert --pass nhwc,fold_bn`, renamed wholesale by a converter that records the renames
// in concord.name_map, with a fault on the renamed conv3b: localize names the renamed target node
// and its source node (conv3a reads the same tensor with the same op: only the map tells them
// apart), in JSON and text; repair fixes it (held out: the third set).
TEST_F(LocalizeCli, RenamedNhwcTargetNamesBothNodesAndIsRepaired) {
  std::string src = WriteSuiteSource(3);
  CliResult c =
      RunConcord("convert " + Quote(src) + " " + Quote(P("nhwc.onnx")) + " --pass nhwc,fold_bn");
  ASSERT_EQ(c.code, 0) << c.err;
  Model source = Model::Load(src);
  Model renamed = localize::testing::RenameEverything(Model::Load(P("nhwc.onnx")),
                                                      localize::testing::RenameRecord::kNodes);
  std::string node = localize::testing::TargetName(source, renamed, "conv3b");
  ASSERT_NE(node, "");
  passes::InjectFault(renamed, {"param.fp16", node, 0}).Save(P("t.onnx"));
  std::string args = Quote(src) + " " + Quote(P("t.onnx")) + " --inputs " + Quote(P("inputs"));
  CliResult r = RunConcord("localize " + args + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  json j = ParseJson(r);
  EXPECT_EQ(j["first_divergent_node"], node);
  EXPECT_EQ(j["source_node"], "conv3b") << j["evidence"].dump(1);
  EXPECT_EQ(j["kind"], "parameter");
  EXPECT_EQ(j["evidence"]["mapped_from"], json::array({"conv3b"}));
  CliResult text = RunConcord("localize " + args);
  EXPECT_NE(text.out.find("first divergent node '" + node + "'"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("counterpart 'conv3b'"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("came from source node(s) [\"conv3b\"]"), std::string::npos) << text.out;
  CliResult rr = RunConcord("repair " + args + " --out " + Quote(P("fixed.onnx")) + " --json");
  EXPECT_EQ(rr.code, 0) << rr.out.substr(0, 3000) << rr.err;
  EXPECT_EQ(ParseJson(rr)["status"], "repaired");
  CliResult again = RunConcord("localize " + Quote(src) + " " + Quote(P("fixed.onnx")) +
                               " --inputs " + Quote(P("inputs")) + " --json");
  EXPECT_EQ(again.code, 0) << again.out.substr(0, 2000);
}

// REPAIRED only for an applied and verified edit; identical models are "nothing to repair";
// NOT REPAIRED says what was written.
TEST_F(LocalizeCli, RepairVerdictSaysWhatWasDoneAndWritten) {
  std::string src = WriteSuiteSource(2);
  std::string base = "repair " + Quote(src) + " ";
  CliResult same = RunConcord(base + Quote(src) + " --inputs " + Quote(P("inputs")) + " --out " +
                              Quote(P("same.onnx")));
  EXPECT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(same.out.find("REPAIRED"), std::string::npos) << same.out;
  EXPECT_NE(same.out.find("nothing to repair"), std::string::npos) << same.out;
  EXPECT_NE(same.out.find("wrote    nothing"), std::string::npos) << same.out;
  EXPECT_FALSE(fs::exists(P("same.onnx")));
  CliResult sj = RunConcord(base + Quote(src) + " --out " + Quote(P("same.onnx")) + " --json");
  EXPECT_EQ(sj.code, 0) << sj.err;
  json j = ParseJson(sj);
  EXPECT_EQ(j["status"], "nothing_to_repair");
  EXPECT_TRUE(j["fixed"].is_null());
  // Two faults, one edit allowed: an edit is applied, the model still diverges.
  Model one = passes::InjectFault(Model::Load(src), {"hyper.leaky_alpha", "", 0});
  passes::InjectFault(one, {"param.bias_scale", "fc1", 0}).Save(P("two.onnx"));
  CliResult part =
      RunConcord(base + Quote(P("two.onnx")) + " --max-steps 1 --out " + Quote(P("part.onnx")));
  EXPECT_EQ(part.code, 1) << part.err;
  EXPECT_NE(part.out.find("NOT REPAIRED"), std::string::npos) << part.out;
  EXPECT_NE(part.out.find("still diverges"), std::string::npos) << part.out;
  EXPECT_TRUE(fs::exists(P("part.onnx")));
  // A fixed target: REPAIRED, both files written.
  passes::InjectFault(Model::Load(src), {"hyper.leaky_alpha", "", 0}).Save(P("t.onnx"));
  CliResult ok = RunConcord(base + Quote(P("t.onnx")) + " --out " + Quote(P("fixed.onnx")));
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("REPAIRED: 1 edit(s) applied"), std::string::npos) << ok.out;
  EXPECT_TRUE(fs::exists(P("fixed.onnx")));
  EXPECT_TRUE(fs::exists(P("fixed.patch.json")));
}

TEST_F(LocalizeCli, InputsFormsAndTextReport) {
  std::string src = WriteSuiteSource(2);
  Model tgt = passes::InjectFault(Model::Load(src), {"hyper.pads", "", 0});
  tgt.Save(P("t.onnx"));
  std::string base = "localize " + Quote(src) + " " + Quote(P("t.onnx"));
  struct Form {
    std::string args;
    int sets;
  };
  for (const Form& f :
       std::vector<Form>{{" --inputs " + Quote(P("inputs")), 2},
                         {" --inputs " + Quote(P("inputs/test_data_set_1")), 1},
                         {" --inputs " + Quote(P("inputs/test_data_set_0/input_0.pb")), 1},
                         {"", 1}}) {
    CliResult r = RunConcord(base + f.args + " --json");
    json j = ParseJson(r);
    EXPECT_EQ(r.code, 1) << f.args << r.err;
    EXPECT_EQ(j.value("input_sets", 0), f.sets) << f.args;
    EXPECT_EQ(j["first_divergent_node"], "conv1") << f.args;
  }
  CliResult text = RunConcord(base + " --inputs " + Quote(P("inputs")) + " --md " +
                              Quote(P("r.md")) + " --html " + Quote(P("r.html")));
  EXPECT_EQ(text.code, 1);
  EXPECT_NE(text.out.find("first divergent node 'conv1'"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("hyperparameter"), std::string::npos);
  EXPECT_NE(text.out.find("pads"), std::string::npos);
  std::ifstream md(P("r.md"));
  std::string mds((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(mds.find("`conv1`"), std::string::npos);
  std::ifstream html(P("r.html"));
  std::string hs((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(hs.find("data-render-status=\"pending\""), std::string::npos);
  EXPECT_NE(hs.find("new Chart"), std::string::npos);
}

TEST_F(LocalizeCli, BadInputsAreUsageErrorsWithClearMessages) {
  std::string src = WriteSuiteSource(1);
  passes::BuildFaultSuiteSourceNet(16).Save(P("small.onnx"));
  CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(P("missing.onnx")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing.onnx"), std::string::npos) << r.err;
  r = RunConcord("localize " + Quote(src) + " " + Quote(src) + " --inputs " + Quote(P("nope")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
  // Other input dims are FetaFix's input-dimensions fault: a verdict (exit 1), nothing runs.
  r = RunConcord("localize " + Quote(src) + " " + Quote(P("small.onnx")));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("input dimensions (FetaFix's fault type)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nothing ran"), std::string::npos) << r.out;
  r = RunConcord("localize " + Quote(src) + " " + Quote(src) + " --env nosuchbackend");
  EXPECT_EQ(r.code, 2) << r.err;
  // Both envs are checked before either runs: a bad target env is named before the source runs.
  r = RunConcord("repair " + Quote(src) + " " + Quote(src) + " --env 'ref,fast=1' --out " +
                 Quote(P("g.onnx")) + " --json");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.out.find("does not know option 'fast'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(P("g.onnx")));
  std::ofstream(P("garbage.onnx")) << "not a model";
  r = RunConcord("repair " + Quote(src) + " " + Quote(P("garbage.onnx")) + " --out " +
                 Quote(P("f.onnx")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("garbage.onnx"), std::string::npos) << r.err;
  r = RunConcord("repair " + Quote(src) + " " + Quote(src) + " --out " + Quote(P("no/dir/f.onnx")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(r.signaled);
}

#elif LOCALIZE_GROUP == 2

TEST_F(LocalizeCli, IndependentPythonSuite) {
  std::string py = std::string(CONCORD_SOURCE_DIR) + "/.venv/bin/python";
  ASSERT_TRUE(fs::exists(py))
      << py << " missing: create the venv (scripts/setup) for python-labelled tests";
  std::string cmd = Quote(py) + " " + std::string(CONCORD_SOURCE_DIR) +
                    "/scripts/make_fault_suite.py " + Quote(P("suite")) + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  json manifest = json::parse(std::ifstream(P("suite/manifest.json")));
  ASSERT_GE(manifest.size(), 20u);
  std::string src = P("suite/source.onnx"), inputs = P("suite/inputs");
  for (const auto& c : manifest) {
    std::string name = c["case"].get<std::string>();
    SCOPED_TRACE(name);
    std::string t = P("suite/" + name + "/target.onnx");
    CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(t) + " --inputs " +
                             Quote(inputs) + " --json");
    json j = ParseJson(r);
    EXPECT_EQ(j["first_divergent_node"], c["injected_node"]) << c["description"];
    EXPECT_EQ(j["kind"], c["kind"]) << c["description"];
    EXPECT_EQ(r.code, c["kind"].is_null() ? 0 : 1);
    CliResult rr =
        RunConcord("repair " + Quote(src) + " " + Quote(t) + " --inputs " + Quote(inputs) +
                   " --out " + Quote(P(name + ".fixed.onnx")) + " --json");
    EXPECT_EQ(rr.code, 0) << rr.out.substr(0, 3000) << rr.err;
  }
}

TEST_F(LocalizeCli, EnvModeRefVersusOrtAgreesOnTheSameModel) {
  std::string src = WriteSuiteSource(2);
  CliResult r =
      RunConcord("localize " + Quote(src) + " " + Quote(src) +
                 " --source-env ref --env ort@cpu --inputs " + Quote(P("inputs")) + " --json");
  json j = ParseJson(r);
  EXPECT_EQ(r.code, 0) << r.err << r.out.substr(0, 3000);
  EXPECT_TRUE(j["first_divergent_node"].is_null());
  EXPECT_EQ(j["target_env"], "ort@cpu");
  EXPECT_TRUE(j.value("taps", false));  // the ORT worker returns intermediate tensors
  // A faulty target on ORT against the source on ref is still localized.
  passes::InjectFault(Model::Load(src), {"hyper.leaky_alpha", "", 0}).Save(P("t.onnx"));
  r = RunConcord("localize " + Quote(src) + " " + Quote(P("t.onnx")) +
                 " --source-env ref --env ort@cpu --inputs " + Quote(P("inputs")) + " --json");
  j = ParseJson(r);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(j["first_divergent_node"], "leaky2");
  EXPECT_EQ(j["kind"], "hyperparameter");
}

TEST_F(LocalizeCli, EnvWithoutTapsComparesOutputsOnlyAndSaysSo) {
  std::string src = WriteSuiteSource(1);
  passes::InjectFault(Model::Load(src), {"hyper.softmax_axis", "", 0}).Save(P("t.onnx"));
  CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(P("t.onnx")) +
                           " --source-env ref --env tvm@cpu "
                           "--inputs " +
                           Quote(P("inputs")) + " --json");
  json j = ParseJson(r);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_FALSE(j.value("taps", true));
  EXPECT_FALSE(j.value("localized", true));
  EXPECT_TRUE(j["first_divergent_node"].is_null());
  EXPECT_NE(j.value("note", std::string()).find("graph outputs only"), std::string::npos)
      << j.dump(1);
  r = RunConcord("localize " + Quote(src) + " " + Quote(src) +
                 " --source-env ref --env tvm@cpu --inputs " + Quote(P("inputs")));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("graph outputs only"), std::string::npos) << r.out;
}

#else  // LOCALIZE_GROUP == 3

TEST_F(LocalizeCli, HtmlPlotRendersInChromium) {
  std::string src = WriteSuiteSource(1);
  passes::InjectFault(Model::Load(src), {"graph.insert_relu", "", 0}).Save(P("t.onnx"));
  CliResult r = RunConcord("localize " + Quote(src) + " " + Quote(P("t.onnx")) + " --html " +
                           Quote(P("l.html")));
  ASSERT_EQ(r.code, 1) << r.err;
  fs::path png = fs::path(CONCORD_BUILD_DIR) / "localize_screenshot.png";
  BrowserResult b = RenderInChromium(P("l.html"), png);
  ASSERT_TRUE(b.found) << b.error;
  ASSERT_EQ(b.dom_code, 0) << b.err;
  EXPECT_NE(b.dom.find("data-render-status=\"ok\""), std::string::npos) << b.dom.substr(0, 3000);
  EXPECT_NE(b.dom.find("data-rendered=\"1\""), std::string::npos);
  EXPECT_NE(b.dom.find("extra_relu"), std::string::npos);
}

#endif

}  // namespace
}  // namespace concord::e2e
