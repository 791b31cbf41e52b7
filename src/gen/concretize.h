// Concretization: turns a symbolic graph (the generator's tensors and nodes) plus one z3 model
// into an ONNX ModelProto (opset 17, IR 8) and the graph-input values.
//
// Names are stable: graph inputs "in_K", initializers "w_K", node outputs "t_ID", nodes
// "nI_Op". Values of inputs and weights are drawn from `value_seed` in tensor order, uniform in
// each tensor's [lo, hi] range (the range the specs narrowed for domain-limited consumers).
// A z3 value that does not fit (non-numeral, out of int64) is Error(kInternal): it means a
// spec forgot a bound.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <utility>
#include <vector>

#include "gen/spec.h"
#include "ir/value.h"

namespace concord::gen {

struct SymGraph {
  std::vector<TensorInfo> tensors;
  std::vector<NodeSpec> nodes;
};

struct Concrete {
  onnx::ModelProto proto;
  std::vector<std::pair<std::string, Value>> inputs;
  std::vector<std::pair<std::string, Shape>> node_outputs;  // every node output, with its shape
  std::vector<std::string> op_types;
};

Concrete Concretize(const SymGraph& graph, const z3::model& model, uint64_t value_seed,
                    const std::string& graph_name);

// "float32", "float16", "int32", "int64", "bool" (the spelling GenOptions uses).
std::string GenDTypeName(DType dt);

}  // namespace concord::gen
