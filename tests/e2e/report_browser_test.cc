// The HTML report in a real browser: renders the fixture analysis document
// (report/testing/fixture_analysis.h) with RenderHtml, opens it in headless Chromium and checks
// that the page's own render state says every chart was drawn (no script errors), that every
// chart canvas is marked drawn, and that the disagreement table shows its thumbnail. Saves a
// screenshot to build/report_screenshot.png (and the page to build/report_fixture.html) for
// people to look at. Label "browser"; needs the
// Debian package chromium (the test FAILS without it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "report/render.h"
#include "report/testing/fixture_analysis.h"
#include "testing/temp_dir.h"
#include "tests/e2e/browser.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;

// The value of attribute `name` in the first tag matching `tag_regex`, or "<absent>".
std::string Attribute(const std::string& tag, const std::string& name) {
  std::smatch m;
  if (std::regex_search(tag, m, std::regex(" " + name + "=\"([^\"]*)\""))) return m[1];
  return "<absent>";
}

std::string BodyTag(const std::string& dom) {
  std::smatch m;
  return std::regex_search(dom, m, std::regex("<body[^>]*>")) ? m.str() : "";
}

BrowserResult Open(const std::string& html, const std::string& name, const fs::path& png) {
  test::TempDir tmp("concord_report_browser");
  return RenderInChromium(tmp.Write(name, html), png);
}

TEST(ReportBrowser, EveryChartRendersWithoutScriptErrors) {
  std::string html = report::RenderHtml(report::testing::FixtureAnalysis());
  fs::path png = fs::path(CONCORD_BUILD_DIR) / "report_screenshot.png";
  fs::path page = fs::path(CONCORD_BUILD_DIR) / "report_fixture.html";  // kept for people
  std::ofstream(page, std::ios::binary) << html;
  BrowserResult r = RenderInChromium(page, png);
  ASSERT_TRUE(r.found) << r.error;
  ASSERT_EQ(r.dom_code, 0) << r.binary << " --dump-dom failed:\n" << r.err;
  std::string body = BodyTag(r.dom);
  ASSERT_FALSE(body.empty()) << r.dom.substr(0, 2000);
  EXPECT_EQ(Attribute(body, "data-render-status"), "ok") << body;
  EXPECT_EQ(Attribute(body, "data-render-errors"), "<absent>") << body;

  // every canvas is a chart and was drawn; model 0 has each kind
  std::map<std::string, int> drawn;
  int canvases = 0;
  std::regex canvas_re("<canvas[^>]*>");
  for (auto it = std::sregex_iterator(r.dom.begin(), r.dom.end(), canvas_re);
       it != std::sregex_iterator(); ++it) {
    std::string tag = it->str();
    ++canvases;
    std::string kind = Attribute(tag, "data-chart");
    EXPECT_EQ(Attribute(tag, "data-rendered"), "1") << tag;
    if (Attribute(tag, "data-rendered") == "1") {
      drawn[kind + "/" + Attribute(tag, "data-model")]++;
    }
  }
  EXPECT_GE(canvases, 8);
  for (const char* kind : {"heatmap", "latency", "accuracy", "cpu", "rss", "timing"}) {
    EXPECT_EQ(drawn[std::string(kind) + "/0"], 1) << kind;
  }
  EXPECT_EQ(drawn["heatmap/1"], 1);
  EXPECT_EQ(drawn["latency/1"], 1);

  // the disagreement table with its thumbnail
  size_t dis = r.dom.find("<section id=\"disagreements-0\"");
  ASSERT_NE(dis, std::string::npos);
  std::string section = r.dom.substr(dis, r.dom.find("</section>", dis) - dis);
  EXPECT_NE(section.find("<img class=\"thumb\" src=\"data:image/png;base64,"), std::string::npos);
  EXPECT_NE(section.find("dog &amp; friend.png"), std::string::npos);
  EXPECT_NE(r.dom.find("charts rendered"), std::string::npos);

  ASSERT_EQ(r.screenshot_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(png)) << r.err;
  EXPECT_GT(fs::file_size(png), 50'000u) << "a full report screenshot is larger than that";
  std::cout << "screenshot: " << fs::absolute(png).string() << "\npage: " << page.string() << "\n";
}

// The render-state check is not vacuous: without Chart.js the page says "error" and why.
TEST(ReportBrowser, MissingChartJsIsReportedAsRenderError) {
  std::string html = report::RenderHtml(report::testing::FixtureAnalysis());
  size_t start = html.find("/*!\n * Chart.js");
  ASSERT_NE(start, std::string::npos);
  size_t end = html.find("</script>", start);
  html.erase(start, end - start);
  BrowserResult r = Open(html, "report_no_chartjs.html", "");
  ASSERT_TRUE(r.found) << r.error;
  ASSERT_EQ(r.dom_code, 0) << r.err;
  std::string body = BodyTag(r.dom);
  EXPECT_EQ(Attribute(body, "data-render-status"), "error") << body;
  EXPECT_NE(Attribute(body, "data-render-errors").find("Chart.js did not load"), std::string::npos)
      << body;
  EXPECT_EQ(r.dom.find("data-rendered=\"1\""), std::string::npos);
}

// A script error anywhere (here: a thrown exception in a chart's data) is caught per chart:
// the other charts still render and the page names the failed one.
TEST(ReportBrowser, BrokenChartDataIsReportedPerChart) {
  nlohmann::json doc = report::testing::FixtureAnalysis();
  std::string html = report::RenderHtml(doc);
  // corrupt the latency series of model 0 inside the JSON blob
  size_t blob = html.find("<script id=\"concord-data\"");
  ASSERT_NE(blob, std::string::npos);
  size_t lat = html.find("\"latency\":[", blob);
  ASSERT_NE(lat, std::string::npos);
  html.replace(lat, 11, "\"latency\":7,\"x\":[");
  BrowserResult r = Open(html, "report_broken.html", "");
  ASSERT_TRUE(r.found) << r.error;
  std::string body = BodyTag(r.dom);
  EXPECT_EQ(Attribute(body, "data-render-status"), "error") << body;
  EXPECT_NE(Attribute(body, "data-render-errors").find("latency chart of model 0"),
            std::string::npos)
      << body;
  EXPECT_TRUE(std::regex_search(
      r.dom,
      std::regex("<canvas data-chart=\"heatmap\" data-model=\"0\"[^>]* data-rendered=\"1\"")))
      << "the other charts still render";
}

}  // namespace
}  // namespace concord::e2e
