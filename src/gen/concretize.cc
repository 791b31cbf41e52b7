// Concretization of a symbolic graph into an ONNX ModelProto (see concretize.h).
#include "gen/concretize.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "ir/error.h"
#include "ir/tensor_io.h"

namespace concord::gen {
namespace {

int64_t Eval(const z3::model& m, const z3::expr& e, const std::string& what) {
  z3::expr v = m.eval(e, true);
  int64_t out = 0;
  if (!v.is_numeral() || !v.is_numeral_i64(out)) {
    Fail(ErrorKind::kInternal, "generator: z3 gave no integer for {} ({}); a spec lacks a bound",
         what, v.to_string());
  }
  return out;
}

Shape EvalDims(const z3::model& m, const std::vector<z3::expr>& dims, const std::string& what) {
  Shape s;
  for (const auto& d : dims) s.push_back(Eval(m, d, what));
  return s;
}

void SetType(onnx::ValueInfoProto* vi, const std::string& name, DType dt, const Shape& shape) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(dt));
  auto* sh = tt->mutable_shape();
  for (int64_t d : shape) sh->add_dim()->set_dim_value(d);
}

}  // namespace

std::string GenDTypeName(DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kBool:
      return "bool";
    default:
      return DTypeName(dt);
  }
}

Concrete Concretize(const SymGraph& g, const z3::model& m, uint64_t value_seed,
                    const std::string& graph_name) {
  Concrete c;
  onnx::ModelProto& mp = c.proto;
  mp.set_ir_version(8);
  mp.set_producer_name("concord-gen");
  auto* opset = mp.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  onnx::GraphProto* graph = mp.mutable_graph();
  graph->set_name(graph_name);

  Rng rng(value_seed);
  std::vector<std::string> names(g.tensors.size());
  std::vector<Shape> shapes(g.tensors.size());
  int n_in = 0, n_w = 0;
  for (size_t id = 0; id < g.tensors.size(); ++id) {
    const TensorInfo& t = g.tensors[id];
    std::string what = fmt::format("dims of tensor {}", id);
    shapes[id] = EvalDims(m, t.dims, what);
    switch (t.kind) {
      case TensorKind::kNode:
        names[id] = fmt::format("t_{}", id);
        break;
      case TensorKind::kInput: {
        names[id] = fmt::format("in_{}", n_in++);
        SetType(graph->add_input(), names[id], t.dtype, shapes[id]);
        c.inputs.emplace_back(names[id], Value(RandomTensor(t.dtype, shapes[id], rng, t.lo, t.hi)));
        break;
      }
      case TensorKind::kWeight: {
        names[id] = fmt::format("w_{}", n_w++);
        Tensor v = RandomTensor(t.dtype, shapes[id], rng, t.lo, t.hi);
        TensorToProto(v, names[id], graph->add_initializer());
        break;
      }
      case TensorKind::kIntConst: {
        names[id] = fmt::format("w_{}", n_w++);
        std::vector<int64_t> vals;
        for (const auto& e : t.values) vals.push_back(Eval(m, e, names[id]));
        Shape s = {static_cast<int64_t>(vals.size())};
        shapes[id] = s;
        TensorToProto(Tensor::FromVector<int64_t>(s, vals), names[id], graph->add_initializer());
        break;
      }
      case TensorKind::kIndex: {
        names[id] = fmt::format("w_{}", n_w++);
        int64_t bound = Eval(m, t.index_bound.at(0), names[id]);
        Tensor v(DType::kInt64, shapes[id]);
        for (int64_t i = 0; i < v.numel(); ++i) v.data<int64_t>()[i] = RandInt(rng, 0, bound - 1);
        TensorToProto(v, names[id], graph->add_initializer());
        break;
      }
    }
  }
  std::vector<bool> consumed(g.tensors.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const NodeSpec& ns = g.nodes[i];
    onnx::NodeProto* node = graph->add_node();
    node->set_name(fmt::format("n{}_{}", i, ns.op_type));
    node->set_op_type(ns.op_type);
    for (int in : ns.inputs) {
      node->add_input(in < 0 ? std::string() : names[static_cast<size_t>(in)]);
      if (in >= 0) consumed[static_cast<size_t>(in)] = true;
    }
    for (int out : ns.outputs) {
      node->add_output(names[static_cast<size_t>(out)]);
      c.node_outputs.emplace_back(names[static_cast<size_t>(out)],
                                  shapes[static_cast<size_t>(out)]);
    }
    for (const AttrSpec& a : ns.attrs) {
      onnx::AttributeProto* ap = node->add_attribute();
      ap->set_name(a.name);
      switch (a.kind) {
        case AttrSpec::Kind::kInt:
          ap->set_type(onnx::AttributeProto::INT);
          ap->set_i(Eval(m, a.ints.at(0), a.name));
          break;
        case AttrSpec::Kind::kInts:
          ap->set_type(onnx::AttributeProto::INTS);
          for (const auto& e : a.ints) ap->add_ints(Eval(m, e, a.name));
          break;
        case AttrSpec::Kind::kFloat:
          ap->set_type(onnx::AttributeProto::FLOAT);
          ap->set_f(a.f);
          break;
        case AttrSpec::Kind::kString:
          ap->set_type(onnx::AttributeProto::STRING);
          ap->set_s(a.s);
          break;
      }
    }
    c.op_types.push_back(ns.op_type);
  }
  for (const NodeSpec& ns : g.nodes) {
    for (int out : ns.outputs) {
      auto id = static_cast<size_t>(out);
      if (!consumed[id]) SetType(graph->add_output(), names[id], g.tensors[id].dtype, shapes[id]);
    }
  }
  return c;
}

}  // namespace concord::gen
