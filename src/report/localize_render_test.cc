// Localize reports: the HTML page carries the plot data (one point per node, the first divergent
// node marked), escapes names that look like markup, and inlines Chart.js; Markdown has the
// verdict, the evidence and one table row per node.
#include "report/localize_render.h"

#include <gtest/gtest.h>

namespace concord::report {
namespace {

nlohmann::json Doc() {
  return nlohmann::json::parse(R"({
    "source": "s.onnx", "target": "t.onnx", "source_env": "ref@cpu", "target_env": "ref@cpu",
    "inputs": "2 input sets", "agree": false, "first_divergent_node": "<b>conv</b>", "kind": "hyperparameter",
    "evidence": {"reason": "attribute(s) differ", "source_node": "conv", "source_op_type": "Conv",
                 "attribute_diffs": [{"name": "pads", "source": "[1, 1, 1, 1]", "target": "[2, 2, 0, 0]"}],
                 "parameter_diffs": [], "wiring_diffs": []},
    "nodes": [
      {"index": 0, "node": "sub", "op_type": "Sub", "status": "agree", "alignment": "name", "max_abs": 0, "cosine": 1},
      {"index": 1, "node": "<b>conv</b>", "op_type": "Conv", "status": "diverge", "alignment": "name",
       "max_abs": 0.5, "cosine": 0.9, "first_divergent": true},
      {"index": 2, "node": "relu", "op_type": "Relu", "status": "diverge", "alignment": "name", "max_abs": "inf"}]})");
}

TEST(LocalizeRender, HtmlIsSelfContainedEscapedAndMarksTheFirstDivergence) {
  std::string html = RenderLocalizeHtml(Doc());
  EXPECT_EQ(html.find("<b>conv</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;conv&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("data-render-status=\"pending\""), std::string::npos);
  EXPECT_NE(html.find("\"first\":1"), std::string::npos);
  EXPECT_NE(html.find("\"max_abs\":[0.0,0.5,1e+30]"), std::string::npos)
      << html.substr(html.find("localize-data"), 400);
  EXPECT_NE(html.find("Chart"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_NE(html.find("pads"), std::string::npos);
}

TEST(LocalizeRender, MarkdownHasVerdictEvidenceAndRows) {
  std::string md = RenderLocalizeMarkdown(Doc());
  EXPECT_NE(md.find("kind **hyperparameter**"), std::string::npos) << md;
  EXPECT_NE(md.find("attribute `pads`"), std::string::npos);
  EXPECT_NE(md.find("(first divergent)"), std::string::npos);
  EXPECT_NE(md.find("| 2 | relu |"), std::string::npos) << md;
  nlohmann::json agree = {
      {"agree", true}, {"first_divergent_node", nullptr}, {"nodes", nlohmann::json::array()}};
  EXPECT_NE(RenderLocalizeMarkdown(agree).find("Verdict: agree"), std::string::npos);
  EXPECT_NE(RenderLocalizeHtml(agree).find("AGREE"), std::string::npos);
}

}  // namespace
}  // namespace concord::report
