#include "campaign/reduce.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>

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

namespace {

const std::set<std::string>& UnaryElementwise() {
  static const std::set<std::string> ops = {"Abs",         "Neg",
                                            "Relu",        "LeakyRelu",
                                            "Sigmoid",     "Tanh",
                                            "Exp",         "Log",
                                            "Sqrt",        "Reciprocal",
                                            "Floor",       "Ceil",
                                            "Round",       "Sign",
                                            "Sin",         "Cos",
                                            "Tan",         "Asin",
                                            "Acos",        "Atan",
                                            "Sinh",        "Cosh",
                                            "Asinh",       "Acosh",
                                            "Atanh",       "Erf",
                                            "Softplus",    "Softsign",
                                            "HardSigmoid", "HardSwish",
                                            "Elu",         "Selu",
                                            "Celu",        "ThresholdedRelu",
                                            "Identity",    "Mish",
                                            "Gelu",        "Shrink",
                                            "Clip"};
  return ops;
}

const std::set<std::string>& BinaryElementwise() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div",  "Max",
                                            "Min", "Pow", "Mod", "PRelu"};
  return ops;
}

bool SignedOrFloat(int32_t t) {
  using TP = onnx::TensorProto;
  return t == TP::FLOAT || t == TP::FLOAT16 || t == TP::DOUBLE || t == TP::BFLOAT16 ||
         t == TP::INT8 || t == TP::INT16 || t == TP::INT32 || t == TP::INT64;
}

bool Numeric(int32_t t) {
  using TP = onnx::TensorProto;
  return SignedOrFloat(t) || t == TP::UINT8 || t == TP::UINT16 || t == TP::UINT32 ||
         t == TP::UINT64;
}

// The swaps tried for node `n` whose first input has element type `elem` (0: unknown).
std::vector<std::string> Swaps(const onnx::NodeProto& n, int32_t elem) {
  std::vector<std::string> out;
  int inputs = 0;
  for (const auto& in : n.input()) inputs += in.empty() ? 0 : 1;
  if (UnaryElementwise().count(n.op_type()) && inputs == 1) {
    if (SignedOrFloat(elem)) out.push_back("Neg");
    if (Numeric(elem)) out.push_back("Abs");
    out.push_back("Identity");
  } else if (BinaryElementwise().count(n.op_type()) && inputs == 2 && Numeric(elem)) {
    out = {"Add", "Mul", "Sub", "Max"};
  }
  out.erase(std::remove(out.begin(), out.end(), n.op_type()), out.end());
  return out;
}

// `model` with node `i` replaced by Neg over a new initializer holding minus its output `value`
// (Identity over the value itself for unsigned and bool outputs): every value downstream is
// the same, only the op that produced it differs. nullopt when the node has several outputs,
// the value is not a tensor, cannot be negated exactly (the most negative integer) or the
// result is not valid ONNX.
std::optional<Model> ValueSwap(const Model& model, int i, const Value& value) {
  const onnx::NodeProto& n = model.graph().node(i);
  if (n.output_size() != 1 || !value.is_tensor()) return std::nullopt;
  Tensor t = value.tensor;
  bool negate = false, exact = true;
  VisitDType(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloatLike<T> || (kIsIntLike<T> && std::is_signed_v<T>)) {
      negate = true;
      for (int64_t k = 0; k < t.numel(); ++k) {
        double v = ToDouble(t.data<T>()[k]);
        if constexpr (kIsIntLike<T>) exact &= t.data<T>()[k] != std::numeric_limits<T>::min();
        t.data<T>()[k] = FromDouble<T>(-v);
      }
    }
  });
  if (!exact) return std::nullopt;
  onnx::ModelProto proto = model.proto();
  onnx::GraphProto* g = proto.mutable_graph();
  std::string name = n.output(0) + "_concord_swap";
  TensorToProto(t, name, g->add_initializer());
  onnx::NodeProto* m = g->mutable_node(i);
  m->set_op_type(negate ? "Neg" : "Identity");
  m->clear_attribute();
  m->clear_domain();
  m->clear_input();
  m->add_input(name);
  try {
    return Model::FromProto(std::move(proto), model.base_dir(), "generalised repro");
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<int> IncidentalNodes(const Model& model, const ValueMap& inputs,
                                 const ReduceOracle& oracle, int* tests) {
  const onnx::GraphProto& g = model.graph();
  std::map<std::string, int32_t> elem;  // tensor -> element type
  for (const auto& in : g.input()) elem[in.name()] = in.type().tensor_type().elem_type();
  for (const auto& init : g.initializer()) elem[init.name()] = init.data_type();
  for (const auto& vi : g.value_info()) elem[vi.name()] = vi.type().tensor_type().elem_type();
  for (const auto& vi : g.output()) elem[vi.name()] = vi.type().tensor_type().elem_type();
  ValueMap values;  // ref's value of every tensor, for ValueSwap
  try {
    PrepareReference(model)->RunWithTaps(inputs, &values);
  } catch (const Error&) {
    values.clear();
  }
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  std::vector<int> out;
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& n = g.node(i);
    auto value = n.output_size() == 1 ? values.find(n.output(0)) : values.end();
    // A graph output replaced by Neg(constant) can only still differ through the env's handling
    // of that Neg (OpenCV 4.6 gets some wrong): no evidence about the original node.
    if (value != values.end() && !graph_outputs.count(n.output(0))) {
      if (std::optional<Model> swapped = ValueSwap(model, i, value->second)) {
        if (tests) ++*tests;
        if (oracle(*swapped, inputs)) {
          out.push_back(i);
          continue;
        }
      }
    }
    int32_t in_type = 0;  // input 0's element type: declared, else from ref's value
    if (n.input_size() > 0) {
      if (auto it = elem.find(n.input(0)); it != elem.end()) in_type = it->second;
      auto v = values.find(n.input(0));
      if (in_type == 0 && v != values.end() && v->second.is_tensor()) {
        in_type = static_cast<int32_t>(v->second.tensor.dtype());
      }
    }
    for (const std::string& swap : Swaps(n, in_type)) {
      onnx::ModelProto proto = model.proto();
      onnx::NodeProto* m = proto.mutable_graph()->mutable_node(i);
      m->set_op_type(swap);
      m->clear_attribute();
      m->clear_domain();
      std::string name = n.input(0);
      std::string second = n.input_size() > 1 ? n.input(1) : "";
      m->clear_input();
      m->add_input(name);
      if (BinaryElementwise().count(swap)) m->add_input(second);
      std::optional<Model> candidate;
      try {
        candidate = Model::FromProto(std::move(proto), model.base_dir(), "generalised repro");
      } catch (const Error&) {
        continue;  // not valid ONNX with this swap
      }
      if (tests) ++*tests;
      if (oracle(*candidate, inputs)) {
        out.push_back(i);
        break;
      }
    }
  }
  return out;
}

}  // namespace concord
