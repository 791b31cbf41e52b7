#include "localize/align.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "ir/tensor_io.h"
#include "localize/evidence.h"
#include "localize/layer_names.h"
#include "passes/pass.h"

namespace concord::localize {

namespace {

bool FloatLike(DType d) { return IsFloating(d); }

// NHWC tensor -> NCHW (to_nchw) or NCHW -> NHWC, as float32.
Tensor Permute4(const Tensor& t, bool to_nchw) {
  return PermuteLayout(t.dtype() == DType::kFloat32 ? t : t.CastTo(DType::kFloat32), to_nchw);
}

Shape Squeezed(const Shape& s) {
  Shape r;
  for (auto d : s) {
    if (d != 1) r.push_back(d);
  }
  return r;
}

Divergence MeasureTensor(Tensor src, Tensor tgt, const Tolerance& tol) {
  Divergence d;
  d.compared = true;
  if (src.dtype() != tgt.dtype()) {
    d.dtype_mismatch = true;
    if (!(FloatLike(src.dtype()) && FloatLike(tgt.dtype()))) {
      d.message = fmt::format("dtype {} vs {}", DTypeName(src.dtype()), DTypeName(tgt.dtype()));
      d.max_abs = INFINITY;
      d.mismatch_fraction = 1;
      d.rel_l2 = INFINITY;
      return d;
    }
  }
  if (d.dtype_mismatch || (src.shape() != tgt.shape() && FloatLike(src.dtype()))) {
    if (src.dtype() != DType::kFloat32) src = src.CastTo(DType::kFloat32);
    if (tgt.dtype() != DType::kFloat32) tgt = tgt.CastTo(DType::kFloat32);
  }
  if (src.shape() != tgt.shape()) {
    const Shape& s = src.shape();
    const Shape& t = tgt.shape();
    if (s.size() == 4 && t.size() == 4 && FloatLike(src.dtype()) &&
        t == Shape{s[0], s[2], s[3], s[1]}) {
      tgt = Permute4(tgt, true);
      d.layout = "target NHWC";
    } else if (s.size() == 4 && t.size() == 4 && FloatLike(src.dtype()) &&
               t == Shape{s[0], s[3], s[1], s[2]}) {
      tgt = Permute4(tgt, false);
      d.layout = "target NCHW (source NHWC)";
    } else if (src.numel() == tgt.numel() && Squeezed(s) == Squeezed(t)) {
      tgt = tgt.Reshaped(s);
    } else {
      d.shape_mismatch = true;
      d.message = fmt::format("shape {} vs {}", ShapeToString(s), ShapeToString(t));
      d.max_abs = INFINITY;
      d.max_rel = INFINITY;
      d.cosine = 0;
      d.mismatch_fraction = 1;
      d.rel_l2 = INFINITY;
      return d;
    }
  }
  TensorDiff diff = CompareTensors(src, tgt, tol);
  if (FloatLike(src.dtype()) && FloatLike(tgt.dtype())) {
    double num = 0, den = 0;
    if (src.dtype() == DType::kFloat32 && tgt.dtype() == DType::kFloat32) {
      const float* a = src.data<float>();
      const float* b = tgt.data<float>();
      for (int64_t i = 0; i < src.numel(); ++i) {
        double e = static_cast<double>(b[i]) - a[i];
        num += e * e;
        den += static_cast<double>(a[i]) * a[i];
      }
    } else {
      for (int64_t i = 0; i < src.numel(); ++i) {
        double x = src.GetDouble(i), e = tgt.GetDouble(i) - x;
        num += e * e;
        den += x * x;
      }
    }
    d.rel_l2 = den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0);
    if (std::isnan(d.rel_l2)) d.rel_l2 = INFINITY;
  }
  d.agree = diff.ok;
  d.max_abs = diff.max_abs;
  d.max_rel = diff.max_rel;
  d.cosine = diff.cosine;
  d.mismatch_fraction =
      diff.count > 0 ? static_cast<double>(diff.mismatches) / static_cast<double>(diff.count) : 0;
  d.message = diff.message;
  if (diff.nan_mismatches || diff.inf_mismatches) d.max_abs = INFINITY;
  return d;
}

// Cheap pre-check before a full value comparison: the first elements agree.
bool Prefix(const Tensor& a, const Tensor& b, const Tolerance& tol) {
  if (a.numel() != b.numel() || !FloatLike(a.dtype()) || !FloatLike(b.dtype())) return false;
  int64_t n = std::min<int64_t>(a.numel(), 16);
  for (int64_t i = 0; i < n; ++i) {
    double x = a.GetDouble(i), y = b.GetDouble(i);
    if (!(std::fabs(x - y) <= tol.atol + tol.rtol * std::fabs(x))) return false;
  }
  return true;
}

}  // namespace

Tensor PermuteLayout(const Tensor& t, bool to_nchw) {
  CONCORD_CHECK(t.rank() == 4 && t.dtype() != DType::kString, "PermuteLayout of {}", t.Describe());
  const Shape& s = t.shape();
  Shape out_shape = to_nchw ? Shape{s[0], s[3], s[1], s[2]} : Shape{s[0], s[2], s[3], s[1]};
  Tensor out(t.dtype(), out_shape);
  const size_t size = t.numel() > 0 ? t.nbytes() / static_cast<size_t>(t.numel()) : 0;
  const auto* in = static_cast<const unsigned char*>(t.raw());
  auto* o = static_cast<unsigned char*>(out.raw());
  const int64_t n = s[0], a = s[1], b = s[2], c = s[3];
  // in[i][x][y][z]; to_nchw: out[i][z][x][y]; else out[i][y][z][x].
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t x = 0; x < a; ++x) {
      for (int64_t y = 0; y < b; ++y) {
        for (int64_t z = 0; z < c; ++z) {
          int64_t from = ((i * a + x) * b + y) * c + z;
          int64_t to = to_nchw ? ((i * c + z) * a + x) * b + y : ((i * b + y) * c + z) * a + x;
          std::memcpy(o + static_cast<size_t>(to) * size, in + static_cast<size_t>(from) * size,
                      size);
        }
      }
    }
  }
  return out;
}

ModelIndex::ModelIndex(const Model& m) : GraphIndex(m.graph()), model(&m) {
  const auto& g = m.graph();
  for (const auto& t : g.initializer()) statics.insert(t.name());
  for (const auto& n : g.node()) {
    bool all_static = true;
    for (const auto& in : n.input()) {
      if (!in.empty() && !statics.count(in)) all_static = false;
    }
    // Random* ops have no inputs but are not constants; everything else without activation
    // inputs (Constant, ConstantOfShape of a static shape, Cast of a weight) is a parameter.
    bool random = n.op_type().rfind("Random", 0) == 0;
    for (const auto& o : n.output()) {
      if (!o.empty() && all_static && !random && n.domain().empty()) statics.insert(o);
    }
  }
}

std::vector<std::pair<int, std::string>> ModelIndex::ActivationInputs(int i) const {
  std::vector<std::pair<int, std::string>> r;
  const auto& n = node(i);
  for (int k = 0; k < n.input_size(); ++k) {
    if (!n.input(k).empty() && !IsStatic(n.input(k))) r.emplace_back(k, n.input(k));
  }
  return r;
}

const Value* SideValues::Find(size_t set, const std::string& name) const {
  if (set >= sets.size()) return nullptr;
  auto it = sets[set].find(name);
  return it == sets[set].end() ? nullptr : &it->second;
}

Divergence Measure(const Value& source, const Value& target, const Tolerance& tol) {
  if (source.is_tensor() && target.is_tensor())
    return MeasureTensor(source.tensor, target.tensor, tol);
  Divergence d;
  d.compared = true;
  if (source.is_none() && target.is_none()) {
    d.agree = true;
    return d;
  }
  if (source.is_sequence() && target.is_sequence() &&
      source.sequence.size() == target.sequence.size()) {
    d.agree = true;
    for (size_t i = 0; i < source.sequence.size(); ++i) {
      Divergence e = MeasureTensor(source.sequence[i], target.sequence[i], tol);
      if (i == 0)
        d = e;
      else
        Accumulate(&d, e);
    }
    return d;
  }
  if (source.is_map_sequence() && target.is_map_sequence() &&
      source.maps.size() == target.maps.size()) {
    d.agree = true;
    for (size_t i = 0; i < source.maps.size(); ++i) {
      // Maps compare key by key: the target's values in the source's key order.
      std::optional<Tensor> tgt = MapValuesInKeyOrder(target.maps[i], source.maps[i].keys);
      if (!tgt) {
        d = Divergence();
        d.compared = true;
        d.message = fmt::format("map {}: key sets differ", i);
        d.shape_mismatch = true;
        d.max_abs = INFINITY;
        d.mismatch_fraction = 1;
        return d;
      }
      Divergence e = MeasureTensor(source.maps[i].values, *tgt, tol);
      if (i == 0)
        d = e;
      else
        Accumulate(&d, e);
    }
    return d;
  }
  d.message = fmt::format("{} vs {}", source.Describe(), target.Describe());
  d.max_abs = INFINITY;
  d.mismatch_fraction = 1;
  return d;
}

void Accumulate(Divergence* acc, const Divergence& d) {
  if (!acc->compared) {
    *acc = d;
    return;
  }
  if (!d.compared) {
    acc->agree = false;
    return;
  }
  bool worse = d.max_abs > acc->max_abs;
  acc->agree = acc->agree && d.agree;
  acc->shape_mismatch |= d.shape_mismatch;
  acc->dtype_mismatch |= d.dtype_mismatch;
  acc->max_abs = std::max(acc->max_abs, d.max_abs);
  acc->max_rel = std::max(acc->max_rel, d.max_rel);
  acc->cosine = std::min(acc->cosine, d.cosine);
  acc->mismatch_fraction = std::max(acc->mismatch_fraction, d.mismatch_fraction);
  acc->rel_l2 = std::max(acc->rel_l2, d.rel_l2);
  if (worse || acc->message.empty()) acc->message = d.message;
}

namespace {

// The target's concord.name_map (passes/pass.h) read for alignment: which source tensor a renamed
// target tensor carries, and which source node's outputs a target node computes.
struct MapIndex {
  passes::NameMap names;
  std::map<std::string, int> source_node;  // source node name -> index ("<OpType>_<i>" if unnamed)
  std::map<int, int> heirs;                // source node -> target nodes listing it
  std::map<int, int> same_op_heirs;        // ... of the source node's op type

  MapIndex(const ModelIndex& src, const ModelIndex& tgt)
      : names(passes::ReadNameMap(tgt.model->proto())) {
    const auto& sg = src.model->graph();
    for (int j = 0; j < sg.node_size(); ++j) {
      if (!sg.node(j).name().empty()) source_node.emplace(sg.node(j).name(), j);
    }
    for (int j = 0; j < sg.node_size(); ++j) {
      if (sg.node(j).name().empty())
        source_node.emplace(fmt::format("{}_{}", sg.node(j).op_type(), j), j);
    }
    for (const auto& n : tgt.model->graph().node()) {
      for (int j : Originals(n)) {
        ++heirs[j];
        if (sg.node(j).op_type() == n.op_type()) ++same_op_heirs[j];
      }
    }
  }

  // Source nodes the target node came from, in source order.
  std::vector<int> Originals(const onnx::NodeProto& n) const {
    std::vector<int> r;
    auto it = names.nodes.find(n.name());
    if (n.name().empty() || it == names.nodes.end()) return r;
    for (const auto& o : it->second) {
      auto s = source_node.find(o);
      if (s != source_node.end()) r.push_back(s->second);
    }
    std::sort(r.begin(), r.end());
    return r;
  }

  // The source tensor the map pairs with target tensor t, output k of target node n: the
  // original of a renamed tensor, else output k of the node's original (of its last original
  // for a fused node). An inserted node (another op type, serving an original that other target
  // nodes also list) pairs with nothing. *trusted: the pair names the source counterpart
  // even when its values diverge (a tensor rename, or the only heir of the original of its kind).
  std::string Source(const ModelIndex& src, const onnx::NodeProto& n, int k, const std::string& t,
                     bool* trusted) const {
    *trusted = true;
    auto ti = names.tensors.find(t);
    if (ti != names.tensors.end() && src.producer.count(ti->second)) return ti->second;
    std::vector<int> orig = Originals(n);
    if (orig.empty()) return "";
    int j = orig.back();
    const auto& sn = src.node(j);
    bool same_op = sn.op_type() == n.op_type();
    if (k >= sn.output_size() || sn.output(k).empty()) return "";
    if (orig.size() == 1 && !same_op && heirs.at(j) > 1) return "";
    *trusted = heirs.at(j) == 1 || (same_op && same_op_heirs.at(j) == 1);
    return sn.output(k);
  }
};

struct Aligner {
  const ModelIndex& src;
  const SideValues& sv;
  const ModelIndex& tgt;
  const SideValues& tv;
  const Tolerance& tol;
  MapIndex map;
  std::map<std::string, Alignment> out;
  // Target node -> the source node of the same framework layer (layer_names.h) and op type, that
  // pair unique on each side; -1 when there is none.
  std::vector<int> layer_pair;
  // Source activation tensors by element count (set 0), for value alignment.
  std::multimap<int64_t, std::string> by_numel;
  // Target node -> the source node whose weight (input 1) is the target's up to float16
  // rounding, layout or a folded BatchNorm, unique on both sides; -1 when none.
  std::vector<int> weight_pair;
  // Target node -> the source node of the same anchor op type at the same position among its
  // kind (the i-th Conv <-> the i-th Conv), when both sides have as many; -1 otherwise.
  std::vector<int> order_pair;

  Divergence Across(const std::string& s, const std::string& t) {
    Divergence acc;
    for (size_t k = 0; k < tv.sets.size(); ++k) {
      const Value* a = sv.Find(k, s);
      const Value* b = tv.Find(k, t);
      Divergence d;
      if (a && b) d = Measure(*a, *b, tol);
      Accumulate(&acc, d);
    }
    return acc;
  }

  void Index() {
    if (sv.sets.empty()) return;
    for (const auto& [name, v] : sv.sets[0]) {
      if (src.IsStatic(name) || !v.is_tensor()) continue;
      by_numel.emplace(v.tensor.numel(), name);
    }
  }

  // A source tensor holding the target tensor's values on every set, or "".
  std::string ByValue(const std::string& t, const std::string& exclude, Divergence* div) {
    const Value* b = tv.Find(0, t);
    if (b == nullptr || !b->is_tensor()) return "";
    auto [lo, hi] = by_numel.equal_range(b->tensor.numel());
    for (auto it = lo; it != hi; ++it) {
      if (it->second == exclude) continue;
      const Value* a = sv.Find(0, it->second);
      if (!Prefix(a->tensor, b->tensor, tol)) continue;
      Divergence d = Across(it->second, t);
      if (d.agree) {
        *div = d;
        return it->second;
      }
    }
    return "";
  }

  bool SourceHasValue(const std::string& s) const {
    return !src.IsStatic(s) && sv.Find(0, s) != nullptr;
  }

  // (framework layer, op type) -> the node index when that pair is unique in m, else -1.
  static std::map<std::pair<std::string, std::string>, int> Layers(const ModelIndex& m) {
    std::map<std::pair<std::string, std::string>, int> r;
    const auto& g = m.model->graph();
    for (int i = 0; i < g.node_size(); ++i) {
      LayerName l = LayerOf(g, i);
      if (l.scheme == "onnx node") continue;
      auto [it, fresh] = r.emplace(std::make_pair(l.name, g.node(i).op_type()), i);
      if (!fresh) it->second = -1;
    }
    return r;
  }

  // Node index -> its static weight (input 1) for the weight-carrying ops of m.
  static std::map<int, Tensor> Weights(const ModelIndex& m, const SideValues& v) {
    std::map<int, Tensor> r;
    const auto& g = m.model->graph();
    for (int i = 0; i < g.node_size(); ++i) {
      const auto& n = g.node(i);
      Tensor w;
      if (!IsWeightOp(n.op_type()) || n.input_size() < 2 || !m.IsStatic(n.input(1))) continue;
      if (StaticValue(*m.model, v, n.input(1), &w) && IsFloating(w.dtype()) && w.numel() > 1)
        r.emplace(i, std::move(w));
    }
    return r;
  }

  // "" when unrelated, "same" when equal within float16 rounding (shape as is), else
  // WeightRelation's description (rank-4 layouts, a folded BatchNorm) or "transposed" (rank 2).
  static std::string Relation(const Tensor& s, const Tensor& t) {
    if (s.numel() != t.numel()) return "";
    if (s.shape() == t.shape()) {
      bool close = true;
      for (int64_t e = 0; e < s.numel() && close; ++e) {
        double a = s.GetDouble(e), b = t.GetDouble(e);
        close = std::fabs(a - b) <= 1e-3 * std::fabs(a) + 1e-6;
      }
      if (close) return "same";
    }
    if (s.rank() == 2 && t.rank() == 2 && s.dim(0) == t.dim(1) && s.dim(1) == t.dim(0)) {
      bool tr = true;
      for (int64_t r = 0; r < s.dim(0) && tr; ++r) {
        for (int64_t c = 0; c < s.dim(1) && tr; ++c) {
          double a = s.GetDouble(r * s.dim(1) + c), b = t.GetDouble(c * s.dim(0) + r);
          tr = std::fabs(a - b) <= 1e-3 * std::fabs(a) + 1e-6;
        }
      }
      if (tr) return "transposed";
    }
    return WeightRelation(s, t);
  }

  void PairByWeights() {
    weight_pair.assign(static_cast<size_t>(tgt.model->graph().node_size()), -1);
    std::map<int, Tensor> sw = Weights(src, sv), tw = Weights(tgt, tv);
    std::map<int, int> claimed;  // source node -> target nodes matching it
    for (const auto& [i, t] : tw) {
      int match = -1, count = 0;
      for (const auto& [j, w] : sw) {
        if (Relation(w, t).empty()) continue;
        ++count;
        match = j;
      }
      if (count != 1) continue;
      weight_pair[static_cast<size_t>(i)] = match;
      ++claimed[match];
    }
    for (int& j : weight_pair) {
      if (j >= 0 && claimed[j] > 1) j = -1;  // shared by several target nodes: no anchor
    }
  }

  void PairByOrder() {
    static const std::set<std::string> kAnchors = {"Conv",
                                                   "ConvTranspose",
                                                   "Gemm",
                                                   "MatMul",
                                                   "MaxPool",
                                                   "AveragePool",
                                                   "GlobalAveragePool",
                                                   "BatchNormalization",
                                                   "Softmax",
                                                   "Concat",
                                                   "Resize"};
    auto by_op = [](const ModelIndex& m) {
      std::map<std::string, std::vector<int>> r;
      const auto& g = m.model->graph();
      for (int i = 0; i < g.node_size(); ++i) {
        const auto& n = g.node(i);
        if (!kAnchors.count(n.op_type()) || n.output_size() == 0 || m.IsStatic(n.output(0)))
          continue;
        r[n.op_type()].push_back(i);
      }
      return r;
    };
    order_pair.assign(static_cast<size_t>(tgt.model->graph().node_size()), -1);
    auto s_ops = by_op(src);
    for (const auto& [op, ts] : by_op(tgt)) {
      auto it = s_ops.find(op);
      if (it == s_ops.end() || it->second.size() != ts.size()) continue;
      for (size_t n = 0; n < ts.size(); ++n) order_pair[static_cast<size_t>(ts[n])] = it->second[n];
    }
  }

  void Run() {
    Index();
    PairByWeights();
    PairByOrder();
    auto src_layers = Layers(src);
    layer_pair.assign(static_cast<size_t>(tgt.model->graph().node_size()), -1);
    for (const auto& [key, i] : Layers(tgt)) {
      auto it = src_layers.find(key);
      if (i >= 0 && it != src_layers.end() && it->second >= 0)
        layer_pair[static_cast<size_t>(i)] = it->second;
    }
    for (size_t k = 0; k < tgt.inputs.size() && k < src.inputs.size(); ++k) {
      out[tgt.inputs[k]] = {src.inputs[k], "input", Across(src.inputs[k], tgt.inputs[k])};
    }
    const auto& g = tgt.model->graph();
    for (int i = 0; i < g.node_size(); ++i) {
      const auto& node = g.node(i);
      for (int k = 0; k < node.output_size(); ++k) {
        const std::string& t = node.output(k);
        if (t.empty() || tgt.IsStatic(t) || tv.Find(0, t) == nullptr) continue;
        AlignOne(i, k, t);
      }
    }
  }

  // Aligns t with s by `method` (d: their divergence), unless they diverge and another source
  // tensor holds t's values on every set: that one wins, by "value" (a fault that moved a name,
  // a map entry or a layer onto a different tensor); else the diverging pair stands.
  void Pair(const std::string& t, const std::string& s, const char* method, const Divergence& d) {
    if (!d.agree) {
      Divergence dv;
      std::string other = ByValue(t, s, &dv);
      if (!other.empty()) {
        out[t] = {other, "value", dv};
        return;
      }
      if (Folded(t, s, d)) return;
    }
    out[t] = {s, method, d};
  }

  // The source tensors after s along its affine tail (AffineStep), each s's only consumer.
  std::vector<std::string> AffineTail(std::string s) const {
    std::vector<std::string> r;
    for (int guard = 0; guard < 16; ++guard) {
      auto c = src.consumers.find(s);
      if (c == src.consumers.end() || c->second.size() != 1) break;
      int j = c->second.front();
      if (!AffineStep(src, j, s) || src.node(j).output_size() < 1) break;
      s = src.node(j).output(0);
      if (!SourceHasValue(s)) break;
      r.push_back(s);
    }
    return r;
  }

  // Aligns t, a weight op's output that diverges from s, with the end of s's affine tail (a
  // BatchNorm the target folded into the op) when one tensor of it is nearer to t than s is:
  // agreeing, or at under half of s's relative L2 error (float16 or quantized weights).
  bool Folded(const std::string& t, const std::string& s, const Divergence& d) {
    auto p = tgt.producer.find(t);
    if (p == tgt.producer.end() || !IsWeightOp(tgt.node(p->second).op_type())) return false;
    std::string best;
    Divergence bd;
    for (const std::string& c : AffineTail(s)) {
      Divergence dc = Across(c, t);
      if (!dc.compared || dc.shape_mismatch || dc.dtype_mismatch) continue;
      if (best.empty() || dc.rel_l2 < bd.rel_l2) {
        best = c;
        bd = dc;
      }
    }
    if (best.empty() || !(bd.agree || bd.rel_l2 < 0.5 * d.rel_l2)) return false;
    out[t] = {best, "folded", bd};
    return true;
  }

  void AlignOne(int i, int k, const std::string& t) {
    // 1. By name.
    if (SourceHasValue(t)) {
      Pair(t, t, "name", Across(t, t));
      return;
    }
    // 2. Name map.
    if (ByMap(i, k, t)) return;
    // 2b. Framework layer: the only node of this op type of the same module / Keras layer.
    if (ByLayer(i, k, t)) return;
    // 2c. Weight fingerprint: the only source node carrying this node's weight.
    if (ByWeights(i, k, t)) return;
    // 3. Graph output by position.
    for (size_t o = 0; o < tgt.outputs.size() && o < src.outputs.size(); ++o) {
      if (tgt.outputs[o] == t && sv.Find(0, src.outputs[o])) {
        out[t] = {src.outputs[o], "output", Across(src.outputs[o], t)};
        return;
      }
    }
    // 4. Structure: a source node of the same op type whose activation inputs are ours.
    std::string s = Structural(i, k);
    Divergence ds;
    if (!s.empty()) ds = Across(s, t);
    if (!s.empty() && ds.agree) {
      out[t] = {s, "structure", ds};
      return;
    }
    // 5. Value.
    Divergence dv;
    std::string v = ByValue(t, "", &dv);
    if (!v.empty()) {
      out[t] = {v, "value", dv};
      return;
    }
    if (!s.empty()) {
      if (!Folded(t, s, ds)) out[t] = {s, "structure", ds};
      return;
    }
    // 6. Anchor order: the i-th node of an anchor op type <-> the source's i-th.
    int j = order_pair[static_cast<size_t>(i)];
    if (j >= 0 && k < src.node(j).output_size() && SourceHasValue(src.node(j).output(k))) {
      const std::string& so = src.node(j).output(k);
      Divergence d = Across(so, t);
      if (d.agree || !Folded(t, so, d)) out[t] = {so, "order", d};
    }
  }

  // Aligns t, output k of target node i, with output k of the source node carrying the same
  // weight: when they agree, or when they diverge and no other source tensor holds t's values
  // (a folded BatchNorm's output, found by value; else the fault is in this node, which
  // localize then compares with a node of its own op type).
  bool ByWeights(int i, int k, const std::string& t) {
    int j = weight_pair[static_cast<size_t>(i)];
    if (j < 0 || k >= src.node(j).output_size()) return false;
    std::string s = src.node(j).output(k);
    if (!SourceHasValue(s)) return false;
    Pair(t, s, "weights", Across(s, t));
    return true;
  }

  // Aligns t by the name map when the pair agrees, or when it diverges and is trusted while no
  // other source tensor holds t's values (then t is where a fault shows).
  bool ByMap(int i, int k, const std::string& t) {
    bool trusted = false;
    std::string s = map.Source(src, tgt.node(i), k, t, &trusted);
    if (s.empty() || !SourceHasValue(s)) return false;
    Divergence d = Across(s, t);
    if (!d.agree && !trusted) return false;
    Pair(t, s, "map", d);
    return true;
  }

  // Aligns t, output k of target node i, with output k of the source node of the same framework
  // layer and op type (each unique on its side): when they agree, or when they diverge and no
  // other source tensor holds t's values (the fault is there, as for names).
  bool ByLayer(int i, int k, const std::string& t) {
    int j = layer_pair[static_cast<size_t>(i)];
    if (j < 0) return false;
    const auto& sn = src.node(j);
    if (k >= sn.output_size() || !SourceHasValue(sn.output(k))) return false;
    Pair(t, sn.output(k), "layer", Across(sn.output(k), t));
    return true;
  }

  std::string Structural(int i, int k) {
    auto acts = tgt.ActivationInputs(i);
    if (acts.empty()) return "";
    std::vector<std::pair<int, std::string>> mapped;
    for (const auto& [pos, name] : acts) {
      auto it = out.find(name);
      PadRead pad;
      if (it == out.end() && tgt.node(i).op_type() == "Conv" &&
          ZeroSpatialPad(tgt, tv, name, &pad)) {
        it = out.find(pad.data);  // a zero Pad the target put before the Conv: read through it
        if (it == out.end()) return "";
        std::string source = pad.transposed ? Relaid(it->second.source, pad) : it->second.source;
        if (source.empty()) return "";
        mapped.emplace_back(pos, source);
        continue;
      }
      if (it == out.end()) return "";
      mapped.emplace_back(pos, it->second.source);
    }
    const auto& tn = tgt.node(i);
    auto cit = src.consumers.find(mapped[0].second);
    if (cit == src.consumers.end()) return "";
    for (int j : cit->second) {
      const auto& sn = src.node(j);
      if (sn.op_type() == "Pad" && tn.op_type() == "Conv" && sn.output_size() == 1) {
        // A zero Pad the target folded into its Conv's pads: look one node further.
        auto mapped_past = mapped;
        mapped_past[0].second = sn.output(0);
        std::string s = StructuralAmong(tn, k, sn.output(0), mapped_past);
        if (!s.empty()) return s;
      }
    }
    return StructuralAmong(tn, k, mapped[0].second, mapped);
  }

  // The source tensor holding what a transposed zero-Pad chain's data (aligned to source tensor
  // s) is in the Conv's layout: s itself, or the output of a Transpose of s; "" when neither.
  std::string Relaid(const std::string& s, const PadRead& pad) {
    if (PadDataHolds(tv, pad, sv, s, tol)) return s;
    auto c = src.consumers.find(s);
    if (c == src.consumers.end()) return "";
    for (int j : c->second) {
      const auto& n = src.node(j);
      if (n.op_type() == "Transpose" && n.output_size() == 1 &&
          PadDataHolds(tv, pad, sv, n.output(0), tol)) {
        return n.output(0);
      }
    }
    return "";
  }

  // Output k of a consumer of source tensor `from` with tn's op type and these activation inputs.
  std::string StructuralAmong(const onnx::NodeProto& tn, int k, const std::string& from,
                              const std::vector<std::pair<int, std::string>>& mapped) {
    auto cit = src.consumers.find(from);
    if (cit == src.consumers.end()) return "";
    for (int j : cit->second) {
      const auto& sn = src.node(j);
      if (sn.op_type() != tn.op_type() || sn.output_size() <= k) continue;
      auto sacts = src.ActivationInputs(j);
      if (sacts != mapped) continue;
      if (SourceHasValue(sn.output(k))) return sn.output(k);
    }
    return "";
  }
};

}  // namespace

bool IsWeightOp(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

bool AffineStep(const ModelIndex& m, int i, const std::string& in) {
  const auto& n = m.node(i);
  if (n.op_type() == "BatchNormalization") return n.input_size() >= 5 && n.input(0) == in;
  static const std::set<std::string> kArith = {"Mul", "Add", "Sub", "Div"};
  if (!kArith.count(n.op_type()) || n.input_size() != 2) return false;
  if (n.op_type() == "Div" && n.input(0) != in) return false;  // c / x is not affine in x
  const std::string& other = n.input(0) == in ? n.input(1) : n.input(0);
  return (n.input(0) == in || n.input(1) == in) && m.IsStatic(other);
}

int AffineHead(const ModelIndex& m, const std::string& t) {
  auto p = m.producer.find(t);
  if (p == m.producer.end()) return -1;
  int i = p->second;
  for (int guard = 0; guard < 16; ++guard) {
    auto acts = m.ActivationInputs(i);
    if (acts.size() != 1 || !AffineStep(m, i, acts[0].second)) break;
    auto q = m.producer.find(acts[0].second);
    if (q == m.producer.end()) break;
    i = q->second;
  }
  return i;
}

bool StaticValue(const Model& m, const SideValues& v, const std::string& name, Tensor* out) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) {
      *out = TensorFromProto(t, m.base_dir(), "initializer '" + name + "'");
      return true;
    }
  }
  const Value* val = v.Find(0, name);
  if (val && val->is_tensor()) {
    *out = val->tensor;
    return true;
  }
  return false;
}

std::map<std::string, Alignment> AlignTensors(const ModelIndex& src, const SideValues& sv,
                                              const ModelIndex& tgt, const SideValues& tv,
                                              const Tolerance& tol) {
  Aligner a{src, sv, tgt, tv, tol, MapIndex(src, tgt), {}, {}, {}, {}, {}};
  a.Run();
  // A padded tensor the target put before a Conv has no source counterpart when the source folded
  // the Pad into the Conv's pads: a same-named source tensor of another shape is not one.
  for (auto it = a.out.begin(); it != a.out.end();) {
    PadRead pad;
    bool padded = PaddedBeforeConv(tgt, tv, it->first, &pad);
    it = padded && it->second.div.shape_mismatch ? a.out.erase(it) : std::next(it);
  }
  return std::move(a.out);
}

}  // namespace concord::localize
