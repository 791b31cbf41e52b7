// DeltaNN export: writes an analysis document (report/analysis.h) as the file tree that
// DeltaNN (github.com/luludak/DeltaNN) produces, so its evaluation scripts and notebooks can
// read Concord runs. Re-implemented from DeltaNN's formats (no DeltaNN code is used); each
// format below cites the DeltaNN file and function it reproduces.
//
// Layout (one tree per model in the analysis):
//   OUT/<model>/concord_mapping.json            Concord only: env -> folder, input -> file,
//                                               failed cells (DeltaNN has no such index)
//   OUT/<model>/device_evaluation.json          same library and opt, different device
//   OUT/<model>/<device>/<opt>/library_evaluation.json                  same device and opt,
//   OUT/<model>/<device>/<opt>/library_evaluation_time_percentages.json different library
//   OUT/<model>/<device>/<opt>/library_evaluation_time_stats.json
//   OUT/<model>/<device>/<opt>/<library>/mutations/same_folder_evaluation.json
//   OUT/<model>/<device>/<opt>/<library>/mutations/ts_0/<input>.txt     per-input top-5
// README.md of DeltaNN documents "<model>/<device>/<opt_level>/<library>/mutations/
// ts_<epoch>/<predictions>.txt" and the library/same-folder JSON files at those levels.
// DeltaNN's code (evaluators/evalgenerator.py, generate_libraries_comparison) writes the time
// file as "library_evaluation_time_percentages.json" (its README says "..._percentage.json");
// we follow the code, which is what its readers open.
//
// Names (DeltaNN uses folder names as library/device labels, so they must be plain):
//   model   = Safe(model name)
//   device  = Safe(envs[].device)            ("default" when null)
//   opt     = "opt" + Safe(envs[].opt)        ("opt_default" when null) -- DeltaNN's main.py
//                                            names the level "opt" + str(opt_level)
//   library = Safe(library + "_" + item for every ",item" of the env string except opt=, in
//             the order written), e.g. "ort@cpu,opt=3,threads=1" -> cpu/opt3/ort_threads-1
//   input   = Safe(input name without its last extension, '.' -> '_') + ".txt", as DeltaNN's
//             executors/executor.py (process_images_with_io) names them; a name already taken
//             gets "_2", "_3", ... in input order.
//   Safe(s) keeps [A-Za-z0-9_-], maps '=' to '-' and every other byte ('@' ',' '/' ':' ' '
//   '.' ...) to '_', prefixes "_" to an empty name, and rewrites "_to_" to "-to-" (DeltaNN
//   skips folders containing "_to_" as comparison bases: they mean converted models).
//   Two envs that land in the same folder are Error(kInput).
//
// Per-input file (executors/executor.py, process_images_with_io; read back by
// evaluators/classification.py, Evaluator.file_to_object):
//   5 lines "<class id>, <score %f>", best first; an empty line; "<seconds %f>".
//   DeltaNN writes softmax probabilities over all classes; Concord's analysis keeps only the
//   top-k raw scores, so the score column holds those (softmax needs all classes). The time is
//   the cell's run_ms / 1000 (DeltaNN: wall time of set_input+run+get_output, in seconds).
//   Class ids: file_to_object subtracts 1 from every id unless the file's path contains "torch"
//   or "keras" (TF/TFLite models have a background class). We write canonical id + 1 in
//   folders whose relative path has neither word and the canonical id otherwise, so DeltaNN
//   reads back Concord's canonical ids everywhere.
//   A failed cell (null prediction) has no file, as when DeltaNN's executor catches an
//   exception (it logs under error_log/ instead; Concord's failures are in
//   concord_mapping.json and in the analysis "errors").
//   DeltaNN needs exactly 5 predictions per file: a model with top_k < 5 is Error(kInput);
//   longer lists are cut to 5 (DeltaNN: ranks[0:5]).
//
// Checked once by hand (not a test: scipy is not a project dependency): a transcription of
// DeltaNN's get_basic_evaluation/generate_libraries_comparison with scipy 1.x run on the
// export of deltann_export_test.cc's document gave byte-identical library_evaluation*.json
// files except for p-values 3e-16 apart; OneWayAnova matched scipy.stats.f_oneway within a
// relative 2e-12 on 27 random cases (n = 2..300), including its inf and NaN cases.
//
// The evaluation JSONs are exactly what DeltaNN's evaluators/evalgenerator.py would compute on
// the exported files (numbers are taken from the formatted files, inputs in dataset order
// where DeltaNN uses listdir order), including its quirks, each marked "DeltaNN quirk" below.
// Concord's analysis also holds top-k Jaccard, Kendall tau, max_abs/rel and cosine per pair:
// DeltaNN's aggregate files carry none of them (Evaluator.evaluate computes Jaccard/Kendall
// per image only for individual analysis, which every generate_* call turns off), so they are
// not exported. Not reproduced: the per-run output_stats_total_*.csv appendices, the "stuck
// network" check (>100 inputs, >90 identical rankings) and the skip of a comparison whose
// folders differ by >= 5 files (DeltaNN drops the whole comparison; we keep it, missing files
// are skipped per input exactly as DeltaNN does for fewer than 5).
#include "report/deltann_export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/error.h"
#include "report/analysis.h"

namespace concord::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kTopK = 5;                 // classification.py: Evaluator(topK=5)
constexpr int kDissimilarImagesMaxNo = 10;  // evalgenerator.py: dissimilar_images_max_no=10

std::string Safe(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else if (c == '=') {
      out += '-';
    } else {
      out += '_';
    }
  }
  if (out.empty()) out = "_";
  for (size_t p; (p = out.find("_to_")) != std::string::npos;) out.replace(p, 4, "-to-");
  return out;
}

// Python's str(float): shortest round-trip digits, always with a '.' or exponent.
std::string PyFloatStr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// Python's round(v, 2): correctly rounded decimal conversion, as fmt's fixed format.
double PyRound2(double v) { return std::strtod(fmt::format("{:.2f}", v).c_str(), nullptr); }

// Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz).
double BetaCf(double a, double b, double x) {
  const double kTiny = 1e-300, kEps = 1e-16;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return h;
}

double RegIncBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                          b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaCf(a, b, x) / a;
  return 1 - front * BetaCf(b, a, 1 - x) / b;
}

}  // namespace

// One-way ANOVA of two groups, as scipy.stats.f_oneway(orig, mut) in get_basic_evaluation:
// {"statistic": F, "p-value": P(F(1, N-2) > F)}. DeltaNN writes the string "NaN" for NaN
// (too few values, or every value equal); F = inf (no spread within, some between) would be
// Python's bare Infinity token, which JSON cannot hold: we write the string "Infinity" and
// p-value 0.0. Exposed (not static) for the tests.
json OneWayAnova(const std::vector<double>& a, const std::vector<double>& b) {
  json nan_result = {{"statistic", "NaN"}, {"p-value", "NaN"}};
  size_t n = a.size() + b.size();
  if (a.empty() || b.empty() || n <= 2) return nan_result;
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  double ma = mean(a), mb = mean(b);
  double grand = (ma * a.size() + mb * b.size()) / static_cast<double>(n);
  double ssb = a.size() * (ma - grand) * (ma - grand) + b.size() * (mb - grand) * (mb - grand);
  double ssw = 0;
  for (double x : a) ssw += (x - ma) * (x - ma);
  for (double x : b) ssw += (x - mb) * (x - mb);
  double df_between = 1, df_within = static_cast<double>(n - 2);
  if (ssw == 0) {
    if (ssb == 0) return nan_result;
    return {{"statistic", "Infinity"}, {"p-value", 0.0}};
  }
  double f = (ssb / df_between) / (ssw / df_within);
  double p = RegIncBeta(df_within / 2, df_between / 2, df_within / (df_within + df_between * f));
  return {{"statistic", f}, {"p-value", p}};
}

namespace {

// One per-input file as DeltaNN reads it back.
struct Cell {
  std::string top1;  // first column of the first line
  double seconds = 0;
};

struct EnvTree {
  std::string env, device, opt, library;   // folder names
  std::vector<std::optional<Cell>> cells;  // per input, nullopt: no file (failed cell)
  fs::path Rel() const { return fs::path(device) / opt / library; }
};

struct Comparison {
  json comparison;  // DeltaNN's "comparison" object, all keys
  std::vector<std::string> images_dissimilar;
};

// evalgenerator.py, get_basic_evaluation(base, evaluated, ..., include_individual_analysis=
// False): the "comparison" object for base folder vs evaluated folder.
Comparison Compare(const EnvTree& base, const EnvTree& evaluated,
                   const std::vector<std::string>& files) {
  int64_t total = 0, similar = 0, dissimilar = 0;
  double total_exec = 0, orig_total_exec = 0;
  std::vector<double> orig_times, mut_times;
  json percentages = json::array();
  Comparison out;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!base.cells[i]) continue;  // the base folder has no such file
    ++total;
    if (!evaluated.cells[i]) continue;  // DeltaNN: "does not exist in model folder. Skipping"
    const Cell& o = *base.cells[i];
    const Cell& m = *evaluated.cells[i];
    orig_times.push_back(o.seconds);
    mut_times.push_back(m.seconds);
    total_exec += m.seconds;
    orig_total_exec += o.seconds;
    // DeltaNN divides by the base time (a 0.000000 base crashes it); we write null there.
    if (o.seconds != 0) {
      percentages.push_back(PyRound2((m.seconds - o.seconds) / o.seconds * 100));
    } else {
      percentages.push_back(nullptr);
    }
    if (o.top1 == m.top1) {  // "first_only" >= 0.7
      ++similar;
    } else {
      ++dissimilar;
      // DeltaNN quirk: the name is listed while the count is below 10, so at most 9 names.
      if (dissimilar < kDissimilarImagesMaxNo) out.images_dissimilar.push_back(files[i]);
    }
  }
  double div = total > 0 ? static_cast<double>(total) : 1.0;
  out.comparison = {
      {"total_no_of_images", total},
      {"no_of_images_similar", std::to_string(similar)},
      {"no_of_images_dissimilar", std::to_string(dissimilar)},
      {"percentage_similar", PyFloatStr(static_cast<double>(similar) / div * 100)},
      {"percentage_dissimilar", PyFloatStr(static_cast<double>(dissimilar) / div * 100)},
      {"total_exec_time", total_exec},
      {"orig_total_exec_time", orig_total_exec},
      {"average_exec_time", total_exec / div},
      {"average_orig_exec_time", orig_total_exec / div},
      {"images_dissimilar", out.images_dissimilar},
      {"exec_time_percentages", percentages},
      {"diff_labels", json::object()},  // max_no_of_diff_labels=0 keeps none
      {"oneway_exec_time", OneWayAnova(orig_times, mut_times)},
  };
  return out;
}

// DeltaNN quirk (all generate_* functions): an image's first dissimilar occurrence is counted
// as 0 and each later one adds 1.
void CountDissimilar(json& totals, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (!totals.contains(name)) {
      totals[name] = 0;
    } else {
      totals[name] = totals[name].get<int64_t>() + 1;
    }
  }
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: cannot write {}: {}; check that the output "
         "folder's parent is writable and has space",
         path.string(), std::strerror(errno));
  }
}

// DeltaNN writes json.dumps(obj, indent=2, sort_keys=True) through print(), i.e. a final '\n';
// nlohmann's objects are key-sorted too.
void WriteJson(const fs::path& path, const json& j) {
  WriteFile(path, j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string OptionalString(const json& j, const char* key, const std::string& def) {
  if (!j.contains(key) || j.at(key).is_null()) return def;
  if (j.at(key).is_string()) return j.at(key).get<std::string>();
  return j.at(key).dump();
}

// The env items other than opt, as written: "ort@cpu,opt=3,threads=1" -> ["threads=1"].
std::vector<std::string> ExtraItems(const std::string& env) {
  std::vector<std::string> items;
  size_t start = env.find(',');
  while (start != std::string::npos) {
    size_t end = env.find(',', start + 1);
    std::string item = env.substr(start + 1, end == std::string::npos ? end : end - start - 1);
    if (item.substr(0, item.find('=')) != "opt") items.push_back(item);
    start = end;
  }
  return items;
}

bool HasTorchOrKeras(const fs::path& rel) {
  std::string s = rel.string();
  return s.find("torch") != std::string::npos || s.find("keras") != std::string::npos;
}

// The per-input file names (the input's stem made safe, deduplicated) and the input names.
struct InputFiles {
  std::vector<std::string> files, names;
};

InputFiles NameInputFiles(const json& inputs) {
  InputFiles out;
  std::set<std::string> taken;
  for (const auto& in : inputs) {
    std::string name = in.at("name").get<std::string>();
    out.names.push_back(name);
    std::string stem = name;
    size_t slash = stem.find_last_of('/');
    size_t dot = stem.rfind('.');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
      stem = stem.substr(0, dot);
    }
    std::string base = Safe(stem), file = base + ".txt";
    for (int k = 2; taken.count(file); ++k) file = fmt::format("{}_{}.txt", base, k);
    taken.insert(file);
    out.files.push_back(file);
  }
  return out;
}

// The model's name, folder and checks shared by every step of one model's export.
struct ModelExport {
  std::string name;
  fs::path dir;
  InputFiles inputs;
  json failed = json::array();  // [{env, input}] cells without predictions
};

// An env's folder names from the analysis' "envs" entry; Error(kInput) without a library.
EnvTree NameEnvTree(const std::string& env, const json& info) {
  EnvTree t;
  t.env = env;
  t.device = Safe(OptionalString(info, "device", "default"));
  std::string opt = OptionalString(info, "opt", "");
  t.opt = opt.empty() ? "opt_default" : "opt" + Safe(opt);
  std::string library = OptionalString(info, "library", OptionalString(info, "backend", ""));
  if (library.empty()) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: env {} has no library in the analysis \"envs\" "
         "list; regenerate the analysis",
         env);
  }
  for (const auto& item : ExtraItems(env)) library += "_" + item;
  t.library = Safe(library);
  return t;
}

// One prediction cell as DeltaNN's file text ("id, score" x kTopK, blank line, seconds).
std::string CellText(const ModelExport& m, const std::string& env, size_t i, const json& c,
                     bool plus_one, Cell* cell) {
  const json& top = c.at("top");
  const json& scores = c.at("scores");
  const std::string& input = m.inputs.names[i];
  if (top.size() < kTopK || scores.size() < kTopK) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: model {} env {} input {}: {} classes and {} "
         "scores, DeltaNN needs {}",
         m.name, env, input, top.size(), scores.size(), kTopK);
  }
  if (!c.at("ms").is_number()) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: model {} env {} input {}: no run time (ms); "
         "DeltaNN's files need one, regenerate the analysis",
         m.name, env, input);
  }
  std::string text;
  for (size_t r = 0; r < kTopK; ++r) {
    int64_t id = top[r].get<int64_t>() + (plus_one ? 1 : 0);
    double score = scores[r].is_null() ? std::nan("") : scores[r].get<double>();
    if (r == 0) cell->top1 = std::to_string(id);
    text += fmt::format("{}, {:.6f}\n", id, score);
  }
  std::string secs = fmt::format("{:.6f}", c.at("ms").get<double>() / 1000.0);
  cell->seconds = std::strtod(secs.c_str(), nullptr);  // what DeltaNN parses back
  return text + "\n" + secs + "\n";
}

// Writes one env's per-input files under <device>/<opt>/<library>/mutations/ts_0 and fills
// t->cells; returns the env's concord_mapping.json entry.
json WriteEnvTree(ModelExport& m, const json& cells, EnvTree* t) {
  const std::vector<std::string>& files = m.inputs.files;
  if (!cells.is_array() || cells.size() != files.size()) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: model {} env {}: {} predictions for {} inputs; "
         "the analysis document is inconsistent, regenerate it",
         m.name, t->env, cells.is_array() ? cells.size() : 0, files.size());
  }
  bool plus_one = !HasTorchOrKeras(fs::path(Safe(m.name)) / t->Rel());
  fs::path ts_dir = m.dir / t->Rel() / "mutations" / "ts_0";
  fs::create_directories(ts_dir);
  for (size_t i = 0; i < files.size(); ++i) {
    if (cells[i].is_null()) {
      t->cells.emplace_back();
      m.failed.push_back({{"env", t->env}, {"input", m.inputs.names[i]}});
      continue;
    }
    Cell cell;
    WriteFile(ts_dir / files[i], CellText(m, t->env, i, cells[i], plus_one, &cell));
    t->cells.push_back(cell);
  }
  return {{"env", t->env},         {"folder", (t->Rel() / "mutations" / "ts_0").string()},
          {"device", t->device},   {"opt", t->opt},
          {"library", t->library}, {"class_id_offset", plus_one ? 1 : 0}};
}

// One tree per env that has predictions for this model, in `env_order`; fills `mapping_envs`.
std::vector<EnvTree> WriteEnvTrees(ModelExport& m, const json& predictions,
                                   const std::map<std::string, json>& env_info,
                                   const std::vector<std::string>& env_order, json* mapping_envs) {
  for (const auto& [env, cells] : predictions.items()) {
    if (!env_info.count(env)) {
      Fail(ErrorKind::kInput,
           "DeltaNN export: model {} has predictions for env {}, which the "
           "analysis \"envs\" list lacks; the document is inconsistent, regenerate it",
           m.name, env);
    }
  }
  std::vector<EnvTree> trees;
  std::map<std::string, std::string> folder_owner;
  for (const auto& env : env_order) {
    if (!predictions.contains(env)) continue;
    EnvTree t = NameEnvTree(env, env_info.at(env));
    std::string rel = t.Rel().string();
    auto [it, inserted] = folder_owner.emplace(rel, env);
    if (!inserted) {
      Fail(ErrorKind::kInput,
           "DeltaNN export: envs {} and {} both map to the folder {}; "
           "DeltaNN can only tell environments apart by device, opt and library",
           it->second, env, rel);
    }
    mapping_envs->push_back(WriteEnvTree(m, predictions.at(env), &t));
    trees.push_back(std::move(t));
  }
  return trees;
}

// same_folder_evaluation.json (generate_base_folder_comparison / get_same_folder_comparison):
// comparisons between the ts_* run folders of one library. The analysis carries predictions
// of repeat 0 only, so there is one run folder and DeltaNN's comparison is empty; Concord's
// own determinism check (analysis "repeats") is added as "concord_repeats" (not DeltaNN).
void WriteSameFolderEvaluations(const json& model, const ModelExport& m,
                                const std::vector<EnvTree>& trees) {
  std::map<std::string, json> repeats;
  if (model.contains("repeats")) {
    for (const auto& r : model.at("repeats")) repeats[r.at("env").get<std::string>()] = r;
  }
  for (const auto& t : trees) {
    json same = {{"comparisons", json::array()},
                 {"times", json::object()},
                 {"total_avg_exec_time", 0.0},
                 {"total_images_dissimilar", json::object()}};
    if (auto it = repeats.find(t.env); it != repeats.end()) {
      json r = it->second;
      r.erase("env");
      same["concord_repeats"] = r;
    }
    WriteJson(m.dir / t.Rel() / "mutations" / "same_folder_evaluation.json", same);
  }
}

// library_evaluation*.json of one <device>/<opt> folder `g` (generate_libraries_comparison):
// every ordered pair of libraries in that folder, in `envs` order.
void WriteLibraryEvaluation(const ModelExport& m, const std::vector<EnvTree>& trees,
                            const std::string& g) {
  json times = json::object(), comparisons = json::array(), dissimilar = json::object();
  json time_percentages = json::object(), time_stats = json::object();
  for (const auto& base : trees) {
    if ((fs::path(base.device) / base.opt).string() != g) continue;
    time_percentages[base.library] = json::object();
    time_stats[base.library] = json::object();
    for (const auto& ev : trees) {
      if (&ev == &base || (fs::path(ev.device) / ev.opt).string() != g) continue;
      Comparison c = Compare(base, ev, m.inputs.files);
      json& cmp = c.comparison;
      time_percentages[base.library][ev.library] = cmp["exec_time_percentages"];
      // DeltaNN quirk: one "oneway_exec_time" per base, the last evaluated library's.
      time_percentages[base.library]["oneway_exec_time"] = cmp["oneway_exec_time"];
      time_stats[base.library][ev.library] = cmp["oneway_exec_time"];
      if (!times.contains(ev.library)) {  // the first base's view of each library
        times[ev.library] = {{"average_exec_time", cmp["average_exec_time"]},
                             {"total_exec_time", cmp["total_exec_time"]}};
      }
      cmp.erase("average_exec_time");
      cmp.erase("total_exec_time");
      cmp.erase("exec_time_percentages");
      comparisons.push_back(
          {{"base", base.library}, {"evaluated", ev.library}, {"comparison", cmp}});
      CountDissimilar(dissimilar, c.images_dissimilar);
    }
  }
  fs::path dir = m.dir / g;
  WriteJson(
      dir / "library_evaluation.json",
      {{"times", times}, {"comparisons", comparisons}, {"total_images_dissimilar", dissimilar}});
  WriteJson(dir / "library_evaluation_time_percentages.json", time_percentages);
  WriteJson(dir / "library_evaluation_time_stats.json", time_stats);
}

void WriteLibraryEvaluations(const ModelExport& m, const std::vector<EnvTree>& trees) {
  std::vector<std::string> groups;
  for (const auto& t : trees) {
    std::string g = (fs::path(t.device) / t.opt).string();
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  for (const auto& g : groups) WriteLibraryEvaluation(m, trees, g);
}

// device_evaluation.json (generate_devices_comparison): {library: [{base: device, evaluated:
// device, comparison}], "total_images_dissimilar": {...}}, every library key present.
// DeltaNN's devices hold libraries directly; Concord nests opt in between, so each entry
// also names its "opt" (not in DeltaNN) and only same-opt folders are compared. DeltaNN's
// code looks for the evaluated device's files in <device>/mutations, without the library (a
// bug that finds nothing in its own layout); we compare the same library, its evident intent.
void WriteDeviceEvaluation(const ModelExport& m, const std::vector<EnvTree>& trees) {
  json devices = json::object(), device_dissimilar = json::object();
  for (const auto& base : trees) {
    if (!devices.contains(base.library)) devices[base.library] = json::array();
    for (const auto& ev : trees) {
      if (ev.device == base.device || ev.opt != base.opt || ev.library != base.library) continue;
      Comparison c = Compare(base, ev, m.inputs.files);
      devices[base.library].push_back({{"base", base.device},
                                       {"evaluated", ev.device},
                                       {"opt", base.opt},
                                       {"comparison", c.comparison}});
      CountDissimilar(device_dissimilar, c.images_dissimilar);
    }
  }
  devices["total_images_dissimilar"] = device_dissimilar;
  WriteJson(m.dir / "device_evaluation.json", devices);
}

void ExportModel(const json& model, const std::map<std::string, json>& env_info,
                 const std::vector<std::string>& env_order, const fs::path& root) {
  ModelExport m;
  m.name = model.at("name").get<std::string>();
  m.dir = root / Safe(m.name);
  if (fs::exists(m.dir)) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: two models map to the folder {} (model {}); "
         "rename one of them",
         Safe(m.name), m.name);
  }
  int top_k = model.at("top_k").get<int>();
  if (top_k < static_cast<int>(kTopK)) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: model {} has top_k {}, DeltaNN's files hold "
         "exactly {} predictions per input; rerun the analysis with top_k >= {}",
         m.name, top_k, kTopK, kTopK);
  }
  m.inputs = NameInputFiles(model.at("inputs"));
  json mapping_envs = json::array();
  std::vector<EnvTree> trees =
      WriteEnvTrees(m, model.at("predictions"), env_info, env_order, &mapping_envs);
  WriteSameFolderEvaluations(model, m, trees);
  WriteLibraryEvaluations(m, trees);
  WriteDeviceEvaluation(m, trees);

  json mapping_inputs = json::array();
  for (size_t i = 0; i < m.inputs.files.size(); ++i) {
    mapping_inputs.push_back({{"input", m.inputs.names[i]}, {"file", m.inputs.files[i]}});
  }
  WriteJson(m.dir / "concord_mapping.json", {{"schema", "concord.deltann_export/1"},
                                             {"model", m.name},
                                             {"envs", mapping_envs},
                                             {"inputs", mapping_inputs},
                                             {"failed", m.failed}});
}

}  // namespace

void ExportDeltaNN(const json& analysis, const fs::path& out_dir) {
  fs::path out = fs::absolute(out_dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "out/" -> "out"
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) {
      Fail(ErrorKind::kInput,
           "DeltaNN export: {} exists and is not a folder; give a new or "
           "empty folder",
           out.string());
    }
    if (!fs::is_empty(out, ec)) {
      Fail(ErrorKind::kInput,
           "DeltaNN export: {} exists and is not empty; give a new or empty "
           "folder (nothing was overwritten)",
           out.string());
    }
  }
  if (!analysis.is_object() || analysis.value("schema", json()) != kAnalysisSchema) {
    Fail(ErrorKind::kInput,
         "DeltaNN export: not a Concord analysis document (schema {}, "
         "expected {})",
         analysis.is_object() ? analysis.value("schema", json()).dump() : "none", kAnalysisSchema);
  }
  static std::atomic<int> counter{0};
  fs::path tmp = out.parent_path() /
                 fmt::format(".{}.tmp-{}-{}", out.filename().string(), getpid(), counter++);
  try {
    fs::create_directories(tmp);
    std::map<std::string, json> env_info;
    std::vector<std::string> env_order;
    for (const auto& e : analysis.at("envs")) {
      std::string env = e.at("env").get<std::string>();
      env_info[env] = e;
      env_order.push_back(env);
    }
    for (const auto& model : analysis.at("models")) ExportModel(model, env_info, env_order, tmp);
    if (fs::exists(out)) fs::remove(out);  // empty, checked above
    fs::rename(tmp, out);
  } catch (const json::exception& e) {
    fs::remove_all(tmp, ec);
    Fail(ErrorKind::kInput,
         "DeltaNN export: malformed analysis document: {}; regenerate it "
         "with concord analyze",
         e.what());
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    Fail(ErrorKind::kInput,
         "DeltaNN export to {}: {}; check that its parent folder is "
         "writable",
         out.string(), e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace concord::report
