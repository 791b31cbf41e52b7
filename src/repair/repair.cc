#include "repair/repair.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "backends/outcome.h"
#include "compare/scores.h"
#include "ir/graph_edit.h"
#include "ir/json_number.h"
#include "ir/random.h"
#include "ir/tensor_io.h"
#include "repair/precision.h"

namespace concord::repair {

namespace {

using localize::Alignment;
using localize::LocalizeResult;
using localize::ModelIndex;
using localize::SideValues;
using localize::StaticValue;
using nlohmann::json;

struct Candidate {
  std::string change, before, after;
  onnx::ModelProto proto;
};

// A fresh name from `base` with every character outside [A-Za-z0-9_.] replaced by '_'.
std::string Unique(const onnx::GraphProto& g, std::string base) {
  for (auto& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') c = '_';
  }
  return FreshName(g, base);
}

std::string AttrsText(const onnx::NodeProto& n) {
  std::vector<std::string> parts;
  for (const auto& a : n.attribute()) {
    parts.push_back(a.name() + "=" + AttrText(a));
  }
  return fmt::format("{} {{{}}}", n.op_type(), fmt::join(parts, ", "));
}

struct Context {
  const Model& source;
  const SideValues& sv;
  const ModelIndex& si;
  const Model& target;
  const SideValues& tv;  // the target's tapped values on the search sets
  const std::map<std::string, Alignment>& align;
  const LocalizeResult& lr;
  int ci;  // culprit index in the target
  int mi;  // counterpart index in the source (-1)
};

// The source's static tensor copied into g under a fresh name; to_nhwc: permuted NCHW -> NHWC
// (a constant the nhwc pass permuted along with its NHWC operand).
std::string AddStatic(onnx::GraphProto* g, const Context& c, const std::string& source_name,
                      bool to_nhwc = false) {
  Tensor t;
  if (!StaticValue(c.source, c.sv, source_name, &t)) return "";
  if (to_nhwc) t = localize::PermuteLayout(t, false);
  std::string name = Unique(*g, "restored_" + source_name);
  TensorToProto(t, name, g->add_initializer());
  return name;
}

std::vector<Candidate> AttrCandidates(const Context& c) {
  std::vector<Candidate> r;
  if (c.mi < 0) return r;
  const auto& sn = c.source.graph().node(c.mi);
  const auto& tn = c.target.graph().node(c.ci);
  if (sn.op_type() != tn.op_type() || c.lr.evidence["attribute_diffs"].empty()) return r;
  Candidate k{"copy the source node's attributes", AttrsText(tn), AttrsText(sn), c.target.proto()};
  auto* n = k.proto.mutable_graph()->mutable_node(c.ci);
  n->clear_attribute();
  for (const auto& a : sn.attribute()) n->add_attribute()->CopyFrom(a);
  r.push_back(std::move(k));
  return r;
}

// A parameter difference where the target holds the NHWC layout of the source's 4-D tensor.
bool TargetIsNhwcOfSource(const json& d) {
  if (!d.contains("source_shape") || !d.contains("target_shape")) return false;
  auto s = d["source_shape"].get<std::vector<int64_t>>();
  auto t = d["target_shape"].get<std::vector<int64_t>>();
  return s.size() == 4 && s != t && t == std::vector<int64_t>{s[0], s[2], s[3], s[1]};
}

std::vector<Candidate> ParamCandidates(const Context& c) {
  std::vector<Candidate> r;
  const json& diffs = c.lr.evidence["parameter_diffs"];
  if (c.mi < 0 || diffs.empty()) return r;
  auto apply = [&](onnx::ModelProto* p, const json& d) -> bool {
    auto* g = p->mutable_graph();
    int pos = d["position"].get<int>();
    std::string src = d["source"].get<std::string>();
    auto* n = g->mutable_node(c.ci);
    if (src == "(absent)") {
      if (pos == n->input_size() - 1)
        n->mutable_input()->RemoveLast();
      else
        n->set_input(pos, "");
      return true;
    }
    std::string name = AddStatic(g, c, src, TargetIsNhwcOfSource(d));
    if (name.empty()) return false;
    n = g->mutable_node(c.ci);
    while (n->input_size() <= pos) n->add_input("");
    n->set_input(pos, name);
    return true;
  };
  auto describe = [](const json& d) {
    return fmt::format("input {} '{}' ({})", d["position"].get<int>(),
                       d["target"].get<std::string>(), d.value("hint", std::string("differs")));
  };
  for (const auto& d : diffs) {
    Candidate k{fmt::format("restore parameter input {} from the source", d["position"].get<int>()),
                describe(d),
                fmt::format("source '{}'{}", d["source"].get<std::string>(),
                            TargetIsNhwcOfSource(d) ? " permuted to NHWC" : ""),
                c.target.proto()};
    if (apply(&k.proto, d)) r.push_back(std::move(k));
  }
  if (diffs.size() > 1) {
    Candidate k{"restore every differing parameter from the source", "", "", c.target.proto()};
    bool ok = true;
    std::vector<std::string> b, a;
    for (const auto& d : diffs) {
      ok = ok && apply(&k.proto, d);
      b.push_back(describe(d));
      a.push_back(d["source"].get<std::string>());
    }
    k.before = fmt::format("{}", fmt::join(b, "; "));
    k.after = fmt::format("source {}", fmt::join(a, ", "));
    if (ok) r.push_back(std::move(k));
  }
  return r;
}

// The source's BatchNorm folded into its convolution, for a target that fused the two (TFLite,
// OpenVINO and the TorchScript exporter all do): when the counterpart M is a Conv whose only
// consumer is a BatchNormalization B and the target node is a Conv whose weight has M's shape
// (or its NHWC permutation), the target's weight and bias become W * s and (b - mean) * s + beta
// with s = gamma / sqrt(var + epsilon) per output channel. Verified like every candidate.
// Node `node` of g reads `weight` (input 1) and, when given, `bias` (input 2, added when
// absent) from new initializers named "<prefix><name>" and "<prefix>bias_<name>".
void SetParameters(onnx::GraphProto* g, int node, const std::string& prefix,
                   const std::string& name, const Tensor& weight, const Tensor* bias) {
  std::string wn = Unique(*g, prefix + name);
  TensorToProto(weight, wn, g->add_initializer());
  g->mutable_node(node)->set_input(1, wn);
  if (bias == nullptr) return;
  std::string bn = Unique(*g, prefix + "bias_" + name);
  TensorToProto(*bias, bn, g->add_initializer());
  auto* n = g->mutable_node(node);
  if (n->input_size() > 2) {
    n->set_input(2, bn);
  } else {
    n->add_input(bn);
  }
}

std::vector<Candidate> FoldedParamCandidates(const Context& c) {
  std::vector<Candidate> r;
  if (c.mi < 0) return r;
  const auto& sn = c.source.graph().node(c.mi);
  const auto& tn = c.target.graph().node(c.ci);
  if (sn.op_type() != "Conv" || tn.op_type() != "Conv" || sn.input_size() < 2 ||
      tn.input_size() < 2) {
    return r;
  }
  Tensor w, bias;
  if (!StaticValue(c.source, c.sv, sn.input(1), &w) || w.rank() != 4) return r;
  std::vector<double> scale, shift;
  std::string what;
  if (!SourceAffine(c.source, c.sv, c.si, sn, w.dim(0), &scale, &shift, &what)) return r;
  bool has_bias = sn.input_size() > 2 && !sn.input(2).empty() &&
                  StaticValue(c.source, c.sv, sn.input(2), &bias);
  Tensor folded, folded_b;
  FoldAffine(w, has_bias ? &bias : nullptr, scale, shift, &folded, &folded_b);
  Tensor target_w;
  if (!StaticValue(c.target, c.tv, tn.input(1), &target_w)) return r;
  bool nhwc = target_w.shape() != folded.shape();
  if (nhwc) {
    folded = localize::PermuteLayout(folded, false);
    if (target_w.shape() != folded.shape()) return r;
  }
  Candidate k{"restore the weights with the source's BatchNorm folded in",
              fmt::format("input 1 '{}'{}", tn.input(1),
                          tn.input_size() > 2 ? fmt::format(", input 2 '{}'", tn.input(2)) : ""),
              fmt::format("source '{}' x {}{}", sn.input(1), what, nhwc ? " permuted to NHWC" : ""),
              c.target.proto()};
  SetParameters(k.proto.mutable_graph(), c.ci, "folded_", sn.input(1), folded, &folded_b);
  r.push_back(std::move(k));
  return r;
}

// "2 float16, 1 int8": how many of `items` (RoundedParams or RoundedConstant) each rounding made.
template <typename Items>
std::string CountsByRounding(const Items& items) {
  std::map<std::string, int> kinds;
  for (const auto& p : items) ++kinds[p.rounding];
  std::vector<std::string> counts;
  for (const auto& [k, n] : kinds) counts.push_back(fmt::format("{} {}", n, k));
  return fmt::format("{}", fmt::join(counts, ", "));
}

// The conversion's precision undone (precision.h): every weight the target holds rounded to
// float16 or int8 gets the source's float32 values back, biases with it, in one edit (one layer
// at a time stalls: each restored layer still reads its rounded upstream). Offered when the
// first divergent node's weights are such a rounding.
std::vector<Candidate> PrecisionCandidate(const Context& c) {
  std::vector<Candidate> r;
  std::vector<RoundedParams> rounded = RoundedParameters(c.source, c.sv, c.si, c.target, c.tv);
  // Element-wise constants the conversion rounded to float16 or int8 (BatchNorms kept as Mul +
  // Add, biases): restored in the same edit, or the divergence only moves one layer on.
  std::vector<RoundedConstant> constants = RoundedConstants(c.source, c.sv, c.si, c.target, c.tv);
  // The culprit itself, or a node it reads (a MatMul's rounded weight shows at its bias Add).
  std::set<std::string> read(c.target.graph().node(c.ci).input().begin(),
                             c.target.graph().node(c.ci).input().end());
  auto at_culprit = [&](int node) {
    const auto& n = c.target.graph().node(node);
    return node == c.ci || (n.output_size() > 0 && read.count(n.output(0)));
  };
  bool culprit = std::any_of(rounded.begin(), rounded.end(),
                             [&](const RoundedParams& p) { return at_culprit(p.target_node); }) ||
                 std::any_of(constants.begin(), constants.end(),
                             [&](const RoundedConstant& p) { return at_culprit(p.target_node); });
  if (!culprit) return r;
  std::string before = fmt::format("{} layer(s) with rounded weights ({})", rounded.size(),
                                   CountsByRounding(rounded));
  if (!constants.empty()) {
    before += fmt::format(", {} rounded element-wise constant(s) ({})", constants.size(),
                          CountsByRounding(constants));
  }
  Candidate k{"restore the float32 weights of every layer the conversion rounded", before,
              "the source's weights and biases (BatchNorms folded in where the target fused "
              "them) and constants",
              c.target.proto()};
  auto* g = k.proto.mutable_graph();
  for (const auto& p : rounded) {
    SetParameters(g, p.target_node, "restored_", c.target.graph().node(p.target_node).input(1),
                  p.weight, p.has_bias ? &p.bias : nullptr);
  }
  for (const auto& p : constants) {
    std::string name = Unique(*g, "restored_" + g->node(p.target_node).input(p.input));
    TensorToProto(p.value, name, g->add_initializer());
    g->mutable_node(p.target_node)->set_input(p.input, name);
  }
  r.push_back(std::move(k));
  return r;
}

// Quantize-dequantize round trips the conversion put on activations (or biases) taken out:
// every one in the graph (an int8 graph), else the culprit's own (it is a quantizer, a
// dequantizer, or reads one).
std::vector<Candidate> QdqCandidates(const Context& c) {
  std::vector<Candidate> r;
  const auto& g = c.target.graph();
  const auto& n = g.node(c.ci);
  int q = -1;
  if (n.op_type() == "QuantizeLinear" || n.op_type() == "DynamicQuantizeLinear") q = c.ci;
  GraphIndex index(g);
  auto quantizer_of = [&](const std::string& dq_output) {
    auto d = index.producer.find(dq_output);
    if (d == index.producer.end() || g.node(d->second).op_type() != "DequantizeLinear") return -1;
    auto p = index.producer.find(g.node(d->second).input(0));
    if (p == index.producer.end()) return -1;
    const std::string& op = g.node(p->second).op_type();
    return op == "QuantizeLinear" || op == "DynamicQuantizeLinear" ? p->second : -1;
  };
  if (n.op_type() == "DequantizeLinear" && n.output_size() > 0) q = quantizer_of(n.output(0));
  for (int k = 0; k < n.input_size() && q < 0; ++k) q = quantizer_of(n.input(k));
  if (q < 0) return r;
  const auto& qn = g.node(q);
  Candidate one{"remove the culprit's quantize-dequantize round trip",
                fmt::format("{} '{}'", qn.op_type(), qn.name().empty() ? qn.output(0) : qn.name()),
                "its input read as is", c.target.proto()};
  int removed_one = RemoveQdqPairs(one.proto.mutable_graph(), q);
  Candidate all{"remove every quantize-dequantize round trip", "", "float tensors read as is",
                c.target.proto()};
  int removed_all = RemoveQdqPairs(all.proto.mutable_graph(), -1);
  all.before = fmt::format("{} round trip(s)", removed_all);
  if (removed_all > removed_one) r.push_back(std::move(all));  // a quantized graph: all at once
  if (removed_one > 0) r.push_back(std::move(one));
  return r;
}

// Whether node i's first output is read by a BatchNormalization (as its data input).
bool FeedsBatchNorm(const Model& m, int i) {
  const std::string& out = m.graph().node(i).output(0);
  GraphIndex index(m.graph());
  auto it = index.consumers.find(out);
  if (it == index.consumers.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](int j) {
    const auto& n = m.graph().node(j);
    return n.op_type() == "BatchNormalization" && n.input(0) == out;
  });
}

// The culprit deleted: its consumers read its first activation input.
std::vector<Candidate> DeleteCandidate(const Context& c) {
  std::vector<Candidate> r;
  const auto& tn = c.target.graph().node(c.ci);
  ModelIndex ti(c.target);
  auto acts = ti.ActivationInputs(c.ci);
  if (acts.empty() || tn.output_size() != 1) return r;
  Candidate k{"delete the inserted node (its consumers read its input)",
              AttrsText(tn) + " '" + tn.name() + "'", "(removed)", c.target.proto()};
  auto* g = k.proto.mutable_graph();
  std::string from = tn.output(0), to = acts[0].second;
  bool is_output = false;
  for (const auto& o : g->output()) is_output |= o.name() == from;
  if (is_output) {
    auto* n = g->mutable_node(c.ci);
    n->set_op_type("Identity");
    n->clear_attribute();
    n->clear_input();
    n->add_input(to);
  } else {
    ReplaceUses(g, from, to);
    RemoveNode(g, c.ci);
  }
  r.push_back(std::move(k));
  return r;
}

// The culprit turned back into its source counterpart (op type, attributes, parameters).
std::vector<Candidate> ReplaceCandidate(const Context& c) {
  std::vector<Candidate> r;
  if (c.mi < 0) return r;
  const auto& sn = c.source.graph().node(c.mi);
  const auto& tn = c.target.graph().node(c.ci);
  if (sn.op_type() == tn.op_type() && sn.domain() == tn.domain()) return r;
  Candidate k{"restore the replaced node's op type, attributes and parameters", AttrsText(tn),
              AttrsText(sn), c.target.proto()};
  auto* g = k.proto.mutable_graph();
  ModelIndex ti(c.target);
  auto acts = ti.ActivationInputs(c.ci);
  onnx::NodeProto n = tn;
  n.set_op_type(sn.op_type());
  n.set_domain(sn.domain());
  n.clear_attribute();
  for (const auto& a : sn.attribute()) n.add_attribute()->CopyFrom(a);
  n.clear_input();
  size_t next_act = 0;
  for (const auto& in : sn.input()) {
    if (in.empty()) {
      n.add_input("");
    } else if (c.si.IsStatic(in)) {
      std::string s = AddStatic(g, c, in);
      if (s.empty()) return r;
      n.add_input(s);
    } else {
      if (next_act >= acts.size()) return r;
      n.add_input(acts[next_act++].second);
    }
  }
  g->mutable_node(c.ci)->CopyFrom(n);
  r.push_back(std::move(k));
  return r;
}

// Re-inserts the source nodes between an aligned tensor and the input the source node expects.
std::vector<Candidate> ReinsertCandidates(const Context& c) {
  std::vector<Candidate> r;
  const json& wiring = c.lr.evidence["wiring_diffs"];
  const json& outs = c.lr.evidence.value("output_diffs", json::array());
  if (c.mi < 0 || (wiring.empty() && outs.empty())) return r;
  std::map<std::string, std::string> rev;  // source tensor -> agreeing target tensor
  for (const auto& [t, a] : c.align) {
    if (a.div.agree && !rev.count(a.source)) rev[a.source] = t;
  }
  // Trailing nodes: the culprit's graph output gets an internal name, the source's nodes after
  // it are appended, and the last of them writes the graph output's name.
  for (const auto& od : outs) {
    Candidate k{"append the source's trailing nodes the target lost", "", "", c.target.proto()};
    auto* g = k.proto.mutable_graph();
    std::string out = od["target_output"].get<std::string>(), inner = Unique(*g, out + "_pre");
    for (auto& n : *g->mutable_node()) {
      for (auto& o : *n.mutable_output())
        if (o == out) o = inner;
      for (auto& i : *n.mutable_input())
        if (i == out) i = inner;
    }
    std::map<std::string, std::string> trev = rev;
    trev[od["aligned_to"].get<std::string>()] = inner;
    std::vector<std::string> added;
    std::function<std::string(const std::string&, int)> copy = [&](const std::string& s,
                                                                   int depth) -> std::string {
      auto it = trev.find(s);
      if (it != trev.end()) return it->second;
      if (c.si.IsStatic(s)) return AddStatic(g, c, s);
      auto p = c.si.producer.find(s);
      if (p == c.si.producer.end() || depth > 6) return "";
      onnx::NodeProto n = c.source.graph().node(p->second);
      for (int i = 0; i < n.input_size(); ++i) {
        if (n.input(i).empty()) continue;
        std::string m = copy(n.input(i), depth + 1);
        if (m.empty()) return "";
        n.set_input(i, m);
      }
      std::string result;
      const auto& sp = c.source.graph().node(p->second);
      for (int i = 0; i < n.output_size(); ++i) {
        if (n.output(i).empty()) continue;
        std::string o = Unique(*g, sp.output(i) + "_restored");
        n.set_output(i, o);
        trev[sp.output(i)] = o;
        if (sp.output(i) == s) result = o;
      }
      n.set_name(
          Unique(*g, sp.name().empty() ? sp.op_type() + "_restored" : sp.name() + "_restored"));
      g->add_node()->CopyFrom(n);
      added.push_back(fmt::format("{} '{}'", n.op_type(), n.name()));
      return result;
    };
    std::string got = copy(od["source_output"].get<std::string>(), 0);
    if (got.empty() || added.empty()) continue;
    for (auto& n : *g->mutable_node()) {
      for (auto& o : *n.mutable_output())
        if (o == got) o = out;
    }
    k.before =
        fmt::format("graph output '{}' = source '{}'", out, od["aligned_to"].get<std::string>());
    k.after = fmt::format("appended {}; '{}' = source '{}'", fmt::join(added, ", "), out,
                          od["source_output"].get<std::string>());
    r.push_back(std::move(k));
  }
  for (const auto& w : wiring) {
    std::string sin = w["source_input"].get<std::string>();
    if (sin == "(absent)") continue;
    Candidate k{"re-insert the source nodes the target lost", "", "", c.target.proto()};
    auto* g = k.proto.mutable_graph();
    int insert_at = c.ci;
    std::vector<std::string> added;
    std::function<std::string(const std::string&, int)> copy = [&](const std::string& s,
                                                                   int depth) -> std::string {
      auto it = rev.find(s);
      if (it != rev.end()) return it->second;
      if (c.si.IsStatic(s)) return AddStatic(g, c, s);
      auto p = c.si.producer.find(s);
      if (p == c.si.producer.end() || depth > 6) return "";
      const auto& sp = c.source.graph().node(p->second);
      onnx::NodeProto n = sp;
      n.set_name(
          Unique(*g, sp.name().empty() ? sp.op_type() + "_restored" : sp.name() + "_restored"));
      for (int i = 0; i < n.input_size(); ++i) {
        if (n.input(i).empty()) continue;
        std::string m = copy(sp.input(i), depth + 1);
        if (m.empty()) return "";
        n.set_input(i, m);
      }
      std::string result;
      for (int i = 0; i < n.output_size(); ++i) {
        if (n.output(i).empty()) continue;
        std::string o = Unique(*g, sp.output(i) + "_restored");
        n.set_output(i, o);
        if (sp.output(i) == s) result = o;
        rev[sp.output(i)] = o;
      }
      InsertNode(g, insert_at++, n);
      added.push_back(fmt::format("{} '{}'", sp.op_type(), n.name()));
      return result;
    };
    std::string got = copy(sin, 0);
    if (got.empty() || added.empty()) continue;
    int pos = w["position"].get<int>();
    g->mutable_node(insert_at)->set_input(pos, got);
    k.before = fmt::format("input {} reads '{}'", pos, w["target_input"].get<std::string>());
    k.after = fmt::format("re-inserted {}; input {} reads '{}'", fmt::join(added, ", "), pos, got);
    r.push_back(std::move(k));
  }
  return r;
}

double Progress(const LocalizeResult& lr, const ModelIndex& si) {
  if (lr.agree) return 1e18;
  if (lr.first_divergent.empty()) return -1;
  if (lr.source_index >= 0) return lr.source_index;
  double best = -0.5;
  if (lr.evidence.contains("inputs")) {
    for (const auto& in : lr.evidence["inputs"]) {
      if (!in.contains("source_tensor")) continue;
      auto p = si.producer.find(in["source_tensor"].get<std::string>());
      if (p != si.producer.end()) best = std::max(best, p->second + 0.5);
    }
  }
  return best;
}

// The largest |difference| of the graph outputs (infinite where one is not a number).
double OutputError(const LocalizeResult& lr) {
  double worst = 0;
  for (const auto& o : lr.outputs) {
    if (o["max_abs"].is_number())
      worst = std::max(worst, o["max_abs"].get<double>());
    else
      worst = INFINITY;
  }
  return worst;
}

json Agreement(const LocalizeResult& lr) {
  return {{"agree", lr.agree},
          {"first_divergent_node",
           lr.first_divergent.empty() ? json(nullptr) : json(lr.first_divergent)},
          {"output_max_abs", JsonNumber(OutputError(lr))}};
}

std::vector<ValueMap> RandomSets(const Model& source, const std::vector<ValueMap>& like, int count,
                                 uint64_t seed) {
  std::vector<ValueMap> r;
  for (int s = 0; s < count; ++s) {
    ValueMap m;
    int k = 0;
    for (const auto& [name, v] : like[0]) {
      ++k;
      if (!v.is_tensor()) {
        m[name] = v;
        continue;
      }
      const Tensor& t = v.tensor;
      double lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < t.numel(); ++i) {
        double x = t.GetDouble(i);
        if (std::isfinite(x)) {
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
      }
      if (!(lo < hi)) {
        lo = 0;
        hi = 1;
      }
      std::mt19937_64 rng(seed * 7919u + static_cast<uint64_t>(s) * 131u +
                          static_cast<uint64_t>(k));
      m[name] = RandomTensor(DType::kFloat64, t.shape(), rng, lo, hi).CastTo(t.dtype());
    }
    r.push_back(std::move(m));
  }
  return r;
}

}  // namespace

// Top-1 agreement and Kendall tau of the top-5 (FetaFix's label metric) between two sides'
// first outputs over the sets, when those are classifier scores ([1, C] or [C]); null otherwise.
json LabelAgreement(const SideValues& a, const SideValues& b) {
  double top1 = 0, tau = 0;
  size_t n = 0;
  for (size_t k = 0; k < a.outputs.size() && k < b.outputs.size(); ++k) {
    if (a.outputs[k].empty() || b.outputs[k].empty()) return nullptr;
    const Value& va = a.outputs[k][0];
    const Value& vb = b.outputs[k][0];
    if (!va.is_tensor() || !vb.is_tensor() || !LooksLikeScores(va.tensor) ||
        !LooksLikeScores(vb.tensor) || va.tensor.numel() != vb.tensor.numel()) {
      return nullptr;
    }
    std::vector<double> sa = ScoresRow(va.tensor, 0), sb = ScoresRow(vb.tensor, 0);
    top1 += TopKIndices(sa, 1) == TopKIndices(sb, 1) ? 1 : 0;
    tau += TopKKendallTau(sa, sb, 5);
    ++n;
  }
  if (n == 0) return nullptr;
  return {{"top1_agree", top1 / static_cast<double>(n)},
          {"kendall_tau_top5", tau / static_cast<double>(n)},
          {"sets", n}};
}

RepairResult Repair(const Model& source, const Model& target,
                    const std::vector<ValueMap>& source_sets, const RepairOptions& options) {
  if (source_sets.empty()) Fail(ErrorKind::kUsage, "repair needs at least one input set");
  RepairResult res;
  std::vector<ValueMap> search, holdout;
  if (source_sets.size() >= 2) {
    size_t half = (source_sets.size() + 1) / 2;
    search.assign(source_sets.begin(), source_sets.begin() + static_cast<long>(half));
    holdout.assign(source_sets.begin() + static_cast<long>(half), source_sets.end());
    res.holdout = fmt::format("the last {} of the {} given input sets (search used the first {})",
                              holdout.size(), source_sets.size(), half);
  } else {
    search = source_sets;
    holdout = RandomSets(source, source_sets, options.holdout_sets, options.seed + 1);
    res.holdout = fmt::format(
        "{} random input sets (seed {}, uniform within the value range of the given inputs);"
        " search used the 1 given set",
        holdout.size(), options.seed + 1);
  }
  res.search_sets = search.size();
  res.holdout_count = holdout.size();
  const auto& lo = options.localize;
  // FetaFix's "input dimensions": the target's input takes the source's dims first (nothing can
  // run before); the rest of the search starts from that model.
  std::optional<Model> resized;
  if (auto f = localize::FindInputDimensionsFault(source, target)) {
    res.initial = localize::Localize(source, target, search, lo);
    PatchEntry pe;
    pe.step = 0;
    pe.node = f->target_input;
    pe.kind = "input";
    pe.change = "give the graph input the source's dimensions";
    pe.before = fmt::format("{} {}", f->target_input, fmt::join(f->target_shape, "x"));
    pe.after = fmt::format("{}", fmt::join(f->source_shape, "x"));
    onnx::ModelProto p = target.proto();
    auto* dims = p.mutable_graph()
                     ->mutable_input(static_cast<int>(f->index))
                     ->mutable_type()
                     ->mutable_tensor_type()
                     ->mutable_shape();
    dims->clear_dim();
    for (int64_t d : f->source_shape) {
      if (d >= 0) {
        dims->add_dim()->set_dim_value(d);
      } else {
        dims->add_dim();
      }
    }
    p.mutable_graph()->clear_value_info();
    Outcome o =
        Capture([&] { resized.emplace(Model::FromProto(p, target.base_dir(), "resized")); });
    if (!o.ok) {
      res.status = "not_repaired";
      res.fixed = target.proto();
      res.final_holdout = res.initial;
      return res;
    }
    pe.agreement_before = {{"agree", false}, {"first_divergent_node", res.initial.first_divergent}};
    res.patches.push_back(pe);
  }
  const Model& start = resized ? *resized : target;
  std::vector<ValueMap> tsearch = localize::MapInputs(source, start, search);
  SideValues sv = localize::RunSide(source, lo.source_env, search, true);
  ModelIndex si(source);

  onnx::ModelProto current = start.proto();
  auto evaluate = [&](const onnx::ModelProto& proto, std::map<std::string, Alignment>* align,
                      std::unique_ptr<Model>* model_out, SideValues* tv_out) -> LocalizeResult {
    // Shapes may have changed: shape inference starts over (stale value_info would conflict).
    onnx::ModelProto clean = proto;
    clean.mutable_graph()->clear_value_info();
    auto m = std::make_unique<Model>(
        Model::FromProto(std::move(clean), target.base_dir(), "repair candidate"));
    SideValues tv = localize::RunSide(*m, lo.target_env, tsearch, true);
    LocalizeResult r = localize::Analyze(source, sv, *m, tv, lo.tol, align,
                                         lo.source_env.ToString() == lo.target_env.ToString());
    if (model_out) *model_out = std::move(m);
    if (tv_out) *tv_out = std::move(tv);
    return r;
  };
  std::map<std::string, Alignment> align;
  std::unique_ptr<Model> cur_model;
  SideValues cur_tv;
  LocalizeResult lr = evaluate(current, &align, &cur_model, &cur_tv);
  if (resized) {
    res.patches.back().agreement_after = Agreement(lr);
  } else {
    res.initial = lr;
  }
  for (int step = 1; step <= options.max_steps && !lr.agree && !lr.first_divergent.empty();
       ++step) {
    Context c{source, sv, si, *cur_model, cur_tv, align, lr, lr.first_index, lr.source_index};
    std::vector<Candidate> cands;
    auto add = [&](std::vector<Candidate> v) {
      for (auto& k : v) cands.push_back(std::move(k));
    };
    const json& ev = lr.evidence;
    bool op_differs = lr.source_index >= 0 && ev.value("source_op_type", std::string()) !=
                                                  ev.value("op_type", std::string());
    if (lr.kind == "hyperparameter") {
      add(AttrCandidates(c));
      add(ParamCandidates(c));
      add(ReinsertCandidates(c));
      add(DeleteCandidate(c));
    } else if (lr.kind == "parameter") {
      add(PrecisionCandidate(c));
      // A target Conv not followed by a BatchNormalization fused it: the folded weights first.
      std::vector<Candidate> folded = FoldedParamCandidates(c);
      if (!folded.empty() && !FeedsBatchNorm(*cur_model, lr.first_index)) add(std::move(folded));
      add(ParamCandidates(c));
      add(std::move(folded));
      add(AttrCandidates(c));
      add(ReinsertCandidates(c));
      add(DeleteCandidate(c));
    } else if (lr.kind == "quantization") {
      add(QdqCandidates(c));
      add(PrecisionCandidate(c));
    } else if (lr.kind == "input") {
      add(ParamCandidates(c));
      add(AttrCandidates(c));
      if (op_differs) add(ReplaceCandidate(c));
      add(DeleteCandidate(c));
      add(ReinsertCandidates(c));
    } else if (lr.kind == "graph") {
      add(QdqCandidates(c));
      add(PrecisionCandidate(c));
      if (!ev["wiring_diffs"].empty() || !ev.value("output_diffs", json::array()).empty())
        add(ReinsertCandidates(c));
      if (op_differs) add(ReplaceCandidate(c));
      add(DeleteCandidate(c));
      if (!op_differs) add(ReplaceCandidate(c));
      add(AttrCandidates(c));
      add(ParamCandidates(c));
      add(FoldedParamCandidates(c));
    }
    double before = Progress(lr, si);
    bool accepted = false;
    for (auto& k : cands) {
      ++res.candidates_tried;
      std::map<std::string, Alignment> na;
      std::unique_ptr<Model> nm;
      SideValues ntv;
      LocalizeResult nl;
      auto reject = [&](const std::string& reason, bool ran) {
        json r = {
            {"step", step}, {"node", lr.first_divergent}, {"change", k.change}, {"reason", reason}};
        if (ran) r["agreement_after"] = Agreement(nl);
        res.rejected.push_back(std::move(r));
      };
      try {
        nl = evaluate(k.proto, &na, &nm, &ntv);
      } catch (const Error& e) {
        reject(fmt::format("the edited model failed: {}", e.what()), false);
        continue;
      }
      if (Progress(nl, si) <= before) {
        reject(nl.first_divergent.empty()
                   ? "no progress: nothing localized after the edit"
                   : fmt::format("no progress: the first divergence is still at or before "
                                 "source node {} (now '{}')",
                                 std::max(0.0, before), nl.first_divergent),
               true);
        continue;
      }
      // Moving the first divergence later is not enough: the outputs must not get much worse
      // (restoring one folded layer from an unfolded source moved the divergence on and the
      // logits off by 30). Not "no worse at all": a float16 conversion diverges a little
      // everywhere, and restoring its layers one by one moves the outputs' error up and down
      // by tens of percent on the way to agreement.
      double was = OutputError(lr);
      if (OutputError(nl) > 2 * was + options.localize.tol.atol) {
        reject(fmt::format("outputs more than 2x worse: max abs {:.3g} -> {:.3g}", was,
                           OutputError(nl)),
               true);
        continue;
      }
      PatchEntry p;
      p.step = step;
      p.node = lr.first_divergent;
      p.kind = lr.kind;
      p.change = k.change;
      p.before = k.before;
      p.after = k.after;
      p.agreement_before = Agreement(lr);
      p.agreement_after = Agreement(nl);
      res.patches.push_back(p);
      current = std::move(k.proto);
      lr = std::move(nl);
      align = std::move(na);
      cur_model = std::move(nm);
      cur_tv = std::move(ntv);
      accepted = true;
      break;
    }
    if (!accepted) break;
  }
  res.search_agree = lr.agree;
  if (!res.patches.empty()) current.mutable_graph()->clear_value_info();
  res.fixed = current;
  // Held-out verification.
  Model fixed = Model::FromProto(current, target.base_dir(), "repaired model");
  localize::LocalizeOptions hl = lo;
  localize::LocalizeSides held;
  res.final_holdout = localize::Localize(source, fixed, holdout, hl, &held);
  res.holdout_sets = holdout;
  const bool agrees = res.final_holdout.agree;
  // FetaFix's label metric on the held-out sets, after and before (classifier outputs only; a
  // target of other input dims cannot run the held-out sets before).
  res.labels_after = LabelAgreement(held.source, held.target);
  if (!resized) {
    std::vector<ValueMap> th = localize::MapInputs(source, target, holdout);
    res.labels_before =
        LabelAgreement(held.source, localize::RunSide(target, lo.target_env, th, false));
  }
  res.repaired = agrees && !res.patches.empty();
  res.status = res.repaired                                         ? "repaired"
               : agrees && res.patches.empty() && res.initial.agree ? "nothing_to_repair"
                                                                    : "not_repaired";
  return res;
}

json RepairResult::ToJson() const {
  json j;
  j["status"] = status;
  j["repaired"] = repaired;
  j["search_agree"] = search_agree;
  j["search_sets"] = search_sets;
  j["holdout_sets"] = holdout_count;
  j["holdout"] = holdout;
  j["candidates_tried"] = candidates_tried;
  j["initial"] = {{"first_divergent_node",
                   initial.first_divergent.empty() ? json(nullptr) : json(initial.first_divergent)},
                  {"kind", initial.kind.empty() ? json(nullptr) : json(initial.kind)},
                  {"agree", initial.agree}};
  json ps = json::array();
  for (const auto& p : patches) {
    ps.push_back({{"step", p.step},
                  {"node", p.node},
                  {"kind", p.kind},
                  {"change", p.change},
                  {"before", p.before},
                  {"after", p.after},
                  {"agreement_before", p.agreement_before},
                  {"agreement_after", p.agreement_after}});
  }
  j["patches"] = ps;
  j["rejected"] = rejected;
  j["holdout_result"] = Agreement(final_holdout);
  j["holdout_labels"] = {{"before", labels_before}, {"after", labels_after}};
  if (!final_holdout.agree) j["holdout_localize"] = final_holdout.ToJson();
  return j;
}

}  // namespace concord::repair
