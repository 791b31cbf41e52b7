// concord report: analyse a results store (or reload a saved analysis) and write the HTML
// report, Markdown, the analysis document and DeltaNN's file layout.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ir/display_path.h"
#include "ir/tensor_io.h"
#include "report/analysis.h"
#include "report/deltann_export.h"
#include "report/render.h"
#include "store/store.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string Pct(const json& v) {
  return v.is_number() ? fmt::format("{:.1f}%", 100 * v.get<double>()) : "-";
}
std::string Ms(const json& v) { return v.is_number() ? FormatMs(v.get<double>()) : "-"; }

}  // namespace

void PrintAnalysisSummary(const json& analysis, std::ostream& os) {
  for (const auto& m : analysis["models"]) {
    const json& cells = m["cells"];
    os << fmt::format("\nmodel {}: {} cells, {} ok, {} failed; {} inputs\n",
                      m["name"].get<std::string>(), cells["total"].get<int64_t>(),
                      cells["ok"].get<int64_t>(), cells["error"].get<int64_t>(),
                      m["inputs"].size());
    std::map<std::string, json> quality, perf;
    for (const auto& q : m["quality"]) quality[q["env"]] = q;
    for (const auto& p : m["performance"]) perf[p["env"]] = p;
    std::string first;
    if (!m["performance"].empty()) first = m["performance"][0]["env"];
    std::map<std::string, json> vs_first;
    for (const auto& p : m["pairs"]) {
      if (p["a"] == first) vs_first[p["b"]] = p;
    }
    os << fmt::format("  {:<32} {:>8} {:>8} {:>11} {:>11} {:>11} {:>12}\n", "env", "top-1", "top-k",
                      "median", "p90", "first run", "top-1 = [0]");
    for (const auto& p : m["performance"]) {
      std::string env = p["env"];
      json q = quality.count(env) ? quality[env] : json::object();
      const json& lat = p["latency_ms"];
      std::string agree = env == first          ? "[0]"
                          : vs_first.count(env) ? Pct(vs_first[env]["top1_agree"])
                                                : "-";
      os << fmt::format("  {:<32} {:>8} {:>8} {:>11} {:>11} {:>11} {:>12}\n", env,
                        Pct(q.value("top1_accuracy", json(nullptr))),
                        Pct(q.value("topk_accuracy", json(nullptr))),
                        lat.is_object() ? Ms(lat["median"]) : "-",
                        lat.is_object() ? Ms(lat["p90"]) : "-", Ms(p["first_inference_ms"]), agree);
    }
    // The first env's top-k per input, by class name (short form: up to the first comma).
    const json& preds = m["predictions"];
    if (!first.empty() && preds.contains(first) && !m["class_names"].empty()) {
      auto short_name = [&](const json& cls) {
        if (!cls.is_number_integer()) return std::string("?");
        int64_t c = cls.get<int64_t>();
        if (c < 0) return std::string("background");
        if (c >= static_cast<int64_t>(m["class_names"].size())) return fmt::format("#{}", c);
        std::string n = m["class_names"][static_cast<size_t>(c)].get<std::string>();
        return n.substr(0, n.find(','));
      };
      os << fmt::format("  top-{} on {} (label in [brackets], * = label found):\n",
                        m["top_k"].get<int>(), first);
      for (size_t i = 0; i < m["inputs"].size() && i < preds[first].size(); ++i) {
        const json& in = m["inputs"][i];
        const json& p = preds[first][i];
        std::string line;
        if (p.is_object()) {
          for (const auto& cls : p["top"]) {
            bool hit = in["label"].is_number_integer() && cls == in["label"];
            line += (line.empty() ? "" : ", ") + short_name(cls) + (hit ? "*" : "");
          }
        } else {
          line = "(failed)";
        }
        os << fmt::format("    {:<18} [{}] {}\n", in["name"].get<std::string>(),
                          in["label"].is_null() ? "-" : short_name(in["label"]), line);
      }
    }
    if (!m["disagreements"].empty()) {
      os << "  inputs whose top-1 differs between envs:";
      for (const auto& d : m["disagreements"]) os << " " << d["input"].get<std::string>();
      os << "\n";
    }
    for (const auto& e : m["errors"]) {
      os << fmt::format("  failed: {} on {} (repeat {}): {}\n", e["input"].get<std::string>(),
                        e["env"].get<std::string>(), e["repeat"].get<int64_t>(),
                        e["error"].get<std::string>().substr(0, 160));
    }
  }
}

namespace {

struct ReportArgs {
  std::string input;
  std::string out;
  std::string md;
  bool md_flag = false;
  std::string deltann;
  std::string analysis_out;
  bool no_thumbnails = false;
  bool group_by_env = false;
  bool json = false;
};

int ReportMain(ReportArgs a) {
  json analysis;
  std::string ext = fs::path(a.input).extension().string();
  if (ext == ".json") {
    std::string text = ReadFileBytes(a.input, 1ull << 31);
    try {
      analysis = json::parse(text);
    } catch (const json::parse_error& e) {
      Fail(ErrorKind::kInput, "{}: not a JSON document: {}", a.input, e.what());
    }
    if (!analysis.is_object() || analysis.value("schema", "") != report::kAnalysisSchema) {
      Fail(ErrorKind::kInput, "{}: not a Concord analysis document (schema {} expected)", a.input,
           report::kAnalysisSchema);
    }
  } else {
    if (!fs::is_regular_file(a.input)) Fail(ErrorKind::kInput, "{}: no such store file", a.input);
    Store store = Store::Open(a.input);
    report::AnalysisOptions options;
    options.thumbnails = !a.no_thumbnails;
    options.group_by_env = a.group_by_env;
    analysis = report::Analyze(store, options);
  }
  fs::path base = fs::path(a.input).parent_path();
  if (a.out.empty()) a.out = (base / "report.html").string();
  if (a.md_flag && a.md.empty()) a.md = (fs::path(a.out).replace_extension(".md")).string();

  json written = {{"html", a.out}};
  WriteFileAtomic(a.out, report::RenderHtml(analysis));
  if (!a.md.empty()) {
    WriteFileAtomic(a.md, report::RenderMarkdown(analysis));
    written["markdown"] = a.md;
  }
  if (!a.analysis_out.empty()) {
    WriteFileAtomic(a.analysis_out, analysis.dump(1));
    written["analysis"] = a.analysis_out;
  }
  if (!a.deltann.empty()) {
    report::ExportDeltaNN(analysis, a.deltann);
    written["deltann"] = a.deltann;
  }
  if (a.json) {
    json models = json::array();
    for (const auto& m : analysis["models"]) {
      models.push_back({{"name", m["name"]},
                        {"cells", m["cells"]},
                        {"quality", json::array()},
                        {"disagreeing_inputs", m["disagreements"].size()}});
      for (const auto& q : m["quality"]) {
        models.back()["quality"].push_back({{"env", q["env"]},
                                            {"top1_accuracy", q["top1_accuracy"]},
                                            {"topk_accuracy", q["topk_accuracy"]}});
      }
    }
    std::cout << json{{"written", written}, {"models", models}}.dump(2) << "\n";
  } else {
    PrintAnalysisSummary(analysis, std::cout);
    std::cout << "\n";
    for (const auto& [k, v] : written.items()) {
      std::cout << fmt::format("{:<9} {}\n", k + ":", DisplayPath(v.get<std::string>()));
    }
  }
  return kExitOk;
}

}  // namespace

Command MakeReportCommand(CLI::App& root) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* app = root.add_subcommand(
      "report", "Analyse a results store: HTML report with charts, Markdown, DeltaNN export");
  app->footer(
      "INPUT is a results store written by `concord matrix` (analysed now: N x N agreement per\n"
      "library/device/opt, accuracy and confusion where labels exist, latency and CPU/RAM) or\n"
      "an analysis document saved with --analysis-json (re-rendered as is).\n"
      "The HTML file is self-contained (Chart.js inlined): open it anywhere, offline.\n"
      "Exit: 0 written, 2 usage/input error (no such store, unreadable document).\n"
      "Examples:\n"
      "  concord report examples/demo/concord.db\n"
      "  concord report concord.db --out r.html --md --deltann deltann_out/ --analysis-json "
      "a.json");
  app->add_option("input", args->input, "Results store (.db) or analysis document (.json)")
      ->required();
  app->add_option("--out,-o", args->out, "HTML report (default: report.html next to INPUT)");
  app->add_flag("--md", args->md_flag, "Also write Markdown (next to the HTML, .md)");
  app->add_option("--md-out", args->md, "Markdown path (implies --md)");
  app->add_option("--deltann", args->deltann,
                  "Also export DeltaNN's layout into this folder (must not exist or be empty)");
  app->add_option("--analysis-json", args->analysis_out, "Also save the analysis document");
  app->add_flag("--no-thumbnails", args->no_thumbnails, "Leave image thumbnails out");
  app->add_flag("--group-by-env", args->group_by_env,
                "One environment per env string over all machines (default: an env string run "
                "on several machines is one environment per machine, named 'ENV [MACHINE]')");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return ReportMain(*args); }};
}

}  // namespace concord::cli
