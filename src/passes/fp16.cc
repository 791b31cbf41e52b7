// fp16: float16 conversion.
//
// mode=weights: every float32 constant initializer W is stored as float16 (W_fp16) and a Cast
// to float32 recreates W, so every node still computes in float32 on rounded weights.
//
// mode=graph: every float32 value computes in float16, except
//   - graph inputs and outputs, which stay float32 (a Cast after each input and before each
//     output keeps the interface);
//   - nodes whose op schema (at the model's opset) does not allow tensor(float16) for a float
//     output or for a float input tied to an output's type: they stay float32 with Casts around;
//   - single inputs whose formal parameter is float-only (e.g. Resize scales): they get a
//     float32 copy.
// Attributes that fix a float dtype (Cast.to, Constant/ConstantOfShape values, Random*/EyeLike
// dtype) are moved to float16 on converted nodes. Models with subgraphs are kUnsupported here.
// Inserted Casts map to the nodes they serve.
#include <onnx/defs/schema.h>

#include <set>

#include "ir/tensor_io.h"
#include "passes/pass_util.h"

namespace concord::passes {

namespace {

constexpr int32_t kF32 = onnx::TensorProto::FLOAT;
constexpr int32_t kF16 = onnx::TensorProto::FLOAT16;

onnx::NodeProto MakeCast(const std::string& name, const std::string& in, const std::string& out,
                         int32_t to) {
  onnx::NodeProto n = MakeNode("Cast", name, {in}, {out});
  SetIntAttr(&n, "to", to);
  return n;
}

enum class Home { kF32, kF16, kOther };

// Cast's `to` is an int from opset 6 on (a string before).
void RequireIntCast(const PassRun& run) {
  if (run.input.Opset("") < 6) {
    Fail(ErrorKind::kUnsupported,
         "fp16: the model is opset {}; Cast before opset 6 is not supported here: run "
         "the 'opset=13' pass first",
         run.input.Opset(""));
  }
}

void WeightsMode(PassRun& run) {
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  Namer namer(*g);
  std::vector<onnx::NodeProto> casts;
  for (auto& init : *g->mutable_initializer()) {
    if (init.data_type() != kF32 || !idx.IsConstant(init.name())) continue;
    if (idx.NumConsumers(init.name()) == 0) continue;
    RequireIntCast(run);
    const std::string name = init.name();
    Tensor t = ReadInitializer(init, run.input.base_dir());
    std::string half = namer.Fresh(name + "_fp16");
    TensorToProto(t.CastTo(DType::kFloat16), half, &init);
    std::string cast = namer.Fresh("Cast_" + name + "_to_fp32");
    casts.push_back(MakeCast(cast, half, name, kF32));
    std::vector<std::string> served;
    auto it = idx.consumers.find(name);
    if (it != idx.consumers.end()) {
      for (int c : it->second) served.push_back(g->node(c).name());
    }
    run.Origin(cast, served);
    run.tensor_origin[half] = name;
    run.Count("weights_to_fp16");
    run.Count("casts_inserted");
  }
  // Casts first: they only read initializers.
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (auto& c : casts) *nodes.Add() = std::move(c);
  for (const auto& n : g->node()) *nodes.Add() = n;
  g->mutable_node()->Swap(&nodes);
  run.Detail(
      fmt::format("{} float32 initializers stored as float16, each followed by a Cast to float32",
                  casts.size()));
}

bool AllowsF16(const onnx::OpSchema::FormalParameter& p) {
  for (const auto* t : p.GetTypes()) {
    if (*t == "tensor(float16)") return true;
  }
  return false;
}

const onnx::OpSchema::FormalParameter* Param(const std::vector<onnx::OpSchema::FormalParameter>& ps,
                                             int i) {
  if (ps.empty()) return nullptr;
  if (static_cast<size_t>(i) < ps.size()) return &ps[static_cast<size_t>(i)];
  const auto& last = ps.back();
  return last.GetOption() == onnx::OpSchema::Variadic ? &last : nullptr;
}

// Step 1 of fp16=graph: which nodes compute in float16, and which of their float inputs must
// stay float32 (the schema has no float16 for them and they do not share the output's type).
struct NodePlan {
  std::vector<bool> keep32;               // per node: computes in float32
  std::vector<std::set<int>> f32_inputs;  // per node: input slots kept float32
};

// Why node `n` must stay float32 ("" when it can compute in float16); fills `f32_inputs`.
std::string WhyFloat32(const PassRun& run, const onnx::NodeProto& n, const TypeTable& types,
                       std::set<int>* f32_inputs) {
  auto is_f32 = [&](const std::string& v) {
    return !v.empty() && types.Elem(v) == DType::kFloat32;
  };
  const int64_t version = run.input.Opset(n.domain());
  const onnx::OpSchema* schema =
      version < 0
          ? nullptr
          : onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(version), n.domain());
  std::string why;
  if (schema == nullptr) {
    why = "no ONNX schema";
  } else {
    std::set<std::string> out_types;
    for (int k = 0; k < n.output_size(); ++k) {
      const auto* p = Param(schema->outputs(), k);
      if (p == nullptr) continue;
      out_types.insert(p->GetTypeStr());
      if (is_f32(n.output(k)) && !AllowsF16(*p))
        why = fmt::format("output '{}' has no float16", p->GetName());
    }
    for (int k = 0; k < n.input_size() && why.empty(); ++k) {
      const auto* p = Param(schema->inputs(), k);
      if (p == nullptr || !is_f32(n.input(k)) || AllowsF16(*p)) continue;
      if (out_types.count(p->GetTypeStr())) {
        why = fmt::format("input '{}' has no float16", p->GetName());
      } else {
        f32_inputs->insert(k);
      }
    }
  }
  // Outputs of unknown type: leave the node alone rather than guess.
  for (const auto& v : n.output()) {
    if (!v.empty() && types.Elem(v) == DType::kUndefined && why.empty())
      why = "output type unknown";
  }
  return why;
}

NodePlan PlanNodes(PassRun& run, const onnx::GraphProto& g, const TypeTable& types) {
  const size_t n_nodes = static_cast<size_t>(g.node_size());
  NodePlan plan{std::vector<bool>(n_nodes, false), std::vector<std::set<int>>(n_nodes)};
  for (size_t i = 0; i < n_nodes; ++i) {
    const auto& n = g.node(static_cast<int>(i));
    bool any_float = false;
    for (const auto& v : n.input()) any_float |= types.Elem(v) == DType::kFloat32 && !v.empty();
    for (const auto& v : n.output()) any_float |= types.Elem(v) == DType::kFloat32 && !v.empty();
    if (!any_float) continue;
    std::string why = WhyFloat32(run, n, types, &plan.f32_inputs[i]);
    if (!why.empty()) {
      plan.keep32[i] = true;
      run.Count("nodes_kept_fp32");
      run.Detail(fmt::format("{} ({}) stays float32: {}", n.name(), n.op_type(), why));
    }
  }
  return plan;
}

// Step 2: the home dtype of every float32 value (graph inputs float32; node outputs by their
// node; initializers float16 when some float16 use reads them).
std::map<std::string, Home> HomeDtypes(const onnx::GraphProto& g, const GraphIndex& idx,
                                       const TypeTable& types, const NodePlan& plan) {
  auto is_f32 = [&](const std::string& v) {
    return !v.empty() && types.Elem(v) == DType::kFloat32;
  };
  std::map<std::string, Home> home;
  for (const auto& in : g.input()) {
    if (is_f32(in.name())) home[in.name()] = Home::kF32;
  }
  for (int i = 0; i < g.node_size(); ++i) {
    for (const auto& v : g.node(i).output()) {
      if (is_f32(v)) home[v] = plan.keep32[static_cast<size_t>(i)] ? Home::kF32 : Home::kF16;
    }
  }
  for (const auto& t : g.initializer()) {
    if (!is_f32(t.name()) || home.count(t.name())) continue;  // overridable ones are inputs
    if (idx.graph_outputs.count(t.name())) {
      home[t.name()] = Home::kF32;
      continue;
    }
    bool any16 = false;
    auto it = idx.consumers.find(t.name());
    if (it != idx.consumers.end()) {
      for (int c : it->second) {
        const auto& n = g.node(c);
        for (int k = 0; k < n.input_size(); ++k) {
          any16 |= n.input(k) == t.name() && !plan.keep32[static_cast<size_t>(c)] &&
                   !plan.f32_inputs[static_cast<size_t>(c)].count(k);
        }
      }
    }
    home[t.name()] = any16 ? Home::kF16 : Home::kF32;
  }
  return home;
}

// Steps 3–4: the Casts between float32 and float16 homes, made once per (value, dtype).
class Casts {
 public:
  Casts(PassRun& run, onnx::GraphProto* g, std::map<std::string, Home> home)
      : run_(run), g_(g), namer_(*g), home_(std::move(home)) {
    for (const auto& [v, h] : home_) phys_[v] = v;
  }
  const std::map<std::string, Home>& home() const { return home_; }

  // A float16 graph output V is computed as V_fp16 and cast to V.
  void SplitFp16Outputs(const GraphIndex& idx) {
    for (int i = 0; i < g_->node_size(); ++i) {
      auto* n = g_->mutable_node(i);
      for (int k = 0; k < n->output_size(); ++k) {
        const std::string v = n->output(k);
        if (!idx.graph_outputs.count(v) || !home_.count(v) || home_[v] != Home::kF16) continue;
        std::string h = namer_.Fresh(v + "_fp16");
        n->set_output(k, h);
        phys_[v] = h;
        run_.tensor_origin[h] = v;
        std::string cast = namer_.Fresh("Cast_" + v + "_to_fp32");
        new_nodes_.push_back(MakeCast(cast, h, v, kF32));
        served_[cast] = {n->name()};
        cast_of_[{v, Home::kF32}] = v;
        cast_node_[v] = cast;
        run_.Count("casts_inserted");
      }
    }
  }

  // The name holding `v` in dtype `want`, for node `user` (a Cast is added on first need).
  std::string Get(const std::string& v, Home want, const std::string& user) {
    if (home_[v] == want) return phys_[v];
    auto key = std::make_pair(v, want);
    auto it = cast_of_.find(key);
    if (it == cast_of_.end()) {
      const char* suffix = want == Home::kF16 ? "_fp16" : "_fp32";
      std::string out = namer_.Fresh(v + suffix);
      std::string cast = namer_.Fresh("Cast_" + v + "_to" + suffix);
      new_nodes_.push_back(MakeCast(cast, phys_[v], out, want == Home::kF16 ? kF16 : kF32));
      served_[cast] = {};
      run_.tensor_origin[out] = v;
      run_.Count("casts_inserted");
      it = cast_of_.emplace(key, out).first;
      cast_node_[out] = cast;
    }
    auto& who = served_[cast_node_.at(it->second)];
    if (std::find(who.begin(), who.end(), user) == who.end()) who.push_back(user);
    return it->second;
  }

  // Adds the Casts to the graph and records which nodes each serves.
  void Commit() {
    if (!new_nodes_.empty()) RequireIntCast(run_);
    for (auto& c : new_nodes_) *g_->add_node() = std::move(c);
    for (const auto& [cast, who] : served_) run_.Origin(cast, who);
  }

 private:
  PassRun& run_;
  onnx::GraphProto* g_;
  Namer namer_;
  std::map<std::string, Home> home_;
  std::vector<onnx::NodeProto> new_nodes_;
  std::map<std::string, std::vector<std::string>> served_;       // cast -> nodes it serves
  std::map<std::string, std::string> phys_;                      // value -> its home version
  std::map<std::pair<std::string, Home>, std::string> cast_of_;  // (value, dtype) -> name
  std::map<std::string, std::string> cast_node_;                 // cast output -> cast node
};

// Step 4b: the float attributes of a float16 node (Cast to, dtype, Constant values) in float16.
void ConvertAttributes(PassRun& run, onnx::NodeProto* n) {
  for (auto& a : *n->mutable_attribute()) {
    if (n->op_type() == "Cast" && a.name() == "to" && a.i() == kF32) a.set_i(kF16);
    if ((a.name() == "dtype") && a.i() == kF32) a.set_i(kF16);
    if (a.has_t() && a.t().data_type() == kF32 &&
        (n->op_type() == "Constant" || n->op_type() == "ConstantOfShape")) {
      Tensor t = ReadInitializer(a.t(), run.input.base_dir());
      std::string name = a.t().name();
      TensorToProto(t.CastTo(DType::kFloat16), name, a.mutable_t());
    }
    if (n->op_type() == "Constant" && (a.name() == "value_float" || a.name() == "value_floats")) {
      std::vector<float> vals = a.name() == "value_float"
                                    ? std::vector<float>{a.f()}
                                    : std::vector<float>(a.floats().begin(), a.floats().end());
      Shape shape = a.name() == "value_float" ? Shape{} : Shape{static_cast<int64_t>(vals.size())};
      Tensor t = Tensor::FromVector<float>(shape, vals).CastTo(DType::kFloat16);
      a.Clear();
      a.set_name("value");
      a.set_type(onnx::AttributeProto::TENSOR);
      TensorToProto(t, "", a.mutable_t());
    }
  }
  if (n->op_type() == "ConstantOfShape" && FindAttr(*n, "value") == nullptr) {
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    TensorToProto(Tensor::FromVector<Float16>({1}, {Float16(0.0f)}), "", a->mutable_t());
  }
  if ((n->op_type() == "RandomNormal" || n->op_type() == "RandomUniform") &&
      FindAttr(*n, "dtype") == nullptr) {
    SetIntAttr(n, "dtype", kF16);
  }
}

// Step 4: every node's float inputs read the version its plan wants; float16 nodes convert
// their attributes.
void RewireNodes(PassRun& run, onnx::GraphProto* g, const NodePlan& plan, Casts& casts) {
  const auto& home = casts.home();
  for (int i = 0; i < g->node_size(); ++i) {
    auto* n = g->mutable_node(i);
    const bool k32 = plan.keep32[static_cast<size_t>(i)];
    for (int k = 0; k < n->input_size(); ++k) {
      const std::string v = n->input(k);
      if (!home.count(v)) continue;
      bool want32 = k32 || plan.f32_inputs[static_cast<size_t>(i)].count(k);
      n->set_input(k, casts.Get(v, want32 ? Home::kF32 : Home::kF16, n->name()));
    }
    if (k32) continue;
    bool float_out = false;
    for (const auto& v : n->output()) {
      auto h = home.find(v);
      float_out |= h != home.end() && h->second == Home::kF16;
    }
    if (!float_out) continue;
    ConvertAttributes(run, n);
    run.Count("nodes_fp16");
  }
}

void GraphMode(PassRun& run) {
  onnx::GraphProto* g = run.graph();
  for (const auto& n : g->node()) {
    if (HasSubgraph(n)) {
      Fail(ErrorKind::kUnsupported,
           "fp16=graph: node '{}' ({}) has a subgraph; only fp16=weights handles such models",
           n.name(), n.op_type());
    }
  }
  const GraphIndex idx(*g);
  const TypeTable types(run.input.graph());
  const NodePlan plan = PlanNodes(run, *g, types);
  Casts casts(run, g, HomeDtypes(*g, idx, types, plan));
  casts.SplitFp16Outputs(idx);
  RewireNodes(run, g, plan, casts);
  // Step 5: initializers whose home is float16.
  for (auto& t : *g->mutable_initializer()) {
    auto it = casts.home().find(t.name());
    if (it == casts.home().end() || it->second != Home::kF16) continue;
    Tensor x = ReadInitializer(t, run.input.base_dir());
    std::string name = t.name();
    TensorToProto(x.CastTo(DType::kFloat16), name, &t);
    run.Count("initializers_fp16");
  }
  casts.Commit();
  TopoSort(g);
  int removed = RemoveUnusedInitializers(g);
  if (removed) run.Count("initializers_removed", removed);
}

}  // namespace

void RunFp16Pass(PassRun& run) {
  const std::string& mode = run.Opt("mode");
  if (mode == "weights") {
    WeightsMode(run);
  } else if (mode == "graph") {
    GraphMode(run);
  } else {
    Fail(ErrorKind::kUsage, "fp16: mode must be 'weights' or 'graph' (got '{}')", mode);
  }
}

}  // namespace concord::passes
