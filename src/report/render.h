// Report renderers over an analysis document (report/analysis.h, schema concord.analysis/1).
//
// RenderHtml: one self-contained HTML file — Chart.js (Debian libjs-chart.js, embedded in the
// binary at build time) and all data inlined; no network access when opened. Sections: summary,
// agreement heatmap across envs (top-1 agreement, per model), latency distributions per env,
// accuracy per env, confusion matrix, table of disagreeing inputs with thumbnails and both
// top-5 lists, errors, CPU/RAM over time, per-input timing change.
// RenderMarkdown: the same tables as GitHub-flavoured Markdown (no charts).
// Both are pure; a document with a different "schema" is Error(kInput).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace concord::report {

std::string RenderHtml(const nlohmann::json& analysis);
std::string RenderMarkdown(const nlohmann::json& analysis);

}  // namespace concord::report
