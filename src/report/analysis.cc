#include "report/analysis.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

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

}  // namespace

json Analyze(Store& store, const AnalysisOptions& options) {
  json doc;
  doc["schema"] = kAnalysisSchema;
  doc["store"] = std::filesystem::absolute(store.path()).string();
  doc["generated_at"] = NowIso();
  std::map<std::string, std::string> campaign = store.CampaignValues();
  doc["campaign"] = json::object();
  if (campaign.count("name")) doc["campaign"]["name"] = campaign["name"];
  if (campaign.count("config")) doc["campaign"]["config"] = ParseOr(campaign["config"], nullptr);

  std::vector<EnvironmentRow> env_rows = store.Environments();
  std::vector<ModelRow> models = store.Models();
  std::vector<InputRow> input_rows = store.Inputs();
  std::vector<RunRow> runs = store.Runs();
  std::vector<SessionRecord> sessions = store.Sessions();

  std::map<int64_t, const EnvironmentRow*> env_by_id;
  for (const auto& e : env_rows) env_by_id[e.id] = &e;
  std::map<int64_t, json> input_desc;
  for (const auto& in : input_rows) input_desc[in.id] = ParseOr(in.description_json, json::object());

  // Environment order: as the campaign config lists them (after sweep expansion, canonical),
  // then any other env in store order.
  std::vector<int64_t> env_order;
  {
    std::vector<std::string> wanted;
    if (doc["campaign"].contains("config") && doc["campaign"]["config"].is_object() &&
        doc["campaign"]["config"].contains("envs")) {
      for (const auto& e : doc["campaign"]["config"]["envs"]) {
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
  }

  doc["envs"] = json::array();
  doc["machine"] = json::object();
  std::map<int64_t, EnvSpec> spec_by_id;
  for (int64_t id : env_order) {
    const EnvironmentRow& e = *env_by_id[id];
    EnvSpec spec;
    try {
      spec = EnvSpec::Parse(e.info.env);
    } catch (const Error&) {
      spec.backend = e.info.backend;
      spec.device = e.info.device;
    }
    spec_by_id[id] = spec;
    json ej = {{"env", e.info.env}, {"backend", e.info.backend}, {"library", e.info.backend},
               {"device", e.info.device},
               {"opt", spec.options.count("opt") ? json(spec.Get("opt")) : json(nullptr)},
               {"threads", spec.options.count("threads") ? json(spec.Get("threads")) : json(nullptr)},
               {"versions", ParseOr(e.info.versions_json, json::object())},
               {"machine", ParseOr(e.info.machine_json, json::object())}};
    if (doc["machine"].empty()) doc["machine"] = ej["machine"];
    doc["envs"].push_back(ej);
  }

  std::vector<ComparisonRecord> comparisons;
  doc["models"] = json::array();
  for (const ModelRow& m : models) {
    json meta = campaign.count("model/" + m.sha256)
                    ? ParseOr(campaign["model/" + m.sha256], json::object())
                    : json::object();
    int top_k = meta.value("top_k", options.top_k);
    int64_t offset = 0;
    json label_space = meta.contains("label_space") ? meta["label_space"] : json(nullptr);
    if (label_space.is_object()) offset = label_space.value("offset", 0);
    std::vector<std::string> names;
    if (meta.contains("class_names") && meta["class_names"].is_array()) {
      for (const auto& n : meta["class_names"]) names.push_back(n.is_string() ? n.get<std::string>() : "");
    }

    // Cells of this model: [env][input][repeat].
    std::map<int64_t, std::map<int64_t, std::map<int64_t, Cell>>> cells;
    std::vector<int64_t> input_order;
    std::set<int64_t> input_seen;
    int64_t total = 0, ok = 0;
    json errors = json::array();
    for (const RunRow& r : runs) {
      if (r.model_id != m.id) continue;
      ++total;
      if (input_seen.insert(r.input_id).second) input_order.push_back(r.input_id);
      if (r.status != "ok") {
        errors.push_back({{"env", r.env}, {"input", input_desc[r.input_id].value("name", r.input_digest)},
                          {"repeat", r.repeat}, {"error", r.error}});
        continue;
      }
      ++ok;
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
          for (const auto& t : top[0]) out.top.push_back({t.value("i", int64_t{0}), t.value("s", 0.0)});
        }
        cell.outputs.push_back(std::move(out));
      }
      cells[r.env_id][r.input_id][r.repeat] = std::move(cell);
    }
    std::sort(input_order.begin(), input_order.end());
    std::vector<int64_t> envs;  // envs with at least one run of this model, in env order
    std::set<int64_t> model_envs;
    for (const RunRow& r : runs) {
      if (r.model_id == m.id) model_envs.insert(r.env_id);
    }
    for (int64_t id : env_order) {
      if (model_envs.count(id)) envs.push_back(id);
    }
    auto env_name = [&](int64_t id) { return env_by_id[id]->info.env; };
    auto input_name = [&](int64_t id) {
      return input_desc[id].value("name", fmt::format("input {}", id));
    };
    auto cell_at = [&](int64_t env, int64_t input, int64_t repeat) -> const Cell* {
      auto e = cells.find(env);
      if (e == cells.end()) return nullptr;
      auto i = e->second.find(input);
      if (i == e->second.end()) return nullptr;
      auto r = i->second.find(repeat);
      return r == i->second.end() ? nullptr : &r->second;
    };
    // The classifier output: the first output with top-k labels.
    auto class_output = [](const Cell* c) -> const Out* {
      if (c == nullptr) return nullptr;
      for (const auto& o : c->outputs) {
        if (!o.top.empty()) return &o;
      }
      return nullptr;
    };
    auto canonical_top = [&](const Out* o) {
      std::vector<int64_t> top;
      for (const auto& [i, s] : o->top) top.push_back(Canonical(i, offset));
      return top;
    };

    json mj;
    mj["name"] = m.name;
    mj["sha256"] = m.sha256;
    mj["path"] = m.path;
    mj["label_space"] = label_space;
    mj["class_names"] = names;
    mj["top_k"] = top_k;
    mj["preprocess"] = meta.contains("preprocess") ? meta["preprocess"] : json(nullptr);
    mj["inputs"] = json::array();
    for (int64_t id : input_order) {
      const json& d = input_desc[id];
      json label = d.contains("label") ? d["label"] : json(nullptr);
      mj["inputs"].push_back({{"id", id}, {"name", input_name(id)}, {"label", label},
                              {"thumbnail", options.thumbnails && d.contains("thumbnail")
                                                ? d["thumbnail"] : json(nullptr)}});
    }
    mj["cells"] = {{"total", total}, {"ok", ok}, {"error", total - ok}};
    mj["errors"] = errors;

    // Predictions (repeat 0).
    mj["predictions"] = json::object();
    for (int64_t e : envs) {
      json list = json::array();
      for (int64_t in : input_order) {
        const Cell* c = cell_at(e, in, 0);
        const Out* o = class_output(c);
        if (o == nullptr) {
          list.push_back(nullptr);
          continue;
        }
        json scores = json::array();
        for (const auto& [i, s] : o->top) scores.push_back(JsonNumber(s));
        list.push_back({{"input", input_name(in)}, {"top", canonical_top(o)}, {"scores", scores},
                        {"ms", JsonNumber(c->run->run_ms)}});
      }
      mj["predictions"][env_name(e)] = list;
    }

    // Pairs.
    mj["pairs"] = json::array();
    for (size_t x = 0; x < envs.size(); ++x) {
      for (size_t y = x + 1; y < envs.size(); ++y) {
        int64_t ea = envs[x], eb = envs[y];
        int64_t n = 0, identical = 0, labelled_pairs = 0;
        double top1 = 0, jac = 0, tau = 0, max_abs = 0, max_rel = 0, min_cos = 1;
        bool numeric = false;
        json disagreeing = json::array();
        for (int64_t in : input_order) {
          const Cell* ca = cell_at(ea, in, 0);
          const Cell* cb = cell_at(eb, in, 0);
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
            comparisons.push_back({ca->run->id, cb->run->id, oa.name, metrics.dump()});
          }
          identical += same;
          const Out* la = class_output(ca);
          const Out* lb = class_output(cb);
          if (la != nullptr && lb != nullptr) {
            ++labelled_pairs;
            std::vector<int64_t> ta = canonical_top(la), tb = canonical_top(lb);
            bool agree = !ta.empty() && !tb.empty() && ta[0] == tb[0];
            top1 += agree;
            if (!agree) disagreeing.push_back(input_name(in));
            jac += Jaccard(ta, tb);
            if (la->tensor && lb->tensor && LooksLikeScores(*la->tensor) &&
                LooksLikeScores(*lb->tensor) &&
                ScoresShape(*la->tensor).classes == ScoresShape(*lb->tensor).classes) {
              tau += TopKKendallTau(ScoresRow(*la->tensor, 0), ScoresRow(*lb->tensor, 0), top_k);
            } else {
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
        json pj = {{"a", env_name(ea)}, {"b", env_name(eb)},
                   {"kind", PairKind(spec_by_id[ea], spec_by_id[eb])}, {"inputs", n},
                   {"identical_outputs", identical}, {"disagreeing_inputs", disagreeing}};
        double lp = static_cast<double>(labelled_pairs);
        pj["top1_agree"] = labelled_pairs ? JsonNumber(top1 / lp) : json(nullptr);
        pj["topk_jaccard"] = labelled_pairs ? JsonNumber(jac / lp) : json(nullptr);
        pj["kendall_tau"] = labelled_pairs ? JsonNumber(tau / lp) : json(nullptr);
        pj["max_abs"] = numeric ? JsonNumber(max_abs) : json(nullptr);
        pj["max_rel"] = numeric ? JsonNumber(max_rel) : json(nullptr);
        pj["min_cosine"] = numeric ? JsonNumber(min_cos) : json(nullptr);
        mj["pairs"].push_back(pj);
      }
    }

    // Repeats: repeat r vs repeat 0 of the same env.
    mj["repeats"] = json::array();
    for (int64_t e : envs) {
      int64_t max_repeat = 0;
      bool identical = true;
      double worst = 0;
      for (int64_t in : input_order) {
        const Cell* base = cell_at(e, in, 0);
        if (base == nullptr || !cells[e].count(in)) continue;
        for (const auto& [r, c] : cells[e][in]) {
          max_repeat = std::max(max_repeat, r);
          if (r == 0) continue;
          for (size_t k = 0; k < std::min(base->outputs.size(), c.outputs.size()); ++k) {
            identical &= base->outputs[k].digest == c.outputs[k].digest;
            if (base->outputs[k].tensor && c.outputs[k].tensor) {
              TensorDiff d = CompareTensors(*base->outputs[k].tensor, *c.outputs[k].tensor,
                                            Tolerance{0, 0});
              if (!d.shape_mismatch && !d.dtype_mismatch) worst = std::max(worst, d.max_abs);
            }
          }
        }
      }
      mj["repeats"].push_back({{"env", env_name(e)}, {"repeats", max_repeat + 1},
                               {"identical", identical}, {"max_abs", JsonNumber(worst)}});
    }

    // Disagreements: inputs whose top-1 differs between any two envs.
    mj["disagreements"] = json::array();
    for (int64_t in : input_order) {
      std::set<int64_t> top1s;
      json tops = json::object();
      for (int64_t e : envs) {
        const Out* o = class_output(cell_at(e, in, 0));
        if (o == nullptr) continue;
        std::vector<int64_t> t = canonical_top(o);
        if (!t.empty()) top1s.insert(t[0]);
        json list = json::array();
        for (size_t i = 0; i < t.size(); ++i) {
          list.push_back({{"class", t[i]}, {"name", ClassName(names, t[i])},
                          {"score", JsonNumber(o->top[i].second)}});
        }
        tops[env_name(e)] = list;
      }
      if (top1s.size() > 1) {
        const json& d = input_desc[in];
        mj["disagreements"].push_back(
            {{"input", input_name(in)}, {"label", d.contains("label") ? d["label"] : json(nullptr)},
             {"thumbnail", options.thumbnails && d.contains("thumbnail") ? d["thumbnail"] : json(nullptr)},
             {"top", tops}});
      }
    }

    // Quality per env over labelled inputs (repeat 0).
    mj["quality"] = json::array();
    for (int64_t e : envs) {
      std::vector<int64_t> truth;
      std::vector<std::vector<int64_t>> tops;
      for (int64_t in : input_order) {
        const json& d = input_desc[in];
        if (!d.contains("label") || !d["label"].is_number_integer()) continue;
        const Out* o = class_output(cell_at(e, in, 0));
        truth.push_back(d["label"].get<int64_t>());
        tops.push_back(o ? canonical_top(o) : std::vector<int64_t>{});
      }
      if (truth.empty()) continue;
      QualityMetrics q = ComputeQuality(truth, tops);
      json per_class = json::array();
      json class_names = json::array();
      for (const auto& pc : q.per_class) {
        per_class.push_back({{"class", pc.cls}, {"name", ClassName(names, pc.cls)},
                             {"support", pc.support}, {"predicted", pc.predicted},
                             {"precision", JsonNumber(pc.precision)}, {"sensitivity", JsonNumber(pc.sensitivity)}});
      }
      for (int64_t cls : q.classes) class_names.push_back(ClassName(names, cls));
      mj["quality"].push_back({{"env", env_name(e)}, {"n", q.n},
                               {"top1_accuracy", JsonNumber(q.top1_accuracy)},
                               {"topk_accuracy", JsonNumber(q.topk_accuracy)}, {"gmean", JsonNumber(q.gmean)},
                               {"classes", q.classes}, {"class_names", class_names},
                               {"confusion", q.confusion}, {"per_class", per_class}});
    }

    // Performance per env.
    mj["performance"] = json::array();
    for (int64_t e : envs) {
      std::vector<double> lat;
      for (const RunRow& r : runs) {
        if (r.model_id == m.id && r.env_id == e && r.status == "ok") lat.push_back(r.run_ms);
      }
      json pj = {{"env", env_name(e)}, {"latencies_ms", lat}};
      if (!lat.empty()) {
        LatencyStats s = ComputeLatencyStats(lat);
        pj["latency_ms"] = {{"n", s.n}, {"mean", JsonNumber(s.mean)}, {"std", JsonNumber(s.std)},
                            {"median", JsonNumber(s.median)}, {"p90", JsonNumber(s.p90)}, {"p99", JsonNumber(s.p99)},
                            {"min", JsonNumber(s.min)}, {"max", JsonNumber(s.max)}};
      } else {
        pj["latency_ms"] = nullptr;
      }
      std::vector<double> first, prepare;
      const SessionRecord* richest = nullptr;
      for (const auto& s : sessions) {
        if (s.model_id != m.id || s.env_id != e || s.status != "ok") continue;
        prepare.push_back(s.prepare_ms);
        if (s.first_run_ms) first.push_back(*s.first_run_ms);
        if (richest == nullptr || s.samples.size() > richest->samples.size()) richest = &s;
      }
      pj["first_inference_ms"] = first.empty() ? json(nullptr) : JsonNumber(Median(first));
      pj["prepare_ms"] = prepare.empty() ? json(nullptr) : JsonNumber(Median(prepare));
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
      mj["performance"].push_back(pj);
    }

    // Per-input timing change against the first env.
    json tc = {{"baseline", envs.empty() ? json(nullptr) : json(env_name(envs[0]))},
               {"inputs", json::array()}};
    for (int64_t in : input_order) {
      json ms = json::object(), change = json::object();
      double base = NAN;
      for (size_t x = 0; x < envs.size(); ++x) {
        std::vector<double> v;
        if (cells.count(envs[x]) && cells[envs[x]].count(in)) {
          for (const auto& [r, c] : cells[envs[x]][in]) v.push_back(c.run->run_ms);
        }
        double med = Median(v);
        if (x == 0) base = med;
        ms[env_name(envs[x])] = JsonNumber(med);
        change[env_name(envs[x])] =
            std::isfinite(base) && std::isfinite(med) ? JsonNumber(RelativeChangePercent(base, med))
                                                      : json(nullptr);
      }
      tc["inputs"].push_back({{"input", input_name(in)}, {"ms", ms}, {"change_pct", change}});
    }
    mj["time_change"] = tc;
    doc["models"].push_back(mj);
  }
  if (options.write_comparisons) store.ReplaceComparisons(comparisons);
  return doc;
}

}  // namespace concord::report
