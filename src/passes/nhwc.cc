// nhwc: NCHW -> NHWC interface with transposes minimized.
//
// ONNX's Conv, pooling and normalization ops are NCHW-only, so a faithful NHWC model is one
// whose interface is NHWC and whose inside converts where needed:
//   1. every 4-D graph input X (not an initializer) is declared [N, H, W, C] and feeds
//      Transpose(perm 0,3,1,2) -> X_nchw, which replaces X inside the graph;
//   2. with outputs=nhwc every 4-D graph output Y is computed as Y_nchw and leaves through
//      Transpose(perm 0,2,3,1);
//   3. transposes are then pushed down through layout-agnostic ops until they meet an op that
//      needs a layout: unary elementwise ops (Relu, Clip, Sigmoid, Cast, ...) and binary
//      elementwise ops whose other operand is a constant (permuted to match) or a transpose with
//      the same perm; consecutive transposes are merged, identities removed. Pushing only moves
//      a transpose when it has a single consumer, so the number of transposes never grows.
// Every node keeps its name; a moved transpose keeps its own; renamed intermediate tensors map
// to the value they carry (in the other layout).
#include <numeric>
#include <set>

#include "ir/tensor_io.h"
#include "passes/pass_util.h"

namespace concord::passes {

namespace {

const std::set<std::string> kUnary = {"Relu",
                                      "LeakyRelu",
                                      "Sigmoid",
                                      "Tanh",
                                      "Abs",
                                      "Neg",
                                      "Exp",
                                      "Log",
                                      "Sqrt",
                                      "Reciprocal",
                                      "Floor",
                                      "Ceil",
                                      "Round",
                                      "Sign",
                                      "Erf",
                                      "Elu",
                                      "Selu",
                                      "Softplus",
                                      "Softsign",
                                      "HardSigmoid",
                                      "HardSwish",
                                      "Clip",
                                      "Cast",
                                      "Identity",
                                      "Not",
                                      "Sin",
                                      "Cos",
                                      "Celu",
                                      "ThresholdedRelu",
                                      "Mish",
                                      "IsNaN",
                                      "IsInf"};
const std::set<std::string> kBinary = {"Add",   "Sub",  "Mul",     "Div", "Pow", "Max", "Min",
                                       "Equal", "Less", "Greater", "And", "Or",  "Xor"};

std::vector<int64_t> Inverse(const std::vector<int64_t>& p) {
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[static_cast<size_t>(p[i])] = static_cast<int64_t>(i);
  return inv;
}

bool IsPermutation(const std::vector<int64_t>& p) {
  std::vector<bool> seen(p.size(), false);
  for (int64_t v : p) {
    if (v < 0 || v >= static_cast<int64_t>(p.size()) || seen[static_cast<size_t>(v)]) return false;
    seen[static_cast<size_t>(v)] = true;
  }
  return true;
}

bool IsIdentity(const std::vector<int64_t>& p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// y = transpose(x, perm): y.shape[j] = x.shape[perm[j]].
Tensor Transposed(const Tensor& x, const std::vector<int64_t>& perm) {
  Shape ys(perm.size());
  for (size_t j = 0; j < perm.size(); ++j) ys[j] = x.dim(static_cast<int>(perm[j]));
  Tensor y(x.dtype(), ys);
  const size_t es = DTypeSize(x.dtype());
  std::vector<int64_t> xs = Strides(x.shape());
  std::vector<int64_t> idx(perm.size(), 0);
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  for (int64_t k = 0; k < y.numel(); ++k) {
    int64_t off = 0;
    for (size_t j = 0; j < perm.size(); ++j) off += idx[j] * xs[static_cast<size_t>(perm[j])];
    std::memcpy(dst + k * es, src + off * es, es);
    for (int j = static_cast<int>(perm.size()) - 1; j >= 0; --j) {
      if (++idx[static_cast<size_t>(j)] < ys[static_cast<size_t>(j)]) break;
      idx[static_cast<size_t>(j)] = 0;
    }
  }
  return y;
}

bool IsTranspose(const onnx::NodeProto& n) {
  return n.op_type() == "Transpose" && (n.domain().empty() || n.domain() == "ai.onnx");
}

void PermuteDims(onnx::ValueInfoProto* vi, const std::vector<int64_t>& perm) {
  auto* shape = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
  std::vector<onnx::TensorShapeProto_Dimension> dims(shape->dim().begin(), shape->dim().end());
  for (size_t j = 0; j < perm.size(); ++j)
    *shape->mutable_dim(static_cast<int>(j)) = dims[static_cast<size_t>(perm[j])];
}

class Optimizer {
 public:
  explicit Optimizer(PassRun& run) : run_(run), g_(run.graph()), namer_(*g_) {}

  int Run() {
    int steps = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      if (!Step()) break;
      ++steps;
    }
    return steps;
  }

 private:
  // One rewrite; false when none applies. Removal marks nodes with an empty op_type.
  bool Step() {
    GraphIndex idx(*g_);
    TypeTable types(*g_);
    for (int i = 0; i < g_->node_size(); ++i) {
      onnx::NodeProto* t = g_->mutable_node(i);
      if (!IsTranspose(*t)) continue;
      const std::string out = t->output(0);
      int rank = static_cast<int>(IntsAttr(*t, "perm").size());
      if (rank == 0) continue;  // default perm: rank unknown here, leave it
      std::vector<int64_t> perm = IntsAttr(*t, "perm");
      const int in_rank = types.Rank(t->input(0));
      if (!IsPermutation(perm) || (in_rank >= 0 && in_rank != rank)) continue;
      if (IsIdentity(perm) && !idx.graph_outputs.count(out)) {
        ReplaceUses(g_, out, t->input(0));
        Remove(i, fmt::format("{}: identity transpose removed", t->name()));
        return true;
      }
      if (IsIdentity(perm) && idx.graph_outputs.count(out)) {
        // Identity into a graph output: the producer writes the output directly.
        const std::string in = t->input(0);
        auto pit = idx.producer.find(in);
        if (pit != idx.producer.end() && idx.NumConsumers(in) == 1) {
          onnx::NodeProto* p = g_->mutable_node(pit->second);
          for (int k = 0; k < p->output_size(); ++k) {
            if (p->output(k) == in) p->set_output(k, out);
          }
          Remove(i, fmt::format("{}: identity transpose removed ({} writes {})", t->name(),
                                p->name(), out));
          return true;
        }
      }
      if (idx.graph_outputs.count(out) || idx.Captured(out)) continue;
      auto cit = idx.consumers.find(out);
      if (cit == idx.consumers.end() || cit->second.size() != 1) continue;
      const int ui = cit->second[0];
      onnx::NodeProto* u = g_->mutable_node(ui);
      // Transpose -> Transpose: merge.
      if (IsTranspose(*u)) {
        std::vector<int64_t> p2 = IntsAttr(*u, "perm");
        if (p2.size() != perm.size() || !IsPermutation(p2)) continue;
        std::vector<int64_t> c(perm.size());
        for (size_t j = 0; j < c.size(); ++j) c[j] = perm[static_cast<size_t>(p2[j])];
        u->set_input(0, t->input(0));
        SetIntsAttr(u, "perm", c);
        run_.Origin(u->name(), {u->name(), t->name()});
        Remove(i,
               fmt::format("{} merged into {} (perm {})", t->name(), u->name(), fmt::join(c, ",")));
        run_.Count("transposes_merged");
        return true;
      }
      const bool unary = kUnary.count(u->op_type()) && u->input(0) == out && u->output_size() == 1;
      bool unary_ok = unary;
      for (int k = 1; unary && k < u->input_size(); ++k) {
        Shape s;
        unary_ok &= u->input(k).empty() ||
                    (u->input(k) != out && types.Static(u->input(k), &s) && s.empty());
      }
      if (unary_ok) {
        Swap(t, u, {});
        return true;
      }
      if (kBinary.count(u->op_type()) && u->input_size() == 2 && u->output_size() == 1) {
        const int slot = u->input(0) == out ? 0 : 1;
        const std::string other = u->input(1 - slot);
        if (other == out) continue;
        int out_rank = types.Rank(u->output(0));
        if (out_rank != rank) continue;
        // Other operand: a constant (permuted here) or a single-use transpose with the same perm.
        if (idx.IsConstant(other)) {
          Tensor c =
              ReadInitializer(g_->initializer(idx.initializer.at(other)), run_.input.base_dir());
          if (c.dtype() == DType::kString || c.rank() > rank) continue;
          Tensor cp = c;
          if (c.numel() != 1 || c.rank() == rank) {
            Shape padded(static_cast<size_t>(rank - c.rank()), 1);
            padded.insert(padded.end(), c.shape().begin(), c.shape().end());
            cp = Transposed(c.Reshaped(padded), Inverse(perm));
          }
          std::string cname = other;
          if (!cp.BitwiseEqual(c)) {
            cname = namer_.Fresh(other + "_nchw");
            AddInitializer(g_, cp, cname);
            run_.tensor_origin[cname] = other;
          }
          Swap(t, u, {{1 - slot, cname}});
          return true;
        }
        auto pit = idx.producer.find(other);
        if (pit == idx.producer.end()) continue;
        onnx::NodeProto* t2 = g_->mutable_node(pit->second);
        if (!IsTranspose(*t2) || IntsAttr(*t2, "perm") != perm || idx.NumConsumers(other) != 1)
          continue;
        std::string src2 = t2->input(0);
        Remove(pit->second,
               fmt::format("{} folded into the transpose after {}", t2->name(), u->name()));
        Swap(t, u, {{1 - slot, src2}});
        run_.Count("transposes_merged");
        return true;
      }
    }
    Compact();
    return false;
  }

  // t -> u  becomes  u' -> t (u reads t's input; t writes u's output).
  void Swap(onnx::NodeProto* t, onnx::NodeProto* u,
            const std::map<int, std::string>& other_inputs) {
    const std::string x = t->input(0);
    const std::string y = u->output(0);
    const std::string mid = namer_.Fresh(y + "_pre_transpose");
    for (int k = 0; k < u->input_size(); ++k) {
      if (u->input(k) == t->output(0)) u->set_input(k, x);
    }
    for (const auto& [k, name] : other_inputs) u->set_input(k, name);
    u->set_output(0, mid);
    t->set_input(0, mid);
    t->set_output(0, y);
    run_.tensor_origin[mid] = y;
    run_.Detail(fmt::format("{} pushed below {} ({})", t->name(), u->name(), u->op_type()));
    run_.Count("transposes_pushed");
    TopoSort(g_);
  }

  void Remove(int i, const std::string& why) {
    run_.Detail(why);
    g_->mutable_node()->DeleteSubrange(i, 1);
  }

  void Compact() {
    TopoSort(g_);
    int r = RemoveUnusedInitializers(g_);
    if (r) run_.Count("initializers_removed", r);
  }

  PassRun& run_;
  onnx::GraphProto* g_;
  Namer namer_;
};

int CountTransposes(const onnx::GraphProto& g) {
  int n = 0;
  for (const auto& node : g.node()) n += IsTranspose(node);
  return n;
}

}  // namespace

void RunNhwcPass(PassRun& run) {
  const std::string outputs = run.Opt("outputs");
  if (outputs != "nchw" && outputs != "nhwc") {
    Fail(ErrorKind::kUsage, "nhwc: outputs must be nchw or nhwc (got '{}')", outputs);
  }
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  Namer namer(*g);
  run.changes["transposes_before"] = CountTransposes(*g);
  std::vector<onnx::NodeProto> front, back;
  for (auto& in : *g->mutable_input()) {
    if (idx.IsInitializer(in.name()) || !in.type().has_tensor_type() ||
        !in.type().tensor_type().has_shape() || in.type().tensor_type().shape().dim_size() != 4) {
      continue;
    }
    const std::string x = in.name();
    std::string nchw = namer.Fresh(x + "_nchw");
    std::string tn = namer.Fresh("Transpose_" + x + "_to_nchw");
    std::vector<std::string> served;
    if (auto it = idx.consumers.find(x); it != idx.consumers.end()) {
      for (int c : it->second) served.push_back(g->node(c).name());
    }
    if (idx.graph_outputs.count(x)) {
      Fail(ErrorKind::kUnsupported, "nhwc: input '{}' is also a graph output", x);
    }
    ReplaceUses(g, x, nchw);
    onnx::NodeProto t = MakeNode("Transpose", tn, {x}, {nchw});
    SetIntsAttr(&t, "perm", {0, 3, 1, 2});
    front.push_back(std::move(t));
    PermuteDims(&in, {0, 2, 3, 1});
    run.Origin(tn, served);
    run.tensor_origin[nchw] = x;
    run.Count("inputs_nhwc");
    run.Detail(fmt::format("input {} is NHWC now: {}", x, TypeToString(in.type())));
  }
  if (outputs == "nhwc") {
    const TypeTable types(run.input.graph());
    GraphIndex idx2(*g);
    for (auto& out : *g->mutable_output()) {
      const std::string y = out.name();
      if (types.Rank(y) != 4 || !idx2.producer.count(y)) continue;
      auto* p = g->mutable_node(idx2.producer.at(y));
      std::string nchw = namer.Fresh(y + "_nchw");
      for (int k = 0; k < p->output_size(); ++k) {
        if (p->output(k) == y) p->set_output(k, nchw);
      }
      ReplaceUses(g, y, nchw, GraphOutputs::kKeep);  // the new Transpose writes y
      std::string tn = namer.Fresh("Transpose_" + y + "_to_nhwc");
      onnx::NodeProto t = MakeNode("Transpose", tn, {nchw}, {y});
      SetIntsAttr(&t, "perm", {0, 2, 3, 1});
      back.push_back(std::move(t));
      if (out.type().tensor_type().has_shape() &&
          out.type().tensor_type().shape().dim_size() == 4) {
        PermuteDims(&out, {0, 2, 3, 1});
      } else {
        out.mutable_type()->mutable_tensor_type()->clear_shape();
      }
      run.Origin(tn, {p->name()});
      run.tensor_origin[nchw] = y;
      run.Count("outputs_nhwc");
    }
  }
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (auto& n : front) *nodes.Add() = std::move(n);
  for (const auto& n : g->node()) *nodes.Add() = n;
  for (auto& n : back) *nodes.Add() = std::move(n);
  g->mutable_node()->Swap(&nodes);
  // The optimizer reads shapes from value_info: recompute them for the rewritten interface.
  {
    onnx::ModelProto copy = run.proto;
    copy.mutable_graph()->clear_value_info();
    Model inferred = Model::FromProto(std::move(copy), run.input.base_dir(), "nhwc (interface)");
    *g->mutable_value_info() = inferred.graph().value_info();
  }
  Optimizer opt(run);
  opt.Run();
  run.changes["transposes_after"] = CountTransposes(*g);
}

}  // namespace concord::passes
