// RenderMarkdown (report/render.h): the HTML report's tables as GitHub-flavoured Markdown.
//
// Same sections as the HTML report (summary; per model: top-1 agreement matrix, latency,
// accuracy, confusion matrices, disagreeing inputs with every env's top-k, timing change vs the
// baseline, errors, DeltaNN evaluations), without charts or thumbnails (GitHub drops data: URIs).
// Every string from the document is escaped for table cells: Markdown specials (| \ ` * [ ])
// are backslash-escaped and < > & become entities, so names cannot inject markup or break a
// table; newlines in error messages become spaces.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "report/render.h"
#include "report/render_util.h"

namespace concord::report {
namespace {

using namespace detail;  // NOLINT(build/namespaces): the renderers' own helpers

std::string MdEsc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '|':
      case '\\':
      case '`':
      case '*':
      case '[':
      case ']':
        out += '\\';
        out += c;
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

class MarkdownWriter {
 public:
  explicit MarkdownWriter(const json& doc) : doc_(doc) {}

  std::string Render() {
    const json& models = Arr(doc_, "models");
    std::string name = Str(Obj(doc_, "campaign"), "name");
    Add("# Concord report{}\n\n", name.empty() ? "" : ": " + MdEsc(name));
    Add("Store {} · generated {} · {} models, {} environments\n\n", MdEsc(Str(doc_, "store")),
        MdEsc(Str(doc_, "generated_at")), models.size(), Arr(doc_, "envs").size());
    Summary(models);
    for (const json& model : models) Model(model);
    return std::move(out_);
  }

 private:
  template <typename... Args>
  void Add(fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
  }
  void Row(const std::vector<std::string>& cells) {
    out_ += "|";
    for (const std::string& c : cells) Add(" {} |", c.empty() ? kAbsent : c);
    out_ += "\n";
  }
  // header row plus the alignment row; align[i] == 'r' right-aligns column i (numbers)
  void Header(const std::vector<std::string>& cells, std::string_view align = "") {
    Row(cells);
    out_ += "|";
    for (size_t i = 0; i < cells.size(); ++i) {
      out_ += i < align.size() && align[i] == 'r' ? " ---: |" : " --- |";
    }
    out_ += "\n";
  }
  void Empty(const char* text) { Add("_{}_\n\n", text); }

  void Summary(const json& models) {
    out_ += "## Summary\n\n";
    Header({"model", "sha256", "inputs", "labelled", "top-k", "cells", "ok", "errors"}, "llrrrrrr");
    long long errors = 0;
    for (const json& model : models) {
      const json& cells = Obj(model, "cells");
      long long labelled = 0;
      for (const json& in : Arr(model, "inputs")) labelled += Num(in, "label") ? 1 : 0;
      errors += Int(cells, "error");
      Row({MdEsc(Str(model, "name")), MdEsc(Str(model, "sha256").substr(0, 12)),
           std::to_string(Arr(model, "inputs").size()), std::to_string(labelled),
           std::to_string(Int(model, "top_k")), std::to_string(Int(cells, "total")),
           std::to_string(Int(cells, "ok")), std::to_string(Int(cells, "error"))});
    }
    Add("\n{}\n\n", errors ? fmt::format("**{} failed cells** (see the errors tables).", errors)
                           : std::string("No failed cells."));
    Header({"env", "library", "device", "opt", "threads", "versions"});
    for (const json& e : Arr(doc_, "envs")) {
      std::string versions;
      for (const auto& [k, v] : Obj(e, "versions").items()) {
        versions += (versions.empty() ? "" : ", ") + MdEsc(k) + " " + MdEsc(Str(v));
      }
      Row({MdEsc(Str(e, "env")), MdEsc(Str(e, "library")), MdEsc(Str(e, "device")),
           MdEsc(Str(e, "opt")), MdEsc(Str(e, "threads")), versions});
    }
    out_ += "\n";
  }

  static std::vector<std::string> ModelEnvs(const json& doc, const json& model) {
    std::vector<std::string> order, names;
    for (const json& e : Arr(doc, "envs")) order.push_back(Str(e, "env"));
    auto add = [&](const std::string& e) {
      if (!e.empty() && std::find(names.begin(), names.end(), e) == names.end()) {
        names.push_back(e);
      }
    };
    for (const auto& [e, _] : Obj(model, "predictions").items()) add(e);
    for (const json& p : Arr(model, "performance")) add(Str(p, "env"));
    auto rank = [&](const std::string& e) {
      return std::find(order.begin(), order.end(), e) - order.begin();
    };
    std::stable_sort(names.begin(), names.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    return names;
  }

  void Model(const json& model) {
    const json& cells = Obj(model, "cells");
    Add("## Model {}\n\n{} · {} inputs · top-{} · {} cells ({} ok, {} failed)\n\n",
        MdEsc(Str(model, "name")), MdEsc(Str(model, "path")), Arr(model, "inputs").size(),
        Int(model, "top_k"), Int(cells, "total"), Int(cells, "ok"), Int(cells, "error"));
    std::vector<std::string> envs = ModelEnvs(doc_, model);
    Predictions(model, envs);
    Agreement(model, envs);
    Latency(model);
    Conversions(model);
    Accuracy(model);
    Disagreements(model, envs);
    Timing(model);
    Errors(model);
    DeltaNN(model);
  }

  void Agreement(const json& model, const std::vector<std::string>& envs) {
    out_ += "### Top-1 agreement across environments\n\n";
    std::map<std::pair<std::string, std::string>, const json*> pairs;
    for (const json& p : Arr(model, "pairs")) {
      pairs[{Str(p, "a"), Str(p, "b")}] = &p;
      pairs[{Str(p, "b"), Str(p, "a")}] = &p;
    }
    if (envs.size() < 2 || pairs.empty()) {
      Empty("fewer than two environments ran this model: nothing to compare");
      return;
    }
    std::vector<std::string> head = {"A \\ B"};
    for (const std::string& e : envs) head.push_back(MdEsc(e));
    Header(head, "l" + std::string(envs.size(), 'r'));
    for (const std::string& a : envs) {
      std::vector<std::string> row = {MdEsc(a)};
      for (const std::string& b : envs) {
        auto it = pairs.find({a, b});
        row.push_back(a == b              ? "·"
                      : it == pairs.end() ? kAbsent
                                          : Pct(Num(*it->second, "top1_agree")));
      }
      Row(row);
    }
    out_ += "\n";
    const json& repeats = Arr(model, "repeats");
    if (!repeats.empty()) {
      out_ += "Determinism (repeat r vs repeat 0):\n\n";
      Header({"env", "repeats", "bit-identical", "max abs"}, "lrlr");
      for (const json& r : repeats) {
        const json& id = Field(r, "identical");
        Row({MdEsc(Str(r, "env")), std::to_string(Int(r, "repeats")),
             id.is_boolean() ? (id.get<bool>() ? "yes" : "**no**") : kAbsent,
             Sig3(Num(r, "max_abs"))});
      }
      out_ += "\n";
    }
  }

  void Latency(const json& model) {
    out_ += "### Latency\n\n";
    const json& perf = Arr(model, "performance");
    if (perf.empty()) {
      Empty("no latency samples");
      return;
    }
    Header({"env", "n", "mean", "std", "median", "p90", "p99", "min", "max", "first inference",
            "prepare", "overhead", "mean CPU", "peak RSS", "GPU memory", "device"},
           "lrrrrrrrrrrrrrrl");
    for (const json& p : perf) {
      const json& s = Field(p, "latency_ms");
      std::vector<std::string> row = {MdEsc(Str(p, "env")),
                                      s.is_object() ? std::to_string(Int(s, "n")) : ""};
      for (const char* k : {"mean", "std", "median", "p90", "p99", "min", "max"}) {
        row.push_back(Ms(Num(s, k)));
      }
      auto cpu = Num(p, "mean_cpu_percent");
      auto rss = Num(p, "peak_rss_mb");
      row.push_back(Ms(Num(p, "first_inference_ms")));
      row.push_back(Ms(Num(p, "prepare_ms")));
      row.push_back(OverheadText(p));
      row.push_back(cpu ? Sig3(*cpu) + " %" : "");
      row.push_back(rss ? Sig3(*rss) + " MB" : "");
      auto gpu = Num(p, "gpu_memory_mb");
      row.push_back(gpu ? Sig3(*gpu) + " MB" : "");
      row.push_back(MdEsc(Str(p, "device")));
      Row(row);
    }
    out_ += "\n";
  }

  // The direction grid (analysis "directions"): one row per file the envs ran, with each env's
  // agreement with the reference env, or the converter's message for a failed direction.
  void Conversions(const json& model) {
    const json& directions = Field(model, "directions");
    if (!directions.is_object()) return;
    Add("### Conversions (compared with {})\n\n", MdEsc(Str(directions, "reference_env")));
    Header({"direction", "tools", "env", "top-1 agree", "Kendall \u03c4", "max abs",
            "status or converter message"},
           "lllrrrl");
    for (const json& r : Arr(directions, "rows")) {
      std::string tools;
      for (const json& t : Arr(r, "tools")) tools += (tools.empty() ? "" : " \u2192 ") + Str(t);
      if (Str(r, "status") != "ok") {
        std::string what = Str(r, "message");
        if (what.size() > 300) what = what.substr(what.size() - 300);
        for (char& ch : what) {
          if (ch == '\n') ch = ' ';
        }
        Row({MdEsc(Str(r, "direction")), MdEsc(tools), "", "", "", "", MdEsc(what)});
        continue;
      }
      for (const json& c : Arr(r, "cells")) {
        bool ref = Field(c, "reference").is_boolean() && Field(c, "reference").get<bool>();
        Row({MdEsc(Str(r, "direction")), MdEsc(tools), MdEsc(Str(c, "env")),
             ref ? "reference" : Pct(Num(c, "top1_agree")), Sig3(Num(c, "kendall_tau")),
             Sig3(Num(c, "max_abs")), "ok"});
      }
    }
    out_ += "\n";
  }

  void Accuracy(const json& model) {
    out_ += "### Accuracy\n\n";
    const json& quality = Arr(model, "quality");
    if (quality.empty()) {
      Empty("no labelled inputs");
      return;
    }
    Header(
        {"env", "labelled inputs", "top-1", fmt::format("top-{}", Int(model, "top_k")), "G-mean"},
        "lrrrr");
    for (const json& q : quality) {
      Row({MdEsc(Str(q, "env")), std::to_string(Int(q, "n")), Pct(Num(q, "top1_accuracy")),
           Pct(Num(q, "topk_accuracy")), Sig3(Num(q, "gmean"))});
    }
    out_ += "\n";
    for (const json& q : quality) {
      Add("Confusion matrix of {} (rows: true class, columns: top-1 prediction):\n\n",
          MdEsc(Str(q, "env")));
      const json& classes = Arr(q, "classes");
      const json& names = Arr(q, "class_names");
      const json& confusion = Arr(q, "confusion");
      auto name = [&](size_t i) {
        return MdEsc(i < names.size() && names[i].is_string() ? names[i].get<std::string>()
                                                              : ClassName(model, classes[i]));
      };
      std::vector<std::string> head = {"true \\ predicted"};
      for (size_t c = 0; c < classes.size(); ++c) head.push_back(name(c));
      Header(head, "l" + std::string(classes.size(), 'r'));
      for (size_t r = 0; r < classes.size(); ++r) {
        std::vector<std::string> row = {name(r)};
        const json& cr =
            r < confusion.size() && confusion[r].is_array() ? confusion[r] : EmptyArray();
        for (size_t c = 0; c < classes.size(); ++c) {
          long long v = c < cr.size() && cr[c].is_number() ? cr[c].get<long long>() : 0;
          row.push_back(r == c && v ? fmt::format("**{}**", v) : std::to_string(v));
        }
        Row(row);
      }
      out_ += "\n";
    }
  }

  void Predictions(const json& model, const std::vector<std::string>& envs) {
    out_ += "### Predictions per input\n\n";
    const json& inputs = Arr(model, "inputs");
    const json& preds = Obj(model, "predictions");
    if (inputs.empty() || envs.empty() || preds.empty()) {
      Empty("no classifier-like outputs (no top-k labels recorded)");
      return;
    }
    const std::string& first = envs[0];
    Add("Top-{} of `{}` (raw model scores); **bold**: the label.\n\n", Int(model, "top_k", 5),
        first);
    Header({"input", "label", "top-k on " + MdEsc(first), "same top-1 on all envs"});
    for (size_t i = 0; i < inputs.size(); ++i) {
      const json& in = inputs[i];
      auto label = Num(in, "label");
      std::string cell = "did not run";
      const json& mine = Arr(preds, first.c_str());
      if (i < mine.size() && mine[i].is_object()) {
        cell.clear();
        const json& top = Arr(mine[i], "top");
        const json& scores = Arr(mine[i], "scores");
        for (size_t k = 0; k < top.size(); ++k) {
          std::string item = MdEsc(ClassName(model, top[k])) + " " +
                             Sig3(k < scores.size() ? Num(scores[k]) : std::nullopt);
          auto cls = Num(top[k]);
          if (cls && label && *cls == *label) item = "**" + item + "**";
          cell += (k ? ", " : "") + item;
        }
      }
      std::set<long long> top1s;
      for (const std::string& e : envs) {
        const json& list = Arr(preds, e.c_str());
        if (i >= list.size() || !list[i].is_object()) continue;
        const json& top = Arr(list[i], "top");
        if (!top.empty() && Num(top[0])) top1s.insert(static_cast<long long>(*Num(top[0])));
      }
      Row({MdEsc(Str(in, "name")),
           label ? MdEsc(ClassName(model, Field(in, "label"))) : std::string("none"), cell,
           top1s.size() <= 1 ? "yes" : "**no**"});
    }
    out_ += "\n";
  }

  void Disagreements(const json& model, const std::vector<std::string>& envs) {
    out_ += "### Disagreeing inputs\n\n";
    const json& list = Arr(model, "disagreements");
    if (list.empty()) {
      Empty("no disagreeing inputs");
      return;
    }
    out_ +=
        "Each env's top-k (class score); **bold**: a top-1 that differs from the most common "
        "top-1 of that input.\n\n";
    std::vector<std::string> head = {"input", "label"};
    for (const std::string& e : envs) head.push_back(MdEsc(e));
    Header(head);
    for (const json& d : list) {
      const json& top = Obj(d, "top");
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
      auto label = Num(d, "label");
      std::vector<std::string> row = {
          MdEsc(Str(d, "input")),
          label ? MdEsc(ClassName(model, Field(d, "label"))) : std::string("none")};
      for (const std::string& e : envs) {
        const json& t = Arr(top, e.c_str());
        std::string cell;
        for (size_t k = 0; k < t.size(); ++k) {
          std::string cname = Str(t[k], "name");
          std::string item = MdEsc(cname.empty() ? ClassName(model, Field(t[k], "class")) : cname) +
                             " " + Sig3(Num(t[k], "score"));
          auto cls = Num(t[k], "class");
          if (k == 0 && cls && static_cast<long long>(*cls) != consensus) item = "**" + item + "**";
          cell += (k ? ", " : "") + item;
        }
        row.push_back(t.empty() ? "did not run" : cell);
      }
      Row(row);
    }
    out_ += "\n";
  }

  void Timing(const json& model) {
    out_ += "### Timing change vs the baseline\n\n";
    const json& tc = Obj(model, "time_change");
    std::string baseline = Str(tc, "baseline");
    const json& inputs = Arr(tc, "inputs");
    std::vector<std::string> envs;
    for (const json& e : Arr(doc_, "envs")) envs.push_back(Str(e, "env"));
    for (const json& in : inputs) {
      for (const auto& [e, _] : Obj(in, "ms").items()) {
        if (std::find(envs.begin(), envs.end(), e) == envs.end()) envs.push_back(e);
      }
    }
    std::erase_if(envs, [&](const std::string& e) {
      return std::none_of(inputs.begin(), inputs.end(),
                          [&](const json& in) { return Obj(in, "ms").contains(e); });
    });
    if (baseline.empty() || inputs.empty() || envs.empty()) {
      Empty("no timing data");
      return;
    }
    Add("Median run time per input; in parentheses the change relative to {}.\n\n",
        MdEsc(baseline));
    std::vector<std::string> head = {"input"};
    for (const std::string& e : envs) head.push_back(MdEsc(e));
    Header(head, "l" + std::string(envs.size(), 'r'));
    for (const json& in : inputs) {
      std::vector<std::string> row = {MdEsc(Str(in, "input"))};
      for (const std::string& e : envs) {
        auto ms = Num(Obj(in, "ms"), e.c_str());
        auto change = Num(Obj(in, "change_pct"), e.c_str());
        row.push_back(e == baseline || !ms ? Ms(ms) : Ms(ms) + " (" + Change(change) + ")");
      }
      Row(row);
    }
    out_ += "\n";
  }

  void Errors(const json& model) {
    out_ += "### Errors\n\n";
    const json& errors = Arr(model, "errors");
    if (errors.empty()) {
      Empty("no errors");
      return;
    }
    Header({"env", "input", "repeat", "error"}, "llrl");
    for (const json& e : errors) {
      Row({MdEsc(Str(e, "env")), MdEsc(Str(e, "input")), MdEsc(Str(e, "repeat")),
           MdEsc(Str(e, "error"))});
    }
    out_ += "\n";
  }

  void DeltaNN(const json& model) {
    out_ += "### DeltaNN-style evaluations\n\n";
    const json& pairs = Arr(model, "pairs");
    if (pairs.empty()) {
      Empty("no pairs of environments");
      return;
    }
    static const std::pair<const char*, const char*> kKinds[] = {
        {"library", "Library evaluation (same device and optimisation)"},
        {"device", "Device evaluation (same library and optimisation)"},
        {"opt", "Optimisation evaluation (same library and device)"},
        {"conversion", "Conversion evaluation (the model against a converted twin)"},
        {"other", "Other pairs (more than one factor differs)"}};
    for (const auto& [kind, title] : kKinds) {
      Add("#### {}\n\n", title);
      bool any = false;
      for (const json& p : pairs) {
        if (Str(p, "kind") != kind) continue;
        if (!any) {
          Header({"env A", "env B", "inputs", "top-1 agree",
                  fmt::format("top-{} Jaccard", Int(model, "top_k")), "Kendall τ", "max abs",
                  "max rel", "min cosine", "identical", "disagreeing inputs"},
                 "llrrrrrrrrl");
          any = true;
        }
        std::string dis;
        for (const json& in : Arr(p, "disagreeing_inputs")) {
          dis += (dis.empty() ? "" : ", ") + MdEsc(Str(in));
        }
        auto cos = Num(p, "min_cosine");
        Row({MdEsc(Str(p, "a")), MdEsc(Str(p, "b")), std::to_string(Int(p, "inputs")),
             Pct(Num(p, "top1_agree")), Sig3(Num(p, "topk_jaccard")), Sig3(Num(p, "kendall_tau")),
             Sig3(Num(p, "max_abs")), Sig3(Num(p, "max_rel")),
             cos ? fmt::format("{:.6f}", *cos) : "", std::to_string(Int(p, "identical_outputs")),
             dis});
      }
      out_ += any ? "\n" : "_none_\n\n";
    }
  }

  const json& doc_;
  std::string out_;
};

}  // namespace

std::string RenderMarkdown(const nlohmann::json& analysis) {
  detail::CheckSchema(analysis, "RenderMarkdown");
  try {
    return MarkdownWriter(analysis).Render();
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorKind::kInput, "RenderMarkdown: malformed analysis document: {}", e.what());
  }
}

}  // namespace concord::report
