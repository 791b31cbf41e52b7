// What every fault family shares: the family entry points that fault_inject.cc lists in its
// table, how a fault picks the node it acts on, initializer read/write, and attribute setting.
//
// Internal to src/passes/ (fault_inject.cc and passes/faults/*.cc). A helper that finds the
// model unfit for the fault throws Error(kUsage) "fault '<name>' cannot be applied: <why>".
// Graph editing (names, node insertion/removal, ReplaceUses) is ir/graph_edit.h.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "ir/graph_edit.h"
#include "ir/tensor.h"
#include "passes/fault_inject.h"

namespace concord::passes::faults {

// What a fault did to the graph: the injected node's name ("" for controls) and one line.
struct Applied {
  std::string node;
  std::string what;
};

// A family applies one of its faults to `g` in place, or throws before changing anything.
using ApplyFn = Applied (*)(onnx::GraphProto* g, const FaultSpec& f);

Applied ApplyInput(onnx::GraphProto* g, const FaultSpec& f);    // input.cc
Applied ApplyParam(onnx::GraphProto* g, const FaultSpec& f);    // param.cc
Applied ApplyHyper(onnx::GraphProto* g, const FaultSpec& f);    // hyper.cc
Applied ApplyGraph(onnx::GraphProto* g, const FaultSpec& f);    // graph.cc
Applied ApplyControl(onnx::GraphProto* g, const FaultSpec& f);  // control.cc

[[noreturn]] void Cannot(const FaultSpec& f, const std::string& why);

// Index of the node called `name`; -1 when there is none.
int NodeIndex(const onnx::GraphProto& g, const std::string& name);
// The node the fault acts on: FaultSpec::node (which must be one of `ops`), else the first
// node of one of `ops` in graph order.
int PickNode(const onnx::GraphProto& g, const FaultSpec& f, const std::vector<std::string>& ops);

onnx::TensorProto* FindInit(onnx::GraphProto* g, const std::string& name);  // nullptr: none
Tensor ReadInit(onnx::GraphProto* g, const std::string& name, const FaultSpec& f);
void WriteInit(onnx::GraphProto* g, const std::string& name, const Tensor& value);
void AddInit(onnx::GraphProto* g, const std::string& name, const Tensor& value);

// The attribute `name` of `n`, emptied and set to `type` (added when missing).
onnx::AttributeProto* SetAttr(onnx::NodeProto* n, const std::string& name,
                              onnx::AttributeProto::AttributeType type);
void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v);
// The attribute's value as text, or "<def> (default)" when the node does not set it.
std::string AttrOr(const onnx::NodeProto& n, const std::string& name, const std::string& def);

std::vector<float> Floats(const Tensor& t);
Tensor FloatTensor(const Shape& shape, const std::vector<float>& v);
// The tensor with its last two axes swapped (rank >= 2).
Tensor SwapLastAxes(const Tensor& t);

}  // namespace concord::passes::faults
