#include "localize/localize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "ir/graph_edit.h"
#include "ir/json_number.h"
#include "ir/tensor_io.h"
#include "localize/evidence.h"
#include "localize/quantization.h"
#include "passes/pass.h"

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

// The state one Analyze() call shares between its steps.
struct Analysis {
  Analysis(const Model& source, const SideValues& sv, const Model& target, const SideValues& tv,
           const Tolerance& tol)
      : si(source), ti(target), sides{si, sv, ti, tv, align, tol} {}
  ModelIndex si, ti;
  std::map<std::string, Alignment> align;
  Sides sides;
  std::set<std::string> bad_outputs;  // graph outputs that differ from the source's
  std::vector<QuantizedTensor> quant;
  LocalizeResult r;

  const Model& source() const { return *si.model; }
  const Model& target() const { return *ti.model; }
  // Agrees with the source (statics and agreeing aligned tensors).
  // A zero Pad the target put before a Conv (the source folded it into the Conv's pads), and
  // the Pad and Transpose of such a chain, have no source tensor; they are as clean as the
  // Pad's input.
  bool Clean(const std::string& t) const {
    if (t.empty() || ti.IsStatic(t)) return true;
    if (bad_outputs.count(t)) return false;
    auto it = align.find(t);
    if (it != align.end()) return it->second.div.agree;
    PadRead pad;
    return PaddedBeforeConv(ti, sides.tv, t, &pad) && pad.data != t && Clean(pad.data);
  }
  // Known to differ (a differing graph output or a divergent aligned tensor).
  bool Bad(const std::string& t) const {
    if (bad_outputs.count(t)) return true;
    auto it = align.find(t);
    return it != align.end() && !it->second.div.agree;
  }
};

// Graph outputs by position: r.outputs, r.agree and the differing outputs. A graph output that
// differs from the source's output at its position diverges, whatever source tensor its values
// match (a trailing node removed).
void CompareOutputs(Analysis& a) {
  const SideValues& sv = a.sides.sv;
  const SideValues& tv = a.sides.tv;
  a.r.agree = true;
  for (size_t k = 0; k < a.ti.outputs.size(); ++k) {
    Divergence acc;
    for (size_t s = 0; s < tv.outputs.size(); ++s) {
      Divergence d;
      if (k < sv.outputs[s].size() && k < tv.outputs[s].size())
        d = Measure(sv.outputs[s][k], tv.outputs[s][k], a.sides.tol);
      Accumulate(&acc, d);
    }
    if (k >= a.si.outputs.size()) acc = Divergence{};
    a.r.agree = a.r.agree && acc.agree;
    json j = DivJson(acc);
    j["name"] = a.ti.outputs[k];
    j["source_name"] = k < a.si.outputs.size() ? a.si.outputs[k] : "";
    a.r.outputs.push_back(j);
    if (!acc.agree) a.bad_outputs.insert(a.ti.outputs[k]);
  }
}

// One NodeReport per target node, by its first output.
void ReportNodes(Analysis& a) {
  const auto& g = a.target().graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeReport nr;
    nr.index = i;
    nr.node = NodeLabel(n);
    nr.op_type = n.op_type();
    nr.output = n.output_size() ? n.output(0) : "";
    auto it = a.align.find(nr.output);
    if (a.ti.IsStatic(nr.output)) {
      nr.status = "static";
      nr.alignment = "none";
    } else if (it != a.align.end()) {
      nr.source_tensor = it->second.source;
      auto p = a.si.producer.find(it->second.source);
      if (p != a.si.producer.end()) nr.source_node = NodeLabel(a.source().graph().node(p->second));
      nr.alignment = it->second.method;
      nr.div = it->second.div;
      nr.status = nr.div.agree ? "agree" : "diverge";
    } else {
      nr.alignment = "none";
      nr.status = a.r.taps ? "unaligned" : "not tapped";
    }
    a.r.nodes.push_back(nr);
  }
}

// Outputs agree within tolerance, yet a divergent tensor whose differing descendants reach an
// output is a divergence (a saturating Softmax, for one, can hide a large divergence of the
// logits). A tensor carries the divergence on when its relative L2 error is above the noise of
// the mode: float32 reassociation (~1e-7 in restructured graphs) on one env, where a weight
// precision fault stays near 1e-4 while per-element tolerances may pass; across envs, runtimes'
// own rounding (kernels, Winograd) may reach 1e-4, so only 1e-3 counts. On one env any
// tolerance failure carries too, and unaligned tensors always do.
void CheckPersistence(Analysis& a, bool same_env) {
  const auto& g = a.target().graph();
  std::set<std::string> outs(a.ti.outputs.begin(), a.ti.outputs.end());
  std::map<std::string, bool> leads;
  double thr = same_env ? kCarryRelL2 : kCarryRelL2CrossEnv;
  auto carries = [&](const std::string& t) {
    auto it = a.align.find(t);
    if (it == a.align.end()) return true;
    if (same_env && !a.Clean(t)) return true;
    return it->second.div.rel_l2 > thr;
  };
  for (int i = g.node_size() - 1; i >= 0; --i) {
    for (const auto& o : g.node(i).output()) {
      if (o.empty() || a.ti.IsStatic(o)) continue;
      bool l = outs.count(o) > 0;
      auto c = a.ti.consumers.find(o);
      if (!l && c != a.ti.consumers.end()) {
        for (int j : c->second) {
          for (const auto& o2 : g.node(j).output())
            l = l || outs.count(o2) || (carries(o2) && leads[o2]);
        }
      }
      leads[o] = l;
      auto it = a.align.find(o);
      bool start = a.Bad(o) && (same_env || (it != a.align.end() && it->second.div.rel_l2 > thr));
      if (l && start && !outs.count(o)) {
        a.r.agree = false;
        a.r.note = fmt::format(
            "the outputs agree within tolerance, but the divergence at '{}' persists up to them",
            o);
      }
    }
  }
}

// The earliest target node whose activation inputs agree and one of whose outputs diverges or
// reaches a divergence through unaligned tensors; else the first node with a divergent first
// output; -1 when none.
int FindCulprit(const Analysis& a) {
  const auto& g = a.target().graph();
  // reach[t]: t diverges, or is unaligned and leads to a divergence through non-agreeing tensors.
  std::map<std::string, bool> reach;
  for (int i = g.node_size() - 1; i >= 0; --i) {
    for (const auto& o : g.node(i).output()) {
      if (o.empty() || a.ti.IsStatic(o)) continue;
      bool rr = a.Bad(o);
      auto c = a.ti.consumers.find(o);
      if (!rr && !a.Clean(o) && c != a.ti.consumers.end()) {
        for (int j : c->second) {
          for (const auto& o2 : g.node(j).output()) rr = rr || reach[o2];
        }
      }
      reach[o] = rr;
    }
  }
  for (int i = 0; i < g.node_size(); ++i) {
    bool inputs_ok = true;
    for (const auto& [pos, name] : a.ti.ActivationInputs(i)) inputs_ok = inputs_ok && a.Clean(name);
    if (!inputs_ok) continue;
    for (const auto& o : g.node(i).output()) {
      if (!o.empty() && reach[o]) return i;
    }
  }
  for (int i = 0; i < g.node_size(); ++i) {
    if (g.node(i).output_size() && a.Bad(g.node(i).output(0))) return i;
  }
  return -1;
}

// The source counterpart of target node `culprit`: the producer of the source tensor one of its
// outputs is aligned to, else a source node reading the same aligned activation inputs
// (preferring the same op type, else one whose output no target tensor is aligned to: the node
// that was replaced). -1 when none; *how says which rule found it.
int FindCounterpart(const Analysis& a, int culprit, std::string* how) {
  const auto& n = a.target().graph().node(culprit);
  for (const auto& o : n.output()) {
    auto it = a.align.find(o);
    if (it == a.align.end() || it->second.method == "input") continue;
    if (it->second.method == "folded") {
      *how = "output aligned past the source node's affine tail (a BatchNorm folded in)";
      return AffineHead(a.si, it->second.source);
    }
    auto p = a.si.producer.find(it->second.source);
    if (p != a.si.producer.end()) {
      *how = "output aligned by " + it->second.method;
      int head = AffineHead(a.si, it->second.source);
      if (a.source().graph().node(p->second).op_type() != n.op_type() && head >= 0 &&
          a.source().graph().node(head).op_type() == n.op_type()) {
        *how += ", past the source node's affine tail (a BatchNorm folded in)";
        return head;
      }
      return p->second;
    }
  }
  std::vector<std::pair<int, std::string>> mapped;
  for (const auto& [pos, name] : a.ti.ActivationInputs(culprit)) {
    auto it = a.align.find(name);
    if (it == a.align.end()) return -1;
    mapped.emplace_back(pos, it->second.source);
  }
  if (mapped.empty()) return -1;
  auto c = a.si.consumers.find(mapped[0].second);
  if (c == a.si.consumers.end()) return -1;
  std::set<std::string> taken;
  for (const auto& [t, al] : a.align) taken.insert(al.source);
  for (int pass = 0; pass < 2; ++pass) {
    for (int j : c->second) {
      const auto& sn = a.source().graph().node(j);
      if (a.si.ActivationInputs(j) != mapped) continue;
      if (pass == 0 && sn.op_type() != n.op_type()) continue;
      if (pass == 1 && sn.output_size() && taken.count(sn.output(0))) continue;
      *how = pass == 0 ? "same op reading the same aligned inputs"
                       : "source node reading the same inputs";
      return j;
    }
  }
  return -1;
}

// {"tensor", "source_tensor", "alignment", "divergence"} for each output of the culprit and
// each of its activation inputs.
void TensorEvidence(const Analysis& a, int culprit, json* ev) {
  auto entry = [&](json j, const std::string& t, bool none_label) {
    auto it = a.align.find(t);
    if (it != a.align.end()) {
      j["source_tensor"] = it->second.source;
      j["alignment"] = it->second.method;
      j["divergence"] = DivJson(it->second.div);
    } else if (none_label) {
      j["alignment"] = "none";
    }
    return j;
  };
  json outs = json::array(), ins = json::array();
  for (const auto& o : a.target().graph().node(culprit).output())
    outs.push_back(entry({{"tensor", o}}, o, true));
  for (const auto& [pos, name] : a.ti.ActivationInputs(culprit))
    ins.push_back(entry({{"position", pos}, {"tensor", name}}, name, false));
  (*ev)["outputs"] = outs;
  (*ev)["inputs"] = ins;
}

// The fault kind at the culprit from the evidence gathered in ev (see localize.h), with the
// reason in words.
std::string Classify(const Analysis& a, int culprit, int m, bool in_preprocessing, const json& ev,
                     std::string* reason) {
  const auto& n = a.target().graph().node(culprit);
  if (!a.quant.empty() && IsQuantizationNode(a.target(), a.quant, culprit)) {
    *reason = fmt::format(
        "int8 quantization: {} quantized tensor(s) (QuantizeLinear->DequantizeLinear "
        "on an edge, or a dequantized integer weight); see the per-layer "
        "quantization error",
        a.quant.size());
    return "quantization";
  }
  if (in_preprocessing) {
    *reason = "preprocessing node (fed only by graph inputs through elementwise/layout ops)";
    return "input";
  }
  if (m < 0) {
    *reason = "no source counterpart: a node inserted in the target";
    return "graph";
  }
  const std::string& sop = a.source().graph().node(m).op_type();
  if (sop != n.op_type()) {
    *reason =
        fmt::format("op type {} in the source, {} in the target: node replaced", sop, n.op_type());
    return "graph";
  }
  if (!ev["wiring_diffs"].empty()) {
    *reason =
        "its activation inputs are not the source node's: a node was removed or inserted upstream";
    return "graph";
  }
  if (!ev["output_diffs"].empty()) {
    *reason =
        "it produces a graph output that the source computes further: trailing node(s) removed";
    return "graph";
  }
  if (!ev["attribute_diffs"].empty()) {
    *reason = "attribute(s) differ from the source node";
    return "hyperparameter";
  }
  if (!ev["parameter_diffs"].empty()) {
    *reason = "weights/biases differ from the source node's";
    return "parameter";
  }
  *reason = "nothing differs statically: the target env computes this node differently";
  return "runtime";
}

// FetaFix's six fault types (localize.h says how kinds map to them).
std::string FaultType(const std::string& kind, bool shape_mismatch) {
  if (shape_mismatch) return "tensor shape & structure";
  if (kind == "input") return "preprocessing";
  if (kind == "parameter" || kind == "quantization") return "weights & biases";
  if (kind == "hyperparameter") return "layer hyperparameters";
  if (kind == "graph") return "computational graph";
  return "";
}

// Names the culprit and its counterpart in r, and gathers the evidence and the kind.
void Explain(Analysis& a, int culprit) {
  LocalizeResult& r = a.r;
  const auto& n = a.target().graph().node(culprit);
  r.first_divergent = NodeLabel(n);
  r.first_index = culprit;
  std::string how;
  int m = FindCounterpart(a, culprit, &how);
  json ev;
  ev["node"] = r.first_divergent;
  ev["op_type"] = n.op_type();
  ev["index"] = culprit;
  TensorEvidence(a, culprit, &ev);
  passes::NameMap names = passes::ReadNameMap(a.target().proto());
  auto from = names.nodes.find(n.name());
  if (!n.name().empty() && from != names.nodes.end()) ev["mapped_from"] = from->second;
  json attr_diffs = json::array();
  InputDiffs inputs;
  if (m >= 0) {
    const auto& sn = a.source().graph().node(m);
    r.source_node = NodeLabel(sn);
    r.source_index = m;
    ev["source_node"] = r.source_node;
    ev["source_op_type"] = sn.op_type();
    ev["counterpart"] = how;
    if (sn.op_type() == n.op_type()) {
      attr_diffs = AttributeDiffs(a.sides, sn, n);
      inputs = CompareInputs(a.sides, sn, n);
    }
  }
  ev["output_diffs"] = OutputDiffs(a.sides, n);
  ev["attribute_diffs"] = attr_diffs;
  ev["parameter_diffs"] = inputs.parameters;
  ev["wiring_diffs"] = inputs.wiring;
  bool in_preprocessing = PreprocessZone(a.ti).count(culprit) > 0;
  std::string reason;
  r.kind = Classify(a, culprit, m, in_preprocessing, ev, &reason);
  if (r.kind == "quantization") ev["quantization"] = r.quantization;
  bool shape_mismatch = std::any_of(r.nodes.begin(), r.nodes.end(), [&](const NodeReport& nr) {
    return nr.index == culprit && nr.div.shape_mismatch;
  });
  r.fault_type = FaultType(r.kind, shape_mismatch);
  r.target_layer = LayerOf(a.target().graph(), culprit);
  if (m >= 0) r.source_layer = LayerOf(a.source().graph(), m);
  ev["reason"] = reason;
  ev["in_preprocessing"] = in_preprocessing;
  r.evidence = ev;
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

namespace {

// Whether `target`'s name map lists the nhwc pass: then its 4-D float inputs are NHWC even where
// the shape alone cannot tell (C == H == W).
bool ConvertedToNhwc(const Model& target) {
  for (const auto& p : target.proto().metadata_props()) {
    if (p.key() != passes::kNameMapKey) continue;
    json j = json::parse(p.value(), nullptr, false);
    if (!j.is_object() || !j.contains("passes") || !j["passes"].is_array()) return false;
    for (const auto& spec : j["passes"]) {
      if (spec.is_string() && spec.get<std::string>().rfind("nhwc", 0) == 0) return true;
    }
  }
  return false;
}

bool DimsMatch(const Shape& a, const Shape& b) {
  if (a.size() != b.size()) return false;
  for (size_t d = 0; d < a.size(); ++d) {
    if (a[d] >= 0 && b[d] >= 0 && a[d] != b[d]) return false;
  }
  return true;
}

// Whether target input t reads source input s in NHWC where the source reads NCHW;
// Error(kInput) when the two differ otherwise.
bool InputIsNhwc(size_t k, const ValueInfo& s, const ValueInfo& t, bool nhwc_pass) {
  if (s.dtype != t.dtype) {
    Fail(ErrorKind::kInput, "input {} differs: source '{}' is {}, target '{}' is {}", k, s.name,
         TypeToString(s.type), t.name, TypeToString(t.type));
  }
  if (!s.has_shape || !t.has_shape) return false;
  const Shape& d = s.shape;
  bool same = DimsMatch(d, t.shape);
  bool nhwc = d.size() == 4 && IsFloating(s.dtype) && DimsMatch({d[0], d[2], d[3], d[1]}, t.shape);
  if (nhwc && (nhwc_pass || !same)) return true;
  if (!same) {
    Fail(ErrorKind::kInput,
         "input {} has different shapes: source '{}' {}, target '{}' {}; both models must take "
         "the same input tensors (or the target the NHWC layout of a 4-D NCHW input)",
         k, s.name, TypeToString(s.type), t.name, TypeToString(t.type));
  }
  return false;
}

}  // namespace

std::vector<ValueMap> MapInputs(const Model& source, const Model& target,
                                const std::vector<ValueMap>& source_sets) {
  auto si = source.Inputs();
  auto ti = target.Inputs();
  if (si.size() != ti.size()) {
    Fail(ErrorKind::kInput,
         "the models take different inputs: source {} has {} ({}), target {} has {}", source.path(),
         si.size(), si.empty() ? "" : si[0].name, target.path(), ti.size());
  }
  const bool nhwc_pass = ConvertedToNhwc(target);
  std::vector<bool> nhwc;
  for (size_t k = 0; k < si.size(); ++k) nhwc.push_back(InputIsNhwc(k, si[k], ti[k], nhwc_pass));
  std::vector<ValueMap> out;
  for (const auto& set : source_sets) {
    ValueMap m;
    for (size_t k = 0; k < si.size(); ++k) {
      auto it = set.find(si[k].name);
      if (it == set.end())
        Fail(ErrorKind::kInput, "input set lacks the source input '{}'", si[k].name);
      bool permute = nhwc[k] && it->second.is_tensor() && it->second.tensor.rank() == 4;
      m[ti[k].name] = permute ? Value(PermuteLayout(it->second.tensor, false)) : it->second;
    }
    out.push_back(std::move(m));
  }
  return out;
}

LocalizeResult Analyze(const Model& source, const SideValues& sv, const Model& target,
                       const SideValues& tv, const Tolerance& tol,
                       std::map<std::string, Alignment>* align_out, bool same_env) {
  Analysis a(source, sv, target, tv, tol);
  LocalizeResult& r = a.r;
  r.taps = sv.has_taps && tv.has_taps;
  r.localized = r.taps;
  r.input_sets = tv.sets.size();
  a.align = AlignTensors(a.si, sv, a.ti, tv, tol);
  if (align_out) *align_out = a.align;
  CompareOutputs(a);
  ReportNodes(a);
  a.quant = FindQuantizedTensors(target);
  if (!a.quant.empty()) {
    MeasureQuantization(source, target, tv, &a.quant);
    r.quantization = QuantizationJson(a.quant);
  }
  if (r.agree && r.taps) CheckPersistence(a, same_env);
  if (r.agree) return r;
  if (!r.taps) {
    r.note =
        "an env cannot return intermediate tensors: compared the graph outputs only, no node "
        "localized";
    return r;
  }
  int culprit = FindCulprit(a);
  if (culprit < 0) {
    r.note = "the outputs diverge but no node could be singled out";
    return r;
  }
  Explain(a, culprit);
  return r;
}

std::optional<InputDimensions> FindInputDimensionsFault(const Model& source, const Model& target) {
  auto si = source.Inputs();
  auto ti = target.Inputs();
  for (size_t k = 0; k < si.size() && k < ti.size(); ++k) {
    const ValueInfo& s = si[k];
    const ValueInfo& t = ti[k];
    if (s.dtype != t.dtype || !s.has_shape || !t.has_shape) continue;
    const Shape& d = s.shape;
    if (DimsMatch(d, t.shape)) continue;
    if (d.size() == 4 && DimsMatch({d[0], d[2], d[3], d[1]}, t.shape)) continue;  // NHWC
    return InputDimensions{k, s.name, t.name, s.shape, t.shape};
  }
  return std::nullopt;
}

namespace {

// The first node of `m` reading graph input `name` (-1: none).
int FirstConsumer(const Model& m, const std::string& name) {
  GraphIndex index(m.graph());
  auto it = index.consumers.find(name);
  return it == index.consumers.end() ? -1 : it->second.front();
}

// FetaFix's "input dimensions" fault as a verdict: nothing runs (the target cannot take the
// source's inputs); the first node reading the input is named on both sides.
LocalizeResult InputDimensionsVerdict(const Model& source, const Model& target,
                                      const InputDimensions& f) {
  LocalizeResult r;
  r.kind = "input";
  r.fault_type = "input dimensions";
  int ti = FirstConsumer(target, f.target_input);
  int si = FirstConsumer(source, f.source_input);
  std::string reason = fmt::format(
      "graph input {} '{}' takes {}; the source's '{}' takes {}: the target cannot run on the "
      "source's inputs",
      f.index, f.target_input, fmt::join(f.target_shape, "x"), f.source_input,
      fmt::join(f.source_shape, "x"));
  json ev = {{"reason", reason},
             {"input",
              {{"index", f.index},
               {"target", f.target_input},
               {"source", f.source_input},
               {"target_shape", f.target_shape},
               {"source_shape", f.source_shape}}},
             {"attribute_diffs", json::array()},
             {"parameter_diffs", json::array()},
             {"wiring_diffs", json::array()},
             {"output_diffs", json::array()},
             {"inputs", json::array()},
             {"outputs", json::array()},
             {"in_preprocessing", true}};
  if (ti >= 0) {
    const auto& n = target.graph().node(ti);
    r.first_divergent = NodeLabel(n);
    r.first_index = ti;
    r.target_layer = LayerOf(target.graph(), ti);
    ev["node"] = r.first_divergent;
    ev["op_type"] = n.op_type();
    ev["index"] = ti;
  }
  if (si >= 0) {
    const auto& n = source.graph().node(si);
    r.source_node = NodeLabel(n);
    r.source_index = si;
    r.source_layer = LayerOf(source.graph(), si);
    ev["source_node"] = r.source_node;
    ev["source_op_type"] = n.op_type();
    ev["counterpart"] = "the first node reading the same graph input";
  }
  r.evidence = ev;
  r.localized = true;
  r.note = reason;
  return r;
}

}  // namespace

LocalizeResult Localize(const Model& source, const Model& target,
                        const std::vector<ValueMap>& source_sets, const LocalizeOptions& options,
                        LocalizeSides* sides) {
  if (source_sets.empty()) Fail(ErrorKind::kUsage, "localize needs at least one input set");
  if (auto f = FindInputDimensionsFault(source, target)) {
    return InputDimensionsVerdict(source, target, *f);
  }
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
  if (sides != nullptr) *sides = {std::move(sv), std::move(tv)};
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
  j["fault_type"] = fault_type.empty() ? json(nullptr) : json(fault_type);
  auto layer = [](const LayerName& l) {
    return l.name.empty() ? json(nullptr) : json{{"name", l.name}, {"scheme", l.scheme}};
  };
  j["target_layer"] = layer(target_layer);
  j["source_layer"] = layer(source_layer);
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
