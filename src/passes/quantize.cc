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

}  // namespace

void RunQuantizeInt8Pass(PassRun& run) {
  const std::string act_type = run.Opt("activations");
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
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  const TypeTable types(run.input.graph());
  Namer namer(*g);

  // Which inputs of which nodes are activations and weights.
  struct Use {
    int node;
    int slot;
  };
  std::map<std::string, std::vector<Use>> acts;
  struct WeightUse {
    int node;
    int slot;
    int axis;  // -1: per tensor
  };
  std::vector<WeightUse> weights;
  for (int i = 0; i < g->node_size(); ++i) {
    const auto& n = g->node(i);
    if (!IsTarget(n) || n.input_size() < 2) continue;
    for (int k = 0; k < 2; ++k) {
      const std::string& v = n.input(k);
      if (types.Elem(v) != DType::kFloat32) continue;
      if (idx.IsConstant(v)) {
        if (k == 0 && n.op_type() != "MatMul") continue;  // Conv/Gemm input 0 is data
        int axis = -1;
        int rank = types.Rank(v);
        if (per_channel && k == 1) {
          if (n.op_type() == "Conv") axis = 0;
          if (n.op_type() == "Gemm") axis = IntAttr(n, "transB", 0) ? 0 : 1;
          if (n.op_type() == "MatMul" && rank >= 2) axis = rank - 1;
        }
        weights.push_back({i, k, axis});
      } else {
        acts[v].push_back({i, k});
      }
    }
  }
  if (acts.empty() && weights.empty()) {
    run.Detail("no float32 Conv/MatMul/Gemm inputs to quantize");
    return;
  }

  // Calibration on ref.
  std::map<std::string, Range> ranges;
  {
    auto oracle = PrepareReference(run.input);
    int set_no = 0;
    for (const auto& inputs : run.ctx.calibration) {
      std::map<std::string, Value> taps;
      try {
        oracle->RunWithTaps(inputs, &taps);
      } catch (const Error& e) {
        Fail(e.kind(), "quantize_int8: calibration set {} does not run on ref: {}", set_no,
             e.what());
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
  }

  std::vector<onnx::NodeProto> added;
  const bool u8 = act_type == "uint8";
  const double qmin = u8 ? 0 : -128, qmax = u8 ? 255 : 127;
  for (const auto& [name, uses] : acts) {
    Range r = ranges[name];
    if (!r.seen) {
      run.Detail(fmt::format("{}: no finite calibration values; kept float", name));
      continue;
    }
    double lo = std::min(0.0, r.lo), hi = std::max(0.0, r.hi);
    double scale = (hi - lo) / (qmax - qmin);
    if (!(scale > 0)) scale = 1.0;
    float fscale = static_cast<float>(scale);
    double zp = std::clamp(std::nearbyint(qmin - lo / static_cast<double>(fscale)), qmin, qmax);
    std::string s_name = namer.Fresh(name + "_scale");
    std::string z_name = namer.Fresh(name + "_zero_point");
    std::string q_name = namer.Fresh(name + "_quantized");
    std::string dq_name = namer.Fresh(name + "_dequantized");
    AddInitializer(g, Tensor::Scalar<float>(fscale), s_name);
    if (u8)
      AddInitializer(g, Tensor::Scalar<uint8_t>(static_cast<uint8_t>(zp)), z_name);
    else
      AddInitializer(g, Tensor::Scalar<int8_t>(static_cast<int8_t>(zp)), z_name);
    std::string qn = namer.Fresh(name + "_QuantizeLinear");
    std::string dqn = namer.Fresh(name + "_DequantizeLinear");
    added.push_back(MakeNode("QuantizeLinear", qn, {name, s_name, z_name}, {q_name}));
    added.push_back(MakeNode("DequantizeLinear", dqn, {q_name, s_name, z_name}, {dq_name}));
    std::vector<std::string> served;
    for (const auto& u : uses) {
      g->mutable_node(u.node)->set_input(u.slot, dq_name);
      served.push_back(g->node(u.node).name());
    }
    run.Origin(qn, served);
    run.Origin(dqn, served);
    run.tensor_origin[q_name] = name;
    run.tensor_origin[dq_name] = name;
    run.Count("activations_quantized");
    run.Detail(fmt::format("{}: range [{:.4g}, {:.4g}] -> {} scale {:.4g} zero point {}", name,
                           r.lo, r.hi, act_type, fscale, zp));
  }

  std::map<std::pair<std::string, int>, std::string> done;  // (weight, axis) -> dequantized name
  for (const auto& w : weights) {
    const std::string name = g->node(w.node).input(w.slot);
    auto key = std::make_pair(name, w.axis);
    if (auto it = done.find(key); it != done.end()) {
      g->mutable_node(w.node)->set_input(w.slot, it->second);
      continue;
    }
    Tensor t = ReadInitializer(g->initializer(idx.initializer.at(name)), run.input.base_dir());
    int64_t channels = 1, inner = t.numel();
    int64_t outer = 1;
    if (w.axis >= 0) {
      channels = t.dim(w.axis);
      inner = 1;
      for (int d = w.axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
      outer = channels == 0 ? 0 : t.numel() / (channels * inner);
    }
    std::vector<float> scales(static_cast<size_t>(channels), 0.0f);
    const float* x = t.data<float>();
    auto at = [&](int64_t o, int64_t c, int64_t j) { return (o * channels + c) * inner + j; };
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t j = 0; j < inner; ++j) {
          float a = std::fabs(x[at(o, c, j)]);
          if (std::isfinite(a))
            scales[static_cast<size_t>(c)] = std::max(scales[static_cast<size_t>(c)], a);
        }
      }
    }
    for (auto& s : scales) s = s > 0 ? s / 127.0f : 1.0f;
    Tensor q(DType::kInt8, t.shape());
    int8_t* qp = q.data<int8_t>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        for (int64_t j = 0; j < inner; ++j) {
          float v = x[at(o, c, j)] / scales[static_cast<size_t>(c)];
          qp[at(o, c, j)] = static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
        }
      }
    }
    std::string q_name = namer.Fresh(name + "_quantized");
    std::string s_name = namer.Fresh(name + "_scale");
    std::string z_name = namer.Fresh(name + "_zero_point");
    std::string dq_name = namer.Fresh(name + "_dequantized");
    AddInitializer(g, q, q_name);
    if (w.axis >= 0) {
      AddInitializer(g, Tensor::FromVector<float>({channels}, scales), s_name);
      AddInitializer(g, Tensor(DType::kInt8, {channels}), z_name);
    } else {
      AddInitializer(g, Tensor::Scalar<float>(scales[0]), s_name);
      AddInitializer(g, Tensor::Scalar<int8_t>(0), z_name);
    }
    std::string dqn = namer.Fresh(name + "_DequantizeLinear");
    onnx::NodeProto dq = MakeNode("DequantizeLinear", dqn, {q_name, s_name, z_name}, {dq_name});
    if (w.axis >= 0) SetIntAttr(&dq, "axis", w.axis);
    added.push_back(std::move(dq));
    g->mutable_node(w.node)->set_input(w.slot, dq_name);
    run.Origin(dqn, {g->node(w.node).name()});
    run.tensor_origin[q_name] = name;
    run.tensor_origin[dq_name] = name;
    done[key] = dq_name;
    run.Count("weights_quantized");
    run.Detail(fmt::format("{}: int8 symmetric, {}", name,
                           w.axis >= 0 ? fmt::format("{} scales along axis {}", channels, w.axis)
                                       : std::string("one scale")));
  }
  // Origins of shared weight DQ nodes: every node using them.
  for (const auto& n : added) {
    if (n.op_type() != "DequantizeLinear") continue;
    std::vector<std::string> users;
    for (const auto& m : g->node()) {
      for (const auto& in : m.input()) {
        if (in == n.output(0)) users.push_back(m.name());
      }
    }
    if (!users.empty()) run.Origin(n.name(), users);
  }
  for (auto& n : added) *g->add_node() = std::move(n);
  TopoSort(g);
  int removed = RemoveUnusedInitializers(g);
  if (removed) run.Count("initializers_removed", removed);
}

}  // namespace concord::passes
