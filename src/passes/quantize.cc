// quantize_int8: static QDQ quantization of Conv, MatMul and Gemm.
//
// Calibration: the input model runs on ref (taps on) over every PassContext::calibration set;
// each activation input of a target node (Conv X, Gemm A, MatMul A, and B when not constant)
// gets the min/max seen over all sets, widened to include 0. Activations become
// QuantizeLinear -> DequantizeLinear with scale = (max - min) / 255 and the zero point that maps
// 0 exactly (uint8, or int8 with activations=int8); one pair per tensor, used only by the
// target nodes. Constant weights (Conv W, Gemm B, MatMul B) become int8 initializers with
// symmetric scales max|w| / 127 per output channel (Conv axis 0, Gemm B axis 0 with transB else
// 1, MatMul B last axis; per tensor with per_channel=0 or below opset 13) and a
// DequantizeLinear. Biases stay float. The result still runs wherever QDQ runs (ref, ORT).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "backends/ref_backend.h"
#include "passes/pass_util.h"

namespace concord::passes {

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  bool seen = false;
};

void Update(Range* r, const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.GetDouble(i);
    if (!std::isfinite(v)) continue;
    r->lo = std::min(r->lo, v);
    r->hi = std::max(r->hi, v);
    r->seen = true;
  }
}

bool IsTarget(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return false;
  return n.op_type() == "Conv" || n.op_type() == "MatMul" || n.op_type() == "Gemm";
}

// Which inputs of which target nodes are activations and which are constant weights.
struct Use {
  int node;
  int slot;
};
struct WeightUse {
  int node;
  int slot;
  int axis;  // -1: per tensor
};
struct Quantizable {
  std::map<std::string, std::vector<Use>> acts;
  std::vector<WeightUse> weights;
};

Quantizable FindQuantizable(const onnx::GraphProto& g, const GraphIndex& idx,
                            const TypeTable& types, bool per_channel) {
  Quantizable out;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    if (!IsTarget(n) || n.input_size() < 2) continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& v = n.input(k);
      if (types.Elem(v) != DType::kFloat32) continue;
      if (!idx.IsConstant(v)) {
        out.acts[v].push_back({i, k});
        continue;
      }
      if (k == 0 && n.op_type() != "MatMul") continue;  // Conv/Gemm input 0 is data
      int axis = -1;
      int rank = types.Rank(v);
      if (per_channel && k == 1) {
        if (n.op_type() == "Conv") axis = 0;
        if (n.op_type() == "Gemm") axis = IntAttr(n, "transB", 0) ? 0 : 1;
        if (n.op_type() == "MatMul" && rank >= 2) axis = rank - 1;
      }
      out.weights.push_back({i, k, axis});
    }
  }
  return out;
}

// Min/max of every activation over the calibration sets, run on ref with taps.
std::map<std::string, Range> Calibrate(PassRun& run,
                                       const std::map<std::string, std::vector<Use>>& acts) {
  std::map<std::string, Range> ranges;
  auto oracle = PrepareReference(run.input);
  int set_no = 0;
  for (const auto& inputs : run.ctx.calibration) {
    std::map<std::string, Value> taps;
    try {
      oracle->RunWithTaps(inputs, &taps);
    } catch (const Error& e) {
      Fail(e.kind(), "quantize_int8: calibration set {} does not run on ref: {}", set_no, e.what());
    }
    for (const auto& [name, uses] : acts) {
      const Value* v = nullptr;
      if (auto t = taps.find(name); t != taps.end())
        v = &t->second;
      else if (auto in = inputs.find(name); in != inputs.end())
        v = &in->second;
      if (v != nullptr && v->is_tensor()) Update(&ranges[name], v->tensor);
    }
    ++set_no;
  }
  run.changes["calibration_sets"] = set_no;
  return ranges;
}

// State shared by the rewriting steps of one pass run.
struct Rewrite {
  PassRun& run;
  onnx::GraphProto* g;
  Namer namer;
  std::vector<onnx::NodeProto> added;
};

// One activation becomes QuantizeLinear -> DequantizeLinear feeding its target uses.
void QuantizeActivation(Rewrite& rw, const std::string& name, const std::vector<Use>& uses,
                        const Range& r, const std::string& act_type) {
  PassRun& run = rw.run;
  const bool u8 = act_type == "uint8";
  const double qmin = u8 ? 0 : -128, qmax = u8 ? 255 : 127;
  double lo = std::min(0.0, r.lo), hi = std::max(0.0, r.hi);
  double scale = (hi - lo) / (qmax - qmin);
  if (!(scale > 0)) scale = 1.0;
  float fscale = static_cast<float>(scale);
  double zp = std::clamp(std::nearbyint(qmin - lo / static_cast<double>(fscale)), qmin, qmax);
  std::string s_name = rw.namer.Fresh(name + "_scale");
  std::string z_name = rw.namer.Fresh(name + "_zero_point");
  std::string q_name = rw.namer.Fresh(name + "_quantized");
  std::string dq_name = rw.namer.Fresh(name + "_dequantized");
  AddInitializer(rw.g, Tensor::Scalar<float>(fscale), s_name);
  if (u8)
    AddInitializer(rw.g, Tensor::Scalar<uint8_t>(static_cast<uint8_t>(zp)), z_name);
  else
    AddInitializer(rw.g, Tensor::Scalar<int8_t>(static_cast<int8_t>(zp)), z_name);
  std::string qn = rw.namer.Fresh(name + "_QuantizeLinear");
  std::string dqn = rw.namer.Fresh(name + "_DequantizeLinear");
  rw.added.push_back(MakeNode("QuantizeLinear", qn, {name, s_name, z_name}, {q_name}));
  rw.added.push_back(MakeNode("DequantizeLinear", dqn, {q_name, s_name, z_name}, {dq_name}));
  std::vector<std::string> served;
  for (const auto& u : uses) {
    rw.g->mutable_node(u.node)->set_input(u.slot, dq_name);
    served.push_back(rw.g->node(u.node).name());
  }
  run.Origin(qn, served);
  run.Origin(dqn, served);
  run.tensor_origin[q_name] = name;
  run.tensor_origin[dq_name] = name;
  run.Count("activations_quantized");
  run.Detail(fmt::format("{}: range [{:.4g}, {:.4g}] -> {} scale {:.4g} zero point {}", name, r.lo,
                         r.hi, act_type, fscale, zp));
}

// Symmetric int8 of a float tensor: scales max|w| / 127 per slice along `axis` (one scale for
// axis -1); fills `scales` and returns the quantized tensor.
Tensor QuantizeSymmetric(const Tensor& t, int axis, std::vector<float>* scales) {
  int64_t channels = 1, inner = t.numel(), outer = 1;
  if (axis >= 0) {
    channels = t.dim(axis);
    inner = 1;
    for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
    outer = channels == 0 ? 0 : t.numel() / (channels * inner);
  }
  scales->assign(static_cast<size_t>(channels), 0.0f);
  const float* x = t.data<float>();
  auto at = [&](int64_t o, int64_t c, int64_t j) { return (o * channels + c) * inner + j; };
  auto scale = [&](int64_t c) -> float& { return (*scales)[static_cast<size_t>(c)]; };
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t j = 0; j < inner; ++j) {
        float a = std::fabs(x[at(o, c, j)]);
        if (std::isfinite(a)) scale(c) = std::max(scale(c), a);
      }
    }
  }
  for (auto& s : *scales) s = s > 0 ? s / 127.0f : 1.0f;
  Tensor q(DType::kInt8, t.shape());
  int8_t* qp = q.data<int8_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t j = 0; j < inner; ++j) {
        float v = x[at(o, c, j)] / scale(c);
        qp[at(o, c, j)] = static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
      }
    }
  }
  return q;
}

// One constant weight becomes an int8 initializer + DequantizeLinear; returns the DQ output.
std::string QuantizeWeight(Rewrite& rw, const GraphIndex& idx, const WeightUse& w) {
  PassRun& run = rw.run;
  const std::string name = rw.g->node(w.node).input(w.slot);
  Tensor t = ReadInitializer(rw.g->initializer(idx.initializer.at(name)), run.input.base_dir());
  std::vector<float> scales;
  Tensor q = QuantizeSymmetric(t, w.axis, &scales);
  const int64_t channels = static_cast<int64_t>(scales.size());
  std::string q_name = rw.namer.Fresh(name + "_quantized");
  std::string s_name = rw.namer.Fresh(name + "_scale");
  std::string z_name = rw.namer.Fresh(name + "_zero_point");
  std::string dq_name = rw.namer.Fresh(name + "_dequantized");
  AddInitializer(rw.g, q, q_name);
  if (w.axis >= 0) {
    AddInitializer(rw.g, Tensor::FromVector<float>({channels}, scales), s_name);
    AddInitializer(rw.g, Tensor(DType::kInt8, {channels}), z_name);
  } else {
    AddInitializer(rw.g, Tensor::Scalar<float>(scales[0]), s_name);
    AddInitializer(rw.g, Tensor::Scalar<int8_t>(0), z_name);
  }
  std::string dqn = rw.namer.Fresh(name + "_DequantizeLinear");
  onnx::NodeProto dq = MakeNode("DequantizeLinear", dqn, {q_name, s_name, z_name}, {dq_name});
  if (w.axis >= 0) SetIntAttr(&dq, "axis", w.axis);
  rw.added.push_back(std::move(dq));
  run.Origin(dqn, {rw.g->node(w.node).name()});
  run.tensor_origin[q_name] = name;
  run.tensor_origin[dq_name] = name;
  run.Count("weights_quantized");
  run.Detail(fmt::format("{}: int8 symmetric, {}", name,
                         w.axis >= 0 ? fmt::format("{} scales along axis {}", channels, w.axis)
                                     : std::string("one scale")));
  return dq_name;
}

// Origins of weight DQ nodes shared by several nodes: every node using them.
void SetSharedOrigins(Rewrite& rw) {
  for (const auto& n : rw.added) {
    if (n.op_type() != "DequantizeLinear") continue;
    std::vector<std::string> users;
    for (const auto& m : rw.g->node()) {
      for (const auto& in : m.input()) {
        if (in == n.output(0)) users.push_back(m.name());
      }
    }
    if (!users.empty()) rw.run.Origin(n.name(), users);
  }
}

// The activation type, and whether weights get per-channel scales (opset 13+).
bool CheckSettings(PassRun& run, const std::string& act_type) {
  if (act_type != "uint8" && act_type != "int8") {
    Fail(ErrorKind::kUsage, "quantize_int8: activations must be uint8 or int8 (got '{}')",
         act_type);
  }
  bool per_channel = run.IntOpt("per_channel") != 0;
  const int64_t opset = run.input.Opset("");
  if (opset < 10) {
    Fail(
        ErrorKind::kUnsupported,
        "quantize_int8: the model is opset {}; QuantizeLinear needs opset 10 (13 for per-channel): "
        "run the 'opset=13' pass first",
        opset);
  }
  if (per_channel && opset < 13) {
    per_channel = false;
    run.Detail(fmt::format("opset {} < 13: weight scales per tensor (per-axis needs 13)", opset));
  }
  if (run.ctx.calibration.empty()) {
    Fail(ErrorKind::kUsage,
         "quantize_int8 needs calibration input sets (concord convert --calibration PATH...)");
  }
  return per_channel;
}

}  // namespace

void RunQuantizeInt8Pass(PassRun& run) {
  const std::string act_type = run.Opt("activations");
  const bool per_channel = CheckSettings(run, act_type);
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  const TypeTable types(run.input.graph());
  Quantizable found = FindQuantizable(*g, idx, types, per_channel);
  if (found.acts.empty() && found.weights.empty()) {
    run.Detail("no float32 Conv/MatMul/Gemm inputs to quantize");
    return;
  }
  std::map<std::string, Range> ranges = Calibrate(run, found.acts);
  Rewrite rw{run, g, Namer(*g), {}};
  for (const auto& [name, uses] : found.acts) {
    const Range& r = ranges[name];
    if (!r.seen) {
      run.Detail(fmt::format("{}: no finite calibration values; kept float", name));
      continue;
    }
    QuantizeActivation(rw, name, uses, r, act_type);
  }
  std::map<std::pair<std::string, int>, std::string> done;  // (weight, axis) -> dequantized name
  for (const auto& w : found.weights) {
    auto key = std::make_pair(g->node(w.node).input(w.slot), w.axis);
    auto it = done.find(key);
    std::string dq = it != done.end() ? it->second : QuantizeWeight(rw, idx, w);
    g->mutable_node(w.node)->set_input(w.slot, dq);
    done[key] = dq;
  }
  SetSharedOrigins(rw);
  for (auto& n : rw.added) *g->add_node() = std::move(n);
  TopoSort(g);
  int removed = RemoveUnusedInitializers(g);
  if (removed) run.Count("initializers_removed", removed);
}

}  // namespace concord::passes
