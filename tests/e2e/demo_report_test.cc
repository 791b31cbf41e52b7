// The README demo's pipeline end to end on real data: the pretrained EfficientNet-Lite0
// (scripts/make_demo_data.py) on the packaged photos through `concord matrix` on several
// runtimes, then `concord report`, then the HTML opened in headless Chromium. Checks that the
// labels make sense (class names, the obvious photos classified right on every env), that the
// report's charts all rendered, and saves a screenshot to build/demo_report_screenshot.png.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/e2e/browser.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Attribute(const std::string& tag, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(tag, m, std::regex(name + "=\"([^\"]*)\""))) return "<absent>";
  return m[1].str();
}

TEST(DemoReport, ClassifierAcrossRuntimesRendersInChromium) {
  fs::path demo = fs::path(CONCORD_SOURCE_DIR) / "build" / "demo";
  ASSERT_TRUE(fs::exists(demo / "efficientnet_lite0.onnx"))
      << "run scripts/setup first: it builds the demo classifier into " << demo;
  fs::path dir = fs::path(CONCORD_BUILD_DIR) / "demo_report_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  json config =
      json::parse(std::ifstream(fs::path(CONCORD_SOURCE_DIR) / "examples/demo/matrix.json"));
  for (auto& m : config["models"]) {  // the runtimes on the ONNX file (the demo's conversions
    m.erase("onnx");                  // and PyTorch source are matrix_conversions_e2e's part)
    m.erase("conversions");
    m["path"] = (demo / "efficientnet_lite0.onnx").string();
    m["class_names"] = (demo / "imagenet_classes.txt").string();
  }
  config["dataset"]["images"] = (demo / "photos").string();
  config["dataset"]["labels"] = (demo / "photos" / "labels.csv").string();
  config["envs"] = {"ref", "ort@cpu,opt=0|3", "tvm@cpu,opt=0", "opencv@cpu", "dnnl@cpu,opt=0|3"};
  config["repeats"] = 2;
  std::ofstream(dir / "matrix.json") << config.dump(2);

  std::string db = (dir / "concord.db").string();
  CliResult m = RunConcord("matrix " + Quote((dir / "matrix.json").string()) + " --db " +
                           Quote(db) + " --no-report --quiet --json");
  ASSERT_LE(m.code, 1) << m.err;
  EXPECT_EQ(json::parse(m.out)["failed"], 0) << m.out;

  fs::path html = dir / "report.html";
  fs::path analysis = dir / "analysis.json";
  CliResult r = RunConcord("report " + Quote(db) + " --out " + Quote(html.string()) +
                           " --md --analysis-json " + Quote(analysis.string()));
  ASSERT_EQ(r.code, 0) << r.err;
  // Sensible labels: class names, and the unambiguous photos right on every env.
  json a = json::parse(std::ifstream(analysis));
  const json& model = a["models"][0];
  ASSERT_EQ(model["class_names"].size(), 1000u);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < model["inputs"].size(); ++i) index[model["inputs"][i]["name"]] = i;
  for (const auto& [env, preds] : model["predictions"].items()) {
    for (const auto& [photo, cls] : std::map<std::string, int>{
             {"coffee.png", 967}, {"baboon.jpg", 372}, {"orange.jpg", 950}}) {
      ASSERT_TRUE(index.count(photo)) << photo;
      EXPECT_EQ(preds[index[photo]]["top"][0], cls) << env << " " << photo;
    }
  }
  for (const auto& q : model["quality"]) {
    EXPECT_GE(q["top1_accuracy"].get<double>(), 0.75) << q["env"];
    EXPECT_EQ(q["n"], 8);
  }
  std::string md((std::istreambuf_iterator<char>(std::ifstream(dir / "report.md").rdbuf())),
                 std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("espresso"), std::string::npos);

  fs::path png = fs::path(CONCORD_BUILD_DIR) / "demo_report_screenshot.png";
  BrowserResult b = RenderInChromium(html, png);
  ASSERT_TRUE(b.found) << b.error;
  ASSERT_EQ(b.dom_code, 0) << b.err;
  std::smatch body;
  ASSERT_TRUE(std::regex_search(b.dom, body, std::regex("<body[^>]*>")));
  EXPECT_EQ(Attribute(body.str(), "data-render-status"), "ok") << body.str();
  EXPECT_EQ(Attribute(body.str(), "data-render-errors"), "<absent>") << body.str();
  int canvases = 0;
  std::regex canvas_re("<canvas[^>]*>");
  for (auto it = std::sregex_iterator(b.dom.begin(), b.dom.end(), canvas_re);
       it != std::sregex_iterator(); ++it) {
    ++canvases;
    EXPECT_EQ(Attribute(it->str(), "data-rendered"), "1") << it->str();
  }
  EXPECT_GE(canvases, 5);
  EXPECT_NE(b.dom.find("Granny Smith"), std::string::npos);
  ASSERT_EQ(b.screenshot_code, 0) << b.err;
  EXPECT_GT(fs::file_size(png), 50'000u);
  std::cout << "screenshot: " << png.string() << "\nreport: " << html.string() << "\n";
}

}  // namespace
}  // namespace concord::e2e
