#include "passes/pass_util.h"

#include <algorithm>

#include "ir/tensor_io.h"

namespace concord::passes {

void PassRun::Count(const std::string& what, int64_t n) {
  changes[what] = changes.value(what, int64_t{0}) + n;
}

void PassRun::Origin(const std::string& node, const std::vector<std::string>& from) {
  std::vector<std::string> all;
  auto add = [&](const std::string& s) {
    if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(s);
  };
  for (const auto& s : from) {
    auto it = node_origin.find(s);
    if (it == node_origin.end()) {
      add(s);
    } else {
      for (const auto& o : it->second) add(o);
    }
  }
  node_origin[node] = all;
}

const std::string& PassRun::Opt(const std::string& key) const {
  auto it = options.find(key);
  CONCORD_CHECK(it != options.end(), "pass option '{}' not declared", key);
  return it->second;
}

int64_t PassRun::IntOpt(const std::string& key) const {
  const std::string& v = Opt(key);
  try {
    size_t pos = 0;
    int64_t n = std::stoll(v, &pos);
    if (pos == v.size()) return n;
  } catch (const std::exception&) {
  }
  Fail(ErrorKind::kUsage, "option {}={}: expected an integer", key, v);
}

Tensor ReadInitializer(const onnx::TensorProto& proto, const std::string& base_dir) {
  return TensorFromProto(proto, base_dir, "initializer '" + proto.name() + "'");
}

void AddInitializer(onnx::GraphProto* graph, const Tensor& t, const std::string& name) {
  TensorToProto(t, name, graph->add_initializer());
}

int RemoveUnusedInitializers(onnx::GraphProto* graph) {
  GraphIndex idx(*graph);
  int removed = 0;
  auto* inits = graph->mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i) {
    const std::string& name = inits->Get(i).name();
    if (idx.NumConsumers(name) > 0 || idx.graph_inputs.count(name)) continue;
    inits->DeleteSubrange(i, 1);
    ++removed;
  }
  return removed;
}

void SetIntAttr(onnx::NodeProto* node, const std::string& name, int64_t v) {
  for (auto& a : *node->mutable_attribute()) {
    if (a.name() == name) {
      a.set_i(v);
      return;
    }
  }
  auto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void SetIntsAttr(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = nullptr;
  for (auto& x : *node->mutable_attribute()) {
    if (x.name() == name) a = &x;
  }
  if (a == nullptr) {
    a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
  }
  a->clear_ints();
  for (int64_t x : v) a->add_ints(x);
}

void TopoSort(onnx::GraphProto* graph) {
  const int n = graph->node_size();
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i) {
    for (const auto& o : graph->node(i).output()) {
      if (!o.empty()) producer[o] = i;
    }
  }
  std::vector<std::vector<int>> deps(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::set<std::string> needs(graph->node(i).input().begin(), graph->node(i).input().end());
    for (const auto& a : graph->node(i).attribute()) {
      if (a.has_g()) needs.merge(CapturedNames(a.g()));
      for (const auto& sg : a.graphs()) needs.merge(CapturedNames(sg));
    }
    for (const auto& t : needs) {
      auto it = producer.find(t);
      if (it != producer.end() && it->second != i)
        deps[static_cast<size_t>(i)].push_back(it->second);
    }
  }
  // Stable DFS (iterative: graphs may be long chains): a node is emitted after its
  // dependencies, in the original order otherwise.
  std::vector<int> state(static_cast<size_t>(n), 0), order;
  order.reserve(static_cast<size_t>(n));
  std::vector<std::pair<int, size_t>> stack;
  for (int root = 0; root < n; ++root) {
    if (state[static_cast<size_t>(root)] != 0) continue;
    stack.push_back({root, 0});
    state[static_cast<size_t>(root)] = 1;
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      const auto& d = deps[static_cast<size_t>(i)];
      if (next < d.size()) {
        int j = d[next++];
        if (state[static_cast<size_t>(j)] == 1) {
          Fail(ErrorKind::kInternal, "graph has a cycle through node '{}'", graph->node(j).name());
        }
        if (state[static_cast<size_t>(j)] == 0) {
          state[static_cast<size_t>(j)] = 1;
          stack.push_back({j, 0});
        }
        continue;
      }
      state[static_cast<size_t>(i)] = 2;
      order.push_back(i);
      stack.pop_back();
    }
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> sorted;
  for (int i : order) *sorted.Add() = graph->node(i);
  graph->mutable_node()->Swap(&sorted);
}

TypeTable::TypeTable(const onnx::GraphProto& graph) {
  auto add = [&](const onnx::ValueInfoProto& vi) {
    if (!vi.type().has_tensor_type()) return;
    const auto& tt = vi.type().tensor_type();
    Entry e;
    e.dtype = IsValidDType(tt.elem_type()) ? static_cast<DType>(tt.elem_type()) : DType::kUndefined;
    if (tt.has_shape()) {
      e.has_shape = true;
      for (const auto& d : tt.shape().dim())
        e.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    }
    entries_[vi.name()] = e;
    protos_[vi.name()] = vi.type();
  };
  for (const auto& vi : graph.value_info()) add(vi);
  for (const auto& vi : graph.output()) add(vi);
  for (const auto& vi : graph.input()) add(vi);
  for (const auto& t : graph.initializer()) {
    Entry e;
    e.dtype = IsValidDType(t.data_type()) ? static_cast<DType>(t.data_type()) : DType::kUndefined;
    e.has_shape = true;
    e.shape.assign(t.dims().begin(), t.dims().end());
    entries_[t.name()] = e;
    auto& tp = protos_[t.name()];
    tp.mutable_tensor_type()->set_elem_type(t.data_type());
    auto* shape = tp.mutable_tensor_type()->mutable_shape();
    for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
  }
}

const onnx::TypeProto* TypeTable::Type(const std::string& name) const {
  auto it = protos_.find(name);
  return it == protos_.end() ? nullptr : &it->second;
}

DType TypeTable::Elem(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? DType::kUndefined : it->second.dtype;
}

bool TypeTable::Static(const std::string& name, Shape* shape) const {
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.has_shape) return false;
  for (int64_t d : it->second.shape) {
    if (d < 0) return false;
  }
  *shape = it->second.shape;
  return true;
}

int TypeTable::Rank(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.has_shape) return -1;
  return static_cast<int>(it->second.shape.size());
}

}  // namespace concord::passes
