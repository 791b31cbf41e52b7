#include "testing/graph_builder.h"

#include <fmt/format.h>

#include "ir/tensor_io.h"

namespace concord::test {

namespace {

void ValueInfo(onnx::ValueInfoProto* vi, const std::string& name, DType dt, const Shape& shape) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(dt));
  auto* s = tt->mutable_shape();
  for (int64_t d : shape) s->add_dim()->set_dim_value(d);
}

onnx::AttributeProto* Attr(onnx::NodeProto* n, const std::string& name,
                           onnx::AttributeProto::AttributeType type) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

}  // namespace

GraphBuilder::GraphBuilder(const std::string& name, int opset, unsigned seed) : rng_(seed) {
  m_.set_ir_version(8);
  auto* o = m_.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m_.set_producer_name("concord_test");
  m_.mutable_graph()->set_name(name);
}

void GraphBuilder::Input(const std::string& name, DType dt, const Shape& shape) {
  ValueInfo(graph()->add_input(), name, dt, shape);
}

void GraphBuilder::Output(const std::string& name, DType dt, const Shape& shape) {
  ValueInfo(graph()->add_output(), name, dt, shape);
}

void GraphBuilder::Init(const std::string& name, const Tensor& t) {
  TensorToProto(t, name, graph()->add_initializer());
}

onnx::NodeProto* GraphBuilder::Node(const std::string& op, const std::string& name,
                                    const std::vector<std::string>& ins,
                                    const std::vector<std::string>& outs) {
  auto* n = graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

onnx::NodeProto* GraphBuilder::Node(const std::string& op, const std::vector<std::string>& ins,
                                    const std::string& out) {
  std::string y = out.empty() ? FreshName(op) : out;
  return Node(op, "n_" + y, ins, {y});
}

std::string GraphBuilder::FreshName(const std::string& prefix) {
  return fmt::format("{}{}", prefix, count_++);
}

std::string GraphBuilder::Weight(const Shape& shape, float scale) {
  std::string name = FreshName("w");
  auto* t = graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : shape) {
    t->add_dims(d);
    n *= d;
  }
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) t->add_float_data(dist(rng_) * scale);
  return name;
}

std::string GraphBuilder::Const(float v) {
  std::string name = FreshName("c");
  auto* t = graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_float_data(v);
  return name;
}

void GraphBuilder::Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  Attr(n, name, onnx::AttributeProto::INT)->set_i(v);
}

void GraphBuilder::Ints(onnx::NodeProto* n, const std::string& name,
                        const std::vector<int64_t>& v) {
  auto* a = Attr(n, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void GraphBuilder::Float(onnx::NodeProto* n, const std::string& name, float v) {
  Attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v);
}

void GraphBuilder::Floats(onnx::NodeProto* n, const std::string& name,
                          const std::vector<float>& v) {
  auto* a = Attr(n, name, onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}

void GraphBuilder::String(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  Attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
}

Model GraphBuilder::Build() const { return Model::FromProto(m_, ".", m_.graph().name()); }

}  // namespace concord::test
