// JSON form of a localize result (LocalizeResult::ToJson) and of a divergence.
#include "ir/json_number.h"
#include "localize/analysis.h"

namespace concord::localize {

using nlohmann::json;

namespace detail {

json DivJson(const Divergence& d) {
  json j = {{"agree", d.agree},
            {"max_abs", JsonNumber(d.max_abs)},
            {"max_rel", JsonNumber(d.max_rel)},
            {"cosine", JsonNumber(d.cosine)},
            {"mismatch_fraction", d.mismatch_fraction},
            {"rel_l2", JsonNumber(d.rel_l2)}};
  if (d.shape_mismatch) j["shape_mismatch"] = true;
  if (d.dtype_mismatch) j["dtype_mismatch"] = true;
  if (!d.layout.empty()) j["layout"] = d.layout;
  if (!d.message.empty()) j["message"] = d.message;
  return j;
}

}  // namespace detail

json LocalizeResult::ToJson() const {
  json j;
  j["first_divergent_node"] = first_divergent.empty() ? json(nullptr) : json(first_divergent);
  j["kind"] = kind.empty() ? json(nullptr) : json(kind);
  j["agree"] = agree;
  j["localized"] = localized;
  j["taps"] = taps;
  j["input_sets"] = input_sets;
  if (!source_node.empty()) j["source_node"] = source_node;
  if (!note.empty()) j["note"] = note;
  j["evidence"] = first_divergent.empty() ? json(nullptr) : evidence;
  j["outputs"] = outputs;
  json ns = json::array();
  for (const auto& n : nodes) {
    json e = {{"index", n.index},   {"node", n.node},           {"op_type", n.op_type},
              {"output", n.output}, {"alignment", n.alignment}, {"status", n.status}};
    if (!n.source_tensor.empty()) e["source_tensor"] = n.source_tensor;
    if (!n.source_node.empty()) e["source_node"] = n.source_node;
    if (n.div.compared) {
      e["max_abs"] = JsonNumber(n.div.max_abs);
      e["max_rel"] = JsonNumber(n.div.max_rel);
      e["cosine"] = JsonNumber(n.div.cosine);
      e["mismatch_fraction"] = n.div.mismatch_fraction;
      e["rel_l2"] = JsonNumber(n.div.rel_l2);
      if (!n.div.layout.empty()) e["layout"] = n.div.layout;
      if (n.div.shape_mismatch) e["shape_mismatch"] = true;
    }
    if (n.node == first_divergent) e["first_divergent"] = true;
    ns.push_back(e);
  }
  j["nodes"] = ns;
  j["timings_ms"] = {{"source_runs", source_run_ms}, {"target_runs", target_run_ms}};
  return j;
}

}  // namespace concord::localize
