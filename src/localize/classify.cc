// The kind of the fault at the first divergent node (Classify in analysis.h): input, graph,
// hyperparameter, parameter, quantization or runtime, with the evidence behind it.
#include <algorithm>
#include <set>

#include "ir/json_number.h"
#include "localize/analysis.h"

namespace concord::localize::detail {

namespace {

using nlohmann::json;

const std::set<std::string> kPreprocessOps = {
    "Sub",       "Div",     "Mul",    "Add",   "Cast",     "Transpose",
    "Gather",    "Slice",   "Concat", "Split", "Identity", "Reshape",
    "Unsqueeze", "Squeeze", "Clip",   "Neg",   "Resize",   "ReverseSequence"};

std::set<int> PreprocessZone(const GraphIndex& gi) {
  std::set<int> zone;
  std::set<std::string> reach(gi.inputs.begin(), gi.inputs.end());
  const auto& g = *gi.graph;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    if (!kPreprocessOps.count(n.op_type())) continue;
    auto acts = gi.ActivationInputs(i);
    if (acts.empty()) continue;
    bool ok = true;
    for (const auto& [pos, name] : acts) ok = ok && reach.count(name);
    if (!ok) continue;
    zone.insert(i);
    for (const auto& o : n.output()) reach.insert(o);
  }
  return zone;
}

bool IsQdq(const onnx::NodeProto& n) {
  return n.domain().empty() &&
         (n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear");
}

bool HasQdq(const onnx::GraphProto& g) {
  return std::any_of(g.node().begin(), g.node().end(), IsQdq);
}

// The culprit belongs to quantization the target added: the source has no Q/DQ node, and the
// culprit is one, or reads a DequantizeLinear output.
bool InQuantizedRegion(const Sides& sides, int culprit) {
  if (HasQdq(sides.source.graph())) return false;
  const auto& n = sides.ti.node(culprit);
  if (IsQdq(n)) return true;
  for (const auto& in : n.input()) {
    auto p = sides.ti.producer.find(in);
    if (p != sides.ti.producer.end() && sides.ti.node(p->second).op_type() == "DequantizeLinear") {
      return true;
    }
  }
  return false;
}

// A DequantizeLinear of static inputs computed here (the runs may not tap constants):
// (x - zero_point) * scale, per tensor or along `axis`.
bool DequantizeStatic(const Sides& sides, const onnx::NodeProto& dq, Tensor* out) {
  Tensor x, scale, zp;
  if (dq.input_size() < 2 || !StaticValue(sides.target, sides.tv, dq.input(0), &x) ||
      !StaticValue(sides.target, sides.tv, dq.input(1), &scale)) {
    return false;
  }
  bool has_zp = dq.input_size() > 2 && !dq.input(2).empty() &&
                StaticValue(sides.target, sides.tv, dq.input(2), &zp);
  int64_t axis = IntAttr(dq, "axis", 1);
  if (axis < 0) axis += x.rank();
  int64_t channels = scale.numel(), inner = 1;
  if (channels > 1) {
    if (axis < 0 || axis >= x.rank() || x.dim(static_cast<int>(axis)) != channels) return false;
    for (int d = static_cast<int>(axis) + 1; d < x.rank(); ++d) inner *= x.dim(d);
  }
  std::vector<float> v(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t c = channels > 1 ? (i / inner) % channels : 0;
    double z = has_zp ? zp.GetDouble(c) : 0.0;
    v[static_cast<size_t>(i)] = static_cast<float>((x.GetDouble(i) - z) * scale.GetDouble(c));
  }
  *out = Tensor::FromVector<float>(x.shape(), v);
  return true;
}

// For each target layer that reads dequantized tensors: per input, the max abs error of the
// dequantized tensor against its float value (the QuantizeLinear input for an activation, the
// source layer's input for a weight), worst over the input sets.
json QuantizedLayers(const Sides& sides) {
  json layers = json::array();
  const auto& g = *sides.ti.graph;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& layer = g.node(i);
    if (IsQdq(layer)) continue;
    json ins = json::array();
    double worst = -1;
    for (int k = 0; k < layer.input_size(); ++k) {
      const std::string& d = layer.input(k);
      auto p = sides.ti.producer.find(d);
      if (p == sides.ti.producer.end()) continue;
      const auto& dq = g.node(p->second);
      if (dq.op_type() != "DequantizeLinear") continue;
      json e = {{"position", k}, {"dequantized", d}};
      double err = -1;
      auto q = sides.ti.producer.find(dq.input(0));
      if (q != sides.ti.producer.end() && g.node(q->second).op_type() == "QuantizeLinear") {
        const std::string& x = g.node(q->second).input(0);
        e["role"] = "activation";
        e["float"] = x;
        for (size_t set = 0; set < sides.tv.sets.size(); ++set) {
          const Value* a = sides.tv.Find(set, x);
          const Value* b = sides.tv.Find(set, d);
          if (a && b) err = std::max(err, Measure(*a, *b, Tolerance{0, 0}).max_abs);
        }
      } else {
        e["role"] = "weight";
        int j = FindNode(sides.source.graph(), layer.name());
        Tensor fw, qw;
        if (j >= 0 && k < sides.source.graph().node(j).input_size()) {
          const std::string& sw = sides.source.graph().node(j).input(k);
          e["float"] = sw;
          if (StaticValue(sides.source, sides.sv, sw, &fw) &&
              (StaticValue(sides.target, sides.tv, d, &qw) || DequantizeStatic(sides, dq, &qw))) {
            err = Measure(Value(fw), Value(qw), Tolerance{0, 0}).max_abs;
          }
        }
      }
      e["max_abs_error"] = err < 0 ? json(nullptr) : JsonNumber(err);
      worst = std::max(worst, err);
      ins.push_back(e);
    }
    if (ins.empty()) continue;
    layers.push_back({{"layer", NodeLabel(layer)},
                      {"op_type", layer.op_type()},
                      {"max_abs_error", worst < 0 ? json(nullptr) : JsonNumber(worst)},
                      {"inputs", ins}});
  }
  return layers;
}

}  // namespace

void Classify(const Sides& sides, int culprit, const Counterpart& cp, LocalizeResult* r) {
  const Model& source = sides.source;
  const Model& target = sides.target;
  const SideValues& sv = sides.sv;
  const SideValues& tv = sides.tv;
  const GraphIndex& si = sides.si;
  const GraphIndex& ti = sides.ti;
  const auto& align = sides.align;
  const Tolerance& tol = sides.tol;
  const auto& n = target.graph().node(culprit);
  const auto acts = ti.ActivationInputs(culprit);
  const int m = cp.index;
  const std::string& m_how = cp.how;
  json ev;
  ev["node"] = r->first_divergent;
  ev["op_type"] = n.op_type();
  ev["index"] = culprit;
  {
    json outs = json::array();
    for (const auto& o : n.output()) {
      json j = {{"tensor", o}};
      auto it = align.find(o);
      if (it != align.end()) {
        j["source_tensor"] = it->second.source;
        j["alignment"] = it->second.method;
        j["divergence"] = DivJson(it->second.div);
      } else {
        j["alignment"] = "none";
      }
      outs.push_back(j);
    }
    ev["outputs"] = outs;
    json ins = json::array();
    for (const auto& [pos, name] : acts) {
      json j = {{"position", pos}, {"tensor", name}};
      auto it = align.find(name);
      if (it != align.end()) {
        j["source_tensor"] = it->second.source;
        j["alignment"] = it->second.method;
        j["divergence"] = DivJson(it->second.div);
      }
      ins.push_back(j);
    }
    ev["inputs"] = ins;
  }
  json attr_diffs = json::array(), param_diffs = json::array(), wiring = json::array();
  std::set<int> zone = PreprocessZone(ti);
  if (m >= 0) {
    const auto& sn = source.graph().node(m);
    r->source_node = NodeLabel(sn);
    r->source_index = m;
    ev["source_node"] = r->source_node;
    ev["source_op_type"] = sn.op_type();
    ev["counterpart"] = m_how;
    if (sn.op_type() == n.op_type()) {
      auto ta = Attrs(n, target.Opset(n.domain()));
      auto sa = Attrs(sn, source.Opset(sn.domain()));
      std::set<std::string> names;
      for (auto& [k, v] : ta) names.insert(k);
      for (auto& [k, v] : sa) names.insert(k);
      for (const auto& k : names) {
        std::string a = sa.count(k) ? sa[k] : ImpliedDefault(k, ta.count(k) ? ta[k] : "");
        std::string b = ta.count(k) ? ta[k] : ImpliedDefault(k, a);
        if (a != b)
          attr_diffs.push_back({{"name", k},
                                {"source", a.empty() ? "(absent)" : a},
                                {"target", b.empty() ? "(absent)" : b}});
      }
      int np = std::max(n.input_size(), sn.input_size());
      for (int p = 0; p < np; ++p) {
        std::string tin = p < n.input_size() ? n.input(p) : "";
        std::string sin = p < sn.input_size() ? sn.input(p) : "";
        if (tin.empty() && sin.empty()) continue;
        bool ts = !tin.empty() && ti.IsStatic(tin), ss = !sin.empty() && si.IsStatic(sin);
        if (!ts && !ss) {
          auto it = align.find(tin);
          std::string got = it == align.end() ? "" : it->second.source;
          bool same = !tin.empty() && !sin.empty() && got == sin;
          if (!same && !got.empty() && !sin.empty()) {
            // Different names, same values (duplicated tensors) are the same input.
            Divergence acc;
            for (size_t s = 0; s < sv.sets.size(); ++s) {
              const Value* a = sv.Find(s, got);
              const Value* b = sv.Find(s, sin);
              Divergence d;
              if (a && b) d = Measure(*a, *b, tol);
              Accumulate(&acc, d);
            }
            same = acc.agree;
          }
          if (!same) {
            wiring.push_back({{"position", p},
                              {"target_input", tin.empty() ? "(absent)" : tin},
                              {"aligned_to", got.empty() ? "(nothing)" : got},
                              {"source_input", sin.empty() ? "(absent)" : sin}});
          }
          continue;
        }
        json pd = {{"position", p},
                   {"target", tin.empty() ? "(absent)" : tin},
                   {"source", sin.empty() ? "(absent)" : sin}};
        Tensor tt, st;
        bool have_t = ts && StaticValue(target, tv, tin, &tt);
        bool have_s = ss && StaticValue(source, sv, sin, &st);
        if (!have_t || !have_s) {
          pd["hint"] = tin.empty()   ? "missing in the target"
                       : sin.empty() ? "extra in the target"
                                     : "static on one side only";
          param_diffs.push_back(pd);
          continue;
        }
        if (tt.shape() == st.shape() && tt.dtype() == st.dtype() && tt.BitwiseEqual(st)) continue;
        Divergence d = Measure(st, tt, Tolerance{0, 0});
        pd["source_shape"] = st.shape();
        pd["target_shape"] = tt.shape();
        pd["max_abs"] = JsonNumber(d.max_abs);
        pd["hint"] = ParamHint(st, tt);
        param_diffs.push_back(pd);
      }
    }
  }
  // Graph outputs of N whose values are an earlier source tensor than the source's output.
  json output_diffs = json::array();
  for (const auto& o : n.output()) {
    for (size_t k = 0; k < ti.outputs.size() && k < si.outputs.size(); ++k) {
      auto it = align.find(o);
      if (ti.outputs[k] != o || it == align.end() || it->second.source == si.outputs[k]) continue;
      output_diffs.push_back({{"output_index", k},
                              {"target_output", o},
                              {"aligned_to", it->second.source},
                              {"source_output", si.outputs[k]}});
    }
  }
  ev["output_diffs"] = output_diffs;
  ev["attribute_diffs"] = attr_diffs;
  ev["parameter_diffs"] = param_diffs;
  ev["wiring_diffs"] = wiring;
  std::string reason;
  if (InQuantizedRegion(sides, culprit)) {
    r->kind = "quantization";
    reason =
        "int8 quantize/dequantize pairs the target added (a quantization pass): the "
        "divergence is quantization error; see quantized_layers";
    ev["quantized_layers"] = QuantizedLayers(sides);
  } else if (zone.count(culprit)) {
    r->kind = "input";
    reason = "preprocessing node (fed only by graph inputs through elementwise/layout ops)";
  } else if (m < 0) {
    r->kind = "graph";
    reason = "no source counterpart: a node inserted in the target";
  } else if (source.graph().node(m).op_type() != n.op_type()) {
    r->kind = "graph";
    reason = fmt::format("op type {} in the source, {} in the target: node replaced",
                         source.graph().node(m).op_type(), n.op_type());
  } else if (!wiring.empty()) {
    r->kind = "graph";
    reason =
        "its activation inputs are not the source node's: a node was removed or inserted upstream";
  } else if (!output_diffs.empty()) {
    r->kind = "graph";
    reason =
        "it produces a graph output that the source computes further: trailing node(s) removed";
  } else if (!attr_diffs.empty()) {
    r->kind = "hyperparameter";
    reason = "attribute(s) differ from the source node";
  } else if (!param_diffs.empty()) {
    r->kind = "parameter";
    reason = "weights/biases differ from the source node's";
  } else {
    r->kind = "runtime";
    reason = "nothing differs statically: the target env computes this node differently";
  }
  ev["reason"] = reason;
  ev["in_preprocessing"] = zone.count(culprit) > 0;
  r->evidence = ev;
}

}  // namespace concord::localize::detail
