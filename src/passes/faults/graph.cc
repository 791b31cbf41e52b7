// Graph faults: a node inserted, removed or replaced by another op.
#include <fmt/ranges.h>

#include <algorithm>

#include "passes/faults/fault_util.h"

namespace concord::passes::faults {

Applied ApplyGraph(onnx::GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "graph.insert_relu" || n == "graph.insert_mul") {
    // After the chosen node (default: the second Conv, mid-network), consumers rewired.
    int idx;
    if (f.node.empty()) {
      std::vector<int> convs;
      for (int i = 0; i < g->node_size(); ++i) {
        if (g->node(i).op_type() == "Conv") convs.push_back(i);
      }
      if (convs.empty()) Cannot(f, "the model has no Conv");
      // Relu: after the second Conv (a LeakyRelu follows, so it matters); Mul: the third.
      idx = convs[std::min<size_t>(convs.size() - 1, n == "graph.insert_relu" ? 1 : 2)];
    } else {
      idx = NodeIndex(*g, f.node);
      if (idx < 0) Cannot(f, fmt::format("no node named '{}'", f.node));
    }
    std::string from = g->node(idx).output(0);
    std::string name = FreshName(*g, n == "graph.insert_relu" ? "extra_relu" : "extra_scale");
    std::string out = FreshName(*g, name + "_out");
    onnx::NodeProto node;
    if (n == "graph.insert_relu") {
      node = MakeNode("Relu", name, {from}, {out});
    } else {
      std::string k = FreshName(*g, name + "_k");
      AddInit(g, k, Tensor::Scalar<float>(0.5f));
      node = MakeNode("Mul", name, {from, k}, {out});
    }
    ReplaceUses(g, from, out);
    InsertNode(g, idx + 1, node);
    return {name, fmt::format("{} inserted after '{}'", node.op_type(), g->node(idx).name())};
  }
  if (n == "graph.remove_node") {
    int idx = PickNode(*g, f, {"Relu", "LeakyRelu", "Sigmoid", "Identity"});
    onnx::NodeProto removed = g->node(idx);
    for (const auto& o : g->output()) {
      if (o.name() == removed.output(0)) Cannot(f, "the node to remove produces a graph output");
    }
    ReplaceUses(g, removed.output(0), removed.input(0));
    RemoveNode(g, idx);
    // The first consumer after the removed node's position is the injected node.
    for (int i = idx; i < g->node_size(); ++i) {
      for (const auto& in : g->node(i).input()) {
        if (in == removed.input(0)) {
          return {g->node(i).name(),
                  fmt::format("{} '{}' removed; '{}' now reads '{}'", removed.op_type(),
                              removed.name(), g->node(i).name(), in)};
        }
      }
    }
    Cannot(f, "the removed node had no consumer");
  }
  if (n == "graph.replace_op") {
    int idx = PickNode(*g, f, {"LeakyRelu", "Relu", "Sigmoid", "Tanh"});
    onnx::NodeProto old = g->node(idx);
    std::string op = old.op_type() == "Sigmoid" ? "Tanh" : "Sigmoid";
    std::string name = FreshName(*g, "replaced_" + old.name());
    std::string out = FreshName(*g, name + "_out");
    onnx::NodeProto node = MakeNode(op, name, {old.input(0)}, {out});
    g->mutable_node(idx)->CopyFrom(node);
    ReplaceUses(g, old.output(0), out);
    return {name, fmt::format("{} '{}' replaced by {} '{}'", old.op_type(), old.name(), op, name)};
  }
  Cannot(f, "unknown graph fault");
}

}  // namespace concord::passes::faults
