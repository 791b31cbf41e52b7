// The fuzzing report (`concord fuzz-report DB`): findings, op coverage and throughput of the
// fuzz campaigns recorded in a results store (campaign/fuzz.h), as a JSON document and as one
// self-contained HTML page (Chart.js embedded, no network).
//
// Document "concord.fuzz/1": {"schema", "store", "generated_at",
//   "findings": [{id, env, symptom, signature, seed, message, versions, original_nodes,
//                 reduced_nodes, count, bundle, first_seen, last_seen}],
//   "by_symptom": {"<env>": {"<symptom>": distinct findings}},
//   "coverage": {"<op>": models containing it},
//   "ticks": [{campaign, t_s, models, tests, findings}],
//   "support": [{env, op, dtype, status, message}]}
// The page reports its render state in body[data-render-status] ("ok" / "error") like the
// matrix report, and every drawn canvas carries data-rendered="1". Strings are HTML-escaped.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace concord::report {

inline constexpr const char* kFuzzSchema = "concord.fuzz/1";

nlohmann::json FuzzDocument(Store& store);
std::string RenderFuzzHtml(const nlohmann::json& doc);

}  // namespace concord::report
