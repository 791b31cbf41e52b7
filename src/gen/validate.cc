// Candidate validation and the value search (see validate.h).
#include "gen/validate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "backends/ref_backend.h"
#include "gen/spec.h"

namespace concord::gen {
namespace {

int64_t CountNonFinite(const Tensor& t) {
  if (!IsFloating(t.dtype())) return 0;
  int64_t n = 0;
  for (int64_t i = 0; i < t.numel(); ++i) n += std::isfinite(t.GetDouble(i)) ? 0 : 1;
  return n;
}

// The first shape the checker's inference disagrees with the spec on, or "".
std::string ShapeDisagreement(const Concrete& c, const Model& model) {
  for (const auto& [name, shape] : c.node_outputs) {
    const onnx::TypeProto* type = model.FindType(name);
    if (type == nullptr || !type->has_tensor_type() || !type->tensor_type().has_shape()) continue;
    const auto& sh = type->tensor_type().shape();
    bool same = sh.dim_size() == static_cast<int>(shape.size());
    for (int i = 0; same && i < sh.dim_size(); ++i) {
      if (sh.dim(i).has_dim_value() && sh.dim(i).dim_value() != shape[static_cast<size_t>(i)])
        same = false;
    }
    if (!same) {
      return fmt::format("shape inference gives {} {} but the spec said {}", name,
                         TypeToString(*type), ShapeToString(shape));
    }
  }
  return "";
}

// The graph inputs and weights of floating-point type that `tensor` depends on.
std::vector<size_t> FloatLeavesOf(const SymGraph& g, size_t tensor) {
  std::map<size_t, size_t> producer;  // tensor id -> node index
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int out : g.nodes[i].outputs) producer[static_cast<size_t>(out)] = i;
  }
  std::vector<size_t> leaves, stack = {tensor};
  std::vector<bool> seen(g.tensors.size(), false);
  while (!stack.empty()) {
    size_t id = stack.back();
    stack.pop_back();
    if (id >= g.tensors.size() || seen[id]) continue;
    seen[id] = true;
    const TensorInfo& t = g.tensors[id];
    if (t.kind == TensorKind::kInput || t.kind == TensorKind::kWeight) {
      if (IsFloating(t.dtype)) leaves.push_back(id);
      continue;
    }
    auto p = producer.find(id);
    if (p == producer.end()) continue;
    for (int in : g.nodes[p->second].inputs) {
      if (in >= 0) stack.push_back(static_cast<size_t>(in));
    }
  }
  return leaves;
}

// "t_17" -> 17 (Concretize's name for node outputs); SIZE_MAX when not a node output.
size_t TensorIdOf(const std::string& name) {
  if (name.rfind("t_", 0) != 0) return SIZE_MAX;
  return static_cast<size_t>(std::stoull(name.substr(2)));
}

// The moves of a step: halve the range toward zero (overflow: Exp, Pow, products and sums);
// make it positive and away from zero, [m/4, m/2] for m = max(|lo|, |hi|) (a reciprocal or
// division of values near zero, a negative base of a fractional power); or halve the distance
// to 1 (a product over many elements: ReduceProd, Pow chains).
enum class Move { kShrink, kPositive, kTowardOne };
void Apply(Move move, TensorInfo* t) {
  switch (move) {
    case Move::kShrink:
      t->lo /= 2;
      t->hi /= 2;
      return;
    case Move::kPositive: {
      double m = std::max(std::fabs(t->lo), std::fabs(t->hi));
      t->lo = m / 4;
      t->hi = m / 2;
      return;
    }
    case Move::kTowardOne:
      t->lo = (t->lo + 1) / 2;
      t->hi = (t->hi + 1) / 2;
      return;
  }
}

// Whether `now` is at least as good as `before`: the first non-finite output is later in graph
// order, or the same one with no more NaN/Inf elements.
bool NoWorse(const Concrete& c, const Verdict& before, const Verdict& now) {
  if (now.nonfinite_tensor.empty()) return false;  // another kind of failure
  auto pos = [&](const std::string& name) {
    for (size_t i = 0; i < c.node_outputs.size(); ++i) {
      if (c.node_outputs[i].first == name) return i;
    }
    return c.node_outputs.size();
  };
  size_t a = pos(before.nonfinite_tensor), b = pos(now.nonfinite_tensor);
  return b > a || (b == a && now.nonfinite_count <= before.nonfinite_count);
}

}  // namespace

Verdict Validate(const Concrete& c, Model* out) {
  Verdict v;
  Model model;
  try {
    model = Model::FromProto(c.proto, "", "generated model");
  } catch (const Error& e) {
    v.reason = std::string("checker/shape inference: ") + e.what();
    return v;
  }
  v.reason = ShapeDisagreement(c, model);
  if (!v.ok()) return v;
  std::map<std::string, Value> feeds(c.inputs.begin(), c.inputs.end());
  std::map<std::string, Value> taps;
  try {
    RunReference(model, feeds, &taps);
  } catch (const Error& e) {
    v.reason = std::string("ref run: ") + e.what();
    return v;
  }
  for (const auto& [name, shape] : c.node_outputs) {
    auto it = taps.find(name);
    if (it == taps.end() || !it->second.is_tensor()) {
      v.reason = "ref run: no value for " + name;
      return v;
    }
    const Tensor& t = it->second.tensor;
    if (t.shape() != shape) {
      v.reason = fmt::format("ref gives {} shape {} but the spec said {}", name,
                             ShapeToString(t.shape()), ShapeToString(shape));
      return v;
    }
    if (int64_t bad = CountNonFinite(t); bad > 0) {
      v.reason = "NaN/Inf in " + name;
      v.nonfinite_tensor = name;
      v.nonfinite_count = bad;
      return v;
    }
  }
  *out = std::move(model);
  return v;
}

SearchResult SearchValues(const SymGraph& graph, const z3::model& model, uint64_t value_seed,
                          const std::string& graph_name, const Verdict& first, int max_steps) {
  SearchResult r;
  r.last = first;
  SymGraph kept = graph;
  Verdict best = first;
  for (int step = 1; step <= max_steps && !best.nonfinite_tensor.empty(); ++step) {
    std::vector<size_t> leaves = FloatLeavesOf(kept, TensorIdOf(best.nonfinite_tensor));
    if (leaves.empty()) break;  // nothing to move: the graph itself overflows
    r.steps = step;
    std::optional<SymGraph> next;
    Verdict next_v = best;
    for (Move move : {Move::kShrink, Move::kPositive, Move::kTowardOne}) {
      SymGraph trial = kept;
      for (size_t id : leaves) Apply(move, &trial.tensors[id]);
      uint64_t seed = value_seed + 3 * static_cast<uint64_t>(step) + static_cast<uint64_t>(move);
      Concrete c = Concretize(trial, model, Mix(seed), graph_name);
      Verdict v = Validate(c, &r.model);
      r.last = v;
      if (v.ok()) {
        r.found = true;
        r.concrete = std::move(c);
        return r;
      }
      if (v.nonfinite_tensor.empty()) return r;  // a failure values cannot cure
      if (NoWorse(c, next_v, v)) {
        next = std::move(trial);
        next_v = v;
      }
    }
    if (next) {  // else every move made it worse: the next step redraws from the kept ranges
      kept = std::move(*next);
      best = next_v;
    }
  }
  return r;
}

}  // namespace concord::gen
