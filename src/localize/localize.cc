#include "localize/localize.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "ir/graph_edit.h"
#include "ir/half.h"
#include "ir/json_number.h"
#include "ir/tensor_io.h"
#include "localize/quantization.h"

namespace concord::localize {

namespace {

using nlohmann::json;

std::string NodeLabel(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  return n.output_size() > 0 ? n.output(0) : n.op_type();
}

json DivJson(const Divergence& d) {
  json j = {{"agree", d.agree},
            {"max_abs", JsonNumber(d.max_abs)},
            {"max_rel", JsonNumber(d.max_rel)},
            {"cosine", JsonNumber(d.cosine)},
            {"mismatch_fraction", d.mismatch_fraction},
            {"rel_l2", JsonNumber(d.rel_l2)}};
  if (d.shape_mismatch) j["shape_mismatch"] = true;
  if (d.dtype_mismatch) j["dtype_mismatch"] = true;
  if (!d.layout.empty()) j["layout"] = d.layout;
  if (!d.message.empty()) j["message"] = d.message;
  return j;
}

std::map<std::string, std::string> Attrs(const onnx::NodeProto& n, int64_t opset) {
  std::map<std::string, std::string> r;
  for (const auto& a : n.attribute()) r[a.name()] = AttrText(a);
  const onnx::OpSchema* schema =
      onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset), n.domain());
  if (schema) {
    for (const auto& [name, attr] : schema->attributes()) {
      if (!r.count(name) && attr.default_value.type() != onnx::AttributeProto::UNDEFINED) {
        r[name] = AttrText(attr.default_value);
      }
    }
  }
  return r;
}

// pads/strides/dilations have computed defaults (zeros/ones of the spatial rank).
std::string ImpliedDefault(const std::string& name, const std::string& other) {
  size_t commas = static_cast<size_t>(std::count(other.begin(), other.end(), ','));
  if (other.empty() || other[0] != '[') return "";
  std::vector<int64_t> v(commas + 1, name == "pads" ? 0 : 1);
  if (name == "pads" || name == "strides" || name == "dilations") return fmt::format("{}", v);
  return "";
}

bool InitTensor(const Model& m, const std::string& name, Tensor* out) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) {
      *out = TensorFromProto(t, m.base_dir(), "initializer '" + name + "'");
      return true;
    }
  }
  return false;
}

bool StaticValue(const Model& m, const SideValues& v, const std::string& name, Tensor* out) {
  if (InitTensor(m, name, out)) return true;
  const Value* val = v.Find(0, name);
  if (val && val->is_tensor()) {
    *out = val->tensor;
    return true;
  }
  return false;
}

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

// What a parameter difference looks like (for the evidence and for repair).
std::string ParamHint(const Tensor& s, const Tensor& t) {
  if (s.shape() != t.shape()) {
    if (s.numel() == t.numel()) return "same values count, different shape (layout)";
    return "different shape";
  }
  std::vector<double> a = Doubles(s), b = Doubles(t);
  size_t n = a.size();
  bool fp16 = true, scaled = true;
  double k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<double>(static_cast<float>(Float16(static_cast<float>(a[i])))) != b[i])
      fp16 = false;
    if (a[i] != 0 && k == 0) k = b[i] / a[i];
    if (std::fabs(b[i] - k * a[i]) > 1e-6 * std::fabs(b[i]) + 1e-12) scaled = false;
  }
  if (fp16) return "float16 round trip of the source values";
  if (scaled && k != 0) return fmt::format("source values scaled by {:.4g}", k);
  if (s.rank() >= 2) {
    int r = s.rank();
    int64_t x = s.dim(r - 2), y = s.dim(r - 1);
    if (x == y) {
      bool tr = true;
      int64_t outer = s.numel() / (x * y);
      for (int64_t o = 0; o < outer && tr; ++o) {
        for (int64_t i = 0; i < x && tr; ++i) {
          for (int64_t j = 0; j < y && tr; ++j) {
            tr = a[static_cast<size_t>(o * x * y + i * y + j)] ==
                 b[static_cast<size_t>(o * x * y + j * x + i)];
          }
        }
      }
      if (tr) return "transposed in the last two axes";
    }
  }
  std::vector<double> sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  if (sa == sb) return "same values, permuted (layout / channel order)";
  // Quantization: every value on the grid max|t| / 127 (symmetric int8 round trip).
  double mx = 0;
  for (double x : b) mx = std::max(mx, std::fabs(x));
  bool grid = mx > 0;
  for (size_t i = 0; i < n && grid; ++i) {
    double q = b[i] / (mx / 127);
    grid = std::fabs(q - std::round(q)) < 1e-3;
  }
  if (grid) return "int8 round trip (values on a 255-level grid)";
  return "values differ";
}

constexpr double kCarryRelL2 = 1e-5;
constexpr double kCarryRelL2CrossEnv = 1e-3;

const std::set<std::string> kPreprocessOps = {
    "Sub",       "Div",     "Mul",    "Add",   "Cast",     "Transpose",
    "Gather",    "Slice",   "Concat", "Split", "Identity", "Reshape",
    "Unsqueeze", "Squeeze", "Clip",   "Neg",   "Resize",   "ReverseSequence"};

std::set<int> PreprocessZone(const ModelIndex& gi) {
  std::set<int> zone;
  std::set<std::string> reach(gi.inputs.begin(), gi.inputs.end());
  const auto& g = gi.model->graph();
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

}  // namespace

SideValues RunSide(const Model& model, const EnvSpec& env, const std::vector<ValueMap>& sets,
                   bool want_taps, double* run_ms, std::string* effective_env) {
  SideValues side;
  auto session = PrepareSession(model, env);
  if (effective_env) *effective_env = session->effective_env();
  side.has_taps = want_taps && session->supports_taps();
  auto outs = model.Outputs();
  double total = 0;
  for (const auto& inputs : sets) {
    ValueMap taps;
    RunTiming timing;
    std::vector<Value> o = side.has_taps ? session->RunWithTaps(inputs, &taps, &timing)
                                         : session->Run(inputs, &timing);
    total += timing.run_ms;
    for (const auto& [k, v] : inputs) taps[k] = v;
    for (size_t i = 0; i < o.size() && i < outs.size(); ++i) taps[outs[i].name] = o[i];
    side.sets.push_back(std::move(taps));
    side.outputs.push_back(std::move(o));
  }
  if (run_ms) *run_ms = total;
  return side;
}

std::vector<ValueMap> MapInputs(const Model& source, const Model& target,
                                const std::vector<ValueMap>& source_sets) {
  auto si = source.Inputs();
  auto ti = target.Inputs();
  if (si.size() != ti.size()) {
    Fail(ErrorKind::kInput,
         "the models take different inputs: source {} has {} ({}), target {} has {}", source.path(),
         si.size(), si.empty() ? "" : si[0].name, target.path(), ti.size());
  }
  for (size_t k = 0; k < si.size(); ++k) {
    if (si[k].dtype != ti[k].dtype) {
      Fail(ErrorKind::kInput, "input {} differs: source '{}' is {}, target '{}' is {}", k,
           si[k].name, TypeToString(si[k].type), ti[k].name, TypeToString(ti[k].type));
    }
    if (si[k].has_shape && ti[k].has_shape) {
      bool same = si[k].shape.size() == ti[k].shape.size();
      for (size_t d = 0; same && d < si[k].shape.size(); ++d) {
        same = si[k].shape[d] < 0 || ti[k].shape[d] < 0 || si[k].shape[d] == ti[k].shape[d];
      }
      if (!same) {
        Fail(ErrorKind::kInput,
             "input {} has different shapes: source '{}' {}, target '{}' {}; both models must take "
             "the same "
             "input tensors",
             k, si[k].name, TypeToString(si[k].type), ti[k].name, TypeToString(ti[k].type));
      }
    }
  }
  std::vector<ValueMap> out;
  for (const auto& set : source_sets) {
    ValueMap m;
    for (size_t k = 0; k < si.size(); ++k) {
      auto it = set.find(si[k].name);
      if (it == set.end())
        Fail(ErrorKind::kInput, "input set lacks the source input '{}'", si[k].name);
      m[ti[k].name] = it->second;
    }
    out.push_back(std::move(m));
  }
  return out;
}

LocalizeResult Analyze(const Model& source, const SideValues& sv, const Model& target,
                       const SideValues& tv, const Tolerance& tol,
                       std::map<std::string, Alignment>* align_out, bool same_env) {
  LocalizeResult r;
  ModelIndex si(source), ti(target);
  r.taps = sv.has_taps && tv.has_taps;
  r.localized = r.taps;
  r.input_sets = tv.sets.size();
  auto align = AlignTensors(si, sv, ti, tv, tol);
  if (align_out) *align_out = align;

  // Graph outputs by position.
  r.agree = true;
  for (size_t k = 0; k < ti.outputs.size(); ++k) {
    Divergence acc;
    for (size_t s = 0; s < tv.outputs.size(); ++s) {
      Divergence d;
      if (k < sv.outputs[s].size() && k < tv.outputs[s].size())
        d = Measure(sv.outputs[s][k], tv.outputs[s][k], tol);
      Accumulate(&acc, d);
    }
    if (k >= si.outputs.size()) acc = Divergence{};
    r.agree = r.agree && acc.agree;
    json j = DivJson(acc);
    j["name"] = ti.outputs[k];
    j["source_name"] = k < si.outputs.size() ? si.outputs[k] : "";
    r.outputs.push_back(j);
  }

  // A graph output that differs from the source's output at its position diverges, whatever
  // source tensor its values match (a trailing node removed).
  std::set<std::string> bad_outputs;
  for (size_t k = 0; k < ti.outputs.size(); ++k) {
    if (!r.outputs[k]["agree"].get<bool>()) bad_outputs.insert(ti.outputs[k]);
  }
  auto clean = [&](const std::string& t) {
    if (t.empty() || ti.IsStatic(t)) return true;
    if (bad_outputs.count(t)) return false;
    auto it = align.find(t);
    return it != align.end() && it->second.div.agree;
  };
  auto bad = [&](const std::string& t) {
    if (bad_outputs.count(t)) return true;
    auto it = align.find(t);
    return it != align.end() && !it->second.div.agree;
  };

  const auto& g = target.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeReport nr;
    nr.index = i;
    nr.node = NodeLabel(n);
    nr.op_type = n.op_type();
    nr.output = n.output_size() ? n.output(0) : "";
    auto it = align.find(nr.output);
    if (ti.IsStatic(nr.output)) {
      nr.status = "static";
      nr.alignment = "none";
    } else if (it != align.end()) {
      nr.source_tensor = it->second.source;
      auto p = si.producer.find(it->second.source);
      if (p != si.producer.end()) nr.source_node = NodeLabel(source.graph().node(p->second));
      nr.alignment = it->second.method;
      nr.div = it->second.div;
      nr.status = nr.div.agree ? "agree" : "diverge";
    } else {
      nr.alignment = "none";
      nr.status = r.taps ? "unaligned" : "not tapped";
    }
    r.nodes.push_back(nr);
  }
  std::vector<QuantizedTensor> quant = FindQuantizedTensors(target);
  if (!quant.empty()) {
    MeasureQuantization(source, target, tv, &quant);
    r.quantization = QuantizationJson(quant);
  }
  const auto& gg = target.graph();
  if (r.agree && r.taps) {
    // Persistent divergence: a divergent tensor whose differing descendants reach an output
    // (a saturating Softmax, for one, can hide a large divergence of the logits).
    std::set<std::string> outs(ti.outputs.begin(), ti.outputs.end());
    std::map<std::string, bool> leads;
    // A tensor carries the divergence on when its relative L2 error is above the noise of the
    // mode: float32 reassociation (~1e-7 in restructured graphs) on one env, where a weight
    // precision fault stays near 1e-4 while per-element tolerances may pass; across envs,
    // runtimes' own rounding (kernels, Winograd) may reach 1e-4, so only 1e-3 counts. On one
    // env any tolerance failure carries too, and unaligned tensors always do.
    double thr = same_env ? kCarryRelL2 : kCarryRelL2CrossEnv;
    auto carries = [&](const std::string& t) {
      auto it = align.find(t);
      if (it == align.end()) return true;
      if (same_env && !clean(t)) return true;
      return it->second.div.rel_l2 > thr;
    };
    for (int i = gg.node_size() - 1; i >= 0; --i) {
      for (const auto& o : gg.node(i).output()) {
        if (o.empty() || ti.IsStatic(o)) continue;
        bool l = outs.count(o) > 0;
        auto c = ti.consumers.find(o);
        if (!l && c != ti.consumers.end()) {
          for (int j : c->second) {
            for (const auto& o2 : gg.node(j).output())
              l = l || outs.count(o2) || (carries(o2) && leads[o2]);
          }
        }
        leads[o] = l;
        auto it = align.find(o);
        bool start = bad(o) && (same_env || (it != align.end() && it->second.div.rel_l2 > thr));
        if (l && start && !outs.count(o)) {
          r.agree = false;
          r.note = fmt::format(
              "the outputs agree within tolerance, but the divergence at '{}' persists up to "
              "them",
              o);
        }
      }
    }
  }
  if (r.agree) return r;
  if (!r.taps) {
    r.note =
        "an env cannot return intermediate tensors: compared the graph outputs only, no node "
        "localized";
    return r;
  }

  // reach[t]: t diverges, or is unaligned and leads to a divergence through non-agreeing tensors.
  std::map<std::string, bool> reach;
  std::set<std::string> out_set(ti.outputs.begin(), ti.outputs.end());
  for (int i = g.node_size() - 1; i >= 0; --i) {
    for (const auto& o : g.node(i).output()) {
      if (o.empty() || ti.IsStatic(o)) continue;
      bool rr = bad(o);
      if (!rr && !clean(o)) {
        auto c = ti.consumers.find(o);
        if (c != ti.consumers.end()) {
          for (int j : c->second) {
            for (const auto& o2 : g.node(j).output()) rr = rr || reach[o2];
          }
        }
      }
      reach[o] = rr;
    }
  }
  int culprit = -1;
  for (int i = 0; i < g.node_size() && culprit < 0; ++i) {
    const auto& n = g.node(i);
    bool inputs_ok = true;
    for (const auto& [pos, name] : ti.ActivationInputs(i)) inputs_ok = inputs_ok && clean(name);
    if (!inputs_ok) continue;
    for (const auto& o : n.output()) {
      if (!o.empty() && reach[o]) culprit = i;
    }
  }
  if (culprit < 0) {
    for (int i = 0; i < g.node_size() && culprit < 0; ++i) {
      if (g.node(i).output_size() && bad(g.node(i).output(0))) culprit = i;
    }
  }
  if (culprit < 0) {
    r.note = "the outputs diverge but no node could be singled out";
    return r;
  }
  const auto& n = g.node(culprit);
  r.first_divergent = NodeLabel(n);
  r.first_index = culprit;

  // The source counterpart.
  int m = -1;
  std::string m_how;
  for (const auto& o : n.output()) {
    auto it = align.find(o);
    if (m < 0 && it != align.end() && it->second.method != "input") {
      auto p = si.producer.find(it->second.source);
      if (p != si.producer.end()) {
        m = p->second;
        m_how = "output aligned by " + it->second.method;
      }
    }
  }
  auto acts = ti.ActivationInputs(culprit);
  std::vector<std::pair<int, std::string>> mapped;
  bool all_mapped = true;
  for (const auto& [pos, name] : acts) {
    auto it = align.find(name);
    if (it == align.end())
      all_mapped = false;
    else
      mapped.emplace_back(pos, it->second.source);
  }
  if (m < 0 && all_mapped && !mapped.empty()) {
    auto c = si.consumers.find(mapped[0].second);
    if (c != si.consumers.end()) {
      // Same activation inputs; prefer the same op type, else a source node whose output no
      // target tensor is aligned to (the node that was replaced).
      std::set<std::string> taken;
      for (const auto& [t, a] : align) taken.insert(a.source);
      for (int pass = 0; pass < 2 && m < 0; ++pass) {
        for (int j : c->second) {
          const auto& sn = source.graph().node(j);
          if (si.ActivationInputs(j) != mapped) continue;
          if (pass == 0 && sn.op_type() != n.op_type()) continue;
          if (pass == 1 && sn.output_size() && taken.count(sn.output(0))) continue;
          m = j;
          m_how = pass == 0 ? "same op reading the same aligned inputs"
                            : "source node reading the same inputs";
          break;
        }
      }
    }
  }

  json ev;
  ev["node"] = r.first_divergent;
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
    r.source_node = NodeLabel(sn);
    r.source_index = m;
    ev["source_node"] = r.source_node;
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
  if (!quant.empty() && IsQuantizationNode(target, quant, culprit)) {
    r.kind = "quantization";
    reason = fmt::format(
        "int8 quantization: {} quantized tensor(s) (QuantizeLinear->DequantizeLinear "
        "on an edge, or a dequantized integer weight); see the per-layer "
        "quantization error",
        quant.size());
    ev["quantization"] = r.quantization;
  } else if (zone.count(culprit)) {
    r.kind = "input";
    reason = "preprocessing node (fed only by graph inputs through elementwise/layout ops)";
  } else if (m < 0) {
    r.kind = "graph";
    reason = "no source counterpart: a node inserted in the target";
  } else if (source.graph().node(m).op_type() != n.op_type()) {
    r.kind = "graph";
    reason = fmt::format("op type {} in the source, {} in the target: node replaced",
                         source.graph().node(m).op_type(), n.op_type());
  } else if (!wiring.empty()) {
    r.kind = "graph";
    reason =
        "its activation inputs are not the source node's: a node was removed or inserted upstream";
  } else if (!output_diffs.empty()) {
    r.kind = "graph";
    reason =
        "it produces a graph output that the source computes further: trailing node(s) removed";
  } else if (!attr_diffs.empty()) {
    r.kind = "hyperparameter";
    reason = "attribute(s) differ from the source node";
  } else if (!param_diffs.empty()) {
    r.kind = "parameter";
    reason = "weights/biases differ from the source node's";
  } else {
    r.kind = "runtime";
    reason = "nothing differs statically: the target env computes this node differently";
  }
  ev["reason"] = reason;
  ev["in_preprocessing"] = zone.count(culprit) > 0;
  r.evidence = ev;
  return r;
}

LocalizeResult Localize(const Model& source, const Model& target,
                        const std::vector<ValueMap>& source_sets, const LocalizeOptions& options) {
  if (source_sets.empty()) Fail(ErrorKind::kUsage, "localize needs at least one input set");
  std::vector<ValueMap> target_sets = MapInputs(source, target, source_sets);
  double sms = 0, tms = 0;
  std::string se, te;
  SideValues sv = RunSide(source, options.source_env, source_sets, true, &sms, &se);
  SideValues tv = RunSide(target, options.target_env, target_sets, true, &tms, &te);
  LocalizeResult r = Analyze(source, sv, target, tv, options.tol, nullptr,
                             options.source_env.ToString() == options.target_env.ToString());
  r.source_run_ms = sms;
  r.target_run_ms = tms;
  if (!r.taps) {
    r.note = fmt::format("{} cannot return intermediate tensors: compared the graph outputs only{}",
                         sv.has_taps ? te : se, r.agree ? "" : ", no node localized");
  }
  return r;
}

json LocalizeResult::ToJson() const {
  json j;
  j["first_divergent_node"] = first_divergent.empty() ? json(nullptr) : json(first_divergent);
  j["kind"] = kind.empty() ? json(nullptr) : json(kind);
  j["agree"] = agree;
  j["localized"] = localized;
  j["taps"] = taps;
  j["input_sets"] = input_sets;
  if (!source_node.empty()) j["source_node"] = source_node;
  if (!note.empty()) j["note"] = note;
  j["evidence"] = first_divergent.empty() ? json(nullptr) : evidence;
  j["outputs"] = outputs;
  json ns = json::array();
  for (const auto& n : nodes) {
    json e = {{"index", n.index},   {"node", n.node},           {"op_type", n.op_type},
              {"output", n.output}, {"alignment", n.alignment}, {"status", n.status}};
    if (!n.source_tensor.empty()) e["source_tensor"] = n.source_tensor;
    if (!n.source_node.empty()) e["source_node"] = n.source_node;
    if (n.div.compared) {
      e["max_abs"] = JsonNumber(n.div.max_abs);
      e["max_rel"] = JsonNumber(n.div.max_rel);
      e["cosine"] = JsonNumber(n.div.cosine);
      e["mismatch_fraction"] = n.div.mismatch_fraction;
      e["rel_l2"] = JsonNumber(n.div.rel_l2);
      if (!n.div.layout.empty()) e["layout"] = n.div.layout;
      if (n.div.shape_mismatch) e["shape_mismatch"] = true;
    }
    if (n.node == first_divergent) e["first_divergent"] = true;
    ns.push_back(e);
  }
  j["nodes"] = ns;
  if (!quantization.empty()) j["quantization"] = quantization;
  j["timings_ms"] = {{"source_runs", source_run_ms}, {"target_runs", target_run_ms}};
  return j;
}

}  // namespace concord::localize
