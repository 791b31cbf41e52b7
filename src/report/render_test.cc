// Tests of the HTML and Markdown renderers over the fixture analysis document
// (report/testing/fixture_analysis.h, hand-computed values). The page's scripts are exercised
// in a real browser by tests/e2e/report_browser_test.cc.
#include "report/render.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "ir/error.h"
#include "report/testing/fixture_analysis.h"

namespace concord::report {
namespace {

using nlohmann::json;

// The text of `html` without the embedded Chart.js license comments ("/*! ... */").
std::string WithoutLicenseComments(std::string html) {
  for (size_t p; (p = html.find("/*!")) != std::string::npos;) {
    size_t end = html.find("*/", p);
    html.erase(p, end == std::string::npos ? std::string::npos : end + 2 - p);
  }
  return html;
}

// The HTML of one <section id="ID">...</section> (sections nest only model > others).
std::string Section(const std::string& html, const std::string& id) {
  size_t start = html.find("<section id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  size_t end = html.find("</section>", start);
  return html.substr(start, end - start);
}

TEST(RenderHtml, HasEverySectionAndChart) {
  std::string html = RenderHtml(testing::FixtureAnalysis());
  EXPECT_NE(html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"summary\""), std::string::npos);
  for (int m = 0; m < 2; ++m) {
    for (const char* id : {"model", "agreement", "latency", "accuracy", "confusion",
                           "disagreements", "resources", "timing", "errors", "deltann"}) {
      std::string full = std::string(id) + "-" + std::to_string(m);
      EXPECT_NE(html.find("<section id=\"" + full + "\""), std::string::npos) << full;
      EXPECT_NE(html.find("href=\"#" + full + "\""), std::string::npos) << "nav link " << full;
    }
  }
  // model 0 has every chart; model 1 no accuracy (no labels) and no resources
  for (const char* kind : {"heatmap", "latency", "accuracy", "cpu", "rss", "timing"}) {
    EXPECT_NE(html.find(fmt::format("data-chart=\"{}\" data-model=\"0\"", kind)), std::string::npos)
        << kind;
  }
  EXPECT_NE(html.find("data-chart=\"heatmap\" data-model=\"1\""), std::string::npos);
  EXPECT_EQ(html.find("data-chart=\"accuracy\" data-model=\"1\""), std::string::npos);
  EXPECT_EQ(html.find("data-chart=\"cpu\" data-model=\"1\""), std::string::npos);
  // Chart.js is inlined, the page reports its state
  EXPECT_NE(html.find("Chart.js v3.9.1"), std::string::npos);
  EXPECT_NE(html.find("data-render-status=\"pending\""), std::string::npos);
  EXPECT_NE(html.find("renderStatus='ok'"), std::string::npos);
  EXPECT_NE(html.find("<script id=\"concord-data\" type=\"application/json\">"), std::string::npos);
  // nothing inlined ends a script element early: 4 scripts (error handler, data, Chart.js,
  // drawing), 4 "</script>"
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t p = 0; (p = html.find(needle, p)) != std::string::npos; p += needle.size()) ++n;
    return n;
  };
  EXPECT_EQ(count("<script"), 4);
  EXPECT_EQ(count("</script"), 4);
}

TEST(RenderHtml, PrintsHandComputedValues) {
  std::string html = RenderHtml(testing::FixtureAnalysis());
  std::string accuracy = Section(html, "accuracy-0");
  EXPECT_NE(accuracy.find("75.0 %"), std::string::npos);   // ort: 3 of 4
  EXPECT_NE(accuracy.find("100.0 %"), std::string::npos);  // top-5, and tvm@cpu top-1
  EXPECT_NE(accuracy.find("50.0 %"), std::string::npos);   // tvm@opencl
  std::string agreement = Section(html, "agreement-0");
  EXPECT_NE(agreement.find("0.960"), std::string::npos);     // top-k Jaccard ort vs tvm@opencl
  EXPECT_NE(agreement.find("2.40e-06"), std::string::npos);  // max abs ort opt=3 vs opt=0
  std::string deltann = Section(html, "deltann-0");
  for (const char* kind :
       {"Library evaluation", "Device evaluation", "Optimisation evaluation", "Other pairs"}) {
    EXPECT_NE(deltann.find(kind), std::string::npos) << kind;
  }
  EXPECT_NE(deltann.find("80.0 %"), std::string::npos);
  // latency of ort@cpu,opt=0: 15 samples, min = 4.8 * 1.6 = 7.68 ms
  std::string latency = Section(html, "latency-0");
  EXPECT_NE(latency.find("7.68 ms"), std::string::npos);
  EXPECT_NE(latency.find("3000 ms"), std::string::npos) << "prepare of tvm@opencl";
  EXPECT_NE(latency.find("5.30 ms"), std::string::npos) << "median of ort@cpu,opt=3: 5.1 * 1.04";
  // the confusion matrix names classes; the truck (9) is predicted as automobile (1)
  std::string confusion = Section(html, "confusion-0");
  EXPECT_NE(confusion.find("automobile"), std::string::npos);
  EXPECT_NE(confusion.find("truck"), std::string::npos);
  // disagreeing input: thumbnail, label name, tvm@opencl's top-1 highlighted
  std::string dis = Section(html, "disagreements-0");
  EXPECT_NE(dis.find("<img class=\"thumb\" src=\"data:image/png;base64,"), std::string::npos);
  EXPECT_NE(dis.find("dog &amp; friend.png"), std::string::npos);
  EXPECT_NE(dis.find("label: dog (5)"), std::string::npos);
  EXPECT_NE(dis.find("class=\"differs\""), std::string::npos);
  EXPECT_NE(dis.find("6.20"), std::string::npos);
  // timing: tvm@opencl is 0.45x of the baseline -> -55.0 %
  EXPECT_NE(Section(html, "timing-0").find("-55.0 %"), std::string::npos);
  // nothing-to-show paths
  EXPECT_NE(Section(html, "accuracy-1").find("no labelled inputs"), std::string::npos);
  EXPECT_NE(Section(html, "confusion-1").find("no labelled inputs"), std::string::npos);
  EXPECT_NE(Section(html, "errors-1").find("no errors"), std::string::npos);
  EXPECT_NE(Section(html, "disagreements-1").find("no disagreeing inputs"), std::string::npos);
  EXPECT_NE(Section(html, "resources-1").find("no resource samples"), std::string::npos);
  // the errors table shows the failed cell, escaped
  std::string errors = Section(html, "errors-0");
  EXPECT_NE(errors.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(errors.find("&quot;conv_3&quot; &lt;Conv&gt; &amp; &#39;reshape&#39;"),
            std::string::npos);
}

TEST(RenderHtml, EscapesEveryDocumentString) {
  json doc = testing::FixtureAnalysis();
  const std::string evil = "<script>alert('x')</script>\"&";
  // an env name, an input name, a model name, a class name, the campaign name
  std::string old_env = doc["envs"][3]["env"];
  doc["envs"][3]["env"] = evil;
  json& model = doc["models"][0];
  model["predictions"][evil] = model["predictions"][old_env];
  model["predictions"].erase(old_env);
  for (json& p : model["performance"]) {
    if (p["env"] == old_env) p["env"] = evil;
  }
  for (json& p : model["pairs"]) {
    if (p["b"] == old_env) p["b"] = evil;
  }
  model["disagreements"][0]["top"][evil] = model["disagreements"][0]["top"][old_env];
  model["disagreements"][0]["input"] = evil;
  model["name"] = evil;
  model["class_names"][3] = evil;
  doc["campaign"]["name"] = evil;
  std::string html = RenderHtml(doc);
  std::string page = WithoutLicenseComments(html);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"),
            std::string::npos);
  // inside the JSON blob, < > & are \u escapes, so "</script>" cannot close the block
  EXPECT_NE(page.find("\\u003cscript\\u003ealert('x')\\u003c/script\\u003e"), std::string::npos);
  // a thumbnail that is not a data:image URI is not used
  doc["models"][0]["disagreements"][0]["thumbnail"] = "javascript:alert(1)";
  EXPECT_EQ(RenderHtml(doc).find("javascript:alert"), std::string::npos);
}

TEST(RenderHtml, HasNoExternalUrls) {
  std::string page = WithoutLicenseComments(RenderHtml(testing::FixtureAnalysis()));
  EXPECT_EQ(page.find("http://"), std::string::npos)
      << page.substr(page.find("http://") - 100, 200);
  EXPECT_EQ(page.find("https://"), std::string::npos)
      << page.substr(page.find("https://") - 100, 200);
  EXPECT_EQ(page.find(" src=\"//"), std::string::npos);
  EXPECT_EQ(page.find(" href=\"//"), std::string::npos);
}

TEST(RenderHtml, RejectsOtherSchemas) {
  json doc = testing::FixtureAnalysis();
  doc["schema"] = "concord.analysis/2";
  try {
    RenderHtml(doc);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("concord.analysis/2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(RenderMarkdown(doc), Error);
  EXPECT_THROW(RenderHtml(json::array()), Error);
  EXPECT_THROW(RenderMarkdown(json("text")), Error);
  doc.erase("schema");
  EXPECT_THROW(RenderHtml(doc), Error);
}

TEST(RenderHtml, SurvivesIncompleteAndOddDocuments) {
  // never crash on bad input: missing keys, wrong types, nulls everywhere
  json doc = {{"schema", "concord.analysis/1"}};
  EXPECT_NE(RenderHtml(doc).find("<section id=\"summary\""), std::string::npos);
  EXPECT_NE(RenderMarkdown(doc).find("## Summary"), std::string::npos);
  doc["models"] = json::array(
      {json::object(), 42, {{"name", nullptr}, {"pairs", "x"}, {"quality", {{{"confusion", 1}}}}}});
  doc["envs"] = "not a list";
  EXPECT_NO_THROW(RenderHtml(doc));
  EXPECT_NO_THROW(RenderMarkdown(doc));
  json fixture = testing::FixtureAnalysis();
  fixture["models"][0]["performance"][0]["latency_ms"] = nullptr;
  fixture["models"][0]["quality"][0]["top1_accuracy"] = nullptr;
  fixture["models"][0]["pairs"][0]["max_abs"] = "NaN";
  std::string html = RenderHtml(fixture);
  EXPECT_NE(html.find("<section id=\"latency-0\""), std::string::npos);
  EXPECT_NO_THROW(RenderMarkdown(fixture));
}

TEST(RenderMarkdown, HasTablesAndValues) {
  std::string md = RenderMarkdown(testing::FixtureAnalysis());
  for (const char* heading :
       {"# Concord report: demo", "## Summary", "## Model cifar_cnn", "## Model mlp_tiny",
        "### Top-1 agreement across environments", "### Latency", "### Accuracy",
        "### Disagreeing inputs", "### Timing change vs the baseline", "### Errors",
        "### DeltaNN-style evaluations", "#### Library evaluation", "#### Device evaluation",
        "#### Optimisation evaluation"}) {
    EXPECT_NE(md.find(heading), std::string::npos) << heading;
  }
  EXPECT_NE(md.find("| ort@cpu,opt=3 | 4 | 75.0 % | 100.0 % | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| tvm@opencl,opt=3 | 4 | 50.0 % | 100.0 % | 0 |"), std::string::npos);
  EXPECT_NE(md.find("| --- | ---: |"), std::string::npos);
  EXPECT_NE(md.find("**cat 6.10**"), std::string::npos) << "tvm@opencl's differing top-1";
  EXPECT_NE(md.find("dog &amp; friend.png"), std::string::npos);
  EXPECT_NE(md.find("no labelled inputs"), std::string::npos);
  EXPECT_NE(md.find("no errors"), std::string::npos);
  EXPECT_NE(md.find("-55.0 %"), std::string::npos);
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_NE(md.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(md.find("http"), std::string::npos);
}

TEST(RenderMarkdown, EscapesTableBreakers) {
  json doc = testing::FixtureAnalysis();
  doc["models"][0]["errors"][0]["error"] = "a | b\nc *d* [e](f) <g>";
  std::string md = RenderMarkdown(doc);
  EXPECT_NE(md.find("a \\| b c \\*d\\* \\[e\\](f) &lt;g&gt;"), std::string::npos);
}

}  // namespace
}  // namespace concord::report
