// RenderHtml (report/render.h): one self-contained HTML page over an analysis document.
//
// Page layout: a sticky navigation on the left; <section id="summary"> then, per model number M
// (0-based, `models` order), <section id="model-M"> holding the sections
//   conversions-M (direction x env grid, where envs ran converted files; the summary then opens
//   with <div id="conversion-study">, the direction x model grid),
//   agreement-M (top-1 agreement heatmap, top-k Jaccard / Kendall / max-abs matrices, determinism)
//   latency-M (floating-bar distribution + samples, stats table), accuracy-M (bar chart + table),
//   confusion-M (coloured confusion matrices + per-class table), disagreements-M (thumbnails and
//   every env's top-k), resources-M (CPU % and RSS over time), timing-M (per-input change vs the
//   baseline env), errors-M, deltann-M (pairs grouped by kind: library / device / opt / other).
// Charts: Chart.js (embedded, see CMakeLists.txt) draws every <canvas data-chart="KIND"
// data-model="M">; KIND is heatmap, latency, accuracy, cpu, rss or timing. The chart data is one
// JSON blob in <script id="concord-data" type="application/json">, built here from the document.
// Render state for tests and users: body[data-render-status] is "pending" until the page script
// ran, then "ok", or "error" with body[data-render-errors] listing what failed; every drawn
// canvas gets data-rendered="1". Every string from the document is HTML-escaped (text and
// attributes) and the JSON blob escapes < > &, so document content cannot inject markup;
// thumbnails are used only when they are data:image/ URIs.
#include <algorithm>
#include <string>
#include <vector>

#include "report/html_writer.h"
#include "report/render.h"

namespace concord::report {
namespace detail {

std::string HtmlWriter::Render() {
  const json& models = Arr(doc_, "models");
  json chart_models = json::array();
  std::string body;
  for (size_t m = 0; m < models.size(); ++m) {
    chart_models.push_back(json::object());
    body += Model(models[m], m, chart_models.back());
  }
  // Colors are known only now: models may name envs that `envs` does not list.
  json colors = json::array();
  for (size_t i = 0; i < envs_.size(); ++i) colors.push_back(Color(i));
  json chart_data = {{"envs", envs_}, {"colors", colors}, {"models", chart_models}};

  std::string campaign = Str(Obj(doc_, "campaign"), "name");
  out_ +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  Add("<title>Concord report{}</title>\n",
      campaign.empty() ? "" : " \u2014 " + HtmlEscape(campaign));
  out_ += "<style>\n";
  out_ += kReportCss;
  out_ += "</style>\n</head>\n<body data-render-status=\"pending\">\n<script>\n";
  out_ += kReportErrorsJs;
  out_ += "</script>\n";
  Nav(models);
  out_ += "<main>\n";
  Summary(models);
  out_ += body;
  out_ += "</main>\n<script id=\"concord-data\" type=\"application/json\">";
  out_ += ScriptJson(chart_data);
  out_ += "</script>\n<script>\n";
  out_ += ChartJsScript();
  out_ += "\n</script>\n<script>\n";
  out_ += kReportJs;
  out_ += "</script>\n</body></html>\n";
  return std::move(out_);
}

size_t HtmlWriter::EnvIndex(const std::string& env) {
  auto it = env_index_.find(env);
  if (it != env_index_.end()) return it->second;
  env_index_[env] = envs_.size();
  envs_.push_back(env);
  return envs_.size() - 1;
}

std::string HtmlWriter::EnvLabel(const std::string& env) {
  return fmt::format(
      "<span class=\"env\"><span class=\"sw\" style=\"background:{}\"></span>{}"
      "</span>",
      Color(EnvIndex(env)), HtmlEscape(env));
}

void HtmlWriter::Nav(const json& models) {
  out_ +=
      "<nav><div class=\"brand\">Concord report</div>\n"
      "<a class=\"top\" href=\"#summary\">Summary</a>\n";
  static const std::pair<const char*, const char*> kLinks[] = {
      {"conversions", "Conversions"},
      {"predictions", "Predictions"},
      {"agreement", "Agreement"},
      {"latency", "Latency"},
      {"accuracy", "Accuracy"},
      {"confusion", "Confusion matrix"},
      {"disagreements", "Disagreeing inputs"},
      {"resources", "CPU & memory"},
      {"timing", "Timing change"},
      {"errors", "Errors"},
      {"deltann", "DeltaNN evaluations"}};
  for (size_t m = 0; m < models.size(); ++m) {
    Add("<a class=\"navmodel\" href=\"#model-{}\" style=\"padding-left:18px\">{}</a>\n", m,
        HtmlEscape(Str(models[m], "name")));
    for (const auto& [id, title] : kLinks) {
      if (std::string(id) == "conversions" && !Field(models[m], "directions").is_object()) continue;
      Add("<a href=\"#{}-{}\">{}</a>\n", id, m, title);
    }
  }
  out_ += "</nav>\n";
}

void HtmlWriter::Summary(const json& models) {
  const json& campaign = Obj(doc_, "campaign");
  out_ += "<section id=\"summary\" class=\"card\">\n";
  std::string name = Str(campaign, "name");
  Add("<h1>Concord report{}</h1>\n", name.empty() ? "" : ": " + HtmlEscape(name));
  Add("<div class=\"meta\">store <code>{}</code> &middot; generated {} &middot; {} models, {} "
      "environments</div>\n<div id=\"render-status\">charts not rendered yet (JavaScript "
      "off?)</div>\n",
      HtmlEscape(Str(doc_, "store")), HtmlEscape(Str(doc_, "generated_at")), models.size(),
      envs_.size());
  ConversionStudy(models);  // a converted campaign opens on its direction x model grid
  long long total = 0, ok = 0, errors = 0;
  out_ +=
      "<h4>Models</h4><div class=\"scroll\"><table><thead><tr><th>model</th><th>sha256"
      "</th><th class=\"num\">inputs</th><th class=\"num\">labelled</th><th class=\"num\">"
      "top-k</th><th class=\"num\">cells</th><th class=\"num\">ok</th><th class=\"num\">"
      "errors</th></tr></thead><tbody>\n";
  for (size_t m = 0; m < models.size(); ++m) {
    const json& model = models[m];
    const json& cells = Obj(model, "cells");
    long long labelled = 0;
    for (const json& in : Arr(model, "inputs")) labelled += Num(in, "label") ? 1 : 0;
    total += Int(cells, "total");
    ok += Int(cells, "ok");
    errors += Int(cells, "error");
    Add("<tr><td><a href=\"#model-{}\">{}</a></td><td class=\"mono\" title=\"{}\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        m, HtmlEscape(Str(model, "name")), HtmlEscape(Str(model, "sha256")),
        HtmlEscape(Str(model, "sha256").substr(0, 12)), Arr(model, "inputs").size(), labelled,
        Int(model, "top_k"), Int(cells, "total"), Int(cells, "ok"),
        ErrorCount(Int(cells, "error")));
  }
  out_ += "</tbody></table></div>\n";
  Add("<p><span class=\"pill\">{} cells</span><span class=\"pill good\">{} ok</span>"
      "<span class=\"pill{}\">{} errors</span></p>\n",
      total, ok, errors ? " bad" : " good", errors);
  out_ +=
      "<h4>Environments</h4><div class=\"scroll\"><table><thead><tr><th>env</th><th>library"
      "</th><th>device</th><th>opt</th><th>threads</th><th>versions</th></tr></thead>"
      "<tbody>\n";
  for (const json& e : Arr(doc_, "envs")) {
    std::string versions;
    for (const auto& [k, v] : Obj(e, "versions").items()) {
      AddTo(versions, "{}<span class=\"pill\">{} {}</span>", versions.empty() ? "" : " ",
            HtmlEscape(k), HtmlEscape(Str(v)));
    }
    Add("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        EnvLabel(Str(e, "env")), HtmlEscape(Str(e, "library")), HtmlEscape(Str(e, "device")),
        OrDash(Str(e, "opt")), OrDash(Str(e, "threads")), versions.empty() ? kAbsent : versions);
  }
  out_ += "</tbody></table></div>\n";
  const json& machine = Obj(doc_, "machine");
  if (!machine.empty()) {
    std::string parts;
    for (const auto& [k, v] : machine.items()) {
      if (v.is_object() || v.is_array()) continue;
      AddTo(parts, "{}<span class=\"pill\">{}: {}</span>", parts.empty() ? "" : " ", HtmlEscape(k),
            HtmlEscape(Str(v)));
    }
    Add("<h4>Machine</h4><p>{}</p>\n", parts);
  }
  out_ += "</section>\n";
}

std::string HtmlWriter::ErrorCount(long long n) {
  return n ? fmt::format("<span class=\"pill bad\">{}</span>", n) : "0";
}

std::vector<std::string> HtmlWriter::ModelEnvs(const json& model) {
  std::vector<std::string> names;
  auto add = [&](const std::string& e) {
    if (!e.empty() && std::find(names.begin(), names.end(), e) == names.end()) {
      names.push_back(e);
    }
  };
  for (const auto& [e, _] : Obj(model, "predictions").items()) add(e);
  for (const json& p : Arr(model, "performance")) add(Str(p, "env"));
  for (const json& p : Arr(model, "pairs")) {
    add(Str(p, "a"));
    add(Str(p, "b"));
  }
  for (const std::string& e : names) EnvIndex(e);
  std::sort(names.begin(), names.end(),
            [&](const std::string& a, const std::string& b) { return EnvIndex(a) < EnvIndex(b); });
  return names;
}

std::string HtmlWriter::Model(const json& model, size_t m, json& chart) {
  std::string saved = std::move(out_);
  out_.clear();
  std::vector<std::string> envs = ModelEnvs(model);
  chart["top_k"] = Int(model, "top_k", 5);
  const json& cells = Obj(model, "cells");
  Add("<section id=\"model-{}\" class=\"model\">\n<h2>{}</h2>\n<div class=\"meta\">"
      "<code>{}</code> &middot; sha256 <code>{}</code> &middot; {} inputs &middot; top-{} "
      "&middot; {} cells ({} ok, {} failed)</div>\n",
      m, HtmlEscape(Str(model, "name")), HtmlEscape(Str(model, "path")),
      HtmlEscape(Str(model, "sha256")), Arr(model, "inputs").size(), Int(model, "top_k"),
      Int(cells, "total"), Int(cells, "ok"), Int(cells, "error"));
  Conversions(model, m);
  Predictions(model, m, envs);
  Agreement(model, m, envs, chart);
  Latency(model, m, chart);
  Accuracy(model, m, chart);
  Confusion(model, m);
  Disagreements(model, m, envs);
  Resources(model, m, chart);
  Timing(model, m, chart);
  Errors(model, m);
  DeltaNN(model, m);
  out_ += "</section>\n";
  std::string html = std::move(out_);
  out_ = std::move(saved);
  return html;
}

void HtmlWriter::Open(const char* id, size_t m, const char* title) {
  out_ += CardOpen(id, m, title);
}

void HtmlWriter::Canvas(const char* kind, size_t m, const std::string& style, const char* label) {
  out_ += ChartCanvas(kind, m, style, label);
}

void HtmlWriter::Errors(const json& model, size_t m) {
  Open("errors", m, "Errors");
  const json& errors = Arr(model, "errors");
  if (errors.empty()) {
    Empty("no errors");
  } else {
    out_ +=
        "<div class=\"scroll\"><table><thead><tr><th>env</th><th>input</th>"
        "<th class=\"num\">repeat</th><th>error</th></tr></thead><tbody>\n";
    for (const json& e : errors) {
      Add("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"err\">{}</td>"
          "</tr>\n",
          EnvLabel(Str(e, "env")), HtmlEscape(Str(e, "input")), HtmlEscape(Str(e, "repeat")),
          HtmlEscape(Str(e, "error")));
    }
    out_ += "</tbody></table></div>\n";
  }
  out_ += "</section>\n";
}

}  // namespace detail

std::string RenderHtml(const nlohmann::json& analysis) {
  detail::CheckSchema(analysis, "RenderHtml");
  try {
    return detail::HtmlWriter(analysis).Render();
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorKind::kInput, "RenderHtml: malformed analysis document: {}", e.what());
  }
}

}  // namespace concord::report