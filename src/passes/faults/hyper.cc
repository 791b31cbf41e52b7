// Hyperparameter faults: one attribute of one node changed.
#include <fmt/ranges.h>

#include "passes/faults/fault_util.h"

namespace concord::passes::faults {

Applied ApplyHyper(onnx::GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "hyper.bn_epsilon") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"BatchNormalization"}));
    std::string before = AttrOr(*node, "epsilon", "1e-05");
    SetAttr(node, "epsilon", onnx::AttributeProto::FLOAT)->set_f(1e-2f);
    return {node->name(), fmt::format("epsilon {} -> 0.01", before)};
  }
  if (n == "hyper.pads" || n == "hyper.strides" || n == "hyper.dilations") {
    int idx = -1;
    if (f.node.empty() && n != "hyper.strides") {
      // A 3x3 conv, where pads/dilations matter.
      for (int i = 0; i < g->node_size() && idx < 0; ++i) {
        if (g->node(i).op_type() != "Conv") continue;
        onnx::TensorProto* w = FindInit(g, g->node(i).input(1));
        if (w && w->dims_size() == 4 && w->dims(2) == 3) idx = i;
      }
      if (idx < 0) Cannot(f, "no Conv with a 3x3 initializer weight");
    } else {
      idx = PickNode(*g, f, {"Conv"});
    }
    onnx::NodeProto* node = g->mutable_node(idx);
    if (n == "hyper.pads") {
      std::string before = AttrOr(*node, "pads", "[0, 0, 0, 0]");
      SetInts(node, "pads", {2, 2, 0, 0});  // same output size, content shifted
      if (FindAttr(node, "auto_pad"))
        SetAttr(node, "auto_pad", onnx::AttributeProto::STRING)->set_s("NOTSET");
      return {node->name(), fmt::format("pads {} -> [2, 2, 0, 0]", before)};
    }
    if (n == "hyper.strides") {
      std::string before = AttrOr(*node, "strides", "[1, 1]");
      SetInts(node, "strides", {2, 2});
      return {node->name(), fmt::format("strides {} -> [2, 2]", before)};
    }
    std::string before = AttrOr(*node, "dilations", "[1, 1]");
    SetInts(node, "dilations", {2, 2});
    return {node->name(), fmt::format("dilations {} -> [2, 2]", before)};
  }
  if (n == "hyper.count_include_pad") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"AveragePool"}));
    onnx::AttributeProto* a = FindAttr(node, "count_include_pad");
    int64_t before = a ? a->i() : 0;
    SetAttr(node, "count_include_pad", onnx::AttributeProto::INT)->set_i(1 - before);
    return {node->name(), fmt::format("count_include_pad {} -> {}", before, 1 - before)};
  }
  if (n == "hyper.softmax_axis") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"Softmax", "LogSoftmax"}));
    std::string before = AttrOr(*node, "axis", "-1");
    SetAttr(node, "axis", onnx::AttributeProto::INT)->set_i(0);
    return {node->name(), fmt::format("axis {} -> 0", before)};
  }
  if (n == "hyper.transB") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"Gemm"}));
    onnx::AttributeProto* a = FindAttr(node, "transB");
    int64_t before = a ? a->i() : 0;
    onnx::TensorProto* w = FindInit(g, node->input(1));
    if (w == nullptr || w->dims_size() != 2 || w->dims(0) != w->dims(1)) {
      Cannot(f, fmt::format("Gemm '{}' needs a square initializer weight for transB to still run",
                            node->name()));
    }
    SetAttr(node, "transB", onnx::AttributeProto::INT)->set_i(1 - before);
    return {node->name(), fmt::format("transB {} -> {}", before, 1 - before)};
  }
  if (n == "hyper.leaky_alpha") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"LeakyRelu"}));
    std::string before = AttrOr(*node, "alpha", "0.01");
    SetAttr(node, "alpha", onnx::AttributeProto::FLOAT)->set_f(0.3f);
    return {node->name(), fmt::format("alpha {} -> 0.3", before)};
  }
  if (n == "hyper.pool_kernel") {
    onnx::NodeProto* node = g->mutable_node(PickNode(*g, f, {"MaxPool"}));
    std::string before = AttrOr(*node, "kernel_shape", "?");
    SetInts(node, "kernel_shape", {3, 3});
    return {node->name(), fmt::format("kernel_shape {} -> [3, 3]", before)};
  }
  Cannot(f, "unknown hyperparameter fault");
}

}  // namespace concord::passes::faults
