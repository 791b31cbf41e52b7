// ONNX ops as oneDNN primitives (dnnl_plan.h: BuildDnnl). Each builder checks that oneDNN
// computes exactly the ONNX op for these shapes and attributes and returns false otherwise;
// a primitive oneDNN cannot create on this CPU is a false too. Activations take the layout
// their producer left (blocked at opt 3), weights the layout oneDNN prefers (opt >= 1).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/dnnl_plan.h"
#include "ir/graph_edit.h"

namespace concord::dnnl_internal {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;
using dt = memory::data_type;

bool DefaultDomain(const onnx::NodeProto& n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

// Spatial geometry of a Conv or pooling window: pads, strides, oneDNN's dilations (d - 1) and
// output sizes. False when the attributes are malformed (the reference interpreter reports it).
struct Window {
  memory::dims strides, dilates, pad_l, pad_r, out;
};
bool MakeWindow(const onnx::NodeProto& n, const Shape& in, const Shape& kernel, bool ceil_mode,
                Window* w) {
  size_t s = in.size();
  auto strides = IntsAttr(n, "strides");
  auto dil = IntsAttr(n, "dilations");
  auto pads = IntsAttr(n, "pads");
  if (strides.empty()) strides.assign(s, 1);
  if (dil.empty()) dil.assign(s, 1);
  if (pads.empty()) pads.assign(2 * s, 0);
  if (strides.size() != s || dil.size() != s || pads.size() != 2 * s || kernel.size() != s)
    return false;
  std::string auto_pad = StringAttr(n, "auto_pad", "NOTSET");
  for (size_t i = 0; i < s; ++i) {
    if (strides[i] < 1 || dil[i] < 1 || kernel[i] < 1) return false;
    int64_t ext = (kernel[i] - 1) * dil[i] + 1;
    int64_t pl = pads[i], pr = pads[i + s];
    if (auto_pad == "VALID") {
      pl = pr = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in[i] + strides[i] - 1) / strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + ext - in[i]);
      pl = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pr = total - pl;
    } else if (auto_pad != "NOTSET") {
      return false;
    }
    if (pl < 0 || pr < 0) return false;
    int64_t span = in[i] + pl + pr - ext;
    if (span < 0) return false;
    int64_t out = span / strides[i] + 1;
    if (ceil_mode && span % strides[i] != 0) return false;  // ceil differs: left to ref
    w->strides.push_back(strides[i]);
    w->dilates.push_back(dil[i] - 1);
    w->pad_l.push_back(pl);
    w->pad_r.push_back(pr);
    w->out.push_back(out);
  }
  return true;
}

// Channels-last layout of 3-5 D activations: nwc, nhwc, ndhwc.
memory::desc ChannelsLastMd(const Shape& d) {
  static const memory::format_tag kTags[] = {memory::format_tag::acb, memory::format_tag::acdb,
                                             memory::format_tag::acdeb};
  return memory::desc(d, memory::data_type::f32, kTags[d.size() - 3]);
}

dnnl::post_ops EltwisePostOps(const std::vector<PostOp>& post) {
  dnnl::post_ops po;
  for (const auto& p : post)
    po.append_eltwise(1.0f, p.eltwise.alg, p.eltwise.alpha, p.eltwise.beta);
  return po;
}

// ---- Conv ---------------------------------------------------------------------------------

struct ConvParts {
  const onnx::NodeProto* node;
  std::string x, weights, bias, output;
  std::vector<PostOp> post;
};

// Weight dims as oneDNN wants them: OIHW, or GOIHW for grouped convolutions.
Shape ConvWeightDims(const Tensor& w, int64_t groups) {
  Shape d = w.shape();
  if (groups == 1) return d;
  Shape g = {groups, d[0] / groups};
  g.insert(g.end(), d.begin() + 1, d.end());
  return g;
}

bool BuildConvParts(Plan::Impl& p, const ConvParts& c);

// The 1x1 Conv with its depthwise Conv fused as a post-op; false when oneDNN has no fused
// kernel for it (the caller then builds the two separately).
bool BuildConvWithDepthwise(Plan::Impl& p, const ConvParts& c, size_t dw_at, const Shape& xd,
                            const Tensor& w, const Tensor* b) {
  const PostOp& dw = c.post[dw_at];
  const Tensor* dw_w = p.Constant(dw.dw_weights);
  const Tensor* dw_b = dw.dw_bias.empty() ? nullptr : p.Constant(dw.dw_bias);
  const auto& dn = p.node(dw.dw_node);
  auto st = IntsAttr(dn, "strides");
  int64_t stride = st.empty() ? 1 : st[0];
  Shape mid = {xd[0], w.dim(0), xd[2], xd[3]};
  Shape yd = {xd[0], w.dim(0), (xd[2] + 2 - 3) / stride + 1, (xd[3] + 2 - 3) / stride + 1};
  dnnl::post_ops po;
  for (size_t i = 0; i < c.post.size(); ++i) {
    const auto& q = c.post[i];
    if (i == dw_at)
      po.append_dw(dt::f32, dt::f32, dt::f32, 3, stride, 1, 0, {});
    else
      po.append_eltwise(1.0f, q.eltwise.alg, q.eltwise.alpha, q.eltwise.beta);
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  Shape wd = w.shape();
  dnnl::convolution_forward::primitive_desc pd;
  try {
    auto desc = b ? dnnl::convolution_forward::desc(
                        prop_kind::forward_inference, algorithm::convolution_direct, AnyMd(xd),
                        AnyMd(wd), PlainMd({w.dim(0)}), AnyMd(mid), {1, 1}, {0, 0}, {0, 0}, {0, 0})
                  : dnnl::convolution_forward::desc(
                        prop_kind::forward_inference, algorithm::convolution_direct, AnyMd(xd),
                        AnyMd(wd), AnyMd(mid), {1, 1}, {0, 0}, {0, 0}, {0, 0});
    pd = dnnl::convolution_forward::primitive_desc(desc, attr, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  if (pd.dst_desc().dims() != yd) return false;
  int dw_w_arg = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS;
  int dw_b_arg = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS;
  Shape dwd = {w.dim(0), 1, 1, 3, 3};
  p.owned.emplace_back(DType::kFloat32, Shape{w.dim(0)});  // zeros: the depthwise Conv's bias
  const Tensor& zero_bias = p.owned.back();
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(c.x, pd.src_desc());
  args[DNNL_ARG_WEIGHTS] = p.ConstMem(w, pd.weights_desc(), wd);
  if (b) args[DNNL_ARG_BIAS] = p.ConstMem(*b, pd.bias_desc(), b->shape());
  args[dw_w_arg] = p.ConstMem(*dw_w, pd.query_md(dnnl::query::exec_arg_md, dw_w_arg), dwd);
  args[dw_b_arg] = p.ConstMem(dw_b ? *dw_b : zero_bias,
                              pd.query_md(dnnl::query::exec_arg_md, dw_b_arg), {w.dim(0)});
  args[DNNL_ARG_DST] = p.Output(c.output, pd.dst_desc());
  p.Exec(dnnl::convolution_forward(pd), std::move(args));
  return true;
}

// The 1x1 part and the depthwise part as two primitives.
bool BuildConvSplit(Plan::Impl& p, const ConvParts& c, size_t dw_at) {
  const PostOp& dw = c.post[dw_at];
  const auto& dn = p.node(dw.dw_node);
  ConvParts first{
      c.node,      c.x,
      c.weights,   c.bias,
      dn.input(0), std::vector<PostOp>(c.post.begin(), c.post.begin() + static_cast<long>(dw_at))};
  ConvParts second{
      &dn,
      dn.input(0),
      dw.dw_weights,
      dw.dw_bias,
      c.output,
      std::vector<PostOp>(c.post.begin() + static_cast<long>(dw_at) + 1, c.post.end())};
  return BuildConvParts(p, first) && BuildConvParts(p, second);
}

bool BuildConvParts(Plan::Impl& p, const ConvParts& c) {
  const auto& n = *c.node;
  if (!p.Known(c.x) || !p.F32(c.x)) return false;
  const Tensor* w = p.Constant(c.weights);
  const Tensor* b = c.bias.empty() ? nullptr : p.Constant(c.bias);
  if (!w || w->dtype() != DType::kFloat32 ||
      (!c.bias.empty() && (!b || b->dtype() != DType::kFloat32)))
    return false;
  Shape xd = p.Dims(c.x);
  if (xd.size() < 3 || xd.size() > 5 || w->rank() != static_cast<int>(xd.size())) return false;
  int64_t groups = IntAttr(n, "group", 1), ch = xd[1], m = w->dim(0);
  if (groups < 1 || ch % groups || m % groups || w->dim(1) != ch / groups) return false;
  if (b && b->numel() != m) return false;
  auto dw_it = std::find_if(c.post.begin(), c.post.end(),
                            [](const PostOp& q) { return q.kind == PostOp::Kind::kDepthwise; });
  if (dw_it != c.post.end()) {
    size_t at = static_cast<size_t>(dw_it - c.post.begin());
    return BuildConvWithDepthwise(p, c, at, xd, *w, b) || BuildConvSplit(p, c, at);
  }
  Shape spatial(xd.begin() + 2, xd.end());
  Shape kernel(w->shape().begin() + 2, w->shape().end());
  auto ks = IntsAttr(n, "kernel_shape");
  if (!ks.empty() && ks != kernel) return false;
  Window win;
  if (!MakeWindow(n, spatial, kernel, false, &win)) return false;
  Shape yd = {xd[0], m};
  yd.insert(yd.end(), win.out.begin(), win.out.end());
  Shape wd = ConvWeightDims(*w, groups);
  bool blocked = p.rw.blocked;
  // opt 2 keeps a plain layout but channels-last: oneDNN fuses post-ops into its direct NHWC
  // kernels, while NCHW convolutions run as im2col + GEMM with slow post-ops.
  auto act = [&](const Shape& d) {
    if (blocked) return AnyMd(d);
    return p.rw.opt == 2 ? ChannelsLastMd(d) : PlainMd(d);
  };
  memory::desc src_md = act(xd);
  memory::desc w_md = p.rw.opt >= 1 ? AnyMd(wd) : PlainMd(wd);
  memory::desc dst_md = act(yd);
  dnnl::post_ops po;
  std::string addend;
  for (const auto& q : c.post) {
    if (q.kind == PostOp::Kind::kSum) {
      po.append_sum(1.0f);
      addend = q.addend;
    } else {
      po.append_eltwise(1.0f, q.eltwise.alg, q.eltwise.alpha, q.eltwise.beta);
    }
  }
  if (!addend.empty() && (!p.Known(addend) || !p.F32(addend) || p.Dims(addend) != yd)) return false;
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  auto make =
      [&](const memory::desc& src) -> std::optional<dnnl::convolution_forward::primitive_desc> {
    try {
      auto desc = b ? dnnl::convolution_forward::desc(
                          prop_kind::forward_inference, algorithm::convolution_direct, src, w_md,
                          PlainMd({m}), dst_md, win.strides, win.dilates, win.pad_l, win.pad_r)
                    : dnnl::convolution_forward::desc(
                          prop_kind::forward_inference, algorithm::convolution_direct, src, w_md,
                          dst_md, win.strides, win.dilates, win.pad_l, win.pad_r);
      return dnnl::convolution_forward::primitive_desc(desc, attr, p.engine);
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
  };
  // Blocked: take the layout the producer left when an optimized kernel reads it (no reorder
  // between two convolutions), else let oneDNN choose.
  std::optional<dnnl::convolution_forward::primitive_desc> pd;
  if (blocked && p.slots[static_cast<size_t>(p.Id(c.x))].in_dnnl &&
      p.LayoutOf(c.x) != PlainMd(xd)) {
    pd = make(p.LayoutOf(c.x));
    std::string impl = pd ? pd->impl_info_str() : "";
    if (impl.find("ref") != std::string::npos || impl.find("gemm") != std::string::npos) pd.reset();
  }
  if (!pd) pd = make(src_md);
  if (!pd) return false;
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(c.x, pd->src_desc());
  args[DNNL_ARG_WEIGHTS] = p.ConstMem(*w, pd->weights_desc(), wd);
  if (b) args[DNNL_ARG_BIAS] = p.ConstMem(*b, pd->bias_desc(), {m});
  if (addend.empty()) {
    args[DNNL_ARG_DST] = p.Output(c.output, pd->dst_desc());
  } else if (p.DeadAfter(addend) && p.LayoutOf(addend) == pd->dst_desc()) {
    // the residual is not read again: accumulate into its buffer
    memory dst = p.Need(addend, pd->dst_desc());
    auto& slot = p.slots[static_cast<size_t>(p.Id(c.output))];
    slot.in_dnnl = true;
    slot.produced = true;
    slot.mem = dst;
    args[DNNL_ARG_DST] = dst;
  } else {
    memory from = p.Need(addend, pd->dst_desc());
    memory dst = p.Output(c.output, pd->dst_desc());
    dnnl::reorder copy(from, dst);
    p.Step([&p, copy, from, dst]() mutable { copy.execute(p.stream, from, dst); });
    args[DNNL_ARG_DST] = dst;
  }
  p.Exec(dnnl::convolution_forward(*pd), std::move(args));
  return true;
}

bool BuildConv(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  return BuildConvParts(p, {&n, n.input(0), grp.weights, grp.bias, grp.output, grp.post});
}

// ---- pooling, BatchNormalization, element-wise ---------------------------------------------

bool BuildPool(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string& op = n.op_type();
  const std::string& x = n.input(0);
  if (!p.Known(x) || !p.F32(x) || n.output_size() != 1) return false;
  Shape xd = p.Dims(x);
  if (xd.size() < 3 || xd.size() > 5) return false;
  Shape spatial(xd.begin() + 2, xd.end());
  bool global = op == "GlobalAveragePool" || op == "GlobalMaxPool";
  Shape kernel = global ? spatial : IntsAttr(n, "kernel_shape");
  Window win;
  onnx::NodeProto plain = global ? onnx::NodeProto() : n;
  if (!MakeWindow(plain, spatial, kernel, !global && IntAttr(n, "ceil_mode", 0) != 0, &win))
    return false;
  algorithm alg = algorithm::pooling_max;
  if (op == "AveragePool" || op == "GlobalAveragePool") {
    alg = IntAttr(n, "count_include_pad", 0) ? algorithm::pooling_avg_include_padding
                                             : algorithm::pooling_avg_exclude_padding;
  }
  Shape yd = {xd[0], xd[1]};
  yd.insert(yd.end(), win.out.begin(), win.out.end());
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, p.LayoutOf(x), AnyMd(yd),
                                     win.strides, kernel, win.dilates, win.pad_l, win.pad_r);
    pd = dnnl::pooling_v2_forward::primitive_desc(d, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(x, pd.src_desc());
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::pooling_v2_forward(pd), std::move(args));
  return true;
}

bool BuildBatchNorm(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  if (n.input_size() < 5 || IntAttr(n, "training_mode", 0) != 0) return false;
  for (int k = 1; k < n.output_size(); ++k)
    if (!n.output(k).empty()) return false;
  const std::string& x = n.input(0);
  if (!p.Known(x) || !p.F32(x)) return false;
  Shape xd = p.Dims(x);
  if (xd.size() < 2 || xd.size() > 5) return false;
  const Tensor* params[4];
  for (int k = 0; k < 4; ++k) {
    params[k] = p.Constant(n.input(k + 1));
    if (!params[k] || params[k]->dtype() != DType::kFloat32 || params[k]->numel() != xd[1])
      return false;
  }
  auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
               dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::primitive_desc pd;
  try {
    dnnl::batch_normalization_forward::desc d(prop_kind::forward_inference, p.LayoutOf(x),
                                              FloatAttr(n, "epsilon", 1e-5f), flags);
    pd = dnnl::batch_normalization_forward::primitive_desc(d, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  memory::desc c_md = PlainMd({xd[1]});
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(x, pd.src_desc());
  args[DNNL_ARG_SCALE] = p.ConstMem(*params[0], c_md, {xd[1]});
  args[DNNL_ARG_SHIFT] = p.ConstMem(*params[1], c_md, {xd[1]});
  args[DNNL_ARG_MEAN] = p.ConstMem(*params[2], c_md, {xd[1]});
  args[DNNL_ARG_VARIANCE] = p.ConstMem(*params[3], c_md, {xd[1]});
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::batch_normalization_forward(pd), std::move(args));
  return true;
}

bool BuildEltwise(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  auto e = EltwiseOf(n, p.rw);
  const std::string& x = n.input(0);
  if (!e || !p.Known(x) || !p.F32(x) || p.Dims(x).empty()) return false;
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    dnnl::eltwise_forward::desc d(prop_kind::forward_inference, e->alg, p.LayoutOf(x), e->alpha,
                                  e->beta);
    pd = dnnl::eltwise_forward::primitive_desc(d, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(x, pd.src_desc());
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::eltwise_forward(pd), std::move(args));
  return true;
}

// Binary ops with numpy broadcasting where oneDNN allows it: the first operand has the output's
// shape, the second broadcasts along size-1 dims (commutative ops swap their operands).
bool BuildBinary(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  static const std::map<std::string, algorithm> kAlgs = {
      {"Add", algorithm::binary_add}, {"Sub", algorithm::binary_sub},
      {"Mul", algorithm::binary_mul}, {"Div", algorithm::binary_div},
      {"Max", algorithm::binary_max}, {"Min", algorithm::binary_min}};
  if (n.input_size() != 2) return false;
  std::string a = n.input(0), b = n.input(1);
  if (!p.Known(a) || !p.Known(b) || !p.F32(a) || !p.F32(b)) return false;
  Shape ad = p.Dims(a), bd = p.Dims(b);
  size_t r = std::max(ad.size(), bd.size());
  if (r == 0) return false;
  auto pad = [r](Shape d) {
    d.insert(d.begin(), r - d.size(), 1);
    return d;
  };
  Shape pa = pad(ad), pb = pad(bd), out(r);
  for (size_t i = 0; i < r; ++i) {
    if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1) return false;
    out[i] = pa[i] == 1 ? pb[i] : pa[i];
  }
  bool commutative = n.op_type() != "Sub" && n.op_type() != "Div";
  if (pa != out) {
    if (!commutative || pb != out) return false;
    std::swap(a, b);
    std::swap(ad, bd);
    std::swap(pa, pb);
  }
  // A second operand of lower rank is read through a reshaped view: only constants have one.
  const Tensor* bc = p.Constant(b);
  if (ad.size() != r || (bd.size() != r && !bc)) return false;
  for (memory::desc md0 : {p.LayoutOf(a), PlainMd(out)}) {
    memory::desc md1 = pb == out ? md0 : PlainMd(pb);
    dnnl::binary::primitive_desc pd;
    try {
      dnnl::binary::desc d(kAlgs.at(n.op_type()), md0, md1, md0);
      pd = dnnl::binary::primitive_desc(d, p.engine);
    } catch (const dnnl::error&) {
      continue;
    }
    std::unordered_map<int, memory> args;
    args[DNNL_ARG_SRC_0] = p.Need(a, md0);
    args[DNNL_ARG_SRC_1] = bc && bd.size() != r ? p.ConstMem(*bc, md1, pb) : p.Need(b, md1);
    args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
    p.Exec(dnnl::binary(pd), std::move(args));
    return true;
  }
  return false;
}

bool BuildConcat(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  if (n.input_size() < 1) return false;
  std::vector<memory::desc> mds;
  size_t rank = 0;
  for (const auto& in : n.input()) {
    if (in.empty() || !p.Known(in) || !p.F32(in)) return false;
    Shape d = p.Dims(in);
    if (d.empty() || std::find(d.begin(), d.end(), 0) != d.end()) return false;
    if (rank && d.size() != rank) return false;
    rank = d.size();
    mds.push_back(p.LayoutOf(in));
  }
  int64_t axis = IntAttr(n, "axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(rank);
  if (axis < 0 || axis >= static_cast<int64_t>(rank)) return false;
  dnnl::concat::primitive_desc pd;
  try {
    pd = dnnl::concat::primitive_desc(static_cast<int>(axis), mds, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  for (int i = 0; i < n.input_size(); ++i)
    args[DNNL_ARG_MULTIPLE_SRC + i] = p.Need(n.input(i), mds[static_cast<size_t>(i)]);
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::concat(pd), std::move(args));
  return true;
}

bool BuildSoftmax(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string& x = n.input(0);
  if (!p.Known(x) || !p.F32(x)) return false;
  int64_t rank = static_cast<int64_t>(p.Dims(x).size());
  bool v13 = p.rw.model->Opset("") >= 13;
  int64_t axis = IntAttr(n, "axis", v13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || (!v13 && axis != rank - 1)) return false;
  algorithm alg =
      n.op_type() == "LogSoftmax" ? algorithm::softmax_log : algorithm::softmax_accurate;
  dnnl::softmax_v2_forward::primitive_desc pd;
  try {
    memory::desc md = p.LayoutOf(x);
    dnnl::softmax_v2_forward::desc d(prop_kind::forward_inference, alg, md, md,
                                     static_cast<int>(axis));
    pd = dnnl::softmax_v2_forward::primitive_desc(d, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(x, pd.src_desc());
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::softmax_v2_forward(pd), std::move(args));
  return true;
}

// Resize on 4-D NCHW with constant scales or sizes over H and W, where oneDNN's resampling is
// ONNX's: "linear" with half_pixel coordinates (oneDNN maps dst to (d + 0.5) / f - 0.5 and
// clamps), and "nearest" with whole upscale factors under the coordinate/rounding pairs for
// which it repeats each pixel f times.
bool BuildResize(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string& x = n.input(0);
  if (!p.Known(x) || !p.F32(x) || n.output_size() != 1) return false;
  Shape xd = p.Dims(x);
  int64_t opset = p.rw.model->Opset("");
  if (xd.size() != 4 || opset < 11 || IntAttr(n, "antialias", 0) != 0 ||
      !IntsAttr(n, "axes").empty() ||
      StringAttr(n, "keep_aspect_ratio_policy", "stretch") != "stretch")
    return false;
  const Tensor* scales =
      n.input_size() > 2 && !n.input(2).empty() ? p.Constant(n.input(2)) : nullptr;
  const Tensor* sizes =
      n.input_size() > 3 && !n.input(3).empty() ? p.Constant(n.input(3)) : nullptr;
  std::vector<float> f(2);
  Shape yd = xd;
  if (scales && scales->numel() == 4 && scales->dtype() == DType::kFloat32) {
    const float* sc = scales->data<float>();
    if (sc[0] != 1.0f || sc[1] != 1.0f || sc[2] <= 0 || sc[3] <= 0) return false;
    for (int i = 0; i < 2; ++i) {
      f[static_cast<size_t>(i)] = sc[i + 2];
      yd[static_cast<size_t>(i) + 2] =
          static_cast<int64_t>(std::floor(static_cast<double>(xd[i + 2]) * sc[i + 2]));
    }
  } else if (sizes && sizes->numel() == 4 && sizes->dtype() == DType::kInt64) {
    const int64_t* sz = sizes->data<int64_t>();
    if (sz[0] != xd[0] || sz[1] != xd[1]) return false;
    for (int i = 0; i < 2; ++i) {
      yd[static_cast<size_t>(i) + 2] = sz[i + 2];
      f[static_cast<size_t>(i)] =
          static_cast<float>(static_cast<double>(sz[i + 2]) / static_cast<double>(xd[i + 2]));
    }
  } else {
    return false;
  }
  if (yd[2] < 1 || yd[3] < 1) return false;
  std::string mode = StringAttr(n, "mode", "nearest");
  std::string ctm = StringAttr(n, "coordinate_transformation_mode", "half_pixel");
  std::string nearest = StringAttr(n, "nearest_mode", "round_prefer_floor");
  algorithm alg;
  if (mode == "linear") {
    bool pytorch_ok = ctm == "pytorch_half_pixel" && yd[2] > 1 && yd[3] > 1;
    if (ctm != "half_pixel" && !pytorch_ok) return false;
    alg = algorithm::resampling_linear;
  } else if (mode == "nearest") {
    for (int i = 0; i < 2; ++i) {
      float fi = f[static_cast<size_t>(i)];
      if (fi < 1 || fi != std::floor(fi) ||
          yd[static_cast<size_t>(i) + 2] != xd[i + 2] * static_cast<int64_t>(fi))
        return false;
    }
    bool half =
        ctm == "half_pixel" && (nearest == "round_prefer_floor" || nearest == "round_prefer_ceil");
    bool asym = ctm == "asymmetric" && (nearest == "floor" || nearest == "round_prefer_floor");
    if (!half && !asym) return false;
    alg = algorithm::resampling_nearest;
  } else {
    return false;
  }
  dnnl::resampling_forward::primitive_desc pd;
  try {
    dnnl::resampling_forward::desc d(prop_kind::forward_inference, alg, f, p.LayoutOf(x),
                                     AnyMd(yd));
    pd = dnnl::resampling_forward::primitive_desc(d, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(x, pd.src_desc());
  args[DNNL_ARG_DST] = p.Output(n.output(0), pd.dst_desc());
  p.Exec(dnnl::resampling_forward(pd), std::move(args));
  return true;
}

// ---- Gemm and MatMul as oneDNN matmul --------------------------------------------------------

bool BuildMatmulPrim(Plan::Impl& p, const Group& grp, const std::string& a, const Shape& ad,
                     const std::string& b, const Tensor* b_const, const Shape& bd,
                     const Tensor* bias, const Shape& out) {
  memory::desc w_md = b_const && p.rw.opt >= 1 ? AnyMd(bd) : PlainMd(bd);
  dnnl::primitive_attr attr;
  attr.set_post_ops(EltwisePostOps(grp.post));
  Shape bias_dims(out.size(), 1);
  bias_dims.back() = out.back();
  dnnl::matmul::primitive_desc pd;
  try {
    auto d = bias ? dnnl::matmul::desc(PlainMd(ad), w_md, PlainMd(bias_dims), PlainMd(out))
                  : dnnl::matmul::desc(PlainMd(ad), w_md, PlainMd(out));
    pd = dnnl::matmul::primitive_desc(d, attr, p.engine);
  } catch (const dnnl::error&) {
    return false;
  }
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = p.Need(a, pd.src_desc());
  args[DNNL_ARG_WEIGHTS] =
      b_const ? p.ConstMem(*b_const, pd.weights_desc(), bd) : p.Need(b, pd.weights_desc());
  if (bias) args[DNNL_ARG_BIAS] = p.ConstMem(*bias, pd.bias_desc(), bias_dims);
  args[DNNL_ARG_DST] = p.Output(grp.output, pd.dst_desc());
  p.Exec(dnnl::matmul(pd), std::move(args));
  return true;
}

// Gemm(A, B, C) = alpha * A * op(B) + beta * C with constant B and a per-column (or scalar) C:
// op(B) * alpha and beta * C become the matmul's weights and bias, computed once.
bool BuildGemm(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string& a = n.input(0);
  const Tensor* b = n.input_size() > 1 ? p.Constant(n.input(1)) : nullptr;
  if (!p.Known(a) || !p.F32(a) || !b || b->dtype() != DType::kFloat32 || b->rank() != 2 ||
      IntAttr(n, "transA", 0) != 0)
    return false;
  Shape ad = p.Dims(a);
  bool tb = IntAttr(n, "transB", 0) != 0;
  int64_t k = tb ? b->dim(1) : b->dim(0), cols = tb ? b->dim(0) : b->dim(1);
  if (ad.size() != 2 || ad[1] != k) return false;
  float alpha = FloatAttr(n, "alpha", 1.0f), beta = FloatAttr(n, "beta", 1.0f);
  auto& owned = p.owned;
  Tensor w(DType::kFloat32, {k, cols});
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < cols; ++j)
      w.data<float>()[i * cols + j] = alpha * b->data<float>()[tb ? j * k + i : i * cols + j];
  owned.push_back(std::move(w));
  const Tensor* bias = nullptr;
  if (n.input_size() > 2 && !n.input(2).empty()) {
    const Tensor* c = p.Constant(n.input(2));
    if (!c || c->dtype() != DType::kFloat32) return false;
    bool per_col = c->numel() == cols && (c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1));
    if (!per_col && c->numel() != 1) return false;
    Tensor t(DType::kFloat32, {1, cols});
    for (int64_t j = 0; j < cols; ++j)
      t.data<float>()[j] = beta * c->data<float>()[per_col ? j : 0];
    owned.push_back(std::move(t));
    bias = &owned.back();
  }
  const Tensor* wt = &*std::prev(owned.end(), bias ? 2 : 1);
  return BuildMatmulPrim(p, grp, a, ad, "", wt, {k, cols}, bias, {ad[0], cols});
}

bool BuildMatMul(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string &a = n.input(0), &b = n.input(1);
  if (!p.Known(a) || !p.Known(b) || !p.F32(a) || !p.F32(b)) return false;
  Shape ad = p.Dims(a), bd = p.Dims(b);
  const Tensor* bc = p.Constant(b);
  if (ad.size() < 2 || bd.size() < 2 || ad.size() > 6 || bd.size() > 6) return false;
  if (ad.size() < bd.size() || (bd.size() < ad.size() && !bc)) return false;
  Shape pb = bd;
  pb.insert(pb.begin(), ad.size() - bd.size(), 1);
  size_t r = ad.size();
  if (ad[r - 1] != pb[r - 2]) return false;
  Shape out(r);
  for (size_t i = 0; i + 2 < r; ++i) {
    if (ad[i] != pb[i] && ad[i] != 1 && pb[i] != 1) return false;
    out[i] = std::max(ad[i], pb[i]);
  }
  out[r - 2] = ad[r - 2];
  out[r - 1] = pb[r - 1];
  return BuildMatmulPrim(p, grp, a, ad, b, bc, pb, nullptr, out);
}

// ---- view ops: Reshape, Flatten, Squeeze, Unsqueeze, Identity ---------------------------------

// The output shares the input's plain buffer (the input is reordered to a plain layout first if
// it is blocked). The output shape comes from the reference kernel run once on the traced
// input, so every attribute keeps its exact ONNX meaning; later runs replay the same shapes.
bool BuildView(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  const std::string& x = n.input(0);
  if (n.output_size() != 1 || !p.Known(x) || p.IsConstant(x)) return false;
  if (!p.slots[static_cast<size_t>(p.Id(x))].in_dnnl) return false;
  for (int i = 1; i < n.input_size(); ++i)
    if (!n.input(i).empty() && !p.IsConstant(n.input(i))) return false;
  Shape out;
  try {
    RefSegment seg(*p.rw.model, {grp.node}, p.rw.constants, {{x, p.Plain(x)}});
    std::map<std::string, Value> in = {{x, p.Plain(x)}};
    auto outs = seg.Run(in);
    if (outs.size() != 1 || !outs[0].is_tensor()) return false;
    out = outs[0].tensor.shape();
  } catch (const Error&) {
    return false;
  }
  if (out.empty()) return false;
  memory plain = p.Need(x, PlainMd(p.Dims(x)));
  p.Alias(n.output(0), plain, out);
  return true;
}

}  // namespace

bool BuildDnnl(Plan::Impl& p, const Group& grp) {
  const auto& n = p.node(grp.node);
  if (!DefaultDomain(n)) return false;
  for (int i = 0; i < n.input_size(); ++i) {  // oneDNN memory holds ranks 1..6
    const std::string& in = n.input(i);
    if (in.empty() || !p.Known(in) || !p.F32(in) || (i > 0 && p.IsConstant(in))) continue;
    Shape dims = p.Dims(in);
    if (dims.size() > 6 || (i == 0 && dims.empty()) || NumElements(dims) == 0) return false;
  }
  const std::string& op = n.op_type();
  if (op == "Conv") return BuildConv(p, grp);
  if (op == "Gemm") return BuildGemm(p, grp);
  if (op == "MatMul") return BuildMatMul(p, grp);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool")
    return BuildPool(p, grp);
  if (op == "BatchNormalization") return BuildBatchNorm(p, grp);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min")
    return BuildBinary(p, grp);
  if (op == "Concat") return BuildConcat(p, grp);
  if (op == "Resize") return BuildResize(p, grp);
  if (op == "Softmax" || op == "LogSoftmax") return BuildSoftmax(p, grp);
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity")
    return BuildView(p, grp);
  return BuildEltwise(p, grp);
}

}  // namespace concord::dnnl_internal
