// Input faults: preprocessing constants changed, or a preprocessing node added.
#include <fmt/ranges.h>

#include <set>

#include "passes/faults/fault_util.h"

namespace concord::passes::faults {

namespace {

// The first Sub/Div/Mul/Add reading the graph input (directly or through such nodes) whose
// other operand is an initializer: the preprocessing constant of an input fault.
int PreprocessNode(const onnx::GraphProto& g, const FaultSpec& f,
                   const std::vector<std::string>& ops) {
  if (!f.node.empty()) return PickNode(g, f, ops);
  std::set<std::string> inits, reach;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  for (const auto& i : g.input()) {
    if (!inits.count(i.name())) reach.insert(i.name());
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    static const std::set<std::string> kPre = {"Sub",  "Div",       "Mul",     "Add",
                                               "Cast", "Transpose", "Identity"};
    if (!kPre.count(n.op_type())) continue;
    bool from_input = false, has_const = false;
    for (const auto& in : n.input()) {
      from_input |= reach.count(in) > 0;
      has_const |= inits.count(in) > 0;
    }
    if (!from_input) continue;
    for (const auto& o : n.output()) reach.insert(o);
    if (has_const && std::find(ops.begin(), ops.end(), n.op_type()) != ops.end()) return i;
  }
  Cannot(f,
         fmt::format("no {} with a constant operand reads the graph input", fmt::join(ops, "/")));
}

std::string ConstOperand(onnx::GraphProto* g, int idx, const FaultSpec& f) {
  for (const auto& in : g->node(idx).input()) {
    if (FindInit(g, in)) return in;
  }
  Cannot(f, fmt::format("node '{}' has no initializer operand", g->node(idx).name()));
}

}  // namespace

Applied ApplyInput(onnx::GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "input.mean" || n == "input.std") {
    int i = PreprocessNode(*g, f,
                           n == "input.mean" ? std::vector<std::string>{"Sub", "Add"}
                                             : std::vector<std::string>{"Div", "Mul"});
    std::string c = ConstOperand(g, i, f);
    Tensor t = ReadInit(g, c, f);
    std::vector<float> v = Floats(t);
    // A plausible user error: the other framework's constants (0.5 for every channel).
    std::vector<float> w(v.size(),
                         n == "input.mean" ? 0.5f : (g->node(i).op_type() == "Mul" ? 2.0f : 0.5f));
    WriteInit(g, c, FloatTensor(t.shape(), w));
    return {g->node(i).name(),
            fmt::format("{} constant '{}' {} -> {}", g->node(i).op_type(), c, v, w)};
  }
  if (n == "input.bgr_consts") {
    int i = PreprocessNode(*g, f, {"Sub", "Add"});
    std::string c = ConstOperand(g, i, f);
    Tensor t = ReadInit(g, c, f);
    std::vector<float> v = Floats(t), w(v.rbegin(), v.rend());
    WriteInit(g, c, FloatTensor(t.shape(), w));
    return {g->node(i).name(), fmt::format("mean constant '{}' in BGR order {} -> {}", c, v, w)};
  }
  if (n == "input.bgr" || n == "input.scale255") {
    // A new preprocessing node right after the graph input.
    std::set<std::string> inits;
    for (const auto& t : g->initializer()) inits.insert(t.name());
    std::string input;
    for (const auto& i : g->input()) {
      if (!inits.count(i.name())) {
        input = i.name();
        break;
      }
    }
    if (input.empty()) Cannot(f, "the model has no graph input");
    std::string name = FreshName(*g, n == "input.bgr" ? "bgr_swap" : "scale_255");
    std::string out = FreshName(*g, name + "_out");
    std::string k = FreshName(*g, name + "_k");
    onnx::NodeProto node;
    if (n == "input.bgr") {
      AddInit(g, k, Tensor::FromVector<int64_t>({3}, {2, 1, 0}));
      node = MakeNode("Gather", name, {input, k}, {out});
      onnx::AttributeProto* a = node.add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(1);
    } else {
      AddInit(g, k, Tensor::Scalar<float>(255.0f));
      node = MakeNode("Mul", name, {input, k}, {out});
    }
    ReplaceUses(g, input, out);
    InsertNode(g, 0, node);
    return {name, n == "input.bgr" ? "channels reversed (RGB -> BGR) before the normalization"
                                   : "input scaled by 255 before the normalization"};
  }
  Cannot(f, "unknown input fault");
}

}  // namespace concord::passes::faults
