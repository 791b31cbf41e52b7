#include "report/analysis.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "backends/env.h"
#include "compare/compare.h"
#include "compare/scores.h"
#include "ir/clock.h"
#include "ir/error.h"
#include "ir/json_number.h"
#include "ir/tensor_io.h"
#include "report/metrics.h"

namespace concord::report {
namespace {

using json = nlohmann::json;

json ParseOr(const std::string& text, json fallback) {
  try {
    return text.empty() ? fallback : json::parse(text);
  } catch (const json::parse_error&) {
    return fallback;
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  return Percentile(std::move(v), 50);
}

// One stored output, decoded once.
struct Out {
  std::string name;
  std::string digest;
  std::optional<Tensor> tensor;
  std::vector<std::pair<int64_t, double>> top;  // row 0: model index, score
};

struct Cell {
  const RunRow* run = nullptr;
  std::vector<Out> outputs;
};

// The canonical class of a model index (label offset applied); -1 = background.
int64_t Canonical(int64_t idx, int64_t offset) { return idx < offset ? -1 : idx - offset; }

std::string ClassName(const std::vector<std::string>& names, int64_t cls) {
  if (cls < 0) return "background";
  if (cls < static_cast<int64_t>(names.size())) return names[static_cast<size_t>(cls)];
  return fmt::format("class {}", cls);
}

std::string PairKind(const EnvSpec& a, const EnvSpec& b) {
  // Options other than opt (threads, target, ...) must agree for a one-factor comparison. An
  // env without opt (ref has no optimization levels) matches any opt level.
  auto rest = [](const EnvSpec& e) {
    auto o = e.options;
    o.erase("opt");
    return o;
  };
  if (rest(a) != rest(b)) return "other";
  bool any_opt = !a.options.count("opt") || !b.options.count("opt");
  bool lib = a.backend == b.backend, dev = a.device == b.device;
  bool op = any_opt || a.Get("opt") == b.Get("opt");
  if (!lib && dev && op) return "library";
  if (lib && !dev && op) return "device";
  if (lib && dev && !op) return "opt";
  return "other";
}

// The rows the analysis reads, loaded once, with the env order and parsed env specs.
struct StoreRows {
  std::map<std::string, std::string> campaign;
  std::vector<EnvironmentRow> envs;
  std::vector<ModelRow> models;
  std::vector<InputRow> inputs;
  std::vector<RunRow> runs;
  std::vector<SessionRecord> sessions;
  std::map<int64_t, const EnvironmentRow*> env_by_id;
  std::map<int64_t, json> input_desc;
  std::vector<int64_t> env_order;  // ids, see EnvOrder
  std::map<int64_t, EnvSpec> spec_by_id;
  std::map<int64_t, std::string> name_by_id;                   // see NameEnvs
  std::map<int64_t, std::vector<std::string>> machines_by_id;  // labels of the machines it ran on
};

// With group_by_env, environments with the same env string (other machines) become the first
// one: their runs and sessions move to it, and its cells' repeats are renumbered machine by
// machine (repeat r of the k-th machine follows all repeats of the machines before), so every
// latency and every output is kept and repeats compare machines with each other.
void GroupByEnvString(StoreRows& rows) {
  std::map<std::string, int64_t> first;  // env string -> its first environment id
  std::map<int64_t, int64_t> canonical;
  std::map<int64_t, int> member;  // id -> position among its env string's machines
  std::vector<EnvironmentRow> kept;
  for (const auto& e : rows.envs) {
    auto [it, fresh] = first.emplace(e.info.env, e.id);
    canonical[e.id] = it->second;
    member[e.id] = static_cast<int>(rows.machines_by_id[it->second].size());
    rows.machines_by_id[it->second].push_back(e.info.machine);
    if (fresh) kept.push_back(e);
  }
  rows.envs = std::move(kept);
  std::vector<size_t> order(rows.runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](const RunRow& r) { return std::tuple(member[r.env_id], r.repeat, r.id); };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return key(rows.runs[a]) < key(rows.runs[b]); });
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> next_repeat;  // (model, env, input)
  for (size_t i : order) {
    RunRow& r = rows.runs[i];
    r.env_id = canonical[r.env_id];
    r.repeat = next_repeat[{r.model_id, r.env_id, r.input_id}]++;
  }
  for (auto& s : rows.sessions) s.env_id = canonical[s.env_id];
}

// The name each environment goes by in the document: its env string, or "env [machine]" when
// the store holds that env string from more than one machine.
void NameEnvs(StoreRows& rows) {
  std::map<std::string, int> count;
  for (const auto& e : rows.envs) ++count[e.info.env];
  for (const auto& e : rows.envs) {
    rows.name_by_id[e.id] =
        count[e.info.env] > 1 ? fmt::format("{} [{}]", e.info.env, e.info.machine) : e.info.env;
    if (!rows.machines_by_id.count(e.id)) rows.machines_by_id[e.id] = {e.info.machine};
  }
}

// Environment order: as the campaign config lists them (after sweep expansion, canonical),
// then any other env in store order.
std::vector<int64_t> EnvOrder(const json& campaign, const std::vector<EnvironmentRow>& env_rows) {
  std::vector<int64_t> env_order;
  std::vector<std::string> wanted;
  if (campaign.contains("config") && campaign["config"].is_object() &&
      campaign["config"].contains("envs")) {
    for (const auto& e : campaign["config"]["envs"]) {
      if (!e.is_string()) continue;
      try {
        for (const auto& x : ExpandEnvSweep(e.get<std::string>())) {
          wanted.push_back(EnvSpec::Parse(x).ToString());
        }
      } catch (const Error&) {
      }
    }
  }
  std::set<int64_t> used;
  for (const auto& w : wanted) {
    for (const auto& e : env_rows) {
      if (e.info.env == w && used.insert(e.id).second) env_order.push_back(e.id);
    }
  }
  for (const auto& e : env_rows) {
    if (used.insert(e.id).second) env_order.push_back(e.id);
  }
  return env_order;
}

// The "envs" list in env order; fills rows.spec_by_id. `machine` receives the host
// fingerprint of the first env.
json DescribeEnvs(StoreRows& rows, json* machine) {
  json envs = json::array();
  for (int64_t id : rows.env_order) {
    const EnvironmentRow& e = *rows.env_by_id[id];
    EnvSpec spec;
    try {
      spec = EnvSpec::Parse(e.info.env);
    } catch (const Error&) {
      spec.backend = e.info.backend;
      spec.device = e.info.device;
    }
    rows.spec_by_id[id] = spec;
    json ej = {
        {"env", rows.name_by_id[id]},
        {"env_string", e.info.env},
        {"machines", rows.machines_by_id[id]},
        {"backend", e.info.backend},
        {"library", e.info.backend},
        {"device", e.info.device},
        {"opt", spec.options.count("opt") ? json(spec.Get("opt")) : json(nullptr)},
        {"threads", spec.options.count("threads") ? json(spec.Get("threads")) : json(nullptr)},
        {"versions", ParseOr(e.info.versions_json, json::object())},
        {"machine", ParseOr(e.info.machine_json, json::object())}};
    if (machine->empty()) *machine = ej["machine"];
    envs.push_back(ej);
  }
  return envs;
}

// One model's runs, decoded: its campaign metadata, cells by [env][input][repeat], the inputs
// and envs that ran it, and the lookups every section of its document uses.
class ModelAnalysis {
 public:
  ModelAnalysis(Store& store, StoreRows& rows, const ModelRow& m, const AnalysisOptions& options);

  // The model's entry of "models" (schema in analysis.h); appends the output comparisons of
  // every env pair to `comparisons`.
  json Document(std::vector<ComparisonRecord>* comparisons);

 private:
  void LoadCells(Store& store);
  json Inputs();
  json Predictions();
  json Pairs(std::vector<ComparisonRecord>* comparisons);
  json ComparePair(int64_t ea, int64_t eb, std::vector<ComparisonRecord>* comparisons);
  json Repeats();
  json Disagreements();
  json Quality();
  json Performance();
  json PerformanceOf(int64_t e);
  void AddDeviceFacts(int64_t e, json* pj);
  std::string ModelFileOf(int64_t e);
  json Conversions();
  json Directions(const json& pairs, const json& conversions);
  json TimeChange();

  std::string EnvName(int64_t id) { return rows_.name_by_id[id]; }
  std::string InputName(int64_t id) {
    return rows_.input_desc[id].value("name", fmt::format("input {}", id));
  }
  const Cell* CellAt(int64_t env, int64_t input, int64_t repeat) const {
    auto e = cells_.find(env);
    if (e == cells_.end()) return nullptr;
    auto i = e->second.find(input);
    if (i == e->second.end()) return nullptr;
    auto r = i->second.find(repeat);
    return r == i->second.end() ? nullptr : &r->second;
  }
  // The classifier output: the first output with top-k labels.
  static const Out* ClassOutput(const Cell* c) {
    if (c == nullptr) return nullptr;
    for (const auto& o : c->outputs) {
      if (!o.top.empty()) return &o;
    }
    return nullptr;
  }
  std::vector<int64_t> CanonicalTop(const Out* o) const {
    std::vector<int64_t> top;
    for (const auto& [i, s] : o->top) top.push_back(Canonical(i, offset_));
    return top;
  }

  StoreRows& rows_;
  const ModelRow& m_;
  const AnalysisOptions& options_;
  json meta_;
  int top_k_ = 5;
  int64_t offset_ = 0;
  json label_space_;
  std::vector<std::string> names_;
  std::map<int64_t, std::map<int64_t, std::map<int64_t, Cell>>> cells_;
  std::vector<int64_t> input_order_;
  std::vector<int64_t> envs_;  // envs with at least one run of this model, in env order
  int64_t total_ = 0;
  int64_t ok_ = 0;
  json errors_ = json::array();
};

ModelAnalysis::ModelAnalysis(Store& store, StoreRows& rows, const ModelRow& m,
                             const AnalysisOptions& options)
    : rows_(rows), m_(m), options_(options) {
  meta_ = rows.campaign.count("model/" + m.sha256)
              ? ParseOr(rows.campaign["model/" + m.sha256], json::object())
              : json::object();
  top_k_ = meta_.value("top_k", options.top_k);
  label_space_ = meta_.contains("label_space") ? meta_["label_space"] : json(nullptr);
  if (label_space_.is_object()) offset_ = label_space_.value("offset", 0);
  if (meta_.contains("class_names") && meta_["class_names"].is_array()) {
    for (const auto& n : meta_["class_names"]) {
      names_.push_back(n.is_string() ? n.get<std::string>() : "");
    }
  }
  LoadCells(store);
}

void ModelAnalysis::LoadCells(Store& store) {
  std::set<int64_t> input_seen;
  for (const RunRow& r : rows_.runs) {
    if (r.model_id != m_.id) continue;
    ++total_;
    if (input_seen.insert(r.input_id).second) input_order_.push_back(r.input_id);
    if (r.status != "ok") {
      errors_.push_back({{"env", EnvName(r.env_id)},
                         {"input", rows_.input_desc[r.input_id].value("name", r.input_digest)},
                         {"repeat", r.repeat},
                         {"error", r.error}});
      continue;
    }
    ++ok_;
    Cell cell;
    cell.run = &r;
    for (OutputRecord& o : store.Outputs(r.id)) {
      Out out;
      out.name = o.name;
      out.digest = o.digest;
      if (o.tensor) {
        try {
          out.tensor = ParseNpy(std::string(o.tensor->begin(), o.tensor->end()),
                                fmt::format("run {} output {}", r.id, o.name));
        } catch (const Error&) {
          // unreadable blob: compared by digest only
        }
      }
      json top = ParseOr(o.topk_json, json(nullptr));
      if (top.is_array() && !top.empty() && top[0].is_array()) {
        for (const auto& t : top[0]) {
          out.top.push_back({t.value("i", int64_t{0}), t.value("s", 0.0)});
        }
      }
      cell.outputs.push_back(std::move(out));
    }
    cells_[r.env_id][r.input_id][r.repeat] = std::move(cell);
  }
  std::sort(input_order_.begin(), input_order_.end());
  std::set<int64_t> model_envs;
  for (const RunRow& r : rows_.runs) {
    if (r.model_id == m_.id) model_envs.insert(r.env_id);
  }
  for (int64_t id : rows_.env_order) {
    if (model_envs.count(id)) envs_.push_back(id);
  }
}

json ModelAnalysis::Document(std::vector<ComparisonRecord>* comparisons) {
  json mj;
  mj["name"] = m_.name;
  mj["sha256"] = m_.sha256;
  mj["path"] = m_.path;
  mj["label_space"] = label_space_;
  mj["class_names"] = names_;
  mj["top_k"] = top_k_;
  mj["preprocess"] = meta_.contains("preprocess") ? meta_["preprocess"] : json(nullptr);
  mj["inputs"] = Inputs();
  mj["cells"] = {{"total", total_}, {"ok", ok_}, {"error", total_ - ok_}};
  mj["errors"] = errors_;
  mj["predictions"] = Predictions();
  mj["pairs"] = Pairs(comparisons);
  mj["repeats"] = Repeats();
  mj["disagreements"] = Disagreements();
  mj["quality"] = Quality();
  mj["performance"] = Performance();
  mj["time_change"] = TimeChange();
  mj["conversions"] = Conversions();
  mj["directions"] = Directions(mj["pairs"], mj["conversions"]);
  return mj;
}

// The matrix's conversion directions of this model (campaign values "conversion/SHA/LABEL"):
// label, target format, tools, quantization, status and, for a failed one, the converter's
// message. Which env ran each converted file is in the pairs (kind "conversion").
json ModelAnalysis::Conversions() {
  json out = json::array();
  std::string prefix = "conversion/" + m_.sha256 + "/";
  for (auto it = rows_.campaign.lower_bound(prefix);
       it != rows_.campaign.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    json record = json::parse(it->second, nullptr, false);
    if (!record.is_object()) continue;
    record["label"] = it->first.substr(prefix.size());
    out.push_back(record);
  }
  return out;
}

// The direction x env grid of a model whose envs ran different files (a framework source, its
// ONNX twin, the conversions): one row per direction with, for each env that ran its file, the
// agreement with the reference env (the env that ran the source; for an ONNX model the first
// env that ran the model itself). Failed conversions are rows without cells. Null when every
// env ran the same file.
json ModelAnalysis::Directions(const json& pairs, const json& conversions) {
  std::map<std::string, std::vector<int64_t>> envs_of;  // file -> envs, in env order
  for (int64_t e : envs_) {  // an env without one ok cell ran no file (runs no format)
    if (cells_.count(e)) envs_of[ModelFileOf(e)].push_back(e);
  }
  if (envs_of.size() < 2 && conversions.empty()) return nullptr;
  const std::string source = envs_of.count(m_.path) ? m_.path : "";
  int64_t ref = envs_of.count(source) ? envs_of[source].front() : -1;
  auto pair_of = [&](const std::string& a, const std::string& b) -> json {
    for (const json& q : pairs) {
      if ((q["a"] == a && q["b"] == b) || (q["a"] == b && q["b"] == a)) return q;
    }
    return nullptr;
  };
  json rows = json::array();
  auto add_row = [&](const std::string& direction, const std::string& file, json record) {
    json cells = json::array();
    for (int64_t e : envs_of[file]) {
      json cell = {{"env", EnvName(e)}};
      json q = e == ref || ref < 0 ? json(nullptr) : pair_of(EnvName(ref), EnvName(e));
      for (const char* k :
           {"top1_agree", "kendall_tau", "topk_jaccard", "rank_distance", "max_abs", "max_rel"}) {
        cell[k] = q.is_object() ? q[k] : json(nullptr);
      }
      cell["reference"] = e == ref;
      cells.push_back(cell);
    }
    envs_of.erase(file);
    record["direction"] = direction;
    record["file"] = file.empty() ? meta_.value("onnx", m_.path) : file;
    record["cells"] = cells;
    rows.push_back(record);
  };
  if (!source.empty()) add_row("source", source, {{"status", "ok"}});
  json hub = nullptr;
  for (const json& c : conversions) {
    if (c.value("to", "") == "onnx" && c.value("path", "") == meta_.value("onnx", "")) hub = c;
  }
  add_row(source.empty() ? "model" : "onnx", "",
          hub.is_object() ? json{{"status", "ok"}, {"tools", hub.value("tools", json::array())}}
                          : json{{"status", "ok"}});
  for (const json& c : conversions) {
    if (c == hub) continue;
    json record = {{"status", c.value("status", "")},
                   {"tools", c.value("tools", json::array())},
                   {"quantize", c.value("quantize", "none")},
                   {"message", c.value("message", "")}};
    for (const char* k : {"calibration", "calibration_sets"}) {
      if (c.contains(k)) record[k] = c[k];
    }
    add_row(c.value("label", ""), c.value("path", ""), record);
  }
  std::vector<std::string> twins;  // files the config gave as twins
  for (const auto& entry : envs_of) twins.push_back(entry.first);
  for (const std::string& file : twins) {
    add_row(std::filesystem::path(file).filename().string(), file, {{"status", "ok"}});
  }
  return {{"reference_env", ref >= 0 ? json(EnvName(ref)) : json(nullptr)}, {"rows", rows}};
}

json ModelAnalysis::Inputs() {
  json inputs = json::array();
  for (int64_t id : input_order_) {
    const json& d = rows_.input_desc[id];
    json label = d.contains("label") ? d["label"] : json(nullptr);
    inputs.push_back(
        {{"id", id},
         {"name", InputName(id)},
         {"label", label},
         {"thumbnail",
          options_.thumbnails && d.contains("thumbnail") ? d["thumbnail"] : json(nullptr)}});
  }
  return inputs;
}

// Predictions (repeat 0).
json ModelAnalysis::Predictions() {
  json predictions = json::object();
  for (int64_t e : envs_) {
    json list = json::array();
    for (int64_t in : input_order_) {
      const Cell* c = CellAt(e, in, 0);
      const Out* o = ClassOutput(c);
      if (o == nullptr) {
        list.push_back(nullptr);
        continue;
      }
      json scores = json::array();
      for (const auto& [i, s] : o->top) scores.push_back(JsonNumber(s));
      list.push_back({{"input", InputName(in)},
                      {"top", CanonicalTop(o)},
                      {"scores", scores},
                      {"ms", JsonNumber(c->run->run_ms)}});
    }
    predictions[EnvName(e)] = list;
  }
  return predictions;
}

// Every unordered pair of envs, a before b in env order.
json ModelAnalysis::Pairs(std::vector<ComparisonRecord>* comparisons) {
  json pairs = json::array();
  for (size_t x = 0; x < envs_.size(); ++x) {
    for (size_t y = x + 1; y < envs_.size(); ++y) {
      pairs.push_back(ComparePair(envs_[x], envs_[y], comparisons));
    }
  }
  return pairs;
}

// Agreement of envs `ea` and `eb` over the inputs both ran (repeat 0).
json ModelAnalysis::ComparePair(int64_t ea, int64_t eb,
                                std::vector<ComparisonRecord>* comparisons) {
  int64_t n = 0, identical = 0, labelled_pairs = 0;
  double top1 = 0, jac = 0, tau = 0, rank = 0, max_abs = 0, max_rel = 0, min_cos = 1;
  bool numeric = false;
  json disagreeing = json::array();
  for (int64_t in : input_order_) {
    const Cell* ca = CellAt(ea, in, 0);
    const Cell* cb = CellAt(eb, in, 0);
    if (ca == nullptr || cb == nullptr) continue;
    ++n;
    bool same = ca->outputs.size() == cb->outputs.size();
    for (size_t k = 0; k < std::min(ca->outputs.size(), cb->outputs.size()); ++k) {
      const Out& oa = ca->outputs[k];
      const Out& ob = cb->outputs[k];
      same &= oa.digest == ob.digest;
      json metrics = {{"identical", oa.digest == ob.digest}};
      if (oa.tensor && ob.tensor) {
        TensorDiff d = CompareTensors(*oa.tensor, *ob.tensor, Tolerance{1e-5, 1e-5});
        if (!d.dtype_mismatch && !d.shape_mismatch) {
          numeric = true;
          max_abs = std::max(max_abs, d.max_abs);
          max_rel = std::max(max_rel, d.max_rel);
          min_cos = std::min(min_cos, d.cosine);
        }
        metrics["max_abs"] = JsonNumber(d.max_abs);
        metrics["max_rel"] = JsonNumber(d.max_rel);
        metrics["cosine"] = JsonNumber(d.cosine);
        metrics["ok"] = d.ok;
        metrics["message"] = d.message;
      }
      comparisons->push_back({ca->run->id, cb->run->id, oa.name, metrics.dump()});
    }
    identical += same;
    const Out* la = ClassOutput(ca);
    const Out* lb = ClassOutput(cb);
    if (la != nullptr && lb != nullptr) {
      ++labelled_pairs;
      std::vector<int64_t> ta = CanonicalTop(la), tb = CanonicalTop(lb);
      bool agree = !ta.empty() && !tb.empty() && ta[0] == tb[0];
      top1 += agree;
      if (!agree) disagreeing.push_back(InputName(in));
      jac += Jaccard(ta, tb);
      if (la->tensor && lb->tensor && LooksLikeScores(*la->tensor) &&
          LooksLikeScores(*lb->tensor) &&
          ScoresShape(*la->tensor).classes == ScoresShape(*lb->tensor).classes) {
        tau += TopKKendallTau(ScoresRow(*la->tensor, 0), ScoresRow(*lb->tensor, 0), top_k_);
        rank += TopKRankDistance(ScoresRow(*la->tensor, 0), ScoresRow(*lb->tensor, 0), top_k_);
      } else {
        rank += TopKRankDistance(ta, tb);
        // Without full scores: Kendall tau of the shared labels' ranks in both lists.
        std::vector<double> ra, rb;
        for (size_t i = 0; i < ta.size(); ++i) {
          auto it = std::find(tb.begin(), tb.end(), ta[i]);
          if (it != tb.end()) {
            ra.push_back(-static_cast<double>(i));
            rb.push_back(-static_cast<double>(it - tb.begin()));
          }
        }
        tau += KendallTauB(ra, rb);
      }
    }
  }
  json pj = {{"a", EnvName(ea)},
             {"b", EnvName(eb)},
             {"kind", ModelFileOf(ea) != ModelFileOf(eb)
                          ? std::string("conversion")
                          : PairKind(rows_.spec_by_id[ea], rows_.spec_by_id[eb])},
             {"inputs", n},
             {"identical_outputs", identical},
             {"disagreeing_inputs", disagreeing}};
  double lp = static_cast<double>(labelled_pairs);
  pj["top1_agree"] = labelled_pairs ? JsonNumber(top1 / lp) : json(nullptr);
  pj["topk_jaccard"] = labelled_pairs ? JsonNumber(jac / lp) : json(nullptr);
  pj["kendall_tau"] = labelled_pairs ? JsonNumber(tau / lp) : json(nullptr);
  pj["rank_distance"] = labelled_pairs ? JsonNumber(rank / lp) : json(nullptr);
  pj["max_abs"] = numeric ? JsonNumber(max_abs) : json(nullptr);
  pj["max_rel"] = numeric ? JsonNumber(max_rel) : json(nullptr);
  pj["min_cosine"] = numeric ? JsonNumber(min_cos) : json(nullptr);
  return pj;
}

// Repeats: repeat r vs repeat 0 of the same env.
json ModelAnalysis::Repeats() {
  json repeats = json::array();
  for (int64_t e : envs_) {
    int64_t max_repeat = 0;
    bool identical = true;
    double worst = 0;
    for (int64_t in : input_order_) {
      const Cell* base = CellAt(e, in, 0);
      if (base == nullptr || !cells_[e].count(in)) continue;
      for (const auto& [r, c] : cells_[e][in]) {
        max_repeat = std::max(max_repeat, r);
        if (r == 0) continue;
        for (size_t k = 0; k < std::min(base->outputs.size(), c.outputs.size()); ++k) {
          identical &= base->outputs[k].digest == c.outputs[k].digest;
          if (base->outputs[k].tensor && c.outputs[k].tensor) {
            TensorDiff d =
                CompareTensors(*base->outputs[k].tensor, *c.outputs[k].tensor, Tolerance{0, 0});
            if (!d.shape_mismatch && !d.dtype_mismatch) worst = std::max(worst, d.max_abs);
          }
        }
      }
    }
    repeats.push_back({{"env", EnvName(e)},
                       {"repeats", max_repeat + 1},
                       {"identical", identical},
                       {"max_abs", JsonNumber(worst)}});
  }
  return repeats;
}

// Disagreements: inputs whose top-1 differs between any two envs.
json ModelAnalysis::Disagreements() {
  json disagreements = json::array();
  for (int64_t in : input_order_) {
    std::set<int64_t> top1s;
    json tops = json::object();
    for (int64_t e : envs_) {
      const Out* o = ClassOutput(CellAt(e, in, 0));
      if (o == nullptr) continue;
      std::vector<int64_t> t = CanonicalTop(o);
      if (!t.empty()) top1s.insert(t[0]);
      json list = json::array();
      for (size_t i = 0; i < t.size(); ++i) {
        list.push_back({{"class", t[i]},
                        {"name", ClassName(names_, t[i])},
                        {"score", JsonNumber(o->top[i].second)}});
      }
      tops[EnvName(e)] = list;
    }
    if (top1s.size() > 1) {
      const json& d = rows_.input_desc[in];
      disagreements.push_back(
          {{"input", InputName(in)},
           {"label", d.contains("label") ? d["label"] : json(nullptr)},
           {"thumbnail",
            options_.thumbnails && d.contains("thumbnail") ? d["thumbnail"] : json(nullptr)},
           {"top", tops}});
    }
  }
  return disagreements;
}

// Quality per env over labelled inputs (repeat 0).
json ModelAnalysis::Quality() {
  json quality = json::array();
  for (int64_t e : envs_) {
    std::vector<int64_t> truth;
    std::vector<std::vector<int64_t>> tops;
    for (int64_t in : input_order_) {
      const json& d = rows_.input_desc[in];
      if (!d.contains("label") || !d["label"].is_number_integer()) continue;
      const Out* o = ClassOutput(CellAt(e, in, 0));
      truth.push_back(d["label"].get<int64_t>());
      tops.push_back(o ? CanonicalTop(o) : std::vector<int64_t>{});
    }
    if (truth.empty()) continue;
    QualityMetrics q = ComputeQuality(truth, tops);
    json per_class = json::array();
    json class_names = json::array();
    for (const auto& pc : q.per_class) {
      per_class.push_back({{"class", pc.cls},
                           {"name", ClassName(names_, pc.cls)},
                           {"support", pc.support},
                           {"predicted", pc.predicted},
                           {"precision", JsonNumber(pc.precision)},
                           {"sensitivity", JsonNumber(pc.sensitivity)}});
    }
    for (int64_t cls : q.classes) class_names.push_back(ClassName(names_, cls));
    quality.push_back({{"env", EnvName(e)},
                       {"n", q.n},
                       {"top1_accuracy", JsonNumber(q.top1_accuracy)},
                       {"topk_accuracy", JsonNumber(q.topk_accuracy)},
                       {"gmean", JsonNumber(q.gmean)},
                       {"classes", q.classes},
                       {"class_names", class_names},
                       {"confusion", q.confusion},
                       {"per_class", per_class}});
  }
  return quality;
}

json ModelAnalysis::Performance() {
  json performance = json::array();
  for (int64_t e : envs_) performance.push_back(PerformanceOf(e));
  return performance;
}

// Latency statistics, first inference, prepare time and the resource samples of the session
// with the most samples, for env `e`.
json ModelAnalysis::PerformanceOf(int64_t e) {
  std::vector<double> lat, overhead;
  for (const RunRow& r : rows_.runs) {
    if (r.model_id == m_.id && r.env_id == e && r.status == "ok") {
      lat.push_back(r.run_ms);
      overhead.push_back(r.wall_ms - r.run_ms);
    }
  }
  json pj = {{"env", EnvName(e)}, {"latencies_ms", lat}};
  // Per-call overhead: wall time around Session::Run minus the runtime's own time.
  double median_run = lat.empty() ? 0 : Median(lat);
  pj["overhead_ms"] = overhead.empty() ? json(nullptr) : JsonNumber(Median(overhead));
  pj["overhead_pct"] =
      median_run > 0 ? JsonNumber(100 * Median(overhead) / median_run) : json(nullptr);
  if (!lat.empty()) {
    LatencyStats s = ComputeLatencyStats(lat);
    pj["latency_ms"] = {{"n", s.n},
                        {"mean", JsonNumber(s.mean)},
                        {"std", JsonNumber(s.std)},
                        {"median", JsonNumber(s.median)},
                        {"p90", JsonNumber(s.p90)},
                        {"p99", JsonNumber(s.p99)},
                        {"min", JsonNumber(s.min)},
                        {"max", JsonNumber(s.max)}};
  } else {
    pj["latency_ms"] = nullptr;
  }
  std::vector<double> first, prepare;
  const SessionRecord* richest = nullptr;
  std::string transport;
  for (const auto& s : rows_.sessions) {
    if (s.model_id != m_.id || s.env_id != e || s.status != "ok") continue;
    prepare.push_back(s.prepare_ms);
    json info = json::parse(s.info_json, nullptr, false);
    if (info.is_object() && info.contains("transport") && info["transport"].is_string())
      transport = info["transport"].get<std::string>();
    if (s.first_run_ms) first.push_back(*s.first_run_ms);
    if (richest == nullptr || s.samples.size() > richest->samples.size()) richest = &s;
  }
  pj["first_inference_ms"] = first.empty() ? json(nullptr) : JsonNumber(Median(first));
  pj["prepare_ms"] = prepare.empty() ? json(nullptr) : JsonNumber(Median(prepare));
  pj["transport"] = transport.empty() ? json(nullptr) : json(transport);
  json t = json::array(), cpu = json::array(), rss = json::array();
  double cpu_sum = 0, peak = 0;
  if (richest != nullptr) {
    for (const auto& s : richest->samples) {
      t.push_back(s.t_ms / 1000.0);
      cpu.push_back(s.cpu_percent);
      rss.push_back(static_cast<double>(s.rss_bytes) / (1024.0 * 1024.0));
      cpu_sum += s.cpu_percent;
      peak = std::max(peak, static_cast<double>(s.rss_bytes) / (1024.0 * 1024.0));
    }
  }
  pj["resources"] = {{"t_s", t}, {"cpu_percent", cpu}, {"rss_mb", rss}};
  bool has = richest != nullptr && !richest->samples.empty();
  pj["mean_cpu_percent"] =
      has ? JsonNumber(cpu_sum / static_cast<double>(richest->samples.size())) : json(nullptr);
  pj["peak_rss_mb"] = has ? JsonNumber(peak) : json(nullptr);
  AddDeviceFacts(e, &pj);
  return pj;
}

// The model file env `e` ran: a twin's path (a matrix model's conversion or twin, recorded as
// the session's "model_file"), "" for the model itself; its last session that ran counts.
std::string ModelAnalysis::ModelFileOf(int64_t e) {
  std::string file;  // the last session that ran, where a failed one before it ran nothing
  for (const auto& s : rows_.sessions) {
    if (s.model_id != m_.id || s.env_id != e || s.status != "ok") continue;
    json info = json::parse(s.info_json, nullptr, false);
    file = info.is_object() && info.contains("model_file") && info["model_file"].is_string()
               ? info["model_file"].get<std::string>()
               : "";
  }
  return file;
}

// The device the env's sessions reported running on (the MODEL reply's "device": a GPU's
// name and memory) and the most GPU memory a session held (STATS "gpu_memory_mb").
void ModelAnalysis::AddDeviceFacts(int64_t e, json* pj) {
  std::string device;
  std::optional<double> gpu_mb;
  for (const auto& s : rows_.sessions) {
    if (s.model_id != m_.id || s.env_id != e || s.status != "ok") continue;
    json info = json::parse(s.info_json, nullptr, false);
    if (!info.is_object()) continue;
    const json prepare = info.value("prepare", json::object());
    if (prepare.is_object() && prepare.contains("device") && prepare["device"].is_string()) {
      device = prepare["device"].get<std::string>();
    }
    const json stats = info.value("stats", json::object());
    if (stats.is_object() && stats.contains("gpu_memory_mb") &&
        stats["gpu_memory_mb"].is_number()) {
      double mb = stats["gpu_memory_mb"].get<double>();
      gpu_mb = gpu_mb ? std::max(*gpu_mb, mb) : mb;
    }
  }
  (*pj)["device"] = device.empty() ? json(nullptr) : json(device);
  (*pj)["gpu_memory_mb"] = gpu_mb ? JsonNumber(*gpu_mb) : json(nullptr);
}

// Per-input timing change against the first env.
json ModelAnalysis::TimeChange() {
  json tc = {{"baseline", envs_.empty() ? json(nullptr) : json(EnvName(envs_[0]))},
             {"inputs", json::array()}};
  for (int64_t in : input_order_) {
    json ms = json::object(), change = json::object();
    double base = NAN;
    for (size_t x = 0; x < envs_.size(); ++x) {
      std::vector<double> v;
      if (cells_.count(envs_[x]) && cells_[envs_[x]].count(in)) {
        for (const auto& [r, c] : cells_[envs_[x]][in]) v.push_back(c.run->run_ms);
      }
      double med = Median(v);
      if (x == 0) base = med;
      ms[EnvName(envs_[x])] = JsonNumber(med);
      change[EnvName(envs_[x])] = std::isfinite(base) && std::isfinite(med)
                                      ? JsonNumber(RelativeChangePercent(base, med))
                                      : json(nullptr);
    }
    tc["inputs"].push_back({{"input", InputName(in)}, {"ms", ms}, {"change_pct", change}});
  }
  return tc;
}

}  // namespace

json Analyze(Store& store, const AnalysisOptions& options) {
  json doc;
  doc["schema"] = kAnalysisSchema;
  doc["store"] = std::filesystem::absolute(store.path()).string();
  doc["generated_at"] = NowIso();
  StoreRows rows;
  rows.campaign = store.CampaignValues();
  doc["campaign"] = json::object();
  if (rows.campaign.count("name")) doc["campaign"]["name"] = rows.campaign["name"];
  if (rows.campaign.count("config")) {
    doc["campaign"]["config"] = ParseOr(rows.campaign["config"], nullptr);
  }

  rows.envs = store.Environments();
  rows.models = store.Models();
  rows.inputs = store.Inputs();
  rows.runs = store.Runs();
  rows.sessions = store.Sessions();
  if (options.group_by_env) GroupByEnvString(rows);
  NameEnvs(rows);
  for (const auto& e : rows.envs) rows.env_by_id[e.id] = &e;
  for (const auto& in : rows.inputs) {
    rows.input_desc[in.id] = ParseOr(in.description_json, json::object());
  }
  rows.env_order = EnvOrder(doc["campaign"], rows.envs);
  doc["machine"] = json::object();
  doc["envs"] = DescribeEnvs(rows, &doc["machine"]);

  std::vector<ComparisonRecord> comparisons;
  doc["models"] = json::array();
  for (const ModelRow& m : rows.models) {
    doc["models"].push_back(ModelAnalysis(store, rows, m, options).Document(&comparisons));
  }
  if (options.write_comparisons) store.ReplaceComparisons(comparisons);
  return doc;
}

}  // namespace concord::report
