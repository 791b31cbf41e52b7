// Helpers shared by the fault families (faults.h).
#include <algorithm>
#include <set>

#include "ir/tensor_io.h"
#include "passes/faults/faults.h"

namespace concord::passes::faults {

[[noreturn]] void Cannot(const FaultSpec& f, const std::string& why) {
  Fail(ErrorKind::kUsage, "fault '{}' cannot be applied: {}", f.name, why);
}

int PickNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops) {
  if (!f.node.empty()) {
    int i = FindNode(g, f.node);
    if (i < 0) Cannot(f, fmt::format("no node named '{}'", f.node));
    if (std::find(ops.begin(), ops.end(), g.node(i).op_type()) == ops.end()) {
      Cannot(f, fmt::format("node '{}' is {}, the fault needs one of {}", f.node,
                            g.node(i).op_type(), ops));
    }
    return i;
  }
  for (int i = 0; i < g.node_size(); ++i) {
    if (std::find(ops.begin(), ops.end(), g.node(i).op_type()) != ops.end()) return i;
  }
  Cannot(f, fmt::format("the model has no {} node", fmt::join(ops, "/")));
}

TensorProto* FindInit(GraphProto* g, const std::string& name) {
  for (auto& t : *g->mutable_initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

Tensor ReadInit(GraphProto* g, const std::string& name, const FaultSpec& f) {
  TensorProto* t = FindInit(g, name);
  if (t == nullptr) Cannot(f, fmt::format("'{}' is not an initializer", name));
  return TensorFromProto(*t, "", "initializer '" + name + "'");
}

void WriteInit(GraphProto* g, const std::string& name, const Tensor& value) {
  TensorProto* t = FindInit(g, name);
  CONCORD_CHECK(t != nullptr, "initializer {} vanished", name);
  t->Clear();
  TensorToProto(value, name, t);
}

void AddInit(GraphProto* g, const std::string& name, const Tensor& value) {
  TensorToProto(value, name, g->add_initializer());
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i)
    v[static_cast<size_t>(i)] = static_cast<float>(t.GetDouble(i));
  return v;
}

Tensor FloatTensor(const Shape& shape, const std::vector<float>& v) {
  return Tensor::FromVector<float>(shape, v);
}

Tensor SwapLastAxes(const Tensor& t) {
  int r = t.rank();
  int64_t a = t.dim(r - 2), b = t.dim(r - 1), outer = t.numel() / (a * b);
  std::vector<float> in = Floats(t), out(in.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < a; ++i) {
      for (int64_t j = 0; j < b; ++j) out[o * a * b + j * a + i] = in[o * a * b + i * b + j];
    }
  }
  Shape s = t.shape();
  std::swap(s[r - 2], s[r - 1]);
  return FloatTensor(s, out);
}

int PreprocessNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops) {
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

std::string ConstOperand(GraphProto* g, int idx, const FaultSpec& f) {
  for (const auto& in : g->node(idx).input()) {
    if (FindInit(g, in)) return in;
  }
  Cannot(f, fmt::format("node '{}' has no initializer operand", g->node(idx).name()));
}

std::string AttrOr(const NodeProto& n, const std::string& name, const std::string& def) {
  const AttributeProto* a = FindAttr(n, name);
  return a == nullptr ? def + " (default)" : AttrText(*a);
}

}  // namespace concord::passes::faults
