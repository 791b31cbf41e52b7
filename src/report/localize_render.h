// Reports of one `concord localize` result (the JSON of LocalizeResult::ToJson plus the CLI's
// source/target/env fields): a self-contained HTML page with a per-node divergence plot along
// the target graph (Chart.js embedded, log scale, the first divergent node highlighted) and a
// Markdown variant.
//
// Renderers never throw on a well-formed JSON object; missing fields render as a dash. Every string
// from the document is HTML-escaped and the embedded JSON escapes < > &, so model/node names cannot
// inject markup. Render state, as in the main report: body[data-render-status] is "pending" until
// the page script ran, then "ok" or "error" (body[data-render-errors] says what failed); the drawn
// canvas gets data-rendered="1".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace concord::report {

std::string RenderLocalizeHtml(const nlohmann::json& localize_json);
std::string RenderLocalizeMarkdown(const nlohmann::json& localize_json);

}  // namespace concord::report
