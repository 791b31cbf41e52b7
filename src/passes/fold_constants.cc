// fold_constants: nodes whose inputs are all constants (initializers that no graph input
// overrides, Constant nodes, earlier folded nodes) are evaluated once on the reference
// interpreter (a one-node model each) and replaced by initializers. Shape of a value whose
// shape inference found a static shape becomes a constant too. Kept: random ops, nodes with
// subgraphs, nodes writing a graph output, outputs over max_bytes, and nodes ref cannot run
// (each kept node with a reason in the details).
#include <deque>
#include <set>

#include "backends/ref_backend.h"
#include "ir/tensor_io.h"
#include "passes/pass_util.h"

namespace concord::passes {

namespace {

const std::set<std::string> kRandomOps = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                          "RandomUniformLike", "Multinomial",   "Bernoulli"};

// Shape's optional start/end (opset 15) applied to a rank.
std::pair<int64_t, int64_t> ShapeRange(const onnx::NodeProto& n, int64_t rank) {
  auto clamp = [&](int64_t v) {
    if (v < 0) v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  return {clamp(IntAttr(n, "start", 0)), clamp(IntAttr(n, "end", rank))};
}

}  // namespace

void RunFoldConstantsPass(PassRun& run) {
  const int64_t max_bytes = run.IntOpt("max_bytes");
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  const TypeTable types(run.input.graph());
  std::map<std::string, const onnx::TensorProto*> consts;
  for (const auto& t : g->initializer()) {
    if (idx.IsConstant(t.name())) consts[t.name()] = &t;
  }
  std::deque<onnx::TensorProto> folded_values;  // stable addresses; added to the graph at the end
  std::set<int> folded;
  for (int i = 0; i < g->node_size(); ++i) {
    const onnx::NodeProto& n = g->node(i);
    bool writes_output = false;
    for (const auto& o : n.output()) writes_output |= idx.graph_outputs.count(o) > 0;
    if (writes_output) continue;
    // Shape of a statically shaped value.
    if (n.op_type() == "Shape" && (n.domain().empty() || n.domain() == "ai.onnx")) {
      Shape s;
      if (!consts.count(n.input(0)) && types.Static(n.input(0), &s)) {
        auto [b, e] = ShapeRange(n, static_cast<int64_t>(s.size()));
        std::vector<int64_t> dims(s.begin() + b, s.begin() + std::max(b, e));
        Tensor t = Tensor::FromVector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
        folded_values.emplace_back();
        TensorToProto(t, n.output(0), &folded_values.back());
        consts[n.output(0)] = &folded_values.back();
        folded.insert(i);
        run.Count("shape_folded");
        run.Detail(fmt::format("{} (Shape of static {}) -> constant {}", n.name(), n.input(0),
                               ShapeToString(dims)));
        continue;
      }
    }
    if (kRandomOps.count(n.op_type()) || HasSubgraph(n)) continue;
    bool all_const = true;
    for (const auto& in : n.input()) all_const &= in.empty() || consts.count(in) > 0;
    if (!all_const) continue;
    if (n.input_size() == 0 && n.op_type() != "Constant") continue;  // generators: keep
    // Output types must be known to declare the one-node model's outputs.
    bool typed = true;
    for (const auto& o : n.output()) {
      if (o.empty()) continue;
      Shape s;
      if (types.Elem(o) == DType::kUndefined)
        typed = false;
      else if (types.Static(o, &s) && DTypeSize(types.Elem(o)) > 0 &&
               static_cast<uint64_t>(NumElements(s)) * DTypeSize(types.Elem(o)) >
                   static_cast<uint64_t>(max_bytes)) {
        typed = false;
        run.Detail(fmt::format("{} kept: output {} {} is over {} bytes", n.name(), o,
                               ShapeToString(s), max_bytes));
      }
    }
    if (!typed) continue;
    onnx::ModelProto one;
    one.set_ir_version(run.proto.ir_version());
    *one.mutable_opset_import() = run.proto.opset_import();
    *one.mutable_functions() = run.proto.functions();
    auto* og = one.mutable_graph();
    og->set_name("fold_" + n.name());
    *og->add_node() = n;
    std::set<std::string> added;
    for (const auto& in : n.input()) {
      if (in.empty() || !added.insert(in).second) continue;
      *og->add_initializer() = *consts.at(in);
    }
    for (const auto& o : n.output()) {
      if (o.empty()) continue;
      auto* vi = og->add_output();
      vi->set_name(o);
      *vi->mutable_type() = *types.Type(o);
      if (!vi->type().tensor_type().has_shape())
        vi->mutable_type()->mutable_tensor_type()->mutable_shape();
    }
    std::vector<Value> values;
    try {
      Model m = Model::FromProto(std::move(one), run.input.base_dir(), "fold " + n.name());
      values = RunReference(m, {});
    } catch (const Error& e) {
      run.Detail(
          fmt::format("{} ({}) kept: ref cannot evaluate it: {}", n.name(), n.op_type(), e.what()));
      continue;
    }
    bool ok = true;
    size_t k = 0;
    std::vector<onnx::TensorProto> outs;
    for (const auto& o : n.output()) {
      if (o.empty()) continue;
      const Value& v = values.at(k++);
      if (!v.is_tensor() || v.tensor.nbytes() > static_cast<uint64_t>(max_bytes)) {
        ok = false;
        break;
      }
      outs.emplace_back();
      TensorToProto(v.tensor, o, &outs.back());
    }
    if (!ok) {
      run.Detail(
          fmt::format("{} kept: output is not a tensor or over {} bytes", n.name(), max_bytes));
      continue;
    }
    for (auto& t : outs) {
      folded_values.push_back(std::move(t));
      consts[folded_values.back().name()] = &folded_values.back();
    }
    folded.insert(i);
    run.Count(n.op_type() == "Constant" ? "constants_to_initializers" : "nodes_folded");
    run.Detail(fmt::format("{} ({}) -> initializer{} {}", n.name(), n.op_type(),
                           n.output_size() > 1 ? "s" : "", fmt::join(n.output(), ", ")));
  }
  if (folded.empty()) return;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int i = 0; i < g->node_size(); ++i) {
    if (!folded.count(i)) *kept.Add() = g->node(i);
  }
  g->mutable_node()->Swap(&kept);
  for (auto& t : folded_values) *g->add_initializer() = std::move(t);
  int removed = RemoveUnusedInitializers(g);
  if (removed) run.Count("initializers_removed", removed);
}

}  // namespace concord::passes
