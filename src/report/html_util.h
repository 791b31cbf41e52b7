// HTML building blocks shared by the report pages (html*.cc, fuzz_render.cc,
// localize_render.cc): escaping, the JSON data island, the embedded Chart.js and stylesheet, and
// the section/canvas markup the page scripts look for. Pure functions; internal to src/report.
//
// Escaping contract: HtmlEscape makes any string safe as element text and as a quoted attribute
// value; ScriptJson makes a JSON document safe inside <script type="application/json"> (no
// "</script>" or "<!--" can appear). Neither accepts markup on purpose.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace concord::report {

// Embedded at build time by embed_file.cmake (see CMakeLists.txt): Debian's chart.min.js and
// the files under report/assets/.
extern const std::string_view kChartJs;
extern const std::string_view kReportCss;       // assets/report.css
extern const std::string_view kReportErrorsJs;  // assets/report_errors.js
extern const std::string_view kReportJs;        // assets/report.js

// & < > " ' as character references.
std::string HtmlEscape(std::string_view s);

// The JSON text with < > & as \u escapes; invalid UTF-8 is replaced, never thrown on.
std::string ScriptJson(const nlohmann::json& j);

// Chart.js, safe to place inside <script>: any "</script" in it is written "<\/script".
std::string ChartJsScript();

// <section id="ID-M" class="card"><h3>TITLE</h3>: one card of model M. `title` is markup.
std::string CardOpen(std::string_view id, size_t m, std::string_view title);

// A chart placeholder: <canvas data-chart="KIND" data-model="M"> in a div styled `style`;
// `label` is its accessible name. The page script draws it and sets data-rendered="1".
std::string ChartCanvas(std::string_view kind, size_t m, std::string_view style,
                        std::string_view label);

}  // namespace concord::report
