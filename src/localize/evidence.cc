#include "localize/evidence.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "ir/graph_edit.h"
#include "ir/half.h"
#include "ir/json_number.h"

namespace concord::localize {

namespace {

using nlohmann::json;

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

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

// A rank-4 weight's values permuted by `perm` (out[i] = in[perm applied]), with the new shape.
std::vector<double> PermuteAxes4(const std::vector<double>& a, const Shape& shape,
                                 const std::array<int, 4>& perm, Shape* out_shape) {
  Shape os(4);
  for (int i = 0; i < 4; ++i) os[static_cast<size_t>(i)] = shape[static_cast<size_t>(perm[i])];
  std::array<int64_t, 4> stride{shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1};
  std::vector<double> out(a.size());
  size_t k = 0;
  for (int64_t i0 = 0; i0 < os[0]; ++i0)
    for (int64_t i1 = 0; i1 < os[1]; ++i1)
      for (int64_t i2 = 0; i2 < os[2]; ++i2)
        for (int64_t i3 = 0; i3 < os[3]; ++i3) {
          std::array<int64_t, 4> idx{i0, i1, i2, i3}, src{};
          for (int d = 0; d < 4; ++d) src[static_cast<size_t>(perm[d])] = idx[d];
          out[k++] = a[static_cast<size_t>(src[0] * stride[0] + src[1] * stride[1] +
                                           src[2] * stride[2] + src[3] * stride[3])];
        }
  *out_shape = os;
  return out;
}

// b == k_c * a for one factor per output channel c (channels along `axis` of `shape`), within
// 1e-5 relative; *varies says whether the factors differ between channels.
bool ScaledPerChannel(const std::vector<double>& a, const std::vector<double>& b,
                      const Shape& shape, int axis, bool* varies) {
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t channels = shape[static_cast<size_t>(axis)];
  std::vector<double> k(static_cast<size_t>(channels), 0);
  *varies = false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto c = static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
    if (a[i] == 0) {
      if (std::fabs(b[i]) > 1e-12) return false;
      continue;
    }
    if (k[c] == 0) k[c] = b[i] / a[i];
    if (std::fabs(b[i] - k[c] * a[i]) > 1e-5 * std::fabs(b[i]) + 1e-9) return false;
  }
  for (double x : k) *varies = *varies || (x != 0 && std::fabs(x - k[0]) > 1e-6 * std::fabs(x));
  return true;
}

// A weight fingerprint up to layout and BatchNorm folding: the rank-4 source weight (OIHW) in
// the target's layout (as is, kh/kw transposed, OHWI, HWIO), equal or scaled per output channel
// (a BatchNorm folded in); "" when none fits.
std::string WeightFingerprint(const Tensor& s, const Tensor& t) {
  if (s.rank() != 4 || t.rank() != 4 || s.numel() != t.numel()) return "";
  struct Layout {
    const char* name;
    std::array<int, 4> perm;
    int out_axis;
  };
  static const Layout kLayouts[] = {{"", {0, 1, 2, 3}, 0},
                                    {"transposed in the last two axes", {0, 1, 3, 2}, 0},
                                    {"in OHWI layout", {0, 2, 3, 1}, 0},
                                    {"in HWIO layout", {2, 3, 1, 0}, 3}};
  std::vector<double> a = Doubles(s), b = Doubles(t);
  for (const Layout& l : kLayouts) {
    Shape ps;
    std::vector<double> pa = PermuteAxes4(a, s.shape(), l.perm, &ps);
    if (ps != t.shape()) continue;
    bool varies = false;
    if (!ScaledPerChannel(pa, b, ps, l.out_axis, &varies)) continue;
    std::string layout = l.name;
    if (!varies && layout.empty()) continue;  // equal or uniformly scaled: the hints below
    if (!varies) return layout.rfind("in ", 0) == 0 ? "source values " + layout : layout;
    return "source values scaled per output channel (a BatchNorm folded in)" +
           (layout.empty() ? std::string() : ", " + layout);
  }
  return "";
}

// What a parameter difference looks like (for the evidence and for repair).
std::string ParamHint(const Tensor& s, const Tensor& t) {
  if (std::string f = WeightFingerprint(s, t); !f.empty()) return f;
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

// The pads of Pad node n when it pads with zeros (constant mode, value 0, static pads, no axes
// input): begins then ends, one per axis.
bool ZeroPadAmounts(const ModelIndex& m, const SideValues& v, const onnx::NodeProto& n,
                    std::vector<int64_t>* pads) {
  pads->clear();
  for (const auto& a : n.attribute()) {
    if (a.name() == "mode" && a.s() != "constant") return false;
    if (a.name() == "value" && a.f() != 0) return false;
    if (a.name() == "pads") pads->assign(a.ints().begin(), a.ints().end());
  }
  Tensor pt, cv;
  if (n.input_size() > 1 && !n.input(1).empty()) {
    if (!StaticValue(*m.model, v, n.input(1), &pt)) return false;
    pads->clear();
    for (int64_t i = 0; i < pt.numel(); ++i) pads->push_back(static_cast<int64_t>(pt.GetDouble(i)));
  }
  if (n.input_size() > 2 && !n.input(2).empty()) {
    if (!StaticValue(*m.model, v, n.input(2), &cv) || cv.numel() != 1 || cv.GetDouble(0))
      return false;
  }
  return n.input_size() <= 3 || n.input(3).empty();  // axes: not worth the cases
}

std::string Absent(const std::string& name, const char* absent = "(absent)") {
  return name.empty() ? absent : name;
}

// Whether the data of a zero Pad the target put before a Conv is source tensor `sin`: aligned to
// it and agreeing, or (through a Transpose) holding its values in the Conv's layout.
bool TargetPadReads(const Sides& s, const PadRead& pad, const std::string& sin) {
  if (pad.transposed) return PadDataHolds(s.tv, pad, s.sv, sin, s.tol);
  auto d = s.align.find(pad.data);
  return d != s.align.end() && d->second.source == sin && d->second.div.agree;
}

// A Conv's pads with the zero Pad that feeds it folded in (`m`'s side), as text; "" when no
// such Pad feeds it.
std::string PadsWithPad(const ModelIndex& m, const SideValues& v, const onnx::NodeProto& conv,
                        PadRead* pad) {
  if (conv.op_type() != "Conv" || conv.input_size() < 1 ||
      !ZeroSpatialPad(m, v, conv.input(0), pad)) {
    return "";
  }
  const std::vector<int64_t>& extra = pad->spatial;
  std::vector<int64_t> pads(extra.size(), 0);
  for (const auto& a : conv.attribute()) {
    if (a.name() == "pads" && static_cast<size_t>(a.ints_size()) == pads.size())
      pads.assign(a.ints().begin(), a.ints().end());
  }
  for (size_t i = 0; i < pads.size(); ++i) pads[i] += extra[i];
  return fmt::format("{}", pads);
}

// A zero Pad before the Conv that the converter folded into it (source side: the target reads
// the Pad's data input) or inserted before it (target side: the Pad reads what the source Conv
// reads): the side's pads with the Pad added, for AttributeDiffs. Both "" otherwise.
void FusedPads(const Sides& s, const onnx::NodeProto& sn, const onnx::NodeProto& tn,
               std::string* source_pads, std::string* target_pads) {
  PadRead pad;
  if (tn.input_size() < 1 || sn.input_size() < 1) return;
  std::string sp = PadsWithPad(s.si, s.sv, sn, &pad);
  auto it = s.align.find(tn.input(0));
  if (!sp.empty() && it != s.align.end() && it->second.source == pad.data) *source_pads = sp;
  std::string tp = PadsWithPad(s.ti, s.tv, tn, &pad);
  if (!tp.empty() && TargetPadReads(s, pad, sn.input(0))) *target_pads = tp;
}

// An activation input of tn at position p whose aligned source tensor is not the source node's
// input there (different names holding the same values count as the same input).
void CompareActivation(const Sides& s, int p, const std::string& tin, const std::string& sin,
                       json* wiring) {
  auto it = s.align.find(tin);
  std::string got = it == s.align.end() ? "" : it->second.source;
  bool same = !tin.empty() && !sin.empty() && got == sin;
  PadRead pad;
  if (!same && !got.empty() && ZeroSpatialPad(s.si, s.sv, sin, &pad) && pad.data == got) {
    same = true;  // the converter folded the source's zero Pad into this node (FusedPads)
  }
  if (!same && got.empty() && ZeroSpatialPad(s.ti, s.tv, tin, &pad)) {
    same = TargetPadReads(s, pad, sin);  // a zero Pad the converter put before this node
  }
  if (!same && !got.empty() && !sin.empty()) {
    Divergence acc;
    for (size_t k = 0; k < s.sv.sets.size(); ++k) {
      const Value* a = s.sv.Find(k, got);
      const Value* b = s.sv.Find(k, sin);
      Divergence d;
      if (a && b) d = Measure(*a, *b, s.tol);
      Accumulate(&acc, d);
    }
    same = acc.agree;
  }
  if (!same) {
    wiring->push_back({{"position", p},
                       {"target_input", Absent(tin)},
                       {"aligned_to", Absent(got, "(nothing)")},
                       {"source_input", Absent(sin)}});
  }
}

// A static input of tn or sn at position p: differing values (with a hint of how they
// differ), or static on one side only.
void CompareParameter(const Sides& s, int p, const std::string& tin, const std::string& sin,
                      json* parameters) {
  bool ts = !tin.empty() && s.ti.IsStatic(tin), ss = !sin.empty() && s.si.IsStatic(sin);
  json pd = {{"position", p}, {"target", Absent(tin)}, {"source", Absent(sin)}};
  Tensor tt, st;
  bool have_t = ts && StaticValue(*s.ti.model, s.tv, tin, &tt);
  bool have_s = ss && StaticValue(*s.si.model, s.sv, sin, &st);
  if (!have_t || !have_s) {
    pd["hint"] = tin.empty()   ? "missing in the target"
                 : sin.empty() ? "extra in the target"
                               : "static on one side only";
    parameters->push_back(pd);
    return;
  }
  if (tt.shape() == st.shape() && tt.dtype() == st.dtype() && tt.BitwiseEqual(st)) return;
  Divergence d = Measure(st, tt, Tolerance{0, 0});
  pd["source_shape"] = st.shape();
  pd["target_shape"] = tt.shape();
  pd["max_abs"] = JsonNumber(d.max_abs);
  pd["hint"] = ParamHint(st, tt);
  parameters->push_back(pd);
}

}  // namespace

bool ZeroSpatialPad(const ModelIndex& m, const SideValues& v, const std::string& t, PadRead* pad) {
  // The producer of t, past Identity nodes (repair's removed quantize-dequantize pairs).
  auto producer = [&m](std::string name) -> const onnx::NodeProto* {
    for (;;) {
      auto p = m.producer.find(name);
      if (p == m.producer.end()) return nullptr;
      const auto& n = m.node(p->second);
      if (n.op_type() != "Identity" || n.input_size() != 1) return &n;
      name = n.input(0);
    }
  };
  const onnx::NodeProto* n = producer(t);
  if (!n) return false;
  std::vector<int64_t> perm;
  if (n->op_type() == "Transpose" && n->input_size() == 1) {
    for (const auto& a : n->attribute()) {
      if (a.name() == "perm") perm.assign(a.ints().begin(), a.ints().end());
    }
    const std::vector<int64_t> to_nchw = {0, 3, 1, 2}, to_nhwc = {0, 2, 3, 1};
    if (perm != to_nchw && perm != to_nhwc) return false;
    n = producer(n->input(0));
    if (!n) return false;
  }
  std::vector<int64_t> pads;
  if (n->op_type() != "Pad" || n->input_size() < 1 || !ZeroPadAmounts(m, v, *n, &pads))
    return false;
  const size_t rank = pads.size() / 2;
  if (rank < 3 || pads.size() != 2 * rank || (!perm.empty() && rank != 4)) return false;
  pad->transposed = !perm.empty();
  for (size_t d = perm.size(); d < rank; ++d) perm.push_back(static_cast<int64_t>(d));
  // Axis d of the tensor the Conv reads is axis perm[d] of the padded one.
  auto begin = [&](size_t d) { return pads[static_cast<size_t>(perm[d])]; };
  auto end = [&](size_t d) { return pads[rank + static_cast<size_t>(perm[d])]; };
  if (begin(0) || begin(1) || end(0) || end(1)) return false;
  pad->spatial.clear();
  for (size_t d = 2; d < rank; ++d) pad->spatial.push_back(begin(d));
  for (size_t d = 2; d < rank; ++d) pad->spatial.push_back(end(d));
  pad->data = n->input(0);
  return true;
}

bool PaddedBeforeConv(const ModelIndex& m, const SideValues& v, const std::string& t,
                      PadRead* pad) {
  if (ZeroSpatialPad(m, v, t, pad)) return true;
  auto c = m.consumers.find(t);
  if (c == m.consumers.end() || c->second.empty()) return false;
  for (int j : c->second) {
    const auto& n = m.node(j);
    if (n.op_type() != "Transpose" || n.output_size() != 1 ||
        !ZeroSpatialPad(m, v, n.output(0), pad) || !pad->transposed) {
      return false;
    }
  }
  return true;
}

bool PadDataHolds(const SideValues& tv, const PadRead& pad, const SideValues& sv,
                  const std::string& s, const Tolerance& tol) {
  if (sv.sets.empty()) return false;
  for (size_t k = 0; k < sv.sets.size(); ++k) {
    const Value* a = sv.Find(k, s);
    const Value* b = tv.Find(k, pad.data);
    if (!a || !b) return false;
    Divergence d = Measure(*a, *b, tol);
    if (!d.agree || d.layout.empty() == pad.transposed) return false;
  }
  return true;
}

std::string WeightRelation(const Tensor& source, const Tensor& target) {
  return WeightFingerprint(source, target);
}

json AttributeDiffs(const Sides& s, const onnx::NodeProto& sn, const onnx::NodeProto& tn) {
  json diffs = json::array();
  auto ta = Attrs(tn, s.ti.model->Opset(tn.domain()));
  auto sa = Attrs(sn, s.si.model->Opset(sn.domain()));
  std::string source_pads, target_pads;
  FusedPads(s, sn, tn, &source_pads, &target_pads);
  if (!source_pads.empty()) sa["pads"] = source_pads;
  if (!target_pads.empty()) ta["pads"] = target_pads;
  std::set<std::string> names;
  for (auto& [k, v] : ta) names.insert(k);
  for (auto& [k, v] : sa) names.insert(k);
  for (const auto& k : names) {
    std::string a = sa.count(k) ? sa[k] : ImpliedDefault(k, ta.count(k) ? ta[k] : "");
    std::string b = ta.count(k) ? ta[k] : ImpliedDefault(k, a);
    if (a != b) diffs.push_back({{"name", k}, {"source", Absent(a)}, {"target", Absent(b)}});
  }
  return diffs;
}

InputDiffs CompareInputs(const Sides& s, const onnx::NodeProto& sn, const onnx::NodeProto& tn) {
  InputDiffs r;
  int np = std::max(tn.input_size(), sn.input_size());
  for (int p = 0; p < np; ++p) {
    std::string tin = p < tn.input_size() ? tn.input(p) : "";
    std::string sin = p < sn.input_size() ? sn.input(p) : "";
    if (tin.empty() && sin.empty()) continue;
    bool ts = !tin.empty() && s.ti.IsStatic(tin), ss = !sin.empty() && s.si.IsStatic(sin);
    if (!ts && !ss) {
      CompareActivation(s, p, tin, sin, &r.wiring);
    } else {
      CompareParameter(s, p, tin, sin, &r.parameters);
    }
  }
  return r;
}

json OutputDiffs(const Sides& s, const onnx::NodeProto& tn) {
  json diffs = json::array();
  for (const auto& o : tn.output()) {
    for (size_t k = 0; k < s.ti.outputs.size() && k < s.si.outputs.size(); ++k) {
      auto it = s.align.find(o);
      if (s.ti.outputs[k] != o || it == s.align.end() || it->second.source == s.si.outputs[k])
        continue;
      diffs.push_back({{"output_index", k},
                       {"target_output", o},
                       {"aligned_to", it->second.source},
                       {"source_output", s.si.outputs[k]}});
    }
  }
  return diffs;
}

}  // namespace concord::localize
