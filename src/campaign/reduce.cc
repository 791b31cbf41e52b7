#include "campaign/reduce.h"

#include <set>

#include "backends/ref_backend.h"
#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"

namespace concord {

namespace {

void SetTensorType(onnx::ValueInfoProto* vi, const std::string& name, const Value& v) {
  vi->set_name(name);
  *vi->mutable_type() = TypeOfValue(v, TypeDetail::kFullShape);
}

// `model` with graph input `name` turned into an initializer holding `value`; nullopt when the
// value is not a tensor or the result is not valid ONNX.
std::optional<Model> FreezeInput(const Model& model, const std::string& name, const Value& value) {
  if (!value.is_tensor()) return std::nullopt;
  onnx::ModelProto proto = model.proto();
  onnx::GraphProto* g = proto.mutable_graph();
  auto* inputs = g->mutable_input();
  for (int i = 0; i < inputs->size(); ++i) {
    if (inputs->Get(i).name() == name) {
      inputs->DeleteSubrange(i, 1);
      break;
    }
  }
  TensorToProto(value.tensor, name, g->add_initializer());
  try {
    return Model::FromProto(std::move(proto), model.base_dir(), "reduced model");
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::pair<Model, ValueMap>> SubModel(const Model& model, const ValueMap& values,
                                                   const std::vector<int>& keep) {
  const onnx::GraphProto& g = model.graph();
  std::set<std::string> initializers;
  for (const auto& init : g.initializer()) initializers.insert(init.name());
  std::set<std::string> produced, consumed;
  for (int i : keep) {
    for (const auto& o : g.node(i).output()) {
      if (!o.empty()) produced.insert(o);
    }
    for (const auto& in : g.node(i).input()) {
      if (!in.empty()) consumed.insert(in);
    }
  }
  onnx::ModelProto proto = model.proto();
  onnx::GraphProto* out = proto.mutable_graph();
  out->clear_node();
  out->clear_input();
  out->clear_output();
  out->clear_initializer();
  out->clear_value_info();
  for (int i : keep) *out->add_node() = g.node(i);
  for (const auto& init : g.initializer()) {
    if (consumed.count(init.name())) *out->add_initializer() = init;
  }
  ValueMap inputs;
  for (const std::string& name : consumed) {
    if (produced.count(name) || initializers.count(name)) continue;
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;  // not computed by ref (e.g. a subgraph value)
    SetTensorType(out->add_input(), name, it->second);
    inputs[name] = it->second;
  }
  std::set<std::string> original_outputs;
  for (const auto& o : g.output()) original_outputs.insert(o.name());
  for (int i : keep) {
    for (const auto& o : g.node(i).output()) {
      if (o.empty() || (consumed.count(o) && !original_outputs.count(o))) continue;
      auto it = values.find(o);
      if (it == values.end()) return std::nullopt;
      SetTensorType(out->add_output(), o, it->second);
    }
  }
  if (out->output_size() == 0) return std::nullopt;
  try {
    return std::make_pair(Model::FromProto(std::move(proto), model.base_dir(), "reduced model"),
                          std::move(inputs));
  } catch (const Error&) {
    return std::nullopt;
  }
}

ReduceResult ReduceModel(const Model& model, const ValueMap& inputs, const ReduceOracle& oracle,
                         const ReduceOptions& options) {
  ReduceResult result{model, inputs, model.graph().node_size(), model.graph().node_size(), 0};
  // Every intermediate value of the original model, as ref computes it.
  ValueMap values = inputs;
  {
    ValueMap taps;
    RunReference(model, inputs, &taps);
    for (auto& [k, v] : taps) values[k] = std::move(v);
  }
  auto test = [&](const std::vector<int>& keep, ReduceResult* best) {
    if (result.tests >= options.max_tests) return false;
    auto sub = SubModel(model, values, keep);
    if (!sub) return false;
    ++result.tests;
    if (!oracle(sub->first, sub->second)) return false;
    best->model = std::move(sub->first);
    best->inputs = std::move(sub->second);
    best->reduced_nodes = static_cast<int>(keep.size());
    return true;
  };
  std::vector<int> current(static_cast<size_t>(model.graph().node_size()));
  for (size_t i = 0; i < current.size(); ++i) current[i] = static_cast<int>(i);
  // ddmin: split into n chunks; try each chunk alone, then each complement.
  size_t n = 2;
  while (current.size() >= 2 && result.tests < options.max_tests) {
    size_t chunk = (current.size() + n - 1) / n;
    bool reduced = false;
    for (size_t start = 0; start < current.size() && !reduced; start += chunk) {
      std::vector<int> subset(
          current.begin() + static_cast<long>(start),
          current.begin() + static_cast<long>(std::min(current.size(), start + chunk)));
      if (test(subset, &result)) {
        current = subset;
        n = 2;
        reduced = true;
      }
    }
    for (size_t start = 0; start < current.size() && !reduced && n > 2; start += chunk) {
      std::vector<int> complement;
      for (size_t i = 0; i < current.size(); ++i) {
        if (i < start || i >= start + chunk) complement.push_back(current[i]);
      }
      if (test(complement, &result)) {
        current = complement;
        n = std::max<size_t>(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= current.size()) break;
      n = std::min(current.size(), n * 2);
    }
  }
  if (!options.freeze_inputs) return result;
  std::vector<std::string> names;
  for (const auto& vi : result.model.graph().input()) names.push_back(vi.name());
  for (const std::string& name : names) {
    if (result.tests >= options.max_tests) break;
    auto it = result.inputs.find(name);
    if (it == result.inputs.end()) continue;
    std::optional<Model> frozen = FreezeInput(result.model, name, it->second);
    if (!frozen) continue;
    ValueMap rest = result.inputs;
    rest.erase(name);
    ++result.tests;
    if (!oracle(*frozen, rest)) continue;
    result.model = std::move(*frozen);
    result.inputs = std::move(rest);
    ++result.frozen_inputs;
  }
  return result;
}

}  // namespace concord
