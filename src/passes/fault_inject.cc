#include "passes/fault_inject.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "ir/half.h"
#include "ir/tensor_io.h"

namespace concord::passes {

namespace {

using onnx::AttributeProto;
using onnx::GraphProto;
using onnx::NodeProto;
using onnx::TensorProto;

[[noreturn]] void Cannot(const FaultSpec& f, const std::string& why) {
  Fail(ErrorKind::kUsage, "fault '{}' cannot be applied: {}", f.name, why);
}

int NodeIndex(const GraphProto& g, const std::string& name) {
  for (int i = 0; i < g.node_size(); ++i) {
    if (g.node(i).name() == name) return i;
  }
  return -1;
}

// The node the fault acts on: FaultSpec::node, else the first node of one of `ops`.
int PickNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops) {
  if (!f.node.empty()) {
    int i = NodeIndex(g, f.node);
    if (i < 0) Cannot(f, fmt::format("no node named '{}'", f.node));
    if (std::find(ops.begin(), ops.end(), g.node(i).op_type()) == ops.end()) {
      Cannot(f, fmt::format("node '{}' is {}, the fault needs one of {}", f.node, g.node(i).op_type(), ops));
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

AttributeProto* FindAttr(NodeProto* n, const std::string& name) {
  for (auto& a : *n->mutable_attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

AttributeProto* SetAttr(NodeProto* n, const std::string& name, AttributeProto::AttributeType type) {
  AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) a = n->add_attribute();
  a->Clear();
  a->set_name(name);
  a->set_type(type);
  return a;
}

std::string AttrText(NodeProto* n, const std::string& name, const std::string& def) {
  AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) return def + " (default)";
  switch (a->type()) {
    case AttributeProto::INT: return std::to_string(a->i());
    case AttributeProto::FLOAT: return fmt::format("{}", a->f());
    case AttributeProto::INTS: return fmt::format("{}", std::vector<int64_t>(a->ints().begin(), a->ints().end()));
    default: return "?";
  }
}

// Every consumer of `from` (node inputs and graph outputs) reads `to` instead, except node
// index `skip`.
void Rewire(GraphProto* g, const std::string& from, const std::string& to, int skip = -1) {
  for (int i = 0; i < g->node_size(); ++i) {
    if (i == skip) continue;
    for (auto& in : *g->mutable_node(i)->mutable_input()) {
      if (in == from) in = to;
    }
  }
  for (auto& o : *g->mutable_output()) {
    if (o.name() == from) o.set_name(to);
  }
}

// Inserts `node` at position `pos` (keeps the node list topologically sorted when pos is right
// after the producer of its inputs).
void InsertNode(GraphProto* g, int pos, const NodeProto& node) {
  g->add_node()->CopyFrom(node);
  for (int i = g->node_size() - 1; i > pos; --i) g->mutable_node()->SwapElements(i, i - 1);
}

void RemoveNode(GraphProto* g, int index) {
  for (int i = index; i < g->node_size() - 1; ++i) g->mutable_node()->SwapElements(i, i + 1);
  g->mutable_node()->RemoveLast();
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<float>(t.GetDouble(i));
  return v;
}

Tensor FloatTensor(const Shape& shape, const std::vector<float>& v) { return Tensor::FromVector<float>(shape, v); }

// Swaps the last two axes of a tensor of rank >= 2.
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

NodeProto MakeNode(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   std::vector<std::string> outputs) {
  NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : inputs) n.add_input(i);
  for (auto& o : outputs) n.add_output(o);
  return n;
}

std::string UniqueName(const GraphProto& g, const std::string& base) {
  std::set<std::string> used;
  for (const auto& n : g.node()) {
    used.insert(n.name());
    for (const auto& o : n.output()) used.insert(o);
  }
  for (const auto& t : g.initializer()) used.insert(t.name());
  for (const auto& i : g.input()) used.insert(i.name());
  std::string s = base;
  for (int k = 1; used.count(s); ++k) s = base + "_" + std::to_string(k);
  return s;
}

// The first Sub/Div/Mul/Add reading the graph input (directly or through such nodes) whose
// other operand is an initializer: the preprocessing constant of an input fault.
int PreprocessNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops) {
  if (!f.node.empty()) return PickNode(g, f, ops);
  std::set<std::string> inits, reach;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  for (const auto& i : g.input()) {
    if (!inits.count(i.name())) reach.insert(i.name());
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    static const std::set<std::string> kPre = {"Sub", "Div", "Mul", "Add", "Cast", "Transpose", "Identity"};
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
  Cannot(f, fmt::format("no {} with a constant operand reads the graph input", fmt::join(ops, "/")));
}

std::string ConstOperand(GraphProto* g, int idx, const FaultSpec& f) {
  for (const auto& in : g->node(idx).input()) {
    if (FindInit(g, in)) return in;
  }
  Cannot(f, fmt::format("node '{}' has no initializer operand", g->node(idx).name()));
}

// Applies the fault to `g`; returns the injected node's name and a description.
struct Applied {
  std::string node;
  std::string what;
};

Applied ApplyInput(GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "input.mean" || n == "input.std") {
    int i = PreprocessNode(*g, f, n == "input.mean" ? std::vector<std::string>{"Sub", "Add"}
                                                     : std::vector<std::string>{"Div", "Mul"});
    std::string c = ConstOperand(g, i, f);
    Tensor t = ReadInit(g, c, f);
    std::vector<float> v = Floats(t);
    // A plausible user error: the other framework's constants (0.5 for every channel).
    std::vector<float> w(v.size(), n == "input.mean" ? 0.5f : (g->node(i).op_type() == "Mul" ? 2.0f : 0.5f));
    WriteInit(g, c, FloatTensor(t.shape(), w));
    return {g->node(i).name(), fmt::format("{} constant '{}' {} -> {}", g->node(i).op_type(), c, v, w)};
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
      if (!inits.count(i.name())) { input = i.name(); break; }
    }
    if (input.empty()) Cannot(f, "the model has no graph input");
    std::string name = UniqueName(*g, n == "input.bgr" ? "bgr_swap" : "scale_255");
    std::string out = UniqueName(*g, name + "_out");
    std::string k = UniqueName(*g, name + "_k");
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
    Rewire(g, input, out);
    InsertNode(g, 0, node);
    return {name, n == "input.bgr" ? "channels reversed (RGB -> BGR) before the normalization"
                                   : "input scaled by 255 before the normalization"};
  }
  Cannot(f, "unknown input fault");
}

Applied ApplyParam(GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "param.bias_drop") {
    int i = PickNode(*g, f, {"Conv", "Gemm"});
    NodeProto* node = g->mutable_node(i);
    if (node->input_size() < 3) Cannot(f, fmt::format("node '{}' has no bias", node->name()));
    std::string b = node->input(2);
    node->mutable_input()->RemoveLast();
    return {node->name(), fmt::format("bias '{}' dropped", b)};
  }
  if (n == "param.bn_mean") {
    int i = PickNode(*g, f, {"BatchNormalization"});
    std::string c = g->node(i).input(3);
    Tensor t = ReadInit(g, c, f);
    std::vector<float> v = Floats(t);
    for (auto& x : v) x += 0.5f;
    WriteInit(g, c, FloatTensor(t.shape(), v));
    return {g->node(i).name(), fmt::format("running mean '{}' shifted by +0.5", c)};
  }
  int i = PickNode(*g, f, n == "param.bias_scale" ? std::vector<std::string>{"Conv", "Gemm"}
                          : n == "param.transpose_fc" ? std::vector<std::string>{"Gemm", "MatMul"}
                                                      : std::vector<std::string>{"Conv", "Gemm", "MatMul"});
  NodeProto* node = g->mutable_node(i);
  int input = n == "param.bias_scale" ? 2 : 1;
  if (node->input_size() <= input) Cannot(f, fmt::format("node '{}' has no input {}", node->name(), input));
  std::string c = node->input(input);
  Tensor t = ReadInit(g, c, f);
  if (t.dtype() != DType::kFloat32) Cannot(f, fmt::format("'{}' is not float32", c));
  std::vector<float> v = Floats(t);
  std::string what;
  if (n == "param.fp16") {
    for (auto& x : v) x = static_cast<float>(Float16(x));
    what = "float16 round trip";
  } else if (n == "param.int8") {
    float m = 0;
    for (float x : v) m = std::max(m, std::fabs(x));
    float scale = m / 127.0f;
    for (auto& x : v) x = scale > 0 ? std::round(x / scale) * scale : x;
    what = fmt::format("int8 round trip (symmetric, scale {:.3g})", scale);
  } else if (n == "param.bias_scale") {
    for (auto& x : v) x *= 2.0f;
    what = "bias scaled by 2";
  } else if (n == "param.transpose" || n == "param.transpose_fc") {
    if (t.rank() < 2 || t.dim(t.rank() - 1) != t.dim(t.rank() - 2)) {
      Cannot(f, fmt::format("'{}' {} has non-square trailing axes: a transpose would not run", c, t.Describe()));
    }
    WriteInit(g, c, SwapLastAxes(t));
    return {node->name(), fmt::format("weight '{}' {} transposed in its last two axes", c, t.Describe())};
  } else if (n == "param.permute_out") {
    // Output channels (axis 0) permuted: a layout mix-up in a converter.
    int64_t oc = t.dim(0), per = t.numel() / oc;
    std::vector<int64_t> perm(static_cast<size_t>(oc));
    for (int64_t k = 0; k < oc; ++k) perm[static_cast<size_t>(k)] = (k + 1) % oc;
    std::vector<float> w(v.size());
    for (int64_t k = 0; k < oc; ++k) {
      std::copy_n(v.begin() + perm[static_cast<size_t>(k)] * per, per, w.begin() + k * per);
    }
    v = w;
    what = "output channels rotated by one";
  } else {
    Cannot(f, "unknown parameter fault");
  }
  WriteInit(g, c, FloatTensor(t.shape(), v));
  return {node->name(), fmt::format("'{}' {}: {}", c, t.Describe(), what)};
}

Applied ApplyHyper(GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  auto ints = [](NodeProto* node, const std::string& name, std::vector<int64_t> v) {
    AttributeProto* a = SetAttr(node, name, AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  };
  if (n == "hyper.bn_epsilon") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"BatchNormalization"}));
    std::string before = AttrText(node, "epsilon", "1e-05");
    SetAttr(node, "epsilon", AttributeProto::FLOAT)->set_f(1e-2f);
    return {node->name(), fmt::format("epsilon {} -> 0.01", before)};
  }
  if (n == "hyper.pads" || n == "hyper.strides" || n == "hyper.dilations") {
    int idx = -1;
    if (f.node.empty() && n != "hyper.strides") {
      // A 3x3 conv, where pads/dilations matter.
      for (int i = 0; i < g->node_size() && idx < 0; ++i) {
        if (g->node(i).op_type() != "Conv") continue;
        TensorProto* w = FindInit(g, g->node(i).input(1));
        if (w && w->dims_size() == 4 && w->dims(2) == 3) idx = i;
      }
      if (idx < 0) Cannot(f, "no Conv with a 3x3 initializer weight");
    } else {
      idx = PickNode(*g, f, {"Conv"});
    }
    NodeProto* node = g->mutable_node(idx);
    if (n == "hyper.pads") {
      std::string before = AttrText(node, "pads", "[0, 0, 0, 0]");
      ints(node, "pads", {2, 2, 0, 0});  // same output size, content shifted
      if (FindAttr(node, "auto_pad")) SetAttr(node, "auto_pad", AttributeProto::STRING)->set_s("NOTSET");
      return {node->name(), fmt::format("pads {} -> [2, 2, 0, 0]", before)};
    }
    if (n == "hyper.strides") {
      std::string before = AttrText(node, "strides", "[1, 1]");
      ints(node, "strides", {2, 2});
      return {node->name(), fmt::format("strides {} -> [2, 2]", before)};
    }
    std::string before = AttrText(node, "dilations", "[1, 1]");
    ints(node, "dilations", {2, 2});
    return {node->name(), fmt::format("dilations {} -> [2, 2]", before)};
  }
  if (n == "hyper.count_include_pad") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"AveragePool"}));
    AttributeProto* a = FindAttr(node, "count_include_pad");
    int64_t before = a ? a->i() : 0;
    SetAttr(node, "count_include_pad", AttributeProto::INT)->set_i(1 - before);
    return {node->name(), fmt::format("count_include_pad {} -> {}", before, 1 - before)};
  }
  if (n == "hyper.softmax_axis") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"Softmax", "LogSoftmax"}));
    std::string before = AttrText(node, "axis", "-1");
    SetAttr(node, "axis", AttributeProto::INT)->set_i(0);
    return {node->name(), fmt::format("axis {} -> 0", before)};
  }
  if (n == "hyper.transB") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"Gemm"}));
    AttributeProto* a = FindAttr(node, "transB");
    int64_t before = a ? a->i() : 0;
    TensorProto* w = FindInit(g, node->input(1));
    if (w == nullptr || w->dims_size() != 2 || w->dims(0) != w->dims(1)) {
      Cannot(f, fmt::format("Gemm '{}' needs a square initializer weight for transB to still run", node->name()));
    }
    SetAttr(node, "transB", AttributeProto::INT)->set_i(1 - before);
    return {node->name(), fmt::format("transB {} -> {}", before, 1 - before)};
  }
  if (n == "hyper.leaky_alpha") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"LeakyRelu"}));
    std::string before = AttrText(node, "alpha", "0.01");
    SetAttr(node, "alpha", AttributeProto::FLOAT)->set_f(0.3f);
    return {node->name(), fmt::format("alpha {} -> 0.3", before)};
  }
  if (n == "hyper.pool_kernel") {
    NodeProto* node = g->mutable_node(PickNode(*g, f, {"MaxPool"}));
    std::string before = AttrText(node, "kernel_shape", "?");
    ints(node, "kernel_shape", {3, 3});
    return {node->name(), fmt::format("kernel_shape {} -> [3, 3]", before)};
  }
  Cannot(f, "unknown hyperparameter fault");
}

Applied ApplyGraph(GraphProto* g, const FaultSpec& f) {
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
    std::string name = UniqueName(*g, n == "graph.insert_relu" ? "extra_relu" : "extra_scale");
    std::string out = UniqueName(*g, name + "_out");
    NodeProto node;
    if (n == "graph.insert_relu") {
      node = MakeNode("Relu", name, {from}, {out});
    } else {
      std::string k = UniqueName(*g, name + "_k");
      AddInit(g, k, Tensor::Scalar<float>(0.5f));
      node = MakeNode("Mul", name, {from, k}, {out});
    }
    Rewire(g, from, out);
    InsertNode(g, idx + 1, node);
    return {name, fmt::format("{} inserted after '{}'", node.op_type(), g->node(idx).name())};
  }
  if (n == "graph.remove_node") {
    int idx = PickNode(*g, f, {"Relu", "LeakyRelu", "Sigmoid", "Identity"});
    NodeProto removed = g->node(idx);
    for (const auto& o : g->output()) {
      if (o.name() == removed.output(0)) Cannot(f, "the node to remove produces a graph output");
    }
    Rewire(g, removed.output(0), removed.input(0), idx);
    RemoveNode(g, idx);
    // The first consumer after the removed node's position is the injected node.
    for (int i = idx; i < g->node_size(); ++i) {
      for (const auto& in : g->node(i).input()) {
        if (in == removed.input(0)) {
          return {g->node(i).name(), fmt::format("{} '{}' removed; '{}' now reads '{}'", removed.op_type(),
                                                 removed.name(), g->node(i).name(), in)};
        }
      }
    }
    Cannot(f, "the removed node had no consumer");
  }
  if (n == "graph.replace_op") {
    int idx = PickNode(*g, f, {"LeakyRelu", "Relu", "Sigmoid", "Tanh"});
    NodeProto old = g->node(idx);
    std::string op = old.op_type() == "Sigmoid" ? "Tanh" : "Sigmoid";
    std::string name = UniqueName(*g, "replaced_" + old.name());
    std::string out = UniqueName(*g, name + "_out");
    NodeProto node = MakeNode(op, name, {old.input(0)}, {out});
    g->mutable_node(idx)->CopyFrom(node);
    Rewire(g, old.output(0), out, idx);
    return {name, fmt::format("{} '{}' replaced by {} '{}'", old.op_type(), old.name(), op, name)};
  }
  Cannot(f, "unknown graph fault");
}

// control.restructure: semantically equal, structurally different: every tensor and node
// renamed, Conv bias split into Conv + Add, Gemm(transB=1) as MatMul + Add, an Identity after
// the first node, BatchNormalization folded into the preceding Conv.
Applied ApplyRestructure(GraphProto* g, const FaultSpec& f) {
  // 1. Fold BN into a preceding Conv with initializer weights (Conv output used only by BN).
  for (int i = 0; i + 1 < g->node_size(); ++i) {
    NodeProto* conv = g->mutable_node(i);
    NodeProto* bn = g->mutable_node(i + 1);
    if (conv->op_type() != "Conv" || bn->op_type() != "BatchNormalization" || bn->input(0) != conv->output(0)) {
      continue;
    }
    Tensor w = ReadInit(g, conv->input(1), f);
    int64_t oc = w.dim(0), per = w.numel() / oc;
    std::vector<float> wv = Floats(w), b(static_cast<size_t>(oc), 0.0f);
    if (conv->input_size() > 2) b = Floats(ReadInit(g, conv->input(2), f));
    std::vector<float> sc = Floats(ReadInit(g, bn->input(1), f)), be = Floats(ReadInit(g, bn->input(2), f)),
                       mu = Floats(ReadInit(g, bn->input(3), f)), va = Floats(ReadInit(g, bn->input(4), f));
    AttributeProto* ea = FindAttr(bn, "epsilon");
    double eps = ea ? ea->f() : 1e-5;
    for (int64_t k = 0; k < oc; ++k) {
      double s = sc[k] / std::sqrt(static_cast<double>(va[k]) + eps);
      for (int64_t j = 0; j < per; ++j) wv[k * per + j] = static_cast<float>(wv[k * per + j] * s);
      b[k] = static_cast<float>((b[k] - mu[k]) * s + be[k]);
    }
    std::string wn = UniqueName(*g, conv->name() + "_folded_w"), bnm = UniqueName(*g, conv->name() + "_folded_b");
    AddInit(g, wn, FloatTensor(w.shape(), wv));
    AddInit(g, bnm, FloatTensor({oc}, b));
    conv = g->mutable_node(i);
    bn = g->mutable_node(i + 1);
    conv->set_input(1, wn);
    if (conv->input_size() > 2) conv->set_input(2, bnm); else conv->add_input(bnm);
    std::string bn_out = bn->output(0);
    conv->set_output(0, bn_out);
    RemoveNode(g, i + 1);
    break;
  }
  // 2. Gemm(transB=1, initializer W, C) -> MatMul(W^T) + Add(C); Conv bias -> Conv + Add.
  for (int i = 0; i < g->node_size(); ++i) {
    NodeProto node = g->node(i);
    if (node.op_type() == "Gemm" && node.input_size() == 3) {
      AttributeProto* ta = FindAttr(&node, "transB");
      AttributeProto* tA = FindAttr(&node, "transA");
      AttributeProto* al = FindAttr(&node, "alpha");
      AttributeProto* be = FindAttr(&node, "beta");
      if ((tA && tA->i()) || (al && al->f() != 1.0f) || (be && be->f() != 1.0f)) continue;
      Tensor w = ReadInit(g, node.input(1), f);
      std::string wn = UniqueName(*g, node.name() + "_wt");
      AddInit(g, wn, (ta && ta->i()) ? SwapLastAxes(w) : w);
      std::string mid = UniqueName(*g, node.name() + "_mm");
      NodeProto mm = MakeNode("MatMul", UniqueName(*g, node.name() + "_matmul"), {node.input(0), wn}, {mid});
      NodeProto add = MakeNode("Add", UniqueName(*g, node.name() + "_bias"), {mid, node.input(2)}, {node.output(0)});
      g->mutable_node(i)->CopyFrom(mm);
      InsertNode(g, i + 1, add);
      ++i;
    } else if (node.op_type() == "Conv" && node.input_size() == 3) {
      Tensor b = ReadInit(g, node.input(2), f);
      std::string bn = UniqueName(*g, node.name() + "_bias4d");
      AddInit(g, bn, b.Reshaped({1, b.numel(), 1, 1}));
      std::string mid = UniqueName(*g, node.name() + "_nobias");
      NodeProto add = MakeNode("Add", UniqueName(*g, node.name() + "_addbias"), {mid, bn}, {node.output(0)});
      NodeProto* c = g->mutable_node(i);
      c->mutable_input()->RemoveLast();
      c->set_output(0, mid);
      InsertNode(g, i + 1, add);
      ++i;
    }
  }
  // 3. An Identity after the first node.
  if (g->node_size() > 0) {
    std::string from = g->node(0).output(0);
    std::string out = UniqueName(*g, from + "_id");
    Rewire(g, from, out);
    InsertNode(g, 1, MakeNode("Identity", UniqueName(*g, "identity"), {from}, {out}));
  }
  // 4. Rename every node and every intermediate tensor (graph inputs/outputs keep theirs).
  std::set<std::string> keep;
  for (const auto& i : g->input()) keep.insert(i.name());
  for (const auto& o : g->output()) keep.insert(o.name());
  std::map<std::string, std::string> rename;
  int k = 0;
  for (auto& node : *g->mutable_node()) {
    node.set_name(fmt::format("n{}_{}", k++, node.op_type()));
    for (auto& o : *node.mutable_output()) {
      if (!keep.count(o) && !o.empty()) rename[o] = fmt::format("t{}", rename.size());
    }
  }
  for (auto& t : *g->mutable_initializer()) {
    if (!keep.count(t.name())) rename[t.name()] = fmt::format("p{}", rename.size());
  }
  for (auto& node : *g->mutable_node()) {
    for (auto& s : *node.mutable_input()) if (rename.count(s)) s = rename[s];
    for (auto& s : *node.mutable_output()) if (rename.count(s)) s = rename[s];
  }
  for (auto& t : *g->mutable_initializer()) if (rename.count(t.name())) t.set_name(rename[t.name()]);
  g->clear_value_info();
  return {"", "renamed everything, BN folded, Conv bias and Gemm split, Identity inserted"};
}

}  // namespace

std::vector<std::string> FaultNames() {
  return {"input.mean",        "input.std",         "input.bgr",          "input.bgr_consts",
          "input.scale255",    "param.transpose",   "param.transpose_fc", "param.fp16",
          "param.int8",        "param.bias_drop",   "param.bias_scale",   "param.permute_out",
          "param.bn_mean",     "hyper.bn_epsilon",  "hyper.pads",         "hyper.strides",
          "hyper.dilations",   "hyper.count_include_pad", "hyper.softmax_axis", "hyper.transB",
          "hyper.leaky_alpha", "hyper.pool_kernel", "graph.insert_relu",  "graph.insert_mul",
          "graph.remove_node", "graph.replace_op",  "control.identical",  "control.restructure"};
}

std::string FaultKind(const std::string& name) {
  std::string prefix = name.substr(0, name.find('.'));
  if (prefix == "input") return "input";
  if (prefix == "param") return "parameter";
  if (prefix == "hyper") return "hyperparameter";
  if (prefix == "graph") return "graph";
  return "";
}

Model InjectFault(const Model& source, const FaultSpec& fault, FaultLog* log) {
  const auto names = FaultNames();
  if (std::find(names.begin(), names.end(), fault.name) == names.end()) {
    Fail(ErrorKind::kUsage, "unknown fault '{}'; known: {}", fault.name, fmt::join(names, ", "));
  }
  onnx::ModelProto proto = source.proto();
  GraphProto* g = proto.mutable_graph();
  Applied a;
  std::string prefix = fault.name.substr(0, fault.name.find('.'));
  if (prefix == "input") a = ApplyInput(g, fault);
  else if (prefix == "param") a = ApplyParam(g, fault);
  else if (prefix == "hyper") a = ApplyHyper(g, fault);
  else if (prefix == "graph") a = ApplyGraph(g, fault);
  else if (fault.name == "control.restructure") a = ApplyRestructure(g, fault);
  else a = {"", "identical copy"};
  // Shapes may have changed: let shape inference start over.
  g->clear_value_info();
  Model out = Model::FromProto(std::move(proto), source.base_dir(), "model with fault " + fault.name);
  if (log) *log = {fault.name, FaultKind(fault.name), a.node, a.what};
  return out;
}

// ---- the suite's source net ----

namespace {

struct NetBuilder {
  GraphProto* g;
  std::mt19937_64 rng;

  void Init(const std::string& name, const Shape& shape, std::function<float()> gen) {
    std::vector<float> v(static_cast<size_t>(NumElements(shape)));
    for (auto& x : v) x = gen();
    AddInit(g, name, FloatTensor(shape, v));
  }
  void He(const std::string& name, const Shape& shape, int64_t fan_in) {
    std::normal_distribution<float> d(0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)));
    Init(name, shape, [&] { return d(rng); });
  }
  void Uniform(const std::string& name, const Shape& shape, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    Init(name, shape, [&] { return d(rng); });
  }
  NodeProto* Node(const std::string& op, const std::string& name, std::vector<std::string> in,
                  std::vector<std::string> out) {
    NodeProto* n = g->add_node();
    n->CopyFrom(MakeNode(op, name, std::move(in), std::move(out)));
    return n;
  }
  static void Ints(NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    AttributeProto* a = SetAttr(n, name, AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void Int(NodeProto* n, const std::string& name, int64_t v) { SetAttr(n, name, AttributeProto::INT)->set_i(v); }
  static void Float(NodeProto* n, const std::string& name, float v) {
    SetAttr(n, name, AttributeProto::FLOAT)->set_f(v);
  }
  NodeProto* Conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout, int64_t k,
                  int64_t pad, const std::string& out) {
    He(name + ".weight", {cout, cin, k, k}, cin * k * k);
    Uniform(name + ".bias", {cout}, -0.1f, 0.1f);
    NodeProto* n = Node("Conv", name, {in, name + ".weight", name + ".bias"}, {out});
    Ints(n, "kernel_shape", {k, k});
    Ints(n, "pads", {pad, pad, pad, pad});
    Ints(n, "strides", {1, 1});
    Ints(n, "dilations", {1, 1});
    return n;
  }
};

}  // namespace

Model BuildFaultSuiteSourceNet(int64_t hw, uint64_t seed) {
  if (hw < 8 || hw % 4 != 0) Fail(ErrorKind::kUsage, "fault-suite net: hw must be a multiple of 4 and >= 8 (got {})", hw);
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.set_producer_name("concord-fault-suite");
  auto* op = proto.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  GraphProto* g = proto.mutable_graph();
  g->set_name("fault_suite_net");
  NetBuilder b{g, std::mt19937_64(seed)};
  auto* in = g->add_input();
  in->set_name("image");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(TensorProto::FLOAT);
  for (int64_t d : {int64_t{1}, int64_t{3}, hw, hw}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  AddInit(g, "mean", FloatTensor({1, 3, 1, 1}, {0.485f, 0.456f, 0.406f}));
  AddInit(g, "std", FloatTensor({1, 3, 1, 1}, {0.229f, 0.224f, 0.225f}));
  b.Node("Sub", "sub_mean", {"image", "mean"}, {"x_centered"});
  b.Node("Div", "div_std", {"x_centered", "std"}, {"x_norm"});
  b.Conv("conv1", "x_norm", 3, 8, 3, 1, "c1");
  b.Uniform("bn1.scale", {8}, 0.5f, 1.5f);
  b.Uniform("bn1.bias", {8}, -0.1f, 0.1f);
  b.Uniform("bn1.mean", {8}, -0.1f, 0.1f);
  b.Uniform("bn1.var", {8}, 0.5f, 1.5f);
  NetBuilder::Float(b.Node("BatchNormalization", "bn1", {"c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"},
                           {"b1"}), "epsilon", 1e-5f);
  b.Node("Relu", "relu1", {"b1"}, {"r1"});
  NodeProto* mp = b.Node("MaxPool", "pool1", {"r1"}, {"p1"});
  NetBuilder::Ints(mp, "kernel_shape", {2, 2});
  NetBuilder::Ints(mp, "strides", {2, 2});
  b.Conv("conv2", "p1", 8, 8, 3, 1, "c2");
  NetBuilder::Float(b.Node("LeakyRelu", "leaky2", {"c2"}, {"l2"}), "alpha", 0.1f);
  NodeProto* ap = b.Node("AveragePool", "avgpool2", {"l2"}, {"a2"});
  NetBuilder::Ints(ap, "kernel_shape", {3, 3});
  NetBuilder::Ints(ap, "pads", {1, 1, 1, 1});
  NetBuilder::Ints(ap, "strides", {1, 1});
  NetBuilder::Int(ap, "count_include_pad", 0);
  b.Conv("conv3a", "a2", 8, 8, 1, 0, "c3a");
  b.Conv("conv3b", "a2", 8, 8, 3, 1, "c3b");
  NetBuilder::Int(b.Node("Concat", "concat3", {"c3a", "c3b"}, {"cat3"}), "axis", 1);
  b.Node("Relu", "relu3", {"cat3"}, {"r3"});
  b.Node("GlobalAveragePool", "gap", {"r3"}, {"g"});
  NetBuilder::Int(b.Node("Flatten", "flatten", {"g"}, {"flat"}), "axis", 1);
  b.He("fc1.weight", {16, 16}, 16);
  b.Uniform("fc1.bias", {16}, -0.1f, 0.1f);
  NetBuilder::Int(b.Node("Gemm", "fc1", {"flat", "fc1.weight", "fc1.bias"}, {"f1"}), "transB", 1);
  b.Node("Relu", "relu4", {"f1"}, {"r4"});
  b.He("fc2.weight", {10, 16}, 16);
  b.Uniform("fc2.bias", {10}, -0.5f, 0.5f);
  NetBuilder::Int(b.Node("Gemm", "fc2", {"r4", "fc2.weight", "fc2.bias"}, {"logits"}), "transB", 1);
  NetBuilder::Int(b.Node("Softmax", "softmax", {"logits"}, {"probs"}), "axis", 1);
  auto* out = g->add_output();
  out->set_name("probs");
  auto* ot = out->mutable_type()->mutable_tensor_type();
  ot->set_elem_type(TensorProto::FLOAT);
  ot->mutable_shape()->add_dim()->set_dim_value(1);
  ot->mutable_shape()->add_dim()->set_dim_value(10);
  return Model::FromProto(std::move(proto), "", "fault-suite source net");
}

}  // namespace concord::passes
