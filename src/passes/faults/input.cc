// Input faults: wrong preprocessing constants, channel order or scale in front of the net.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "passes/faults/faults.h"

namespace concord::passes::faults {

Applied ApplyInput(GraphProto* g, const FaultSpec& f) {
  Namer namer(*g);
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
    std::string name = namer.Fresh(n == "input.bgr" ? "bgr_swap" : "scale_255");
    std::string out = namer.Fresh(name + "_out");
    std::string k = namer.Fresh(name + "_k");
    NodeProto node;
    if (n == "input.bgr") {
      AddInit(g, k, Tensor::FromVector<int64_t>({3}, {2, 1, 0}));
      node = MakeNode("Gather", name, {input, k}, {out});
      AttributeProto* a = node.add_attribute();
      a->set_name("axis");
      a->set_type(AttributeProto::INT);
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
