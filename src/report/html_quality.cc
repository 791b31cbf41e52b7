// HtmlWriter's quality sections: accuracy per env, confusion matrices, every input's
// predictions and the inputs the envs disagree on (thumbnails and each env's top-k).
#include <algorithm>
#include <cmath>

#include "report/html_writer.h"

namespace concord::report::detail {

void HtmlWriter::Accuracy(const json& model, size_t m, json& chart) {
  Open("accuracy", m, "Accuracy per environment");
  const json& quality = Arr(model, "quality");
  json series = json::array();
  for (const json& q : quality) {
    series.push_back({{"env", EnvIndex(Str(q, "env"))},
                      {"label", Str(q, "env")},
                      {"top1", NumOrNull(Num(q, "top1_accuracy"))},
                      {"topk", NumOrNull(Num(q, "topk_accuracy"))}});
  }
  chart["accuracy"] = series;
  if (quality.empty()) {
    Empty("no labelled inputs: accuracy needs inputs with a label");
  } else {
    Canvas("accuracy", m, fmt::format("height:300px;max-width:{}px", 260 + 150 * series.size()),
           "accuracy per environment");
    Add("<table><thead><tr><th>env</th><th class=\"num\">labelled inputs</th>"
        "<th class=\"num\">top-1</th><th class=\"num\">top-{}</th><th class=\"num\">G-mean"
        "</th></tr></thead><tbody>\n",
        Int(model, "top_k"));
    for (const json& q : quality) {
      Add("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
          EnvLabel(Str(q, "env")), Int(q, "n"), Pct(Num(q, "top1_accuracy")),
          Pct(Num(q, "topk_accuracy")), Sig3(Num(q, "gmean")));
    }
    out_ += "</tbody></table>\n";
  }
  out_ += "</section>\n";
}

void HtmlWriter::Confusion(const json& model, size_t m) {
  Open("confusion", m, "Confusion matrix (rows: true class, columns: top-1 prediction)");
  const json& quality = Arr(model, "quality");
  if (quality.empty()) Empty("no labelled inputs");
  out_ += "<div class=\"cards\">\n";
  for (const json& q : quality) {
    const json& classes = Arr(q, "classes");
    const json& names = Arr(q, "class_names");
    const json& confusion = Arr(q, "confusion");
    auto name = [&](size_t i) {
      return i < names.size() && names[i].is_string() ? HtmlEscape(names[i].get<std::string>())
                                                      : HtmlEscape(ClassName(model, classes[i]));
    };
    long long max = 1;
    for (const json& row : confusion) {
      if (!row.is_array()) continue;
      for (const json& v : row) max = std::max(max, v.is_number() ? v.get<long long>() : 0LL);
    }
    Add("<div><h4>{}</h4><div class=\"scroll\"><table class=\"matrix\"><thead><tr>"
        "<th>true \\ predicted</th>",
        EnvLabel(Str(q, "env")));
    for (size_t c = 0; c < classes.size(); ++c) Add("<th class=\"rot\">{}</th>", name(c));
    out_ += "</tr></thead><tbody>\n";
    for (size_t r = 0; r < classes.size(); ++r) {
      Add("<tr><th>{}</th>", name(r));
      const json& row =
          r < confusion.size() && confusion[r].is_array() ? confusion[r] : EmptyArray();
      for (size_t c = 0; c < classes.size(); ++c) {
        long long v = c < row.size() && row[c].is_number() ? row[c].get<long long>() : 0;
        std::string style;
        if (v > 0) {
          double a = 0.2 + 0.6 * static_cast<double>(v) / static_cast<double>(max);
          style = fmt::format(" style=\"background:{}\"",
                              r == c ? fmt::format("rgba(26,152,80,{:.2f})", a)
                                     : fmt::format("rgba(215,48,39,{:.2f})", a));
        }
        Add("<td{}{}>{}</td>", r == c ? " class=\"diag\"" : "", style, v);
      }
      out_ += "</tr>\n";
    }
    out_ += "</tbody></table></div>\n";
    const json& per_class = Arr(q, "per_class");
    if (!per_class.empty()) {
      out_ +=
          "<table><thead><tr><th>class</th><th class=\"num\">support</th>"
          "<th class=\"num\">predicted</th><th class=\"num\">precision</th>"
          "<th class=\"num\">sensitivity</th></tr></thead><tbody>\n";
      for (const json& c : per_class) {
        std::string cname = Str(c, "name");
        Add("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
            "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            HtmlEscape(cname.empty() ? ClassName(model, Field(c, "class")) : cname),
            Int(c, "support"), Int(c, "predicted"), Sig3(Num(c, "precision")),
            Sig3(Num(c, "sensitivity")));
      }
      out_ += "</tbody></table>\n";
    }
    Add("<div class=\"meta\">G-mean {}</div></div>\n", Sig3(Num(q, "gmean")));
  }
  out_ += "</div>\n</section>\n";
}

std::string HtmlWriter::Thumbnail(const json& v, const std::string& alt) {
  std::string src = Str(v);
  if (src.rfind("data:image/", 0) != 0) return "<span class=\"meta\">no image</span>";
  return fmt::format("<img class=\"thumb\" src=\"{}\" alt=\"{}\">", HtmlEscape(src),
                     HtmlEscape(alt));
}

void HtmlWriter::Predictions(const json& model, size_t m, const std::vector<std::string>& envs) {
  Open("predictions", m, "Predictions per input");
  const json& inputs = Arr(model, "inputs");
  const json& preds = Obj(model, "predictions");
  if (inputs.empty() || envs.empty() || preds.empty()) {
    Empty("no classifier-like outputs (no top-k labels recorded)");
    out_ += "</section>\n";
    return;
  }
  const std::string& first = envs[0];
  Add("<p class=\"meta\">Top-{} of {} (raw model scores); bold: the label. Last column: the "
      "top-1 of every other environment.</p>\n<div class=\"scroll\"><table><thead><tr>"
      "<th>input</th><th>label</th><th>top-{} on {}</th><th>all envs</th></tr></thead>"
      "<tbody>\n",
      Int(model, "top_k", 5), EnvLabel(first), Int(model, "top_k", 5), EnvLabel(first));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const json& in = inputs[i];
    auto label = Num(in, "label");
    std::string name = Str(in, "name");
    Add("<tr><td>{}<div><b>{}</b></div></td><td>{}</td>", Thumbnail(Field(in, "thumbnail"), name),
        HtmlEscape(name),
        label ? HtmlEscape(ClassName(model, Field(in, "label")))
              : std::string("<span class=\"meta\">"
                            "none</span>"));
    const json& mine = Arr(preds, first.c_str());
    if (i >= mine.size() || !mine[i].is_object()) {
      out_ += "<td class=\"meta\">did not run</td>";
    } else {
      const json& top = Arr(mine[i], "top");
      const json& scores = Arr(mine[i], "scores");
      out_ += "<td><ol class=\"top\">";
      for (size_t k = 0; k < top.size(); ++k) {
        auto cls = Num(top[k]);
        bool hit = cls && label && *cls == *label;
        Add("<li{}>{}<span class=\"score\">{}</span></li>", hit ? " class=\"hit\"" : "",
            HtmlEscape(ClassName(model, top[k])),
            Sig3(k < scores.size() ? Num(scores[k]) : std::nullopt));
      }
      out_ += "</ol></td>";
    }
    // Agreement of the top-1 across envs.
    std::map<long long, std::vector<std::string>> by_top1;
    for (const std::string& e : envs) {
      const json& list = Arr(preds, e.c_str());
      if (i >= list.size() || !list[i].is_object()) continue;
      const json& top = Arr(list[i], "top");
      if (top.empty() || !Num(top[0])) continue;
      by_top1[static_cast<long long>(*Num(top[0]))].push_back(e);
    }
    if (by_top1.size() <= 1) {
      Add("<td class=\"agrees\">same top-1 on {} env(s)</td></tr>\n",
          by_top1.empty() ? 0 : by_top1.begin()->second.size());
    } else {
      out_ += "<td class=\"differs\">";
      for (const auto& [cls, es] : by_top1) {
        Add("<div>{}: ", HtmlEscape(ClassName(model, json(cls))));
        for (size_t k = 0; k < es.size(); ++k) Add("{}{}", k ? ", " : "", EnvLabel(es[k]));
        out_ += "</div>";
      }
      out_ += "</td></tr>\n";
    }
  }
  out_ += "</tbody></table></div>\n</section>\n";
}

void HtmlWriter::Disagreements(const json& model, size_t m, const std::vector<std::string>& envs) {
  Open("disagreements", m, "Inputs whose top-1 prediction differs between environments");
  const json& list = Arr(model, "disagreements");
  if (list.empty()) {
    Empty("no disagreeing inputs: every environment that ran an input agreed on its top-1");
    out_ += "</section>\n";
    return;
  }
  out_ +=
      "<p class=\"meta\">Red cells: top-1 differs from the most common top-1 of that "
      "input; bold: the label.</p>\n<div class=\"scroll\"><table><thead><tr><th>input</th>";
  for (const std::string& e : envs) Add("<th>{}</th>", EnvLabel(e));
  out_ += "</tr></thead><tbody>\n";
  for (const json& d : list) {
    const json& top = Obj(d, "top");
    auto label = Num(d, "label");
    // the most common top-1 (ties: the first env's)
    std::map<long long, int> votes;
    long long consensus = -1;
    int best = 0;
    for (const std::string& e : envs) {
      const json& t = Arr(top, e.c_str());
      if (t.empty() || !Num(t[0], "class")) continue;
      long long c = static_cast<long long>(*Num(t[0], "class"));
      if (++votes[c] > best) {
        best = votes[c];
        consensus = c;
      }
    }
    std::string input = Str(d, "input");
    Add("<tr><td>{}<div><b>{}</b></div><div class=\"meta\">label: {}</div></td>",
        Thumbnail(Field(d, "thumbnail"), input), HtmlEscape(input),
        label ? HtmlEscape(ClassName(model, Field(d, "label"))) + fmt::format(" ({})", *label)
              : std::string("none"));
    for (const std::string& e : envs) {
      const json& t = Arr(top, e.c_str());
      if (t.empty()) {
        out_ += "<td class=\"meta\">did not run</td>";
        continue;
      }
      auto first = Num(t[0], "class");
      bool differs = first && static_cast<long long>(*first) != consensus;
      Add("<td class=\"{}\"><ol class=\"top\">", differs ? "differs" : "agrees");
      for (const json& entry : t) {
        auto cls = Num(entry, "class");
        bool hit = cls && label && *cls == *label;
        std::string cname = Str(entry, "name");
        Add("<li{}>{}<span class=\"score\">{}</span></li>", hit ? " class=\"hit\"" : "",
            HtmlEscape(cname.empty() ? ClassName(model, Field(entry, "class")) : cname),
            Sig3(Num(entry, "score")));
      }
      out_ += "</ol></td>";
    }
    out_ += "</tr>\n";
  }
  out_ += "</tbody></table></div>\n</section>\n";
}

}  // namespace concord::report::detail
