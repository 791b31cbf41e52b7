// Internal to src/localize/: the named steps of Analyze() (localize.h) and the evidence helpers
// they share. Analyze compares graph outputs and aligned tensors, then FindCulprit picks the
// first divergent target node, FindCounterpart its source node, and Classify names the kind of
// fault and collects the evidence.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "localize/localize.h"

namespace concord::localize::detail {

// Both sides of one analysis: models, values, indexes, the alignment, and the target graph
// outputs that diverge from the source's output at their position.
struct Sides {
  const Model& source;
  const SideValues& sv;
  const GraphIndex& si;
  const Model& target;
  const SideValues& tv;
  const GraphIndex& ti;
  const std::map<std::string, Alignment>& align;
  const Tolerance& tol;
  std::set<std::string> bad_outputs;
  // Static, or aligned and agreeing; a divergent graph output never is.
  bool Clean(const std::string& t) const;
  // A divergent graph output, or aligned and diverging.
  bool Bad(const std::string& t) const;
};

struct Counterpart {
  int index = -1;   // source node index, -1: none
  std::string how;  // how it was found
};

// localize.cc
// The earliest target node whose activation inputs are clean and one of whose outputs
// diverges or leads to a divergence through unaligned tensors; -1 when none.
int FindCulprit(const Sides& sides);
// The source node the culprit stands for: the producer of the source tensor its output is
// aligned to; else a source node reading the same aligned activation inputs (same op type
// first); else the single original the target's concord.name_map gives for it.
Counterpart FindCounterpart(const Sides& sides, int culprit,
                            const std::map<std::string, std::vector<std::string>>& node_map);

// classify.cc: fills r->kind, r->source_node/source_index and r->evidence.
void Classify(const Sides& sides, int culprit, const Counterpart& cp, LocalizeResult* r);

// evidence.cc
std::string NodeLabel(const onnx::NodeProto& n);
// Attribute texts of a node, schema defaults filled in.
std::map<std::string, std::string> Attrs(const onnx::NodeProto& n, int64_t opset);
// pads/strides/dilations have computed defaults (zeros/ones of the spatial rank).
std::string ImpliedDefault(const std::string& name, const std::string& other);
// An initializer, or the value a static tensor took on input set 0.
bool StaticValue(const Model& m, const SideValues& v, const std::string& name, Tensor* out);
// What a parameter difference looks like (for the evidence and for repair).
std::string ParamHint(const Tensor& s, const Tensor& t);

// localize_json.cc
nlohmann::json DivJson(const Divergence& d);

}  // namespace concord::localize::detail
