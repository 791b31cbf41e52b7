// Test support for localize and repair: a converter that renames a model wholesale, with or
// without recording the renames in concord.name_map (passes/pass.h). Test-only.
#pragma once

#include <fmt/format.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "ir/model.h"
#include "ir/value.h"
#include "passes/pass.h"

namespace concord::localize::testing {

// n input sets {"image": float 1x3xhwxhw, uniform in [0, 1)}, set s drawn from
// mt19937_64(seed + s): inputs for the fault-suite net (passes/fault_suite_net.h).
inline std::vector<ValueMap> RandomImages(int n, uint64_t seed, int64_t hw = 32) {
  std::vector<ValueMap> sets;
  for (int s = 0; s < n; ++s) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(s));
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(3 * hw * hw));
    for (auto& x : v) x = d(rng);
    sets.push_back({{"image", Tensor::FromVector<float>({1, 3, hw, hw}, v)}});
  }
  return sets;
}

// What the renaming converter records in concord.name_map.
enum class RenameRecord {
  kNone,             // nothing: the map is stripped, names cannot be traced
  kNodes,            // new node name -> original node (tensor renames not recorded)
  kNodesAndTensors,  // and new tensor name -> original tensor
};

// `m` renamed the way an exporter that renames wholesale writes it: node k becomes
// "n<k>_<OpType>", every intermediate tensor "t<j>" and every initializer "p<j>" (graph inputs
// and outputs keep their names). The renames are composed after the map already stored in `m`
// (so they trace back to the first original, as RunPasses composes its own) and stored with the
// same "passes" history.
inline Model RenameEverything(const Model& m, RenameRecord record) {
  onnx::ModelProto proto = m.proto();
  auto* g = proto.mutable_graph();
  std::set<std::string> keep;
  for (const auto& i : g->input()) keep.insert(i.name());
  for (const auto& o : g->output()) keep.insert(o.name());
  std::map<std::string, std::string> rename;  // old -> new
  passes::NameMap step;
  int k = 0;
  for (auto& node : *g->mutable_node()) {
    std::string fresh = fmt::format("n{}_{}", k++, node.op_type());
    step.nodes[fresh] = {node.name()};
    node.set_name(fresh);
    for (const auto& o : node.output()) {
      if (!o.empty() && !keep.count(o)) rename[o] = fmt::format("t{}", rename.size());
    }
  }
  for (const auto& t : g->initializer()) {
    if (!keep.count(t.name())) rename[t.name()] = fmt::format("p{}", rename.size());
  }
  auto renamed = [&](std::string* s) {
    auto it = rename.find(*s);
    if (it != rename.end()) *s = it->second;
  };
  for (auto& node : *g->mutable_node()) {
    for (auto& s : *node.mutable_input()) renamed(&s);
    for (auto& s : *node.mutable_output()) renamed(&s);
  }
  for (auto& t : *g->mutable_initializer()) renamed(t.mutable_name());
  g->clear_value_info();
  if (record == RenameRecord::kNodesAndTensors) {
    for (const auto& [from, to] : rename) step.tensors[to] = from;
  }
  nlohmann::json passes = nlohmann::json::array();
  auto* props = proto.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i) {
    if (props->Get(i).key() != passes::kNameMapKey) continue;
    auto j = nlohmann::json::parse(props->Get(i).value(), nullptr, false);
    if (j.is_object() && j.contains("passes")) passes = j["passes"];
    props->DeleteSubrange(i, 1);
  }
  if (record != RenameRecord::kNone) {
    nlohmann::json stored = step.ComposeAfter(passes::ReadNameMap(m.proto())).ToJson();
    stored["passes"] = passes;
    auto* prop = props->Add();
    prop->set_key(passes::kNameMapKey);
    prop->set_value(stored.dump());
  }
  return Model::FromProto(std::move(proto), m.base_dir(), "renamed model");
}

// The node of `tgt` that its name map traces to source node `source_node` alone, with the same
// op type ("" when none).
inline std::string TargetName(const Model& src, const Model& tgt, const std::string& source_node) {
  std::string op;
  for (const auto& n : src.graph().node())
    if (n.name() == source_node) op = n.op_type();
  passes::NameMap names = passes::ReadNameMap(tgt.proto());
  for (const auto& n : tgt.graph().node()) {
    auto it = names.nodes.find(n.name());
    if (n.op_type() == op && it != names.nodes.end() &&
        it->second == std::vector<std::string>{source_node})
      return n.name();
  }
  return "";
}

}  // namespace concord::localize::testing
