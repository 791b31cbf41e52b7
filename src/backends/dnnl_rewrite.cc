// The oneDNN backend's opt levels as graph transformations (dnnl_internal.h):
//   0  one primitive per node, plain layouts, no folding or fusion;
//   1  + constant folding (on the reference interpreter) and BatchNorm folded into Conv weights;
//   2  + post-op fusion: activations and a residual Add fused into the Conv/Gemm/MatMul before,
//      with channels-last (nhwc) activations, the plain layout oneDNN's fused kernels read;
//   3  + blocked activation layouts end to end and a 3x3 depthwise Conv fused after a 1x1 Conv.
#include <cfloat>
#include <cmath>
#include <set>

#include "backends/dnnl_internal.h"
#include "ir/error.h"
#include "ir/graph_edit.h"
#include "ir/tensor_io.h"

namespace concord::dnnl_internal {
namespace {

using dnnl::algorithm;

bool HasSubgraph(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute())
    if (a.has_g() || a.graphs_size() > 0) return true;
  return false;
}

// Ops whose result differs from run to run (never folded).
bool IsNondeterministic(const std::string& op) {
  static const std::set<std::string> kOps = {
      "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
      "Multinomial",  "Bernoulli",     "Dropout"};
  return kOps.count(op) > 0;
}

bool DefaultDomain(const onnx::NodeProto& node) {
  return node.domain().empty() || node.domain() == "ai.onnx";
}

// A constant float scalar input, if present and constant.
std::optional<float> ConstScalar(const onnx::NodeProto& node, int i, const Rewritten& rw) {
  if (node.input_size() <= i || node.input(i).empty()) return std::nullopt;
  auto it = rw.constants.find(node.input(i));
  if (it == rw.constants.end() || it->second.dtype() != DType::kFloat32 || it->second.numel() != 1)
    return std::nullopt;
  return it->second.data<float>()[0];
}

class Rewriter {
 public:
  Rewriter(const Model& model, int opt) : g_(model.graph()) {
    rw_.model = &model;
    rw_.opt = opt;
    rw_.blocked = opt >= 3;
    for (const auto& init : g_.initializer())
      rw_.constants[init.name()] =
          TensorFromProto(init, model.base_dir(), "initializer '" + init.name() + "'");
    removed_.assign(static_cast<size_t>(g_.node_size()), false);
    for (const auto& out : g_.output()) graph_outputs_.insert(out.name());
    for (int i = 0; i < g_.node_size(); ++i) {
      for (const auto& in : NodeReads(g_.node(i))) readers_[in].push_back(i);
      for (const auto& out : g_.node(i).output()) producer_[out] = i;
    }
  }

  Rewritten Run() {
    for (const auto& n : g_.node())
      rw_.whole_graph_on_ref |= n.domain() == "ai.onnx.preview.training";
    if (rw_.whole_graph_on_ref) {
      rw_.passes.push_back("training ops: the whole graph on ref, unchanged");
      for (int i = 0; i < g_.node_size(); ++i) rw_.groups.push_back({i, {}, {}, "", "", ""});
      return std::move(rw_);
    }
    ReadConstantNodes();
    rw_.passes.push_back(rw_.opt == 0 ? "one primitive per node, plain layouts (nchw, oihw)"
                                      : "weights in oneDNN's preferred layout, reordered once");
    if (rw_.opt >= 1) {
      FoldConstants();
      rw_.passes.push_back(fmt::format("constant folding: {} nodes", rw_.folded_nodes));
      int bn = FoldBatchNorms();
      rw_.passes.push_back(fmt::format("BatchNormalization folded into Conv: {}", bn));
    }
    Group();
    if (rw_.opt >= 2)
      rw_.passes.push_back(fmt::format("post-op fusion: {} activations, {} residual sums",
                                       fused_eltwise_, fused_sums_));
    if (rw_.opt == 2) rw_.passes.push_back("channels-last (nhwc) activations");
    if (rw_.opt >= 3) {
      rw_.passes.push_back("blocked activation layouts end to end");
      rw_.passes.push_back(fmt::format("1x1 + depthwise Conv fusion: {}", fused_dw_));
    }
    for (const auto& grp : rw_.groups) {
      std::set<std::string> reads;
      for (const auto& in : NodeReads(g_.node(grp.node))) reads.insert(in);
      for (int f : grp.fused)
        for (const auto& in : NodeReads(g_.node(f))) reads.insert(in);
      for (const auto& p : grp.post)
        if (p.kind == PostOp::Kind::kSum) reads.insert(p.addend);
      for (const auto& r : reads) ++rw_.uses[r];
    }
    for (const auto& out : graph_outputs_) ++rw_.uses[out];
    return std::move(rw_);
  }

 private:
  // Constant nodes carrying a tensor are constants at every level (reading the model, not
  // folding); the other forms (value_float, value_ints, ...) are folded from opt 1.
  void ReadConstantNodes() {
    for (int i = 0; i < g_.node_size(); ++i) {
      const auto& n = g_.node(i);
      if (n.op_type() != "Constant" || !DefaultDomain(n)) continue;
      const auto* v = FindAttr(n, "value");
      if (!v || !v->has_t()) continue;
      rw_.constants[n.output(0)] =
          TensorFromProto(v->t(), rw_.model->base_dir(), "Constant '" + n.output(0) + "'");
      removed_[static_cast<size_t>(i)] = true;
    }
  }

  void FoldConstants() {
    for (int i = 0; i < g_.node_size(); ++i) {
      if (removed_[static_cast<size_t>(i)]) continue;
      const auto& n = g_.node(i);
      if (IsNondeterministic(n.op_type()) || HasSubgraph(n)) continue;
      bool all_const = true;
      for (const auto& in : n.input())
        if (!in.empty() && !rw_.constants.count(in)) all_const = false;
      if (!all_const) continue;
      try {
        RefSegment seg(*rw_.model, {i}, rw_.constants, {});
        std::map<std::string, Value> ins;
        for (const auto& in : seg.inputs()) ins[in] = rw_.constants.at(in);
        auto outs = seg.Run(ins);
        bool tensors = true;
        for (const auto& o : outs) tensors = tensors && o.is_tensor();
        if (!tensors) continue;
        for (size_t k = 0; k < outs.size(); ++k) rw_.constants[seg.outputs()[k]] = outs[k].tensor;
        removed_[static_cast<size_t>(i)] = true;
        ++rw_.folded_nodes;
      } catch (const Error&) {
        // left to run at inference time, where its error (if any) is reported
      }
    }
  }

  // The only consumer of `value` (a node index), or -1 when it has none, several, or is a
  // graph output.
  int SoleConsumer(const std::string& value) const {
    auto it = readers_.find(value);
    if (it == readers_.end() || it->second.size() != 1 || graph_outputs_.count(value)) return -1;
    return removed_[static_cast<size_t>(it->second[0])] ? -1 : it->second[0];
  }

  const Tensor* Const(const std::string& name) const {
    auto it = rw_.constants.find(name);
    return it == rw_.constants.end() ? nullptr : &it->second;
  }

  // Conv followed only by an inference BatchNormalization with constant parameters:
  // W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps).
  int FoldBatchNorms() {
    int folded = 0;
    for (int i = 0; i < g_.node_size(); ++i) {
      const auto& conv = g_.node(i);
      if (removed_[static_cast<size_t>(i)] || conv.op_type() != "Conv" || !DefaultDomain(conv))
        continue;
      int b = SoleConsumer(conv.output(0));
      if (b < 0 || g_.node(b).op_type() != "BatchNormalization") continue;
      const auto& bn = g_.node(b);
      if (bn.input_size() < 5 || bn.input(0) != conv.output(0) || IntAttr(bn, "training_mode", 0))
        continue;
      bool extra_outputs = false;
      for (int k = 1; k < bn.output_size(); ++k) extra_outputs |= !bn.output(k).empty();
      const Tensor* w = Const(conv.input(1));
      const Tensor* bias =
          conv.input_size() > 2 && !conv.input(2).empty() ? Const(conv.input(2)) : nullptr;
      if (extra_outputs || !w || w->dtype() != DType::kFloat32 || w->rank() < 3 ||
          (conv.input_size() > 2 && !conv.input(2).empty() && !bias))
        continue;
      const Tensor *gamma = Const(bn.input(1)), *beta = Const(bn.input(2)),
                   *mean = Const(bn.input(3)), *var = Const(bn.input(4));
      int64_t m = w->dim(0);
      auto ok = [m](const Tensor* t) {
        return t && t->dtype() == DType::kFloat32 && t->numel() == m;
      };
      if (!ok(gamma) || !ok(beta) || !ok(mean) || !ok(var)) continue;
      float eps = FloatAttr(bn, "epsilon", 1e-5f);
      Tensor nw = *w, nb(DType::kFloat32, {m});
      int64_t per = w->numel() / m;
      for (int64_t o = 0; o < m; ++o) {
        float s = gamma->data<float>()[o] / std::sqrt(var->data<float>()[o] + eps);
        for (int64_t k = 0; k < per; ++k) nw.data<float>()[o * per + k] *= s;
        float b0 = bias ? bias->data<float>()[o] : 0.0f;
        nb.data<float>()[o] = (b0 - mean->data<float>()[o]) * s + beta->data<float>()[o];
      }
      std::string wn = conv.output(0) + "::dnnl_folded_w", bnm = conv.output(0) + "::dnnl_folded_b";
      rw_.constants[wn] = std::move(nw);
      rw_.constants[bnm] = std::move(nb);
      bn_fold_[i] = {b, wn, bnm};
      removed_[static_cast<size_t>(b)] = true;
      ++folded;
    }
    return folded;
  }

  // Shapes known from shape inference and equal.
  bool SameKnownShape(const std::string& a, const std::string& b) const {
    const auto* ta = rw_.model->FindType(a);
    const auto* tb = rw_.model->FindType(b);
    if (!ta || !tb || !ta->has_tensor_type() || !tb->has_tensor_type()) return false;
    const auto& sa = ta->tensor_type().shape();
    const auto& sb = tb->tensor_type().shape();
    if (!ta->tensor_type().has_shape() || !tb->tensor_type().has_shape() ||
        sa.dim_size() != sb.dim_size())
      return false;
    for (int k = 0; k < sa.dim_size(); ++k) {
      if (!sa.dim(k).has_dim_value() || !sb.dim(k).has_dim_value() ||
          sa.dim(k).dim_value() != sb.dim(k).dim_value())
        return false;
    }
    return true;
  }

  // Produced before node `anchor` runs (or an input/constant): safe to read in its post-ops.
  bool AvailableBefore(const std::string& value, int anchor) const {
    auto it = producer_.find(value);
    return it == producer_.end() || it->second < anchor;
  }

  bool IsConv1x1(const onnx::NodeProto& n, const Tensor* w) const {
    if (!w || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1 || IntAttr(n, "group", 1) != 1)
      return false;
    for (int64_t s : IntsAttr(n, "strides"))
      if (s != 1) return false;
    for (int64_t p : IntsAttr(n, "pads"))
      if (p != 0) return false;
    auto ap = StringAttr(n, "auto_pad", "NOTSET");
    return ap == "NOTSET" || ap == "VALID";
  }

  // A 3x3 depthwise Conv (pads 1, stride 1 or 2, no dilation) oneDNN can fuse after a 1x1.
  bool IsDepthwise3x3(const onnx::NodeProto& n, const Tensor* w) const {
    if (n.op_type() != "Conv" || !w || w->rank() != 4 || w->dim(1) != 1 || w->dim(2) != 3 ||
        w->dim(3) != 3 || IntAttr(n, "group", 1) != w->dim(0) ||
        StringAttr(n, "auto_pad", "NOTSET") != "NOTSET")
      return false;
    auto st = IntsAttr(n, "strides");
    auto pads = IntsAttr(n, "pads");
    auto dil = IntsAttr(n, "dilations");
    bool stride_ok = st.empty() || (st.size() == 2 && st[0] == st[1] && st[0] >= 1 && st[0] <= 2);
    bool pads_ok = pads.size() == 4 && pads[0] == 1 && pads[1] == 1 && pads[2] == 1 && pads[3] == 1;
    bool dil_ok = dil.empty() || (dil.size() == 2 && dil[0] == 1 && dil[1] == 1);
    return stride_ok && pads_ok && dil_ok;
  }

  std::pair<std::string, std::string> ConvParams(int i) const {
    auto it = bn_fold_.find(i);
    if (it != bn_fold_.end()) return {it->second.weights, it->second.bias};
    const auto& n = g_.node(i);
    if (n.op_type() != "Conv" || n.input_size() < 2) return {"", ""};
    return {n.input(1), n.input_size() > 2 ? n.input(2) : ""};
  }
  // The value a node's group produces before post-ops (the BN's output when BN was folded).
  std::string BaseOutput(int i) const {
    auto it = bn_fold_.find(i);
    return it != bn_fold_.end() ? g_.node(it->second.bn).output(0) : g_.node(i).output(0);
  }

  void Group() {
    for (int i = 0; i < g_.node_size(); ++i) {
      if (removed_[static_cast<size_t>(i)]) continue;
      const auto& n = g_.node(i);
      dnnl_internal::Group grp;
      grp.node = i;
      grp.output = n.output_size() ? n.output(0) : "";
      if (n.op_type() == "Conv" && DefaultDomain(n)) {
        std::tie(grp.weights, grp.bias) = ConvParams(i);
        grp.output = BaseOutput(i);
        auto it = bn_fold_.find(i);
        if (it != bn_fold_.end()) grp.fused.push_back(it->second.bn);
      }
      bool anchor = DefaultDomain(n) &&
                    (n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul");
      if (rw_.opt >= 2 && anchor) FusePostOps(&grp);
      rw_.groups.push_back(std::move(grp));
    }
  }

  void FusePostOps(dnnl_internal::Group* grp) {
    const auto& anchor = g_.node(grp->node);
    bool conv = anchor.op_type() == "Conv";
    bool has_sum = false, has_dw = false;
    for (;;) {
      int c = SoleConsumer(grp->output);
      if (c < 0) return;
      const auto& n = g_.node(c);
      if (auto e = EltwiseOf(n, rw_); e && n.input(0) == grp->output) {
        grp->post.push_back({PostOp::Kind::kEltwise, *e, "", -1, "", ""});
        ++fused_eltwise_;
      } else if (conv && !has_sum && !has_dw && n.op_type() == "Add" && DefaultDomain(n) &&
                 n.input_size() == 2) {
        const std::string& other = n.input(0) == grp->output ? n.input(1) : n.input(0);
        if (other == grp->output || !AvailableBefore(other, grp->node) ||
            !SameKnownShape(other, n.output(0)) || !SameKnownShape(grp->output, n.output(0)))
          return;
        grp->post.push_back({PostOp::Kind::kSum, {}, other, -1, "", ""});
        has_sum = true;
        ++fused_sums_;
      } else if (conv && rw_.opt >= 3 && !has_sum && !has_dw &&
                 IsConv1x1(anchor, Const(grp->weights)) && n.input(0) == grp->output &&
                 IsDepthwise3x3(n, Const(ConvParams(c).first)) &&
                 (n.input_size() < 3 || n.input(2).empty() || Const(ConvParams(c).second) ||
                  bn_fold_.count(c))) {
        auto [dw_w, dw_b] = ConvParams(c);
        grp->post.push_back({PostOp::Kind::kDepthwise, {}, "", c, dw_w, dw_b});
        has_dw = true;
        ++fused_dw_;
        auto it = bn_fold_.find(c);
        if (it != bn_fold_.end()) grp->fused.push_back(it->second.bn);
        grp->fused.push_back(c);
        removed_[static_cast<size_t>(c)] = true;
        grp->output = BaseOutput(c);
        continue;
      } else {
        return;
      }
      grp->fused.push_back(c);
      removed_[static_cast<size_t>(c)] = true;
      grp->output = n.output(0);
    }
  }

  struct BnFold {
    int bn = -1;
    std::string weights, bias;
  };

  const onnx::GraphProto& g_;
  Rewritten rw_;
  std::vector<bool> removed_;
  std::set<std::string> graph_outputs_;
  std::unordered_map<std::string, std::vector<int>> readers_;  // reading nodes, once per read
  std::unordered_map<std::string, int> producer_;
  std::map<int, BnFold> bn_fold_;
  int fused_eltwise_ = 0, fused_sums_ = 0, fused_dw_ = 0;
};

}  // namespace

std::vector<std::string> NodeReads(const onnx::NodeProto& node) {
  std::vector<std::string> reads;
  for (const auto& in : node.input())
    if (!in.empty()) reads.push_back(in);
  std::function<void(const onnx::GraphProto&)> scan = [&](const onnx::GraphProto& g) {
    for (const auto& n : g.node()) {
      for (const auto& in : n.input())
        if (!in.empty()) reads.push_back(in);
      for (const auto& a : n.attribute()) {
        if (a.has_g()) scan(a.g());
        for (const auto& sg : a.graphs()) scan(sg);
      }
    }
  };
  for (const auto& a : node.attribute()) {
    if (a.has_g()) scan(a.g());
    for (const auto& sg : a.graphs()) scan(sg);
  }
  return reads;
}

std::optional<Eltwise> EltwiseOf(const onnx::NodeProto& n, const Rewritten& rw) {
  if (!DefaultDomain(n) || n.input_size() < 1 || n.output_size() != 1) return std::nullopt;
  const auto* t = rw.model->FindType(n.input(0));
  if (t && t->has_tensor_type() && t->tensor_type().elem_type() != onnx::TensorProto::FLOAT)
    return std::nullopt;
  const std::string& op = n.op_type();
  if (op == "Relu") return Eltwise{algorithm::eltwise_relu, 0, 0};
  if (op == "LeakyRelu") return Eltwise{algorithm::eltwise_relu, FloatAttr(n, "alpha", 0.01f), 0};
  if (op == "Sigmoid") return Eltwise{algorithm::eltwise_logistic, 0, 0};
  if (op == "Tanh") return Eltwise{algorithm::eltwise_tanh, 0, 0};
  if (op == "Exp") return Eltwise{algorithm::eltwise_exp, 0, 0};
  if (op == "Log") return Eltwise{algorithm::eltwise_log, 0, 0};
  if (op == "Abs") return Eltwise{algorithm::eltwise_abs, 0, 0};
  if (op == "Sqrt") return Eltwise{algorithm::eltwise_sqrt, 0, 0};
  if (op == "Neg") return Eltwise{algorithm::eltwise_linear, -1, 0};
  if (op == "Elu") return Eltwise{algorithm::eltwise_elu, FloatAttr(n, "alpha", 1.0f), 0};
  if (op == "HardSwish") return Eltwise{algorithm::eltwise_hardswish, 0, 0};
  if (op == "Mish") return Eltwise{algorithm::eltwise_mish, 0, 0};
  if (op == "Gelu") {
    auto approx = StringAttr(n, "approximate", "none");
    if (approx == "none") return Eltwise{algorithm::eltwise_gelu_erf, 0, 0};
    if (approx == "tanh") return Eltwise{algorithm::eltwise_gelu_tanh, 0, 0};
    return std::nullopt;
  }
  if (op == "Clip") {
    float lo = -FLT_MAX, hi = FLT_MAX;
    int64_t opset = rw.model->Opset("");
    if (opset < 11) {
      lo = FloatAttr(n, "min", lo);
      hi = FloatAttr(n, "max", hi);
    } else {
      for (int i = 1; i <= 2; ++i) {
        if (n.input_size() <= i || n.input(i).empty()) continue;
        auto v = ConstScalar(n, i, rw);
        if (!v || std::isnan(*v)) return std::nullopt;
        (i == 1 ? lo : hi) = *v;
      }
    }
    if (lo > hi) return std::nullopt;  // ONNX: every output is max; keep the exact kernel
    return Eltwise{algorithm::eltwise_clip, lo, hi};
  }
  return std::nullopt;
}

Rewritten Rewrite(const Model& model, int opt) { return Rewriter(model, opt).Run(); }

}  // namespace concord::dnnl_internal
