#include "passes/faults/fault_util.h"

#include <fmt/ranges.h>

#include <algorithm>

#include "ir/tensor_io.h"

namespace concord::passes::faults {

void Cannot(const FaultSpec& f, const std::string& why) {
  Fail(ErrorKind::kUsage, "fault '{}' cannot be applied: {}", f.name, why);
}

int NodeIndex(const onnx::GraphProto& g, const std::string& name) {
  for (int i = 0; i < g.node_size(); ++i) {
    if (g.node(i).name() == name) return i;
  }
  return -1;
}

int PickNode(const onnx::GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops) {
  auto wanted = [&](const onnx::NodeProto& n) {
    return std::find(ops.begin(), ops.end(), n.op_type()) != ops.end();
  };
  if (!f.node.empty()) {
    int i = NodeIndex(g, f.node);
    if (i < 0) Cannot(f, fmt::format("no node named '{}'", f.node));
    if (!wanted(g.node(i))) {
      Cannot(f, fmt::format("node '{}' is {}, the fault needs one of {}", f.node,
                            g.node(i).op_type(), ops));
    }
    return i;
  }
  for (int i = 0; i < g.node_size(); ++i) {
    if (wanted(g.node(i))) return i;
  }
  Cannot(f, fmt::format("the model has no {} node", fmt::join(ops, "/")));
}

onnx::TensorProto* FindInit(onnx::GraphProto* g, const std::string& name) {
  for (auto& t : *g->mutable_initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

Tensor ReadInit(onnx::GraphProto* g, const std::string& name, const FaultSpec& f) {
  onnx::TensorProto* t = FindInit(g, name);
  if (t == nullptr) Cannot(f, fmt::format("'{}' is not an initializer", name));
  return TensorFromProto(*t, "", "initializer '" + name + "'");
}

void WriteInit(onnx::GraphProto* g, const std::string& name, const Tensor& value) {
  onnx::TensorProto* t = FindInit(g, name);
  CONCORD_CHECK(t != nullptr, "initializer {} vanished", name);
  t->Clear();
  TensorToProto(value, name, t);
}

void AddInit(onnx::GraphProto* g, const std::string& name, const Tensor& value) {
  TensorToProto(value, name, g->add_initializer());
}

onnx::AttributeProto* SetAttr(onnx::NodeProto* n, const std::string& name,
                              onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) a = n->add_attribute();
  a->Clear();
  a->set_name(name);
  a->set_type(type);
  return a;
}

void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = SetAttr(n, name, onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

std::string AttrOr(const onnx::NodeProto& n, const std::string& name, const std::string& def) {
  const onnx::AttributeProto* a = FindAttr(n, name);
  return a == nullptr ? def + " (default)" : AttrText(*a);
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    v[static_cast<size_t>(i)] = static_cast<float>(t.GetDouble(i));
  }
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

}  // namespace concord::passes::faults
