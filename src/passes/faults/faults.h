// The fault families behind InjectFault() (passes/fault_inject.h), one file each, and the
// helpers they share. Internal to src/passes/faults/: table.cc lists every fault with its kind
// and the family function that applies it.
//
// A family function edits `g` (a copy of the source graph) in place and returns the target
// node that carries the fault (by its name in `g`) with a one-line description; a fault that
// cannot be applied throws Error(kUsage) through Cannot() before editing anything.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph_edit.h"
#include "ir/tensor.h"
#include "passes/fault_inject.h"

namespace concord::passes::faults {

using onnx::AttributeProto;
using onnx::GraphProto;
using onnx::NodeProto;
using onnx::TensorProto;

struct Applied {
  Applied(std::string n, std::string w) : node(std::move(n)), what(std::move(w)) {}
  std::string node;
  std::string what;
  std::map<std::string, std::string> renamed_nodes;  // old -> new, controls that rename
};

Applied ApplyInput(GraphProto* g, const FaultSpec& f);    // input.cc
Applied ApplyParam(GraphProto* g, const FaultSpec& f);    // param.cc
Applied ApplyHyper(GraphProto* g, const FaultSpec& f);    // hyper.cc
Applied ApplyGraph(GraphProto* g, const FaultSpec& f);    // graph.cc
Applied ApplyControl(GraphProto* g, const FaultSpec& f);  // control.cc

[[noreturn]] void Cannot(const FaultSpec& f, const std::string& why);
// The node the fault acts on: FaultSpec::node, else the first node of one of `ops`.
int PickNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops);
// The first Sub/Div/Mul/Add reading the graph input (directly or through such nodes) whose
// other operand is an initializer: the preprocessing constant of an input fault.
int PreprocessNode(const GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops);
// The initializer operand of node idx (Cannot when none).
std::string ConstOperand(GraphProto* g, int idx, const FaultSpec& f);

TensorProto* FindInit(GraphProto* g, const std::string& name);
Tensor ReadInit(GraphProto* g, const std::string& name, const FaultSpec& f);
void WriteInit(GraphProto* g, const std::string& name, const Tensor& value);
void AddInit(GraphProto* g, const std::string& name, const Tensor& value);
// Text of an attribute for a description, "<def> (default)" when absent.
std::string AttrOr(const NodeProto& n, const std::string& name, const std::string& def);

std::vector<float> Floats(const Tensor& t);
Tensor FloatTensor(const Shape& shape, const std::vector<float>& v);
// Swaps the last two axes of a tensor of rank >= 2.
Tensor SwapLastAxes(const Tensor& t);

}  // namespace concord::passes::faults
