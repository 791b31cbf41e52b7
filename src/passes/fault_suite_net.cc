#include "passes/fault_suite_net.h"

#include <cmath>
#include <functional>
#include <random>

#include "passes/faults/fault_util.h"

namespace concord::passes {

namespace {

using faults::AddInit;
using faults::FloatTensor;
using faults::SetAttr;

struct NetBuilder {
  onnx::GraphProto* g;
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
  onnx::NodeProto* Node(const std::string& op, const std::string& name, std::vector<std::string> in,
                        std::vector<std::string> out) {
    onnx::NodeProto* n = g->add_node();
    n->CopyFrom(MakeNode(op, name, in, out));
    return n;
  }
  static void Ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    onnx::AttributeProto* a = SetAttr(n, name, onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    SetAttr(n, name, onnx::AttributeProto::INT)->set_i(v);
  }
  static void Float(onnx::NodeProto* n, const std::string& name, float v) {
    SetAttr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
  }
  onnx::NodeProto* Conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout,
                        int64_t k, int64_t pad, const std::string& out) {
    He(name + ".weight", {cout, cin, k, k}, cin * k * k);
    Uniform(name + ".bias", {cout}, -0.1f, 0.1f);
    onnx::NodeProto* n = Node("Conv", name, {in, name + ".weight", name + ".bias"}, {out});
    Ints(n, "kernel_shape", {k, k});
    Ints(n, "pads", {pad, pad, pad, pad});
    Ints(n, "strides", {1, 1});
    Ints(n, "dilations", {1, 1});
    return n;
  }
};

}  // namespace

Model BuildFaultSuiteSourceNet(int64_t hw, uint64_t seed) {
  if (hw < 8 || hw % 4 != 0)
    Fail(ErrorKind::kUsage, "fault-suite net: hw must be a multiple of 4 and >= 8 (got {})", hw);
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.set_producer_name("concord-fault-suite");
  auto* op = proto.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("fault_suite_net");
  NetBuilder b{g, std::mt19937_64(seed)};
  auto* in = g->add_input();
  in->set_name("image");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {int64_t{1}, int64_t{3}, hw, hw})
    tt->mutable_shape()->add_dim()->set_dim_value(d);
  AddInit(g, "mean", FloatTensor({1, 3, 1, 1}, {0.485f, 0.456f, 0.406f}));
  AddInit(g, "std", FloatTensor({1, 3, 1, 1}, {0.229f, 0.224f, 0.225f}));
  b.Node("Sub", "sub_mean", {"image", "mean"}, {"x_centered"});
  b.Node("Div", "div_std", {"x_centered", "std"}, {"x_norm"});
  b.Conv("conv1", "x_norm", 3, 8, 3, 1, "c1");
  b.Uniform("bn1.scale", {8}, 0.5f, 1.5f);
  b.Uniform("bn1.bias", {8}, -0.1f, 0.1f);
  b.Uniform("bn1.mean", {8}, -0.1f, 0.1f);
  b.Uniform("bn1.var", {8}, 0.5f, 1.5f);
  NetBuilder::Float(b.Node("BatchNormalization", "bn1",
                           {"c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"}, {"b1"}),
                    "epsilon", 1e-5f);
  b.Node("Relu", "relu1", {"b1"}, {"r1"});
  onnx::NodeProto* mp = b.Node("MaxPool", "pool1", {"r1"}, {"p1"});
  NetBuilder::Ints(mp, "kernel_shape", {2, 2});
  NetBuilder::Ints(mp, "strides", {2, 2});
  b.Conv("conv2", "p1", 8, 8, 3, 1, "c2");
  NetBuilder::Float(b.Node("LeakyRelu", "leaky2", {"c2"}, {"l2"}), "alpha", 0.1f);
  onnx::NodeProto* ap = b.Node("AveragePool", "avgpool2", {"l2"}, {"a2"});
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
  ot->set_elem_type(onnx::TensorProto::FLOAT);
  ot->mutable_shape()->add_dim()->set_dim_value(1);
  ot->mutable_shape()->add_dim()->set_dim_value(10);
  return Model::FromProto(std::move(proto), "", "fault-suite source net");
}

}  // namespace concord::passes
