#include "report/fuzz_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "ir/error.h"
#include "report/html_util.h"

namespace concord::report {

namespace {

using json = nlohmann::json;

const char* kCss = R"css(
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1200px;margin:0 auto;padding:24px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 20px;margin:16px 0}
h1{margin:0 0 4px}h2{margin:0 0 12px;font-size:18px}
table{border-collapse:collapse;width:100%}th,td{padding:5px 8px;border-bottom:1px solid #eef0f4;
text-align:left;vertical-align:top}th{background:#f0f2f6}td.num{text-align:right}
.meta{color:#667}.tag{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px}
.crash,.timeout{background:#fde2e1}.inconsistent,.error{background:#fff1d6}.undefined{background:#e8eefc}
.perf{background:#e6f4ea}.chart{position:relative;height:320px}code{font-size:12px}
)css";

const char* kScript = R"js(
(function(){
  var errors=[];
  function fail(m){errors.push(m);document.body.dataset.renderStatus='error';
    document.body.dataset.renderErrors=errors.join(' | ');}
  window.addEventListener('error',function(e){fail(e.message);});
  try{
    if(typeof Chart==='undefined')throw new Error('Chart.js did not load');
    var d=JSON.parse(document.getElementById('fuzz-data').textContent);
    var draw={
      coverage:function(cv){var ops=Object.keys(d.coverage).sort(function(a,b){return d.coverage[b]-d.coverage[a];});
        return new Chart(cv,{type:'bar',data:{labels:ops,datasets:[{label:'models containing the op',
        data:ops.map(function(o){return d.coverage[o];}),backgroundColor:'#4e79a7'}]},
        options:{maintainAspectRatio:false,animation:false,plugins:{legend:{display:false}}}});},
      throughput:function(cv){var t=d.ticks;
        return new Chart(cv,{type:'line',data:{labels:t.map(function(x){return x.t_s.toFixed(0);}),
        datasets:[{label:'tests',data:t.map(function(x){return x.tests;}),borderColor:'#4e79a7'},
        {label:'models',data:t.map(function(x){return x.models;}),borderColor:'#f28e2b'},
        {label:'distinct findings',data:t.map(function(x){return x.findings;}),borderColor:'#e15759',yAxisID:'y2'}]},
        options:{maintainAspectRatio:false,animation:false,scales:{x:{title:{display:true,text:'seconds'}},
        y:{title:{display:true,text:'cumulative'}},y2:{position:'right',beginAtZero:true}}}});},
      symptoms:function(cv){var envs=Object.keys(d.by_symptom);var kinds={};
        envs.forEach(function(e){Object.keys(d.by_symptom[e]).forEach(function(k){kinds[k]=1;});});
        var colors={crash:'#e15759',timeout:'#b07aa1',error:'#f28e2b',inconsistent:'#edc948',undefined:'#76b7b2',perf:'#59a14f'};
        return new Chart(cv,{type:'bar',data:{labels:envs,datasets:Object.keys(kinds).map(function(k){
          return {label:k,data:envs.map(function(e){return d.by_symptom[e][k]||0;}),backgroundColor:colors[k]||'#999'};})},
        options:{maintainAspectRatio:false,animation:false,scales:{x:{stacked:true},y:{stacked:true,
        title:{display:true,text:'distinct findings'}}}}});}
    };
    document.querySelectorAll('canvas[data-chart]').forEach(function(cv){
      try{draw[cv.dataset.chart](cv);cv.dataset.rendered='1';}
      catch(e){fail(cv.dataset.chart+' chart: '+e.message);}
    });
    if(!errors.length)document.body.dataset.renderStatus='ok';
  }catch(e){fail(e.message);}
})();
)js";

bool IsLabel(const std::string& symptom) {
  return symptom == "undefined" || symptom == "boundary" || symptom == "perf_unconfirmed";
}

// Root causes: findings of one env and symptom with the same normalised message, where one
// reduced repro's node signatures contain another's (the smaller repro explains the larger; for
// crash/timeout/error, sharing one node kind is enough), are one cause, named after its smallest
// finding. Findings from stores written before root-cause
// keys existed fall back to their op signature and an empty message.
void ClusterByContainment(json& doc);

// The store's root causes (campaign/fuzz.h's AssignRootCause) when every finding has one;
// otherwise (a store no campaign has clustered yet) the containment clustering below.
void ClusterRootCauses(json& doc, Store& store) {
  std::map<int64_t, int64_t> cause_of;  // finding id -> store root cause
  for (const FindingRecord& f : store.Findings()) {
    if (f.root_cause) cause_of[f.id] = *f.root_cause;
  }
  json& findings = doc["findings"];
  if (findings.empty() || cause_of.size() != findings.size()) {
    ClusterByContainment(doc);
  } else {
    std::map<int64_t, json> causes;
    for (const RootCauseRecord& rc : store.RootCauses()) {
      json nodes = json::array();
      try {
        nodes = json::parse(rc.nodes_json);
      } catch (const json::exception&) {
      }
      causes[rc.id] = {{"id", rc.id},
                       {"env", rc.env},
                       {"symptom", ""},
                       {"symptom_class", rc.symptom_class},
                       {"nodes", nodes},
                       {"message", rc.symptom_class},
                       {"campaign", rc.campaign},
                       {"first_seen", rc.first_seen},
                       {"findings", json::array()},
                       {"hits", 0}};
    }
    for (json& f : findings) {
      int64_t id = cause_of[f.value("id", int64_t{0})];
      json& c = causes[id];
      f["root_cause"] = id;
      c["symptom"] = f.value("symptom", "");
      c["findings"].push_back(f.value("id", int64_t{0}));
      c["hits"] = c.value("hits", int64_t{0}) + f.value("count", int64_t{1});
    }
    json list = json::array();
    for (auto& [id, c] : causes) {
      if (!c["findings"].empty()) list.push_back(c);
    }
    int64_t hits = 0;
    for (const auto& f : findings) hits += f.value("count", int64_t{1});
    doc["root_causes"] = std::move(list);
    doc["totals"] = {
        {"findings", findings.size()}, {"root_causes", doc["root_causes"].size()}, {"hits", hits}};
  }
  int64_t bug_findings = 0, bug_causes = 0;
  for (const auto& f : findings) bug_findings += IsLabel(f.value("symptom", "")) ? 0 : 1;
  for (const auto& c : doc["root_causes"]) bug_causes += IsLabel(c.value("symptom", "")) ? 0 : 1;
  doc["totals"]["bug_findings"] = bug_findings;
  doc["totals"]["bug_root_causes"] = bug_causes;
}

void ClusterByContainment(json& doc) {
  struct Member {
    size_t index;
    std::set<std::string> nodes;
    std::string key;     // env, symptom, message
    bool keyed = false;  // has a root-cause key (not an op-signature fallback)
  };
  // Whether the smaller repro `a` explains `b`: its nodes are all in b; for a failure (crash,
  // timeout, error), whose normalised message already names the failing check, one shared node
  // kind is enough (one dtype leak fails on whichever binary op follows it).
  auto explains = [](const Member& a, const Member& b, const std::string& symptom) {
    if (std::includes(b.nodes.begin(), b.nodes.end(), a.nodes.begin(), a.nodes.end())) {
      return true;
    }
    if (!a.keyed || (symptom != "crash" && symptom != "timeout" && symptom != "error")) {
      return false;
    }
    for (const auto& n : a.nodes) {
      if (b.nodes.count(n)) return true;
    }
    return false;
  };
  std::vector<Member> members;
  json& findings = doc["findings"];
  for (size_t i = 0; i < findings.size(); ++i) {
    const json& f = findings[i];
    const json rc = f["details"].value("root_cause", json::object());
    Member m{i, {}, {}, rc.contains("nodes")};
    if (m.keyed) {
      for (const auto& n : rc["nodes"]) m.nodes.insert(n.get<std::string>());
    } else {
      std::string sig = f.value("signature", "");
      for (size_t start = 0; start <= sig.size();) {
        size_t comma = std::min(sig.find(',', start), sig.size());
        if (comma > start) m.nodes.insert(sig.substr(start, comma - start));
        start = comma + 1;
      }
    }
    m.key = f.value("env", "") + "\n" + f.value("symptom", "") + "\n" + rc.value("message", "");
    members.push_back(std::move(m));
  }
  std::stable_sort(members.begin(), members.end(), [&](const Member& x, const Member& y) {
    if (x.nodes.size() != y.nodes.size()) return x.nodes.size() < y.nodes.size();
    return findings[x.index].value("id", int64_t{0}) < findings[y.index].value("id", int64_t{0});
  });
  std::vector<size_t> roots;  // indices into members
  json causes = json::array();
  std::map<size_t, size_t> cause_of_root;
  for (size_t k = 0; k < members.size(); ++k) {
    const Member& m = members[k];
    size_t root = k;
    for (size_t r : roots) {
      const Member& rm = members[r];
      if (rm.key == m.key && explains(rm, m, findings[m.index].value("symptom", ""))) {
        root = r;
        break;
      }
    }
    json& f = findings[m.index];
    if (root == k) {
      roots.push_back(k);
      cause_of_root[k] = causes.size();
      const json rc = f["details"].value("root_cause", json::object());
      causes.push_back({{"id", f.value("id", int64_t{0})},
                        {"env", f.value("env", "")},
                        {"symptom", f.value("symptom", "")},
                        {"nodes", std::vector<std::string>(m.nodes.begin(), m.nodes.end())},
                        {"message", rc.value("message", "")},
                        {"findings", json::array()},
                        {"hits", 0}});
    }
    json& cause = causes[cause_of_root[root]];
    f["root_cause"] = cause["id"];
    cause["findings"].push_back(f.value("id", int64_t{0}));
    cause["hits"] = cause["hits"].get<int64_t>() + f.value("count", int64_t{1});
  }
  int64_t hits = 0;
  for (const auto& f : findings) hits += f.value("count", int64_t{1});
  doc["root_causes"] = std::move(causes);
  doc["totals"] = {
      {"findings", findings.size()}, {"root_causes", doc["root_causes"].size()}, {"hits", hits}};
}

// A short triage note: possible ref bug and onnx.reference's verdict, a repro that did not
// show the symptom again.
std::string TriageNote(const json& details) {
  std::vector<std::string> notes;
  if (details.contains("possible_ref_bug")) {
    std::string verdict = details.contains("onnx_reference")
                              ? details["onnx_reference"].value("verdict", "not checked")
                              : "not checked";
    notes.push_back("possible ref bug; onnx.reference: " + verdict);
  }
  if (details.value("reduced_reproduces", true) == false) {
    notes.push_back("the reduced repro did not show it again");
  }
  std::string out;
  for (const auto& n : notes) out += (out.empty() ? "" : "; ") + n;
  return out;
}

// The upstream files adapters/upstream_report.py added to a bundle, and the standalone
// reproducer's verdict from its finding.json; null when there are none.
json UpstreamFiles(const std::string& bundle) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (bundle.empty() || !fs::exists(fs::path(bundle) / "report.md", ec)) return nullptr;
  json up = {{"repro_py", (fs::path(bundle) / "repro.py").string()},
             {"report_md", (fs::path(bundle) / "report.md").string()},
             {"verdict", "unknown"}};
  std::ifstream in(fs::path(bundle) / "finding.json");
  json fj = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (fj.is_object() && fj.contains("details") && fj["details"].contains("standalone_repro")) {
    up["verdict"] = fj["details"]["standalone_repro"].value("repro", "unknown");
  }
  return up;
}

// The repro cell of a finding: its bundle, and the standalone repro.py / report.md with the
// reproducer's verdict where the bundle has them.
std::string BundleLinks(const json& f, const std::string& html_path);

// Coverage per target: for each env, the node kinds its tests contained, summed per op type:
// {"envs": [...], "ops": {op: {env: {kinds, tested, clean}}}, "totals": {env: {kinds, ops,
// tested, clean}}, "kinds": [{env, kind, tested, clean}]}.
json KindCoverageTable(const std::vector<KindCoverageRecord>& rows) {
  json table = {{"envs", json::array()},
                {"ops", json::object()},
                {"totals", json::object()},
                {"kinds", json::array()}};
  std::set<std::string> envs;
  std::map<std::string, std::set<std::string>> ops_of_env;
  for (const KindCoverageRecord& r : rows) {
    envs.insert(r.env);
    std::string op = r.kind.substr(0, r.kind.find_first_of("[:"));
    ops_of_env[r.env].insert(op);
    json& cell = table["ops"][op][r.env];
    if (cell.is_null()) cell = json::object();
    cell["kinds"] = cell.value("kinds", 0) + 1;
    cell["tested"] = cell.value("tested", int64_t{0}) + r.tested;
    cell["clean"] = cell.value("clean", int64_t{0}) + r.clean;
    json& total = table["totals"][r.env];
    if (total.is_null()) total = json::object();
    total["kinds"] = total.value("kinds", 0) + 1;
    total["tested"] = total.value("tested", int64_t{0}) + r.tested;
    total["clean"] = total.value("clean", int64_t{0}) + r.clean;
    table["kinds"].push_back(
        {{"env", r.env}, {"kind", r.kind}, {"tested", r.tested}, {"clean", r.clean}});
  }
  for (const std::string& e : envs) {
    table["envs"].push_back(e);
    table["totals"][e]["ops"] = ops_of_env[e].size();
  }
  return table;
}

// The coverage-per-target section: per env the distinct node kinds (op x key attributes x
// dtype) tested, and per op type the kinds and the share of tests that ran clean.
std::string RenderKindCoverage(const json& table) {
  if (table["envs"].empty()) return "";
  std::string out =
      "<section id=\"kind-coverage\"><h2>Coverage per target: op &times; attributes &times; "
      "dtype</h2><p class=\"meta\">Node kinds (op type, key attributes, dtype of the first "
      "input) each env was tested on; per op type: distinct kinds / tests containing them "
      "(share that ran clean).</p><table><thead><tr><th>op</th>";
  for (const auto& e : table["envs"]) out += "<th>" + HtmlEscape(e.get<std::string>()) + "</th>";
  out += "</tr></thead><tbody><tr><td><strong>all</strong></td>";
  auto cell = [](const json& c) {
    int64_t tested = c.value("tested", int64_t{0}), clean = c.value("clean", int64_t{0});
    return fmt::format(
        "{} / {} ({:.0f}%)", c.value("kinds", 0), tested,
        tested ? 100.0 * static_cast<double>(clean) / static_cast<double>(tested) : 0.0);
  };
  for (const auto& e : table["envs"]) {
    const json& t = table["totals"][e.get<std::string>()];
    out += fmt::format("<td class=\"num\"><strong>{}</strong>, {} ops</td>", cell(t),
                       t.value("ops", 0));
  }
  out += "</tr>";
  for (const auto& [op, per_env] : table["ops"].items()) {
    out += "<tr><td>" + HtmlEscape(op) + "</td>";
    for (const auto& e : table["envs"]) {
      const std::string env = e.get<std::string>();
      out +=
          "<td class=\"num\">" + (per_env.contains(env) ? cell(per_env[env]) : "&mdash;") + "</td>";
    }
    out += "</tr>";
  }
  return out + "</tbody></table></section>\n";
}

// `path` as a link from the report at `html_path` (relative when both are known).
std::string Href(const std::string& path, const std::string& html_path) {
  namespace fs = std::filesystem;
  if (html_path.empty()) return path;
  std::error_code ec;
  fs::path rel =
      fs::relative(fs::absolute(path, ec), fs::absolute(html_path, ec).parent_path(), ec);
  return ec || rel.empty() ? path : rel.string();
}

std::string BundleLinks(const json& f, const std::string& html_path) {
  std::string bundle = f.value("bundle", "");
  if (bundle.empty()) return "";
  std::string out = fmt::format("<a href=\"{}\"><code>{}</code></a>",
                                HtmlEscape(Href(bundle, html_path)), HtmlEscape(bundle));
  if (f.contains("upstream")) {
    const json& up = f["upstream"];
    std::string verdict = up.value("verdict", "unknown");
    out += fmt::format(
        "<br><a href=\"{}\">repro.py</a> (<span class=\"tag {}\">{}</span>) &middot; "
        "<a href=\"{}\">report.md</a>",
        HtmlEscape(Href(up.value("repro_py", ""), html_path)),
        verdict == "reproduces" ? "inconsistent" : "ok", HtmlEscape(verdict),
        HtmlEscape(Href(up.value("report_md", ""), html_path)));
  }
  return out;
}

}  // namespace

json FuzzDocument(Store& store) {
  json doc;
  doc["schema"] = kFuzzSchema;
  doc["store"] = std::filesystem::absolute(store.path()).string();
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  doc["generated_at"] = buf;
  doc["findings"] = json::array();
  doc["by_symptom"] = json::object();
  for (const FindingRecord& f : store.Findings()) {
    json versions = json::object(), details = json::object();
    try {
      versions = json::parse(f.versions_json);
    } catch (const json::parse_error&) {
    }
    try {
      details = json::parse(f.details_json);
    } catch (const json::parse_error&) {
    }
    if (!details.is_object()) details = json::object();
    doc["findings"].push_back({{"id", f.id},
                               {"env", f.env},
                               {"symptom", f.symptom},
                               {"signature", f.signature},
                               {"seed", f.seed},
                               {"message", f.message},
                               {"versions", versions},
                               {"original_nodes", f.original_nodes},
                               {"reduced_nodes", f.reduced_nodes},
                               {"count", f.count},
                               {"bundle", f.bundle},
                               {"first_seen", f.first_seen},
                               {"last_seen", f.last_seen},
                               {"details", details},
                               {"triage", TriageNote(details)}});
    if (json up = UpstreamFiles(f.bundle); !up.is_null()) doc["findings"].back()["upstream"] = up;
    json& e = doc["by_symptom"][f.env];
    if (!e.is_object()) e = json::object();
    e[f.symptom] = e.value(f.symptom, 0) + 1;
  }
  ClusterRootCauses(doc, store);
  doc["coverage"] = store.OpCoverage();
  doc["kind_coverage"] = KindCoverageTable(store.KindCoverage());
  doc["ticks"] = json::array();
  for (const FuzzTick& t2 : store.FuzzTicks()) {
    doc["ticks"].push_back({{"campaign", t2.campaign},
                            {"t_s", t2.t_s},
                            {"models", t2.models},
                            {"tests", t2.tests},
                            {"findings", t2.findings}});
  }
  doc["support"] = json::array();
  for (const OpSupportRecord& s : store.OpSupport()) {
    doc["support"].push_back({{"env", s.env},
                              {"op", s.op},
                              {"dtype", s.dtype},
                              {"status", s.status},
                              {"message", s.message}});
  }
  return doc;
}

std::string RenderFuzzHtml(const json& doc, const std::string& html_path) {
  if (!doc.is_object() || doc.value("schema", "") != kFuzzSchema) {
    Fail(ErrorKind::kInput, "not a Concord fuzz document (schema {} expected)", kFuzzSchema);
  }
  std::string out;
  auto add = [&](std::string_view f, auto&&... args) {
    out += fmt::vformat(f, fmt::make_format_args(args...));
  };
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Concord fuzzing "
      "report</title><style>";
  out += kCss;
  out += "</style></head>\n<body data-render-status=\"pending\"><main>\n";
  int64_t hits = 0;
  for (const auto& f : doc["findings"]) hits += f.value("count", int64_t{1});
  size_t causes = doc.contains("root_causes") ? doc["root_causes"].size() : doc["findings"].size();
  const json& ticks = doc["ticks"];
  int64_t tests = 0, models = 0;
  double seconds = 0;
  // Ticks are cumulative per campaign: add up the last one of each.
  std::map<std::string, json> last;
  for (const auto& t : ticks) last[t.value("campaign", "")] = t;
  for (const auto& [c, t] : last) {
    tests += t.value("tests", int64_t{0});
    models += t.value("models", int64_t{0});
    seconds += t.value("t_s", 0.0);
  }
  add("<h1>Concord fuzzing report</h1><div class=\"meta\">store <code>{}</code> &middot; "
      "generated {} &middot; {} models, {} tests in {:.0f} s ({:.2f} tests/s) &middot; {} distinct "
      "findings from {} root cause(s) ({} hits)</div>\n",
      HtmlEscape(doc.value("store", "")), HtmlEscape(doc.value("generated_at", "")), models, tests,
      seconds, seconds > 0 ? static_cast<double>(tests) / seconds : 0.0, doc["findings"].size(),
      causes, hits);
  out += "<section id=\"findings\"><h2>Findings</h2>";
  if (doc["findings"].empty()) {
    out += "<p class=\"meta\">no findings</p>";
  } else {
    out +=
        "<table><thead><tr><th>#</th><th>env</th><th>symptom</th><th>reduced op signature</th>"
        "<th>nodes</th><th>hits</th><th>root cause</th><th>seed</th><th>message</th>"
        "<th>repro</th></tr></thead><tbody>";
    for (const auto& f : doc["findings"]) {
      std::string triage = f.value("triage", "");
      add("<tr><td>{}</td><td>{}</td><td><span class=\"tag {}\">{}</span></td><td><code>{}</code>"
          "</td><td class=\"num\">{} &rarr; {}</td><td class=\"num\">{}</td><td class=\"num\">#{}"
          "</td><td class=\"num\">{}</td><td>{}{}</td><td>{}</td></tr>\n",
          f.value("id", int64_t{0}), HtmlEscape(f.value("env", "")),
          HtmlEscape(f.value("symptom", "")), HtmlEscape(f.value("symptom", "")),
          HtmlEscape(f.value("signature", "")), f.value("original_nodes", int64_t{0}),
          f.value("reduced_nodes", int64_t{0}), f.value("count", int64_t{0}),
          f.value("root_cause", f.value("id", int64_t{0})), f.value("seed", int64_t{0}),
          HtmlEscape(f.value("message", "").substr(0, 300)),
          triage.empty() ? "" : "<br><em>" + HtmlEscape(triage) + "</em>",
          BundleLinks(f, html_path));
    }
    out += "</tbody></table>";
    if (doc.contains("root_causes")) {
      out +=
          "<h2>Root causes</h2><p class=\"meta\">Findings of one env and symptom whose "
          "normalised messages match and whose reduced repros contain the same nodes.</p>"
          "<table><thead><tr><th>#</th><th>env</th><th>symptom</th><th>nodes (op(attrs):dtype)"
          "</th><th>findings</th><th>hits</th><th>message</th></tr></thead><tbody>";
      for (const auto& c : doc["root_causes"]) {
        std::string ids, nodes;
        for (const auto& id : c["findings"])
          ids += fmt::format("{}#{}", ids.empty() ? "" : " ", id.get<int64_t>());
        for (const auto& n : c["nodes"]) nodes += (nodes.empty() ? "" : " ") + n.get<std::string>();
        add("<tr><td>{}</td><td>{}</td><td><span class=\"tag {}\">{}</span></td><td><code>{}"
            "</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            c.value("id", int64_t{0}), HtmlEscape(c.value("env", "")),
            HtmlEscape(c.value("symptom", "")), HtmlEscape(c.value("symptom", "")),
            HtmlEscape(nodes), HtmlEscape(ids), c.value("hits", int64_t{0}),
            HtmlEscape(c.value("message", "").substr(0, 200)));
      }
      out += "</tbody></table>";
    }
  }
  out +=
      "</section>\n<section id=\"symptoms\"><h2>Distinct findings per env and symptom</h2>"
      "<div class=\"chart\"><canvas data-chart=\"symptoms\"></canvas></div></section>\n"
      "<section id=\"coverage\"><h2>Op coverage (models containing each op)</h2>"
      "<div class=\"chart\"><canvas data-chart=\"coverage\"></canvas></div></section>\n" +
      RenderKindCoverage(doc.value("kind_coverage", json::object({{"envs", json::array()}}))) +
      "<section id=\"throughput\"><h2>Throughput over time</h2>"
      "<div class=\"chart\"><canvas data-chart=\"throughput\"></canvas></div></section>\n"
      "<section id=\"support\"><h2>Operator support inference</h2>";
  if (doc["support"].empty()) {
    out += "<p class=\"meta\">not run (concord fuzz --infer-support)</p>";
  } else {
    out +=
        "<table><thead><tr><th>env</th><th>op</th><th>dtype</th><th>status</th><th>message</th>"
        "</tr></thead><tbody>";
    for (const auto& s : doc["support"]) {
      if (s.value("status", "") == "ok") continue;
      add("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
          HtmlEscape(s.value("env", "")), HtmlEscape(s.value("op", "")),
          HtmlEscape(s.value("dtype", "")), HtmlEscape(s.value("status", "")),
          HtmlEscape(s.value("message", "").substr(0, 200)));
    }
    out += "</tbody></table><p class=\"meta\">(pairs every env accepts are not listed)</p>";
  }
  out += "</section>\n</main>\n<script id=\"fuzz-data\" type=\"application/json\">";
  out += ScriptJson(
      {{"coverage", doc["coverage"]}, {"ticks", ticks}, {"by_symptom", doc["by_symptom"]}});
  out += "</script>\n<script>\n";
  out += ChartJsScript();
  out += "\n</script>\n<script>";
  out += kScript;
  out += "</script>\n</body></html>\n";
  return out;
}

}  // namespace concord::report
