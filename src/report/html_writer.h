// HtmlWriter builds the page RenderHtml returns (layout and render contract in html.cc's
// opening comment). Its sections live by theme: html.cc holds the page skeleton, navigation,
// summary, the per-model frame and the errors table; html_agreement.cc the agreement heatmap,
// pair matrices, determinism and DeltaNN tables; html_quality.cc accuracy, confusion,
// predictions and disagreeing inputs; html_perf.cc latency, CPU/RSS and per-input timing.
// Each section appends escaped markup to the page and its chart data to the model's JSON.
// One writer renders one document once; internal to src/report.
#pragma once

#include <fmt/format.h>

#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/html_util.h"
#include "report/render_util.h"

namespace concord::report::detail {

// Tableau 10: distinguishable, colour-blind friendlier than the browser defaults.
inline constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

inline json NumOrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

class HtmlWriter {
 public:
  explicit HtmlWriter(const json& doc) : doc_(doc) {
    for (const json& e : Arr(doc_, "envs")) EnvIndex(Str(e, "env"));
  }

  // The whole page; call once.
  std::string Render();

 private:
  template <typename... Args>
  void Add(fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  static void AddTo(std::string& s, fmt::format_string<Args...> f, Args&&... args) {
    fmt::format_to(std::back_inserter(s), f, std::forward<Args>(args)...);
  }
  size_t EnvIndex(const std::string& env);
  static std::string Color(size_t i) { return kPalette[i % std::size(kPalette)]; }
  std::string EnvLabel(const std::string& env);
  void Nav(const json& models);
  void Summary(const json& models);
  static std::string OrDash(const std::string& s) { return s.empty() ? kAbsent : HtmlEscape(s); }
  static std::string ErrorCount(long long n);
  // Envs of a model in `envs` order: every env that has predictions or performance for it.
  std::vector<std::string> ModelEnvs(const json& model);
  std::string Model(const json& model, size_t m, json& chart);
  void Open(const char* id, size_t m, const char* title);
  void Empty(const char* text) { Add("<p class=\"empty\">{}</p>\n", text); }
  void Canvas(const char* kind, size_t m, const std::string& style, const char* label);
  // pairs as a lookup by unordered env pair
  static std::map<std::pair<std::string, std::string>, const json*> PairMap(const json& model);
  void Agreement(const json& model, size_t m, const std::vector<std::string>& envs, json& chart);
  void Matrix(const json& model, const std::vector<std::string>& envs,
              const std::map<std::pair<std::string, std::string>, const json*>& pairs,
              const char* key, const std::string& title, bool lower_is_better);
  void Latency(const json& model, size_t m, json& chart);
  void Accuracy(const json& model, size_t m, json& chart);
  void Confusion(const json& model, size_t m);
  static std::string Thumbnail(const json& v, const std::string& alt);
  // Every input with its thumbnail, label and the first env's top-k by class name; the last
  // column says whether every env that ran it agreed on the top-1.
  void Predictions(const json& model, size_t m, const std::vector<std::string>& envs);
  void Disagreements(const json& model, size_t m, const std::vector<std::string>& envs);
  void Resources(const json& model, size_t m, json& chart);
  void Timing(const json& model, size_t m, json& chart);
  void Errors(const json& model, size_t m);
  // Background of an agreement cell: green when equal, red when far apart.
  static std::string AgreementStyle(std::optional<double> v, bool lower_is_better);
  // The direction x env grid of a model whose envs ran different files (analysis "directions").
  void Conversions(const json& model, size_t m);
  // The campaign's direction x model grid (the conversion study), in the summary.
  void ConversionStudy(const json& models);
  void DeltaNN(const json& model, size_t m);

  const json& doc_;
  std::vector<std::string> envs_;
  std::map<std::string, size_t> env_index_;
  std::string out_;
};

}  // namespace concord::report::detail
