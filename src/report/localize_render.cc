#include "report/localize_render.h"

#include <fmt/format.h>

#include <cmath>
#include <string_view>

#include "report/html_util.h"

namespace concord::report {

namespace {

using nlohmann::json;

std::string MdEsc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|' || c == '`' || c == '*' || c == '_' || c == '<') o += '\\';
    o += c;
  }
  return o;
}

std::string S(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "\u2014";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.3g}", v.get<double>());
  return v.dump();
}

double Plotted(const json& n, const char* key) {
  if (!n.contains(key)) return NAN;
  const json& v = n[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && v.get<std::string>() == "inf") return 1e30;
  return NAN;
}

const char* kScript = R"JS(
(function(){
  var errs=[];
  try{
    var d=JSON.parse(document.getElementById('localize-data').textContent);
    var c=document.getElementById('divergence');
    var floor=1e-12;
    function v(x){return (x===null||x===undefined)?null:Math.max(x,floor);}
    var colors=d.status.map(function(s,i){return i===d.first?'#d62728':(s==='diverge'?'#ff9896':(s==='agree'?'#1f77b4':'#aaaaaa'));});
    new Chart(c,{type:'line',data:{labels:d.labels,datasets:[
      {label:'max abs',data:d.max_abs.map(v),borderColor:'#1f77b4',pointBackgroundColor:colors,
       pointRadius:d.labels.map(function(_,i){return i===d.first?7:3;}),spanGaps:false},
      {label:'1 - cosine',data:d.one_minus_cos.map(v),borderColor:'#2ca02c',pointRadius:2,spanGaps:false}]},
      options:{animation:false,responsive:true,scales:{y:{type:'logarithmic',title:{display:true,text:'divergence (log)'}},
      x:{title:{display:true,text:'target nodes in topological order'}}},
      plugins:{title:{display:true,text:d.title}}}});
    c.setAttribute('data-rendered','1');
  }catch(e){errs.push(String(e));}
  document.body.setAttribute('data-render-status',errs.length?'error':'ok');
  if(errs.length)document.body.setAttribute('data-render-errors',errs.join('; '));
})();
)JS";

}  // namespace

std::string RenderLocalizeHtml(const json& j) {
  const json nodes = j.value("nodes", json::array());
  json data;
  data["labels"] = json::array();
  data["max_abs"] = json::array();
  data["one_minus_cos"] = json::array();
  data["status"] = json::array();
  data["first"] = -1;
  int i = 0;
  for (const auto& n : nodes) {
    data["labels"].push_back(fmt::format("{} {}", S(n, "node"), S(n, "op_type")));
    double m = Plotted(n, "max_abs"), c = Plotted(n, "cosine");
    data["max_abs"].push_back(std::isnan(m) ? json(nullptr) : json(m));
    data["one_minus_cos"].push_back(std::isnan(c) ? json(nullptr) : json(1 - c));
    data["status"].push_back(S(n, "status"));
    if (n.value("first_divergent", false)) data["first"] = i;
    ++i;
  }
  bool null_first = !j.contains("first_divergent_node") || j["first_divergent_node"].is_null();
  std::string verdict = null_first ? (j.value("agree", false) ? "AGREE: no divergent node"
                                                              : "DIVERGE (not localized)")
                                   : fmt::format("DIVERGE: first divergent node {} ({})",
                                                 S(j, "first_divergent_node"), S(j, "kind"));
  data["title"] = verdict;
  std::string o;
  o += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>concord "
       "localize</title>\n<style>"
       "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-"
       "size:13px}"
       "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}tr.first{background:#fdd}"
       "td.num{text-align:right;font-family:monospace}.verdict{font-size:18px;font-weight:bold;"
       "margin:12px 0}"
       "canvas{max-width:1100px;max-height:420px}</style></head>\n<body "
       "data-render-status=\"pending\">\n";
  o += "<h1>concord localize</h1>\n<p>source <code>" + HtmlEscape(S(j, "source")) + "</code> on " +
       HtmlEscape(S(j, "source_env")) + "<br>target <code>" + HtmlEscape(S(j, "target")) +
       "</code> on " + HtmlEscape(S(j, "target_env")) + "<br>inputs " + HtmlEscape(S(j, "inputs")) +
       "</p>\n";
  o += "<div class=\"verdict\">" + HtmlEscape(verdict) + "</div>\n";
  if (j.contains("note")) o += "<p>" + HtmlEscape(S(j, "note")) + "</p>\n";
  if (!null_first && j.contains("evidence") && j["evidence"].is_object()) {
    const json& ev = j["evidence"];
    o += "<h2>Evidence</h2>\n<p>" + HtmlEscape(S(ev, "reason")) + "</p>\n<ul>\n";
    o += "<li>source counterpart: " + HtmlEscape(S(ev, "source_node")) + " (" +
         HtmlEscape(S(ev, "source_op_type")) + ")</li>\n";
    for (const auto& d : ev.value("attribute_diffs", json::array())) {
      o += "<li>attribute <b>" + HtmlEscape(S(d, "name")) + "</b>: source " +
           HtmlEscape(S(d, "source")) + ", target " + HtmlEscape(S(d, "target")) + "</li>\n";
    }
    for (const auto& d : ev.value("parameter_diffs", json::array())) {
      o += "<li>parameter input " + HtmlEscape(S(d, "position")) + " <code>" +
           HtmlEscape(S(d, "target")) + "</code> vs source <code>" + HtmlEscape(S(d, "source")) +
           "</code>: " + HtmlEscape(S(d, "hint")) + "</li>\n";
    }
    for (const auto& d : ev.value("wiring_diffs", json::array())) {
      o += "<li>input " + HtmlEscape(S(d, "position")) + " reads <code>" +
           HtmlEscape(S(d, "target_input")) + "</code>, the source node reads <code>" +
           HtmlEscape(S(d, "source_input")) + "</code></li>\n";
    }
    o += "</ul>\n";
  }
  o += "<h2>Divergence along the graph</h2>\n<canvas id=\"divergence\"></canvas>\n";
  o += "<h2>Nodes</h2>\n<table><tr><th>#</th><th>node</th><th>op</th><th>aligned "
       "to</th><th>alignment</th>"
       "<th>max abs</th><th>max rel</th><th>cosine</th><th>beyond tol</th><th>status</th></tr>\n";
  for (const auto& n : nodes) {
    bool first = n.value("first_divergent", false);
    o += std::string(first ? "<tr class=\"first\">" : "<tr>") + "<td>" + HtmlEscape(S(n, "index")) +
         "</td><td>" + HtmlEscape(S(n, "node")) + "</td><td>" + HtmlEscape(S(n, "op_type")) +
         "</td><td>" + HtmlEscape(S(n, "source_tensor")) + "</td><td>" +
         HtmlEscape(S(n, "alignment")) + "</td><td class=\"num\">" + HtmlEscape(S(n, "max_abs")) +
         "</td><td class=\"num\">" + HtmlEscape(S(n, "max_rel")) + "</td><td class=\"num\">" +
         HtmlEscape(S(n, "cosine")) + "</td><td class=\"num\">" +
         HtmlEscape(S(n, "mismatch_fraction")) + "</td><td>" + HtmlEscape(S(n, "status")) +
         "</td></tr>\n";
  }
  o += "</table>\n<script id=\"localize-data\" type=\"application/json\">" + ScriptJson(data) +
       "</script>\n<script>\n";
  o += ChartJsScript();
  o += "\n</script>\n<script>";
  o += kScript;
  o += "</script>\n</body></html>\n";
  return o;
}

std::string RenderLocalizeMarkdown(const json& j) {
  std::string o = "# concord localize\n\n";
  o += "- source: `" + S(j, "source") + "` on " + MdEsc(S(j, "source_env")) + "\n";
  o += "- target: `" + S(j, "target") + "` on " + MdEsc(S(j, "target_env")) + "\n";
  o += "- inputs: " + MdEsc(S(j, "inputs")) + "\n\n";
  bool null_first = !j.contains("first_divergent_node") || j["first_divergent_node"].is_null();
  if (null_first) {
    o += j.value("agree", false) ? "**Verdict: agree** (no divergent node)\n\n"
                                 : "**Verdict: diverge** (not localized)\n\n";
  } else {
    o += "**Verdict: diverge** at `" + S(j, "first_divergent_node") + "`, kind **" + S(j, "kind") +
         "**\n\n";
    const json& ev = j["evidence"];
    o += "Reason: " + MdEsc(S(ev, "reason")) + "\n\n";
    for (const auto& d : ev.value("attribute_diffs", json::array())) {
      o += "- attribute `" + S(d, "name") + "`: source " + MdEsc(S(d, "source")) + ", target " +
           MdEsc(S(d, "target")) + "\n";
    }
    for (const auto& d : ev.value("parameter_diffs", json::array())) {
      o += "- parameter input " + S(d, "position") + " `" + S(d, "target") + "` vs source `" +
           S(d, "source") + "`: " + MdEsc(S(d, "hint")) + "\n";
    }
    for (const auto& d : ev.value("wiring_diffs", json::array())) {
      o += "- input " + S(d, "position") + " reads `" + S(d, "target_input") +
           "`, the source node reads `" + S(d, "source_input") + "`\n";
    }
    o += "\n";
  }
  if (j.contains("note")) o += "Note: " + MdEsc(S(j, "note")) + "\n\n";
  o += "| # | node | op | aligned to | alignment | max abs | cosine | status "
       "|\n|--:|---|---|---|---|--:|--:|---|\n";
  for (const auto& n : j.value("nodes", json::array())) {
    bool first = n.value("first_divergent", false);
    std::string mark = first ? "**" : "";
    o += "| " + S(n, "index") + " | " + mark + MdEsc(S(n, "node")) + mark + " | " +
         S(n, "op_type") + " | " + MdEsc(S(n, "source_tensor")) + " | " + S(n, "alignment") +
         " | " + S(n, "max_abs") + " | " + S(n, "cosine") + " | " + S(n, "status") +
         (first ? " (first divergent)" : "") + " |\n";
  }
  return o;
}

}  // namespace concord::report
