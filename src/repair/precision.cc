#include "repair/precision.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "ir/graph_edit.h"
#include "ir/half.h"

namespace concord::repair {

using localize::ModelIndex;
using localize::SideValues;
using localize::StaticValue;

namespace {

// Per-output-channel values of a static tensor: its own when it has one per channel, its one
// value repeated when it is a scalar; false otherwise.
bool PerChannel(const Tensor& t, int64_t channels, std::vector<double>* out) {
  if (t.numel() != channels && t.numel() != 1) return false;
  out->resize(static_cast<size_t>(channels));
  for (int64_t o = 0; o < channels; ++o) {
    (*out)[static_cast<size_t>(o)] = t.GetDouble(t.numel() == 1 ? 0 : o);
  }
  return true;
}

// One way the source could hold a target node's parameters.
struct SourceOption {
  int node;
  std::string how;
  Tensor w;
  bool has_bias;
  Tensor b;
};

std::vector<SourceOption> SourceOptions(const Model& source, const SideValues& sv,
                                        const ModelIndex& si) {
  std::vector<SourceOption> r;
  const auto& g = source.graph();
  for (int j = 0; j < g.node_size(); ++j) {
    const auto& n = g.node(j);
    Tensor w, b;
    if (!localize::IsWeightOp(n.op_type()) || n.input_size() < 2 || !si.IsStatic(n.input(1)) ||
        !StaticValue(source, sv, n.input(1), &w) || !IsFloating(w.dtype()) || w.numel() < 2) {
      continue;
    }
    bool has_b = n.op_type() != "MatMul" && n.input_size() > 2 && !n.input(2).empty() &&
                 StaticValue(source, sv, n.input(2), &b);
    r.push_back({j, "as is", w, has_b, b});
    std::vector<double> scale, shift;
    std::string what;
    if (n.op_type() == "Conv" && w.rank() >= 3 &&
        SourceAffine(source, sv, si, n, w.dim(0), &scale, &shift, &what)) {
      SourceOption f{j, "with " + what + " folded in", {}, true, {}};
      FoldAffine(w, has_b ? &b : nullptr, scale, shift, &f.w, &f.b);
      r.push_back(std::move(f));
    }
  }
  return r;
}

// Whether every t[i] is s[i] rounded to float16 (half an ulp, and a little for the converter's
// own float32 folding order), with at least one element changed.
bool Float16Of(const Tensor& s, const Tensor& t) {
  bool changed = false;
  for (int64_t i = 0; i < s.numel(); ++i) {
    double a = s.GetDouble(i), b = t.GetDouble(i);
    double h = static_cast<float>(Float16(static_cast<float>(a)));
    if (std::fabs(b - h) > 1e-6 * std::fabs(a) + 1e-12 && std::fabs(b - a) > 6e-4 * std::fabs(a))
      return false;
    changed = changed || b != a;
  }
  return changed;
}

// Whether t is s quantized to a symmetric int8 grid, per tensor or per output channel (axis
// `axis` of `shape`): |t - s| within half a step of max|s| / 127, with at least one change.
bool Int8Of(const Tensor& s, const Tensor& t, int axis) {
  const Shape& shape = s.shape();
  if (shape.empty()) return false;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t channels = shape[static_cast<size_t>(axis)];
  for (bool per_channel : {true, false}) {
    std::vector<double> mx(static_cast<size_t>(per_channel ? channels : 1), 0);
    auto ch = [&](int64_t i) {
      return per_channel ? static_cast<size_t>((i / inner) % channels) : size_t{0};
    };
    for (int64_t i = 0; i < s.numel(); ++i)
      mx[ch(i)] = std::max(mx[ch(i)], std::fabs(s.GetDouble(i)));
    bool ok = true, changed = false;
    for (int64_t i = 0; i < s.numel() && ok; ++i) {
      double step = mx[ch(i)] / 127, d = std::fabs(t.GetDouble(i) - s.GetDouble(i));
      ok = d <= 0.5 * step * 1.01 + 1e-9;
      changed = changed || d > 0;
    }
    if (ok && changed) return true;
  }
  return false;
}

// s in the target's layout: as is, or NCHW-style -> NHWC-style (rank 4) when that is t's shape.
bool InLayout(const Tensor& s, const Shape& target, Tensor* out, bool* permuted) {
  *permuted = false;
  if (s.shape() == target) {
    *out = s;
    return true;
  }
  if (s.rank() == 4 && target.size() == 4) {
    Tensor p = localize::PermuteLayout(s, false);
    if (p.shape() == target) {
      *out = std::move(p);
      *permuted = true;
      return true;
    }
  }
  return false;
}

// The axis of node n's weight (rank `rank`) that runs over output channels: 0 for Conv (3 in
// the NHWC layout), 1 for ConvTranspose, the last for MatMul, by transB for Gemm.
int OutputAxis(const onnx::NodeProto& n, int rank, bool permuted) {
  if (n.op_type() == "Conv") return permuted ? 3 : 0;
  if (n.op_type() == "ConvTranspose") return permuted ? 3 : 1;
  if (n.op_type() == "Gemm") {
    for (const auto& a : n.attribute()) {
      if (a.name() == "transB" && a.i()) return 0;
    }
    return 1;
  }
  return rank - 1;
}

}  // namespace

bool SourceAffine(const Model& source, const SideValues& sv, const ModelIndex& si,
                  const onnx::NodeProto& conv, int64_t channels, std::vector<double>* scale,
                  std::vector<double>* shift, std::string* what) {
  auto only = [&](const std::string& tensor) -> const onnx::NodeProto* {
    auto it = si.consumers.find(tensor);
    if (it == si.consumers.end() || it->second.size() != 1) return nullptr;
    return &source.graph().node(it->second.front());
  };
  const onnx::NodeProto* n = only(conv.output(0));
  if (n == nullptr) return false;
  if (n->op_type() == "BatchNormalization" && n->input_size() >= 5) {
    Tensor gamma, beta, mean, var;
    if (!StaticValue(source, sv, n->input(1), &gamma) ||
        !StaticValue(source, sv, n->input(2), &beta) ||
        !StaticValue(source, sv, n->input(3), &mean) ||
        !StaticValue(source, sv, n->input(4), &var)) {
      return false;
    }
    double eps = 1e-5;
    for (const auto& a : n->attribute()) {
      if (a.name() == "epsilon") eps = a.f();
    }
    std::vector<double> g, b, m, v;
    if (!PerChannel(gamma, channels, &g) || !PerChannel(beta, channels, &b) ||
        !PerChannel(mean, channels, &m) || !PerChannel(var, channels, &v)) {
      return false;
    }
    scale->resize(g.size());
    shift->resize(g.size());
    for (size_t o = 0; o < g.size(); ++o) {
      (*scale)[o] = g[o] / std::sqrt(v[o] + eps);
      (*shift)[o] = b[o] - m[o] * (*scale)[o];
    }
    *what = fmt::format("BatchNorm '{}' (epsilon {:g})", n->name(), eps);
    return true;
  }
  if (n->op_type() != "Mul" || n->input_size() != 2) return false;
  const onnx::NodeProto* add = only(n->output(0));
  if (add == nullptr || add->op_type() != "Add" || add->input_size() != 2) return false;
  const std::string& mul_operand = n->input(0) == conv.output(0) ? n->input(1) : n->input(0);
  const std::string& add_operand = add->input(0) == n->output(0) ? add->input(1) : add->input(0);
  Tensor mt, at;
  if (!StaticValue(source, sv, mul_operand, &mt) || !StaticValue(source, sv, add_operand, &at) ||
      !PerChannel(mt, channels, scale) || !PerChannel(at, channels, shift)) {
    return false;
  }
  *what = fmt::format("Mul '{}' + Add '{}' (a decomposed BatchNorm)", n->name(), add->name());
  return true;
}

void FoldAffine(const Tensor& w, const Tensor* bias, const std::vector<double>& scale,
                const std::vector<double>& shift, Tensor* folded_w, Tensor* folded_b) {
  const int64_t out_ch = w.dim(0), per = w.numel() / std::max<int64_t>(out_ch, 1);
  std::vector<float> wf(static_cast<size_t>(w.numel())), bf(static_cast<size_t>(out_ch));
  for (int64_t o = 0; o < out_ch; ++o) {
    double k = scale[static_cast<size_t>(o)];
    for (int64_t j = 0; j < per; ++j) {
      wf[static_cast<size_t>(o * per + j)] = static_cast<float>(w.GetDouble(o * per + j) * k);
    }
    double b = bias ? bias->GetDouble(o) : 0.0;
    bf[static_cast<size_t>(o)] = static_cast<float>(b * k + shift[static_cast<size_t>(o)]);
  }
  *folded_w = Tensor::FromVector<float>(w.shape(), wf);
  *folded_b = Tensor::FromVector<float>({out_ch}, bf);
}

std::vector<RoundedParams> RoundedParameters(const Model& source, const SideValues& sv,
                                             const ModelIndex& si, const Model& target,
                                             const SideValues& tv) {
  std::vector<RoundedParams> r;
  std::vector<SourceOption> options = SourceOptions(source, sv, si);
  ModelIndex ti(target);
  const auto& g = target.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    Tensor tw;
    if (!localize::IsWeightOp(n.op_type()) || n.input_size() < 2 || !ti.IsStatic(n.input(1)) ||
        !StaticValue(target, tv, n.input(1), &tw) || !IsFloating(tw.dtype())) {
      continue;
    }
    std::vector<RoundedParams> found;
    for (const SourceOption& o : options) {
      Tensor w;
      bool permuted = false;
      if (!InLayout(o.w, tw.shape(), &w, &permuted)) continue;
      std::string rounding = Float16Of(w, tw)                                   ? "float16"
                             : Int8Of(w, tw, OutputAxis(n, w.rank(), permuted)) ? "int8"
                                                                                : "";
      if (rounding.empty()) continue;
      RoundedParams p{i, o.node,     rounding, o.how + (permuted ? ", permuted to NHWC" : ""),
                      w, o.has_bias, o.b};
      found.push_back(std::move(p));
    }
    if (found.size() == 1) r.push_back(std::move(found.front()));
  }
  return r;
}

namespace {

bool IsArithmetic(const std::string& op) {
  return op == "Mul" || op == "Add" || op == "Sub" || op == "Div";
}

// The static float operands (2+ elements) of m's Mul/Add/Sub/Div nodes: (node, input, value).
std::vector<std::tuple<int, int, Tensor>> ArithmeticConstants(const Model& m, const SideValues& v,
                                                              const ModelIndex& mi) {
  std::vector<std::tuple<int, int, Tensor>> r;
  const auto& g = m.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    if (!IsArithmetic(n.op_type()) || n.input_size() != 2) continue;
    for (int k = 0; k < 2; ++k) {
      Tensor t;
      if (!mi.IsStatic(n.input(k)) || !StaticValue(m, v, n.input(k), &t) ||
          !IsFloating(t.dtype()) || t.numel() < 2) {
        continue;
      }
      r.emplace_back(i, k, std::move(t));
    }
  }
  return r;
}

}  // namespace

std::vector<RoundedConstant> RoundedConstants(const Model& source, const SideValues& sv,
                                              const ModelIndex& si, const Model& target,
                                              const SideValues& tv) {
  std::vector<RoundedConstant> r;
  const auto sources = ArithmeticConstants(source, sv, si);
  ModelIndex ti(target);
  for (auto& [node, input, tc] : ArithmeticConstants(target, tv, ti)) {
    std::vector<RoundedConstant> found;
    for (const auto& [sn, sk, sc] : sources) {
      if (sc.numel() != tc.numel()) continue;
      const Tensor flat_s = sc.Reshaped({sc.numel()}), flat_t = tc.Reshaped({tc.numel()});
      std::string rounding = Float16Of(sc, tc)           ? "float16"
                             : Int8Of(flat_s, flat_t, 0) ? "int8"
                                                         : "";
      if (rounding.empty()) continue;
      std::vector<float> v(static_cast<size_t>(sc.numel()));
      for (int64_t i = 0; i < sc.numel(); ++i)
        v[static_cast<size_t>(i)] = static_cast<float>(sc.GetDouble(i));
      found.push_back({node, input, sn, rounding, Tensor::FromVector<float>(tc.shape(), v)});
    }
    if (found.size() == 1) r.push_back(std::move(found.front()));
  }
  return r;
}

namespace {

bool IsQuantizer(const onnx::NodeProto& n) {
  return n.op_type() == "QuantizeLinear" || n.op_type() == "DynamicQuantizeLinear";
}

// Ops a quantized tensor may pass through between its quantizer and its dequantizers: they move
// values (tf2onnx moves layouts of quantized tensors) or select among them (MaxPool and Concat:
// TFLite's int8 MaxPool and Concat keep their input's scale), so with the round trip gone they
// compute the same thing on floats. Concat reads every input; the others only their first.
bool CarriesQuantized(const onnx::NodeProto& n) {
  static const std::set<std::string> kOps = {"Transpose", "Reshape",  "Squeeze", "Unsqueeze",
                                             "Flatten",   "Identity", "MaxPool", "Concat"};
  return kOps.count(n.op_type()) && n.output_size() == 1 && n.input_size() >= 1;
}

int DataInputs(const onnx::NodeProto& n) { return n.op_type() == "Concat" ? n.input_size() : 1; }

// The quantizers, carriers and dequantizers around quantizer q's integer tensors: grown from
// q's output through carriers in both directions (a Concat's other inputs must be quantized
// too); every writer of such a tensor is a quantizer or a carrier and every reader a
// dequantizer (data input) or a carrier. Empty when anything else touches them.
struct QdqRegion {
  std::set<int> qs, carriers, dqs;
};
std::optional<QdqRegion> RegionOf(const onnx::GraphProto& g, const GraphIndex& index, int q) {
  QdqRegion r;
  r.qs.insert(q);
  std::vector<std::string> todo = {g.node(q).output(0)};
  std::set<std::string> seen;
  auto add_carrier = [&](int j) {
    if (!r.carriers.insert(j).second) return;
    const auto& n = g.node(j);
    for (int k = 0; k < DataInputs(n); ++k) todo.push_back(n.input(k));
    todo.push_back(n.output(0));
  };
  while (!todo.empty()) {
    std::string t = todo.back();
    todo.pop_back();
    if (!seen.insert(t).second) continue;
    // An integer graph output or a tensor a subgraph reads keeps its quantizer.
    if (index.graph_outputs.count(t) || index.Captured(t)) return std::nullopt;
    auto w = index.producer.find(t);
    if (w == index.producer.end()) return std::nullopt;  // integer data from outside
    const auto& writer = g.node(w->second);
    if (IsQuantizer(writer) && writer.output(0) == t) {
      r.qs.insert(w->second);
    } else if (CarriesQuantized(writer)) {
      add_carrier(w->second);
    } else {
      return std::nullopt;
    }
    auto c = index.consumers.find(t);
    if (c == index.consumers.end()) continue;
    for (int j : c->second) {
      const auto& n = g.node(j);
      bool data = false;
      for (int k = 0; k < DataInputs(n); ++k) data = data || n.input(k) == t;
      if (n.op_type() == "DequantizeLinear" && n.input(0) == t) {
        r.dqs.insert(j);
      } else if (CarriesQuantized(n) && data) {
        add_carrier(j);
      } else {
        return std::nullopt;
      }
    }
  }
  // A quantizer's other outputs (a dynamic quantizer's scale and zero point) only for them.
  for (int qi : r.qs) {
    const auto& qn = g.node(qi);
    for (int k = 1; k < qn.output_size(); ++k) {
      auto c = index.consumers.find(qn.output(k));
      if (index.graph_outputs.count(qn.output(k))) return std::nullopt;
      if (c == index.consumers.end()) continue;
      for (int j : c->second)
        if (!r.dqs.count(j)) return std::nullopt;
    }
  }
  if (r.dqs.empty()) return std::nullopt;
  return r;
}

}  // namespace

int RemoveQdqPairs(onnx::GraphProto* g, int only_q) {
  GraphIndex index(*g);
  std::vector<QdqRegion> regions;
  std::set<int> visited;
  for (int qi = 0; qi < g->node_size(); ++qi) {
    if (!IsQuantizer(g->node(qi)) || g->node(qi).input_size() < 1 ||
        g->node(qi).output_size() < 1 || (only_q >= 0 && qi != only_q) || visited.count(qi)) {
      continue;
    }
    auto r = RegionOf(*g, index, qi);
    if (!r) continue;
    visited.insert(r->qs.begin(), r->qs.end());
    regions.push_back(std::move(*r));
  }
  // Quantized tensor -> the float tensor its quantizer read.
  std::map<std::string, std::string> unquantized;
  for (const auto& r : regions)
    for (int qi : r.qs) unquantized[g->node(qi).output(0)] = g->node(qi).input(0);
  auto float_of = [&](const std::string& t) {
    auto u = unquantized.find(t);
    return u == unquantized.end() ? t : u->second;
  };
  int removed = 0;
  std::set<int> drop;
  for (const auto& r : regions) {
    for (int j : r.carriers) {
      auto* n = g->mutable_node(j);
      for (int k = 0; k < DataInputs(*n); ++k) n->set_input(k, float_of(n->input(k)));
    }
    for (int j : r.dqs) {
      auto* n = g->mutable_node(j);
      std::string x = float_of(n->input(0)), out = n->output(0);
      n->Clear();
      n->set_op_type("Identity");
      n->set_name(FreshName(*g, "unquantized"));
      n->add_input(x);
      n->add_output(out);
      ++removed;
    }
    drop.insert(r.qs.begin(), r.qs.end());
  }
  auto* nodes = g->mutable_node();
  for (int i = g->node_size() - 1; i >= 0; --i) {
    if (drop.count(i)) nodes->DeleteSubrange(i, 1);
  }
  return removed;
}

}  // namespace concord::repair
