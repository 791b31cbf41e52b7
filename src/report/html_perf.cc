// HtmlWriter's performance sections: latency distributions and statistics, CPU and resident
// memory over time, and the per-input timing change against the baseline env.
#include <algorithm>

#include "report/html_writer.h"

namespace concord::report::detail {
namespace {

double PercentileOf(std::vector<double> x, double p) {
  std::sort(x.begin(), x.end());
  double pos = p / 100.0 * static_cast<double>(x.size() - 1);
  size_t i = static_cast<size_t>(pos);
  double f = pos - static_cast<double>(i);
  return i + 1 < x.size() ? x[i] + (x[i + 1] - x[i]) * f : x[i];
}

}  // namespace

void HtmlWriter::Latency(const json& model, size_t m, json& chart) {
  Open("latency", m, "Latency per environment");
  const json& perf = Arr(model, "performance");
  json series = json::array();
  for (const json& p : perf) {
    const json& stats = Field(p, "latency_ms");
    std::vector<double> samples;
    for (const json& v : Arr(p, "latencies_ms")) {
      if (auto d = Num(v)) samples.push_back(*d);
    }
    if (!stats.is_object() || samples.empty()) continue;
    series.push_back({{"env", EnvIndex(Str(p, "env"))},
                      {"label", Str(p, "env")},
                      {"min", NumOrNull(Num(stats, "min"))},
                      {"max", NumOrNull(Num(stats, "max"))},
                      {"median", NumOrNull(Num(stats, "median"))},
                      {"p90", NumOrNull(Num(stats, "p90"))},
                      {"p99", NumOrNull(Num(stats, "p99"))},
                      {"p25", PercentileOf(samples, 25)},
                      {"p75", PercentileOf(samples, 75)},
                      {"samples", samples}});
  }
  chart["latency"] = series;
  if (series.empty()) {
    Empty("no latency samples (every cell failed or no runs recorded)");
  } else {
    Canvas("latency", m, fmt::format("height:340px;max-width:{}px", 260 + 170 * series.size()),
           "latency distributions");
    out_ +=
        "<p class=\"meta\">Thin bar: min\u2013max; wide bar: p25\u2013p75; black dash: "
        "median; triangle: p99; dots: every run.</p>\n";
  }
  if (!perf.empty()) {
    out_ += "<div class=\"scroll\"><table><thead><tr><th>env</th><th class=\"num\">n</th>";
    for (const char* h : {"mean", "std", "median", "p90", "p99", "min", "max", "first inference",
                          "prepare", "overhead", "mean CPU", "peak RSS", "GPU memory", "device"}) {
      Add("<th class=\"num\">{}</th>", h);
    }
    out_ += "</tr></thead><tbody>\n";
    for (const json& p : perf) {
      const json& s = Field(p, "latency_ms");
      Add("<tr><td>{}</td><td class=\"num\">{}</td>", EnvLabel(Str(p, "env")),
          s.is_object() ? std::to_string(Int(s, "n")) : std::string(kAbsent));
      for (const char* k : {"mean", "std", "median", "p90", "p99", "min", "max"}) {
        Add("<td class=\"num\">{}</td>", Ms(Num(s, k)));
      }
      auto cpu = Num(p, "mean_cpu_percent");
      auto rss = Num(p, "peak_rss_mb");
      auto gpu = Num(p, "gpu_memory_mb");
      std::string device = Str(p, "device");
      Add("<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
          "<td>{}</td></tr>\n",
          Ms(Num(p, "first_inference_ms")), Ms(Num(p, "prepare_ms")), OrDash(OverheadText(p)),
          cpu ? Sig3(*cpu) + " %" : kAbsent, rss ? Sig3(*rss) + " MB" : kAbsent,
          gpu ? Sig3(*gpu) + " MB" : kAbsent, OrDash(device));
    }
    out_ += "</tbody></table></div>\n";
  }
  out_ += "</section>\n";
}

void HtmlWriter::Resources(const json& model, size_t m, json& chart) {
  Open("resources", m, "CPU and memory over time");
  json series = json::array();
  for (const json& p : Arr(model, "performance")) {
    const json& r = Obj(p, "resources");
    json t = json::array(), cpu = json::array(), rss = json::array();
    const json &ts = Arr(r, "t_s"), &cs = Arr(r, "cpu_percent"), &rs = Arr(r, "rss_mb");
    for (size_t i = 0; i < ts.size(); ++i) {
      if (!Num(ts[i])) continue;
      t.push_back(*Num(ts[i]));
      cpu.push_back(i < cs.size() ? NumOrNull(Num(cs[i])) : json(nullptr));
      rss.push_back(i < rs.size() ? NumOrNull(Num(rs[i])) : json(nullptr));
    }
    if (t.empty()) continue;
    series.push_back({{"env", EnvIndex(Str(p, "env"))},
                      {"label", Str(p, "env")},
                      {"t", t},
                      {"cpu", cpu},
                      {"rss", rss}});
  }
  chart["resources"] = series;
  if (series.empty()) {
    Empty("no resource samples recorded");
  } else {
    out_ += "<div class=\"grid2\">";
    Canvas("cpu", m, "height:280px", "CPU percent over time");
    Canvas("rss", m, "height:280px", "resident memory over time");
    out_ += "</div>\n";
  }
  out_ += "</section>\n";
}

void HtmlWriter::Timing(const json& model, size_t m, json& chart) {
  Open("timing", m, "Per-input timing change vs the baseline environment");
  const json& tc = Obj(model, "time_change");
  std::string baseline = Str(tc, "baseline");
  const json& inputs = Arr(tc, "inputs");
  std::vector<std::string> envs;
  for (const json& in : inputs) {
    for (const auto& [e, _] : Obj(in, "ms").items()) {
      if (std::find(envs.begin(), envs.end(), e) == envs.end()) envs.push_back(e);
    }
  }
  for (const std::string& e : envs) EnvIndex(e);
  std::sort(envs.begin(), envs.end(),
            [&](const std::string& a, const std::string& b) { return EnvIndex(a) < EnvIndex(b); });
  if (baseline.empty() || inputs.empty() || envs.empty()) {
    Empty("no timing data");
    chart["timing"] = nullptr;
    out_ += "</section>\n";
    return;
  }
  json labels = json::array(), series = json::array();
  for (const json& in : inputs) labels.push_back(Str(in, "input"));
  for (const std::string& e : envs) {
    if (e == baseline) continue;
    json change = json::array();
    for (const json& in : inputs) {
      change.push_back(NumOrNull(Num(Obj(in, "change_pct"), e.c_str())));
    }
    series.push_back({{"env", EnvIndex(e)}, {"label", e}, {"change", change}});
  }
  chart["timing"] = {{"baseline", baseline}, {"inputs", labels}, {"series", series}};
  Add("<p class=\"meta\">Median run time over repeats per input, relative to {}: below 0 is "
      "faster.</p>\n",
      EnvLabel(baseline));
  if (!series.empty()) {
    Canvas("timing", m,
           fmt::format("height:300px;max-width:{}px", 300 + 40 * inputs.size() * series.size()),
           "timing change per input");
  }
  out_ += "<div class=\"scroll\"><table><thead><tr><th>input</th>";
  for (const std::string& e : envs) Add("<th class=\"num\">{}</th>", EnvLabel(e));
  out_ += "</tr></thead><tbody>\n";
  for (const json& in : inputs) {
    Add("<tr><td>{}</td>", HtmlEscape(Str(in, "input")));
    for (const std::string& e : envs) {
      auto ms = Num(Obj(in, "ms"), e.c_str());
      auto change = Num(Obj(in, "change_pct"), e.c_str());
      if (e == baseline || !ms) {
        Add("<td class=\"num\">{}</td>", Ms(ms));
      } else {
        Add("<td class=\"num\">{} <span class=\"meta\">({})</span></td>", Ms(ms), Change(change));
      }
    }
    out_ += "</tr>\n";
  }
  out_ += "</tbody></table></div>\n</section>\n";
}

}  // namespace concord::report::detail
