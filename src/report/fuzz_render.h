// The fuzzing report (`concord fuzz-report DB`): findings, op coverage and throughput of the
// fuzz campaigns recorded in a results store (campaign/fuzz.h), as a JSON document and as one
// self-contained HTML page (Chart.js embedded, no network).
//
// Document "concord.fuzz/1": {"schema", "store", "generated_at",
//   "findings": [{id, env, symptom, signature, seed, message, versions, original_nodes,
//                 reduced_nodes, count, bundle, first_seen, last_seen, details, triage,
//                 root_cause}],
//   "root_causes": [{id, env, symptom, nodes, message, findings: [ids], hits}],
//   "totals": {findings, root_causes, hits},
//   "by_symptom": {"<env>": {"<symptom>": distinct findings}},
//   "coverage": {"<op>": models containing it},
//   "ticks": [{campaign, t_s, models, tests, findings}],
//   "support": [{env, op, dtype, status, message}]}
// Findings are raw (one per env, symptom and reduced op signature); root causes group them:
// findings of one env and symptom with the same normalised message (details.root_cause, written
// by campaign/fuzz) where one reduced repro's node signatures contain another's, so the smaller
// repro explains the larger (for crash/timeout/error, whose message names the failing check,
// sharing one node kind is enough). A root cause's id is its smallest finding's id; root_cause on a
// finding names it. `triage` is a short note (possible ref bug and onnx.reference's verdict).
// The page reports its render state in body[data-render-status] ("ok" / "error") like the
// matrix report, and every drawn canvas carries data-rendered="1". Strings are HTML-escaped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "store/store.h"

namespace concord::report {

inline constexpr const char* kFuzzSchema = "concord.fuzz/1";

// The store's findings, root causes, coverage and throughput. Each finding whose bundle holds
// the upstream files (adapters/upstream_report.py) gets "upstream": {repro_py, report_md,
// verdict} (paths as stored, the standalone reproducer's verdict from the bundle's
// finding.json).
nlohmann::json FuzzDocument(Store& store);
// The HTML report; `html_path` (where it will be written) makes the links to bundles,
// repro.py and report.md relative to it.
std::string RenderFuzzHtml(const nlohmann::json& doc, const std::string& html_path = "");

}  // namespace concord::report
