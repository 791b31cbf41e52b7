#include "ir/graph_edit.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>

#include "ir/error.h"

namespace concord {

namespace {

void ForEachGraph(const onnx::GraphProto& g,
                  const std::function<void(const onnx::GraphProto&)>& f) {
  f(g);
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_g()) ForEachGraph(a.g(), f);
      for (const auto& sg : a.graphs()) ForEachGraph(sg, f);
    }
  }
}

void ForEachSubgraphMut(onnx::NodeProto* n, const std::function<void(onnx::GraphProto*)>& f) {
  for (auto& a : *n->mutable_attribute()) {
    if (a.has_g()) f(a.mutable_g());
    for (auto& sg : *a.mutable_graphs()) f(&sg);
  }
}

bool Declares(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& i : g.input()) {
    if (i.name() == name) return true;
  }
  for (const auto& i : g.initializer()) {
    if (i.name() == name) return true;
  }
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) {
      if (o == name) return true;
    }
  }
  return false;
}

// Renames reads of the outer-scope `from` inside a subgraph (nested ones included), unless the
// subgraph declares `from` itself (SSA: then every use inside refers to its own).
void ReplaceInSubgraph(onnx::GraphProto* g, const std::string& from, const std::string& to) {
  if (Declares(*g, from)) return;
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

Namer::Namer(const onnx::GraphProto& graph) {
  ForEachGraph(graph, [&](const onnx::GraphProto& g) {
    for (const auto& i : g.input()) used_.insert(i.name());
    for (const auto& i : g.output()) used_.insert(i.name());
    for (const auto& i : g.initializer()) used_.insert(i.name());
    for (const auto& i : g.value_info()) used_.insert(i.name());
    for (const auto& n : g.node()) {
      used_.insert(n.name());
      for (const auto& t : n.input()) used_.insert(t);
      for (const auto& t : n.output()) used_.insert(t);
    }
  });
}

std::string Namer::Fresh(const std::string& base) {
  std::string name = base;
  for (int k = 2; used_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
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

void InsertNode(onnx::GraphProto* graph, int pos, const onnx::NodeProto& node) {
  CONCORD_CHECK(pos >= 0 && pos <= graph->node_size(), "InsertNode at {} of {} nodes", pos,
                graph->node_size());
  graph->add_node()->CopyFrom(node);
  for (int i = graph->node_size() - 1; i > pos; --i) graph->mutable_node()->SwapElements(i, i - 1);
}

void RemoveNode(onnx::GraphProto* graph, int index) {
  CONCORD_CHECK(index >= 0 && index < graph->node_size(), "RemoveNode {} of {} nodes", index,
                graph->node_size());
  for (int i = index; i < graph->node_size() - 1; ++i) {
    graph->mutable_node()->SwapElements(i, i + 1);
  }
  graph->mutable_node()->RemoveLast();
}

int FindNode(const onnx::GraphProto& graph, const std::string& name) {
  for (int i = 0; i < graph.node_size(); ++i) {
    if (graph.node(i).name() == name) return i;
  }
  return -1;
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

onnx::AttributeProto* SetAttr(onnx::NodeProto* node, const std::string& name,
                              onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = FindAttr(node, name);
  if (a == nullptr) a = node->add_attribute();
  a->Clear();
  a->set_name(name);
  a->set_type(type);
  return a;
}

void SetIntAttr(onnx::NodeProto* node, const std::string& name, int64_t v) {
  SetAttr(node, name, onnx::AttributeProto::INT)->set_i(v);
}

void SetIntsAttr(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = SetAttr(node, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void SetFloatAttr(onnx::NodeProto* node, const std::string& name, float v) {
  SetAttr(node, name, onnx::AttributeProto::FLOAT)->set_f(v);
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

bool HasSubgraph(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute()) {
    if (a.has_g() || a.graphs_size() > 0) return true;
  }
  return false;
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

std::string NodeAttrsText(const onnx::NodeProto& node) {
  std::vector<std::string> parts;
  for (const auto& a : node.attribute()) parts.push_back(a.name() + "=" + AttrText(a));
  return fmt::format("{} {{{}}}", node.op_type(), fmt::join(parts, ", "));
}

void OuterRefs(const onnx::GraphProto& g, std::set<std::string>* out) {
  std::set<std::string> local;
  for (const auto& i : g.input()) local.insert(i.name());
  for (const auto& i : g.initializer()) local.insert(i.name());
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) local.insert(o);
  }
  for (const auto& n : g.node()) {
    for (const auto& i : n.input()) {
      if (!i.empty() && !local.count(i)) out->insert(i);
    }
    for (const auto& a : n.attribute()) {
      std::set<std::string> inner;
      if (a.has_g()) OuterRefs(a.g(), &inner);
      for (const auto& sg : a.graphs()) OuterRefs(sg, &inner);
      for (const auto& i : inner) {
        if (!local.count(i)) out->insert(i);
      }
    }
  }
  for (const auto& o : g.output()) {
    if (!local.count(o.name())) out->insert(o.name());
  }
}

void ReplaceUses(onnx::GraphProto* graph, const std::string& from, const std::string& to,
                 int skip) {
  for (int k = 0; k < graph->node_size(); ++k) {
    if (k == skip) continue;
    auto* n = graph->mutable_node(k);
    for (auto& i : *n->mutable_input()) {
      if (i == from) i = to;
    }
    ForEachSubgraphMut(n, [&](onnx::GraphProto* sg) { ReplaceInSubgraph(sg, from, to); });
  }
  for (auto& o : *graph->mutable_output()) {
    if (o.name() == from) o.set_name(to);
  }
}

GraphIndex::GraphIndex(const onnx::GraphProto& g) : graph(&g) {
  for (int i = 0; i < g.initializer_size(); ++i) {
    initializer[g.initializer(i).name()] = i;
    statics.insert(g.initializer(i).name());
  }
  for (const auto& i : g.input()) {
    graph_inputs.insert(i.name());
    if (!initializer.count(i.name())) inputs.push_back(i.name());
  }
  for (const auto& o : g.output()) {
    outputs.push_back(o.name());
    graph_outputs.insert(o.name());
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    bool all_static = true;
    for (const auto& in : n.input()) {
      if (in.empty()) continue;
      consumers[in].push_back(i);
      if (!statics.count(in)) all_static = false;
    }
    // Random* ops have no inputs but are not constants; everything else without activation
    // inputs (Constant, ConstantOfShape of a static shape, Cast of a weight) is a parameter.
    bool random = n.op_type().rfind("Random", 0) == 0;
    for (const auto& o : n.output()) {
      if (o.empty()) continue;
      producer[o] = i;
      if (all_static && !random && n.domain().empty() && !HasSubgraph(n)) statics.insert(o);
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g()) OuterRefs(a.g(), &used_in_subgraphs);
      for (const auto& sg : a.graphs()) OuterRefs(sg, &used_in_subgraphs);
    }
  }
}

int GraphIndex::NumConsumers(const std::string& name) const {
  auto it = consumers.find(name);
  int n = it == consumers.end() ? 0 : static_cast<int>(it->second.size());
  return n + static_cast<int>(graph_outputs.count(name)) +
         static_cast<int>(used_in_subgraphs.count(name));
}

std::vector<std::pair<int, std::string>> GraphIndex::ActivationInputs(int i) const {
  std::vector<std::pair<int, std::string>> r;
  const auto& n = node(i);
  for (int k = 0; k < n.input_size(); ++k) {
    if (!n.input(k).empty() && !IsStatic(n.input(k))) r.emplace_back(k, n.input(k));
  }
  return r;
}

}  // namespace concord
