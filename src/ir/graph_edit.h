// Graph editing on ONNX protos: the one place that names fresh tensors and nodes, builds,
// inserts and removes nodes, reads and writes attributes, indexes producers and consumers, and
// rewires the uses of a tensor. Passes (src/passes), fault injection, localize and repair all
// edit graphs through these helpers, so an edit means the same thing everywhere.
//
// Scoping: ONNX subgraphs (If/Loop/Scan bodies) may read names of the outer scope. ReplaceUses
// rewrites those reads too, unless the subgraph declares the name itself (input, initializer or
// node output), which shadows the outer one from there on. Functions here never throw except
// where stated; an index out of range is a broken invariant (CONCORD_CHECK).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace concord {

// Fresh names that collide with no node, tensor, initializer or value_info name of a graph,
// subgraphs included.
class Namer {
 public:
  explicit Namer(const onnx::GraphProto& graph);
  std::string Fresh(const std::string& base);  // base, or base_2, base_3, ...
  void Reserve(const std::string& name) { used_.insert(name); }

 private:
  std::set<std::string> used_;
};

onnx::NodeProto MakeNode(const std::string& op_type, const std::string& name,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs);
// Inserts `node` so that it becomes node `pos` (0 <= pos <= node_size); later nodes shift.
void InsertNode(onnx::GraphProto* graph, int pos, const onnx::NodeProto& node);
// Removes node `index`, keeping the order of the others.
void RemoveNode(onnx::GraphProto* graph, int index);
// Index of the main-graph node named `name`, -1 when none.
int FindNode(const onnx::GraphProto& graph, const std::string& name);

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, const std::string& name);
onnx::AttributeProto* FindAttr(onnx::NodeProto* node, const std::string& name);
// The attribute `name` of `node`, cleared and typed `type` (added when absent).
onnx::AttributeProto* SetAttr(onnx::NodeProto* node, const std::string& name,
                              onnx::AttributeProto::AttributeType type);
void SetIntAttr(onnx::NodeProto* node, const std::string& name, int64_t v);
void SetIntsAttr(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& v);
void SetFloatAttr(onnx::NodeProto* node, const std::string& name, float v);
int64_t IntAttr(const onnx::NodeProto& node, const std::string& name, int64_t def);
std::vector<int64_t> IntsAttr(const onnx::NodeProto& node, const std::string& name);
float FloatAttr(const onnx::NodeProto& node, const std::string& name, float def);
bool HasSubgraph(const onnx::NodeProto& node);
// Canonical text of an attribute value, name and doc string left out: 3, 0.5, "NOTSET",
// [1, 1], or <hash> for graphs and tensors (equal values give equal text).
std::string AttrText(const onnx::AttributeProto& attr);
// "Conv {kernel_shape=[3, 3], pads=[1, 1, 1, 1]}".
std::string NodeAttrsText(const onnx::NodeProto& node);

// Names a subgraph reads from outer scopes (used but not declared inside), added to `out`.
void OuterRefs(const onnx::GraphProto& subgraph, std::set<std::string>* out);

// Every use of tensor `from` reads `to` instead: inputs of main-graph nodes other than node
// `skip` (-1: none), reads of `from` from the outer scope inside their subgraphs (unless the
// subgraph shadows it), and graph outputs named `from`.
void ReplaceUses(onnx::GraphProto* graph, const std::string& from, const std::string& to,
                 int skip = -1);

// Producers, consumers and static tensors of a main graph; rebuild after edits.
struct GraphIndex {
  explicit GraphIndex(const onnx::GraphProto& graph);
  const onnx::GraphProto* graph;
  std::map<std::string, int> producer;                // tensor -> node index
  std::map<std::string, std::vector<int>> consumers;  // tensor -> main-graph node indices
  std::map<std::string, int> initializer;             // name -> initializer index
  std::set<std::string> graph_inputs;                 // declared inputs (incl. initializers)
  std::vector<std::string> inputs;                    // graph inputs that are not initializers
  std::vector<std::string> outputs;                   // graph outputs, in order
  std::set<std::string> graph_outputs;
  std::set<std::string> used_in_subgraphs;  // outer names read inside subgraphs
  // Initializers, and outputs of standard-domain nodes (not Random*) whose inputs are all
  // static: Constant, a Cast of a weight, a shape computed from constants.
  std::set<std::string> statics;

  const onnx::NodeProto& node(int i) const { return graph->node(i); }
  bool IsInitializer(const std::string& name) const { return initializer.count(name) > 0; }
  // Initializer that is not overridable by a graph input (a true constant).
  bool IsConstant(const std::string& name) const {
    return IsInitializer(name) && !graph_inputs.count(name);
  }
  bool IsStatic(const std::string& name) const { return statics.count(name) > 0; }
  int NumConsumers(const std::string& name) const;  // main-graph uses + graph output + subgraph
  // Non-empty, non-static inputs of node i, with their input positions.
  std::vector<std::pair<int, std::string>> ActivationInputs(int i) const;
};

}  // namespace concord
