// HtmlWriter's agreement sections: the top-1 agreement heatmap with the top-k Jaccard, Kendall
// and max-abs matrices, determinism across repeats, and the DeltaNN pair tables.
#include <algorithm>
#include <cmath>

#include "report/html_writer.h"

namespace concord::report::detail {

std::map<std::pair<std::string, std::string>, const json*> HtmlWriter::PairMap(const json& model) {
  std::map<std::pair<std::string, std::string>, const json*> map;
  for (const json& p : Arr(model, "pairs")) {
    map[{Str(p, "a"), Str(p, "b")}] = &p;
    map[{Str(p, "b"), Str(p, "a")}] = &p;
  }
  return map;
}

void HtmlWriter::Agreement(const json& model, size_t m, const std::vector<std::string>& envs,
                           json& chart) {
  Open("agreement", m, "Top-1 agreement across environments");
  auto pairs = PairMap(model);
  if (envs.size() < 2 || pairs.empty()) {
    Empty("fewer than two environments ran this model: nothing to compare");
  } else {
    json values = json::array(), counts = json::array();
    const json& predictions = Obj(model, "predictions");
    for (const std::string& a : envs) {
      json row = json::array(), crow = json::array();
      for (const std::string& b : envs) {
        if (a == b) {
          long long ran = 0;
          for (const json& p : Arr(predictions, a.c_str())) ran += p.is_object() ? 1 : 0;
          row.push_back(ran ? json(1.0) : json(nullptr));
          crow.push_back(ran);
          continue;
        }
        auto it = pairs.find({a, b});
        row.push_back(it == pairs.end() ? json(nullptr)
                                        : NumOrNull(Num(*it->second, "top1_agree")));
        crow.push_back(it == pairs.end() ? 0 : Int(*it->second, "inputs"));
      }
      values.push_back(row);
      counts.push_back(crow);
    }
    chart["heat"] = {{"labels", envs}, {"values", values}, {"inputs", counts}};
    size_t n = envs.size();
    Canvas("heatmap", m, fmt::format("height:{}px;max-width:{}px", 110 + 64 * n, 190 + 110 * n),
           "top-1 agreement heatmap");
    out_ +=
        "<div class=\"legend\">0 %<span class=\"bar\"></span>100 % &nbsp;top-1 agreement "
        "(share of common inputs whose top-1 class is the same); hover a cell for the "
        "input count</div>\n";
    out_ += "<div class=\"cards plain\">";
    Matrix(model, envs, pairs, "topk_jaccard",
           fmt::format("Top-{} Jaccard similarity", Int(model, "top_k")), false);
    Matrix(model, envs, pairs, "kendall_tau", "Kendall \u03c4 of the top-k ranking", false);
    Matrix(model, envs, pairs, "max_abs", "Max abs output difference", true);
    out_ += "</div>\n";
  }
  const json& repeats = Arr(model, "repeats");
  if (!repeats.empty()) {
    out_ +=
        "<h4>Determinism (repeat r vs repeat 0 of the same env)</h4><table><thead><tr>"
        "<th>env</th><th class=\"num\">repeats</th><th>bit-identical</th>"
        "<th class=\"num\">max abs</th></tr></thead><tbody>\n";
    for (const json& r : repeats) {
      bool identical = Field(r, "identical").is_boolean() && Field(r, "identical").get<bool>();
      Add("<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>"
          "</tr>\n",
          EnvLabel(Str(r, "env")), Int(r, "repeats"),
          identical ? "<span class=\"pill good\">yes</span>" : "<span class=\"pill bad\">no</span>",
          Sig3(Num(r, "max_abs")));
    }
    out_ += "</tbody></table>\n";
  }
  out_ += "</section>\n";
}

std::string HtmlWriter::AgreementStyle(std::optional<double> v, bool lower_is_better) {
  if (!v) return "";
  // green when equal, red when far apart (an abs difference of 1 or more is fully red)
  double badness = lower_is_better ? std::min(1.0, std::log10(1.0 + *v * 1e6) / 6.0)
                                   : std::clamp(1.0 - *v, 0.0, 1.0);
  return fmt::format(
      " style=\"background:rgba({},{},{},0.35)\"", static_cast<int>(26 + (215 - 26) * badness),
      static_cast<int>(152 + (48 - 152) * badness), static_cast<int>(80 + (39 - 80) * badness));
}

void HtmlWriter::Matrix(const json& model, const std::vector<std::string>& envs,
                        const std::map<std::pair<std::string, std::string>, const json*>& pairs,
                        const char* key, const std::string& title, bool lower_is_better) {
  Add("<div><h4>{}</h4><div class=\"scroll\"><table class=\"matrix\"><thead><tr><th></th>", title);
  for (const std::string& b : envs) Add("<th class=\"rot\">{}</th>", EnvLabel(b));
  out_ += "</tr></thead><tbody>\n";
  for (const std::string& a : envs) {
    Add("<tr><th>{}</th>", EnvLabel(a));
    for (const std::string& b : envs) {
      if (a == b) {
        out_ += "<td class=\"diag\">\u00b7</td>";
        continue;
      }
      auto it = pairs.find({a, b});
      std::optional<double> v = it == pairs.end() ? std::nullopt : Num(*it->second, key);
      Add("<td{}>{}</td>", AgreementStyle(v, lower_is_better), Sig3(v));
    }
    out_ += "</tr>\n";
  }
  out_ += "</tbody></table></div></div>";
}

void HtmlWriter::DeltaNN(const json& model, size_t m) {
  Open("deltann", m, "DeltaNN-style evaluations (pairs of environments by what differs)");
  static const std::pair<const char*, const char*> kKinds[] = {
      {"library", "Library evaluation: same device and optimisation, different library"},
      {"device", "Device evaluation: same library and optimisation, different device"},
      {"opt", "Optimisation evaluation: same library and device, different optimisation"},
      {"conversion", "Conversion evaluation: the model against a converted twin (another format)"},
      {"other", "Other pairs: more than one factor differs"}};
  const json& pairs = Arr(model, "pairs");
  if (pairs.empty()) Empty("no pairs of environments");
  for (const auto& [kind, title] : kKinds) {
    std::vector<const json*> group;
    for (const json& p : pairs) {
      if (Str(p, "kind") == kind) group.push_back(&p);
    }
    if (pairs.empty()) break;
    Add("<h4>{}</h4>\n", title);
    if (group.empty()) {
      Empty("none");
      continue;
    }
    Add("<div class=\"scroll\"><table><thead><tr><th>env A</th><th>env B</th>"
        "<th class=\"num\">inputs</th><th class=\"num\">top-1 agree</th>"
        "<th class=\"num\">top-{} Jaccard</th><th class=\"num\">Kendall \u03c4</th>"
        "<th class=\"num\">max abs</th><th class=\"num\">max rel</th>"
        "<th class=\"num\">min cosine</th><th class=\"num\">identical</th>"
        "<th>disagreeing inputs</th></tr></thead><tbody>\n",
        Int(model, "top_k"));
    for (const json* p : group) {
      std::string dis;
      for (const json& in : Arr(*p, "disagreeing_inputs")) {
        AddTo(dis, "{}{}", dis.empty() ? "" : ", ", HtmlEscape(Str(in)));
      }
      auto cos = Num(*p, "min_cosine");
      Add("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td>{}</td></tr>\n",
          EnvLabel(Str(*p, "a")), EnvLabel(Str(*p, "b")), Int(*p, "inputs"),
          Pct(Num(*p, "top1_agree")), Sig3(Num(*p, "topk_jaccard")), Sig3(Num(*p, "kendall_tau")),
          Sig3(Num(*p, "max_abs")), Sig3(Num(*p, "max_rel")),
          cos ? fmt::format("{:.6f}", *cos) : std::string(kAbsent), Int(*p, "identical_outputs"),
          dis.empty() ? kAbsent : dis);
    }
    out_ += "</tbody></table></div>\n";
  }
  out_ += "</section>\n";
}

}  // namespace concord::report::detail
