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
  Namer namer(*g);
  auto is_f32 = [&](const std::string& v) {
    return !v.empty() && types.Elem(v) == DType::kFloat32;
  };

  // 1. Which nodes compute in float16, and which of their float inputs must stay float32.
  const int n_nodes = g->node_size();
  std::vector<bool> keep32(static_cast<size_t>(n_nodes), false);
  std::vector<std::set<int>> f32_inputs(static_cast<size_t>(n_nodes));
  for (int i = 0; i < n_nodes; ++i) {
    const auto& n = g->node(i);
    bool any_float = false;
    for (const auto& v : n.input()) any_float |= is_f32(v);
    for (const auto& v : n.output()) any_float |= is_f32(v);
    if (!any_float) continue;
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
          f32_inputs[static_cast<size_t>(i)].insert(k);
        }
      }
    }
    // Outputs of unknown type: leave the node alone rather than guess.
    for (const auto& v : n.output()) {
      if (!v.empty() && types.Elem(v) == DType::kUndefined && why.empty())
        why = "output type unknown";
    }
    if (!why.empty()) {
      keep32[static_cast<size_t>(i)] = true;
      run.Count("nodes_kept_fp32");
      run.Detail(fmt::format("{} ({}) stays float32: {}", n.name(), n.op_type(), why));
    }
  }

  // 2. Home dtype of every float32 value.
  std::map<std::string, Home> home;
  for (const auto& in : g->input()) {
    if (is_f32(in.name())) home[in.name()] = Home::kF32;
  }
  for (int i = 0; i < n_nodes; ++i) {
    for (const auto& v : g->node(i).output()) {
      if (is_f32(v)) home[v] = keep32[static_cast<size_t>(i)] ? Home::kF32 : Home::kF16;
    }
  }
  for (const auto& t : g->initializer()) {
    if (!is_f32(t.name()) || home.count(t.name())) continue;  // overridable ones are inputs
    if (idx.graph_outputs.count(t.name())) {
      home[t.name()] = Home::kF32;
      continue;
    }
    bool any16 = false;
    auto it = idx.consumers.find(t.name());
    if (it != idx.consumers.end()) {
      for (int c : it->second) {
        const auto& n = g->node(c);
        for (int k = 0; k < n.input_size(); ++k) {
          if (n.input(k) == t.name() && !keep32[static_cast<size_t>(c)] &&
              !f32_inputs[static_cast<size_t>(c)].count(k)) {
            any16 = true;
          }
        }
      }
    }
    home[t.name()] = any16 ? Home::kF16 : Home::kF32;
  }

  // 3. Physical names: a float16 graph output is computed as V_fp16 and cast to V.
  std::vector<onnx::NodeProto> new_nodes;
  std::map<std::string, std::vector<std::string>> served;       // cast -> nodes it serves
  std::map<std::string, std::string> phys;                      // value -> name of its home version
  std::map<std::pair<std::string, Home>, std::string> cast_of;  // (value, dtype) -> name
  std::map<std::string, std::string> cast_node;                 // cast output -> cast node
  for (const auto& [v, h] : home) phys[v] = v;
  for (int i = 0; i < n_nodes; ++i) {
    auto* n = g->mutable_node(i);
    for (int k = 0; k < n->output_size(); ++k) {
      const std::string v = n->output(k);
      if (!idx.graph_outputs.count(v) || !home.count(v) || home[v] != Home::kF16) continue;
      std::string h = namer.Fresh(v + "_fp16");
      n->set_output(k, h);
      phys[v] = h;
      run.tensor_origin[h] = v;
      std::string cast = namer.Fresh("Cast_" + v + "_to_fp32");
      new_nodes.push_back(MakeCast(cast, h, v, kF32));
      served[cast] = {n->name()};
      cast_of[{v, Home::kF32}] = v;
      cast_node[v] = cast;
      run.Count("casts_inserted");
    }
  }
  auto get = [&](const std::string& v, Home want, const std::string& user) -> std::string {
    if (home[v] == want) return phys[v];
    auto key = std::make_pair(v, want);
    auto it = cast_of.find(key);
    if (it == cast_of.end()) {
      const char* suffix = want == Home::kF16 ? "_fp16" : "_fp32";
      std::string out = namer.Fresh(v + suffix);
      std::string cast = namer.Fresh("Cast_" + v + "_to" + suffix);
      new_nodes.push_back(MakeCast(cast, phys[v], out, want == Home::kF16 ? kF16 : kF32));
      served[cast] = {};
      run.tensor_origin[out] = v;
      run.Count("casts_inserted");
      it = cast_of.emplace(key, out).first;
      cast_node[out] = cast;
    }
    auto& who = served[cast_node.at(it->second)];
    if (std::find(who.begin(), who.end(), user) == who.end()) who.push_back(user);
    return it->second;
  };

  // 4. Rewire inputs and convert attributes of the float16 nodes.
  for (int i = 0; i < n_nodes; ++i) {
    auto* n = g->mutable_node(i);
    const bool k32 = keep32[static_cast<size_t>(i)];
    for (int k = 0; k < n->input_size(); ++k) {
      const std::string v = n->input(k);
      if (!home.count(v)) continue;
      Home want = k32 || f32_inputs[static_cast<size_t>(i)].count(k) ? Home::kF32 : Home::kF16;
      n->set_input(k, get(v, want, n->name()));
    }
    if (k32) continue;
    bool float_out = false;
    for (const auto& v : n->output()) float_out |= home.count(v) && home[v] == Home::kF16;
    for (auto& a : *n->mutable_attribute()) {
      if (n->op_type() == "Cast" && a.name() == "to" && a.i() == kF32) a.set_i(kF16);
      if ((a.name() == "dtype") && a.i() == kF32 && float_out) a.set_i(kF16);
      if (a.has_t() && a.t().data_type() == kF32 && float_out &&
          (n->op_type() == "Constant" || n->op_type() == "ConstantOfShape")) {
        Tensor t = ReadInitializer(a.t(), run.input.base_dir());
        std::string name = a.t().name();
        TensorToProto(t.CastTo(DType::kFloat16), name, a.mutable_t());
      }
      if (n->op_type() == "Constant" && float_out &&
          (a.name() == "value_float" || a.name() == "value_floats")) {
        std::vector<float> vals = a.name() == "value_float"
                                      ? std::vector<float>{a.f()}
                                      : std::vector<float>(a.floats().begin(), a.floats().end());
        Shape shape =
            a.name() == "value_float" ? Shape{} : Shape{static_cast<int64_t>(vals.size())};
        Tensor t = Tensor::FromVector<float>(shape, vals).CastTo(DType::kFloat16);
        a.Clear();
        a.set_name("value");
        a.set_type(onnx::AttributeProto::TENSOR);
        TensorToProto(t, "", a.mutable_t());
      }
    }
    if (float_out && n->op_type() == "ConstantOfShape" && FindAttr(*n, "value") == nullptr) {
      auto* a = n->add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      TensorToProto(Tensor::FromVector<Float16>({1}, {Float16(0.0f)}), "", a->mutable_t());
    }
    if (float_out && (n->op_type() == "RandomNormal" || n->op_type() == "RandomUniform") &&
        FindAttr(*n, "dtype") == nullptr) {
      SetIntAttr(n, "dtype", kF16);
    }
    if (float_out) run.Count("nodes_fp16");
  }

  // 5. Initializers whose home is float16.
  for (auto& t : *g->mutable_initializer()) {
    auto it = home.find(t.name());
    if (it == home.end() || it->second != Home::kF16) continue;
    Tensor x = ReadInitializer(t, run.input.base_dir());
    std::string name = t.name();
    TensorToProto(x.CastTo(DType::kFloat16), name, &t);
    run.Count("initializers_fp16");
  }
  if (!new_nodes.empty()) RequireIntCast(run);
  for (auto& c : new_nodes) *g->add_node() = std::move(c);
  for (const auto& [cast, who] : served) run.Origin(cast, who);
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
