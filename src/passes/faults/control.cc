// Controls: models equal to the source in what they compute (no fault to find).
#include <fmt/ranges.h>

#include <cmath>
#include <map>
#include <set>

#include "passes/faults/fault_util.h"

namespace concord::passes::faults {

namespace {

// control.restructure: semantically equal, structurally different: every tensor and node
// renamed, Conv bias split into Conv + Add, Gemm(transB=1) as MatMul + Add, an Identity after
// the first node, BatchNormalization folded into the preceding Conv.
Applied ApplyRestructure(onnx::GraphProto* g, const FaultSpec& f) {
  // 1. Fold BN into a preceding Conv with initializer weights (Conv output used only by BN).
  for (int i = 0; i + 1 < g->node_size(); ++i) {
    onnx::NodeProto* conv = g->mutable_node(i);
    onnx::NodeProto* bn = g->mutable_node(i + 1);
    if (conv->op_type() != "Conv" || bn->op_type() != "BatchNormalization" ||
        bn->input(0) != conv->output(0)) {
      continue;
    }
    Tensor w = ReadInit(g, conv->input(1), f);
    int64_t oc = w.dim(0), per = w.numel() / oc;
    std::vector<float> wv = Floats(w), b(static_cast<size_t>(oc), 0.0f);
    if (conv->input_size() > 2) b = Floats(ReadInit(g, conv->input(2), f));
    std::vector<float> sc = Floats(ReadInit(g, bn->input(1), f)),
                       be = Floats(ReadInit(g, bn->input(2), f)),
                       mu = Floats(ReadInit(g, bn->input(3), f)),
                       va = Floats(ReadInit(g, bn->input(4), f));
    onnx::AttributeProto* ea = FindAttr(bn, "epsilon");
    double eps = ea ? ea->f() : 1e-5;
    for (int64_t k = 0; k < oc; ++k) {
      double s = sc[k] / std::sqrt(static_cast<double>(va[k]) + eps);
      for (int64_t j = 0; j < per; ++j) wv[k * per + j] = static_cast<float>(wv[k * per + j] * s);
      b[k] = static_cast<float>((b[k] - mu[k]) * s + be[k]);
    }
    std::string wn = FreshName(*g, conv->name() + "_folded_w"),
                bnm = FreshName(*g, conv->name() + "_folded_b");
    AddInit(g, wn, FloatTensor(w.shape(), wv));
    AddInit(g, bnm, FloatTensor({oc}, b));
    conv = g->mutable_node(i);
    bn = g->mutable_node(i + 1);
    conv->set_input(1, wn);
    if (conv->input_size() > 2)
      conv->set_input(2, bnm);
    else
      conv->add_input(bnm);
    std::string bn_out = bn->output(0);
    conv->set_output(0, bn_out);
    RemoveNode(g, i + 1);
    break;
  }
  // 2. Gemm(transB=1, initializer W, C) -> MatMul(W^T) + Add(C); Conv bias -> Conv + Add.
  for (int i = 0; i < g->node_size(); ++i) {
    onnx::NodeProto node = g->node(i);
    if (node.op_type() == "Gemm" && node.input_size() == 3) {
      onnx::AttributeProto* ta = FindAttr(&node, "transB");
      onnx::AttributeProto* tA = FindAttr(&node, "transA");
      onnx::AttributeProto* al = FindAttr(&node, "alpha");
      onnx::AttributeProto* be = FindAttr(&node, "beta");
      if ((tA && tA->i()) || (al && al->f() != 1.0f) || (be && be->f() != 1.0f)) continue;
      Tensor w = ReadInit(g, node.input(1), f);
      std::string wn = FreshName(*g, node.name() + "_wt");
      AddInit(g, wn, (ta && ta->i()) ? SwapLastAxes(w) : w);
      std::string mid = FreshName(*g, node.name() + "_mm");
      onnx::NodeProto mm =
          MakeNode("MatMul", FreshName(*g, node.name() + "_matmul"), {node.input(0), wn}, {mid});
      onnx::NodeProto add = MakeNode("Add", FreshName(*g, node.name() + "_bias"),
                                     {mid, node.input(2)}, {node.output(0)});
      g->mutable_node(i)->CopyFrom(mm);
      InsertNode(g, i + 1, add);
      ++i;
    } else if (node.op_type() == "Conv" && node.input_size() == 3) {
      Tensor b = ReadInit(g, node.input(2), f);
      std::string bn = FreshName(*g, node.name() + "_bias4d");
      AddInit(g, bn, b.Reshaped({1, b.numel(), 1, 1}));
      std::string mid = FreshName(*g, node.name() + "_nobias");
      onnx::NodeProto add =
          MakeNode("Add", FreshName(*g, node.name() + "_addbias"), {mid, bn}, {node.output(0)});
      onnx::NodeProto* c = g->mutable_node(i);
      c->mutable_input()->RemoveLast();
      c->set_output(0, mid);
      InsertNode(g, i + 1, add);
      ++i;
    }
  }
  // 3. An Identity after the first node.
  if (g->node_size() > 0) {
    std::string from = g->node(0).output(0);
    std::string out = FreshName(*g, from + "_id");
    ReplaceUses(g, from, out);
    InsertNode(g, 1, MakeNode("Identity", FreshName(*g, "identity"), {from}, {out}));
  }
  // 4. Rename every node and every intermediate tensor (graph inputs/outputs keep theirs).
  std::set<std::string> keep;
  for (const auto& i : g->input()) keep.insert(i.name());
  for (const auto& o : g->output()) keep.insert(o.name());
  std::map<std::string, std::string> rename;
  int k = 0;
  for (auto& node : *g->mutable_node()) {
    node.set_name(fmt::format("n{}_{}", k++, node.op_type()));
    for (auto& o : *node.mutable_output()) {
      if (!keep.count(o) && !o.empty()) rename[o] = fmt::format("t{}", rename.size());
    }
  }
  for (auto& t : *g->mutable_initializer()) {
    if (!keep.count(t.name())) rename[t.name()] = fmt::format("p{}", rename.size());
  }
  for (auto& node : *g->mutable_node()) {
    for (auto& s : *node.mutable_input())
      if (rename.count(s)) s = rename[s];
    for (auto& s : *node.mutable_output())
      if (rename.count(s)) s = rename[s];
  }
  for (auto& t : *g->mutable_initializer())
    if (rename.count(t.name())) t.set_name(rename[t.name()]);
  g->clear_value_info();
  return {"", "renamed everything, BN folded, Conv bias and Gemm split, Identity inserted"};
}

}  // namespace

Applied ApplyControl(onnx::GraphProto* g, const FaultSpec& f) {
  if (f.name == "control.restructure") return ApplyRestructure(g, f);
  if (f.name == "control.identical") return {"", "identical copy"};
  Cannot(f, "unknown control");
}

}  // namespace concord::passes::faults
