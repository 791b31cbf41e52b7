#include "ir/graph_edit.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>

namespace concord {

namespace {

using GraphFn = std::function<void(const onnx::GraphProto&)>;
using MutGraphFn = std::function<void(onnx::GraphProto*)>;

void ForEachSubgraph(const onnx::NodeProto& n, const GraphFn& f) {
  for (const auto& a : n.attribute()) {
    if (a.has_g()) f(a.g());
    for (const auto& sg : a.graphs()) f(sg);
  }
}

void ForEachSubgraphMut(onnx::NodeProto* n, const MutGraphFn& f) {
  for (auto& a : *n->mutable_attribute()) {
    if (a.has_g()) f(a.mutable_g());
    for (auto& sg : *a.mutable_graphs()) f(&sg);
  }
}

// The graph and all its subgraphs, outermost first.
void ForEachGraph(const onnx::GraphProto& g, const GraphFn& f) {
  f(g);
  for (const auto& n : g.node()) ForEachSubgraph(n, [&](const auto& sg) { ForEachGraph(sg, f); });
}

// Names a graph defines for itself: inputs, initializers and node outputs.
std::set<std::string> LocalNames(const onnx::GraphProto& g) {
  std::set<std::string> local;
  for (const auto& i : g.input()) local.insert(i.name());
  for (const auto& i : g.initializer()) local.insert(i.name());
  for (const auto& n : g.node()) local.insert(n.output().begin(), n.output().end());
  return local;
}

// Names the subgraphs of node `n` capture.
std::set<std::string> NodeCaptures(const onnx::NodeProto& n) {
  std::set<std::string> refs;
  ForEachSubgraph(n, [&](const onnx::GraphProto& sg) {
    auto inner = CapturedNames(sg);
    refs.insert(inner.begin(), inner.end());
  });
  return refs;
}

// Renames outer-scope uses inside a subgraph unless the subgraph shadows `from`.
void ReplaceInSubgraph(onnx::GraphProto* g, const std::string& from, const std::string& to) {
  if (LocalNames(*g).count(from)) return;
  for (auto& n : *g->mutable_node()) {
    for (auto& i : *n.mutable_input()) {
      if (i == from) i = to;
    }
    ForEachSubgraphMut(&n, [&](onnx::GraphProto* sg) { ReplaceInSubgraph(sg, from, to); });
  }
  for (auto& o : *g->mutable_output()) {
    if (o.name() == from) o.set_name(to);
  }
}

}  // namespace

std::set<std::string> CapturedNames(const onnx::GraphProto& sub) {
  const std::set<std::string> local = LocalNames(sub);
  std::set<std::string> out;
  auto outer = [&](const std::string& name) {
    if (!name.empty() && !local.count(name)) out.insert(name);
  };
  for (const auto& n : sub.node()) {
    for (const auto& i : n.input()) outer(i);
    for (const auto& i : NodeCaptures(n)) outer(i);
  }
  for (const auto& o : sub.output()) outer(o.name());
  return out;
}

bool HasSubgraph(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute()) {
    if (a.has_g() || a.graphs_size() > 0) return true;
  }
  return false;
}

Namer::Namer(const onnx::GraphProto& graph) {
  ForEachGraph(graph, [&](const onnx::GraphProto& g) {
    for (const auto& i : g.input()) used_.insert(i.name());
    for (const auto& i : g.output()) used_.insert(i.name());
    for (const auto& i : g.initializer()) used_.insert(i.name());
    for (const auto& i : g.value_info()) used_.insert(i.name());
    for (const auto& n : g.node()) {
      used_.insert(n.name());
      used_.insert(n.input().begin(), n.input().end());
      used_.insert(n.output().begin(), n.output().end());
    }
  });
}

std::string Namer::Fresh(const std::string& base) {
  std::string name = base;
  for (int k = 2; used_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

std::string FreshName(const onnx::GraphProto& graph, const std::string& base) {
  return Namer(graph).Fresh(base);
}

void InsertNode(onnx::GraphProto* graph, int pos, const onnx::NodeProto& node) {
  graph->add_node()->CopyFrom(node);
  for (int i = graph->node_size() - 1; i > pos; --i) graph->mutable_node()->SwapElements(i, i - 1);
}

void RemoveNode(onnx::GraphProto* graph, int index) {
  graph->mutable_node()->DeleteSubrange(index, 1);
}

onnx::NodeProto MakeNode(const std::string& op_type, const std::string& name,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs) {
  onnx::NodeProto n;
  n.set_op_type(op_type);
  n.set_name(name);
  for (const auto& i : inputs) n.add_input(i);
  for (const auto& o : outputs) n.add_output(o);
  return n;
}

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

onnx::AttributeProto* FindAttr(onnx::NodeProto* node, const std::string& name) {
  for (auto& a : *node->mutable_attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t IntAttr(const onnx::NodeProto& node, const std::string& name, int64_t def) {
  const auto* a = FindAttr(node, name);
  return a ? a->i() : def;
}

std::vector<int64_t> IntsAttr(const onnx::NodeProto& node, const std::string& name) {
  const auto* a = FindAttr(node, name);
  if (a == nullptr) return {};
  return {a->ints().begin(), a->ints().end()};
}

float FloatAttr(const onnx::NodeProto& node, const std::string& name, float def) {
  const auto* a = FindAttr(node, name);
  return a ? a->f() : def;
}

std::string StringAttr(const onnx::NodeProto& node, const std::string& name,
                       const std::string& def) {
  const auto* a = FindAttr(node, name);
  return a ? a->s() : def;
}

std::string AttrText(const onnx::AttributeProto& a) {
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::INT:
      return std::to_string(a.i());
    case A::FLOAT:
      return fmt::format("{}", a.f());
    case A::STRING:
      return "\"" + a.s() + "\"";
    case A::INTS:
      return fmt::format("{}", std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case A::FLOATS:
      return fmt::format("{}", std::vector<float>(a.floats().begin(), a.floats().end()));
    case A::STRINGS:
      return fmt::format("{}", std::vector<std::string>(a.strings().begin(), a.strings().end()));
    default: {
      onnx::AttributeProto c = a;
      c.clear_name();
      c.clear_doc_string();
      return "<" + std::to_string(std::hash<std::string>()(c.SerializeAsString())) + ">";
    }
  }
}

GraphIndex::GraphIndex(const onnx::GraphProto& graph) {
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto& n = graph.node(i);
    std::set<std::string> direct;
    for (const auto& t : n.input()) {
      if (t.empty()) continue;
      consumers[t].push_back(i);
      direct.insert(t);
    }
    for (const auto& t : n.output()) {
      if (!t.empty()) producer[t] = i;
    }
    for (const auto& t : NodeCaptures(n)) {
      captured_by[t].push_back(i);
      if (!direct.count(t)) consumers[t].push_back(i);
    }
  }
  for (int i = 0; i < graph.initializer_size(); ++i) initializer[graph.initializer(i).name()] = i;
  for (const auto& i : graph.input()) {
    graph_inputs.insert(i.name());
    if (!initializer.count(i.name())) inputs.push_back(i.name());
  }
  for (const auto& o : graph.output()) {
    graph_outputs.insert(o.name());
    outputs.push_back(o.name());
  }
}

int GraphIndex::NumConsumers(const std::string& name) const {
  auto it = consumers.find(name);
  int n = it == consumers.end() ? 0 : static_cast<int>(it->second.size());
  return n + static_cast<int>(graph_outputs.count(name));
}

void ReplaceUses(onnx::GraphProto* graph, const std::string& from, const std::string& to,
                 GraphOutputs outputs) {
  for (auto& n : *graph->mutable_node()) {
    for (auto& i : *n.mutable_input()) {
      if (i == from) i = to;
    }
    ForEachSubgraphMut(&n, [&](onnx::GraphProto* sg) { ReplaceInSubgraph(sg, from, to); });
  }
  if (outputs == GraphOutputs::kKeep) return;
  for (auto& o : *graph->mutable_output()) {
    if (o.name() == from) o.set_name(to);
  }
}

}  // namespace concord
