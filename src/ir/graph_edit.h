// Editing ONNX graphs in place: fresh names, node insertion and removal, attribute lookup and
// text, a producer/consumer index, and renaming the uses of a tensor.
//
// Every helper that looks at names sees the whole graph: the main graph and every subgraph
// (If branches, Loop/Scan bodies), at any depth. A subgraph "captures" a name when it reads a
// value of an enclosing graph that it does not define itself (as an input, initializer or node
// output); a subgraph that defines a name "shadows" the outer value of that name.
// The helpers never throw, except where a contract below says so.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace concord {

// Names `sub` reads from enclosing graphs (used inside, at any depth, but defined in none of
// the graphs between the use and `sub`), subgraph outputs that name outer values included.
std::set<std::string> CapturedNames(const onnx::GraphProto& sub);
// True when the node has a graph-valued attribute (If, Loop, Scan, ...).
bool HasSubgraph(const onnx::NodeProto& node);

// Fresh names that collide with no name used anywhere in a graph: node names, tensor names
// (inputs, outputs, initializers, value_info, node inputs/outputs) of the graph and of every
// subgraph, and every name handed out by this Namer before.
class Namer {
 public:
  explicit Namer(const onnx::GraphProto& graph);
  std::string Fresh(const std::string& base);  // base, or base_2, base_3, ...
  void Reserve(const std::string& name) { used_.insert(name); }

 private:
  std::set<std::string> used_;
};
// One fresh name (Namer(graph).Fresh(base)); edit the graph before asking for the next one.
std::string FreshName(const onnx::GraphProto& graph, const std::string& base);

// Inserts a copy of `node` so that it becomes node `pos` (0 <= pos <= node_size); the nodes
// from `pos` on move one place down, in order. Topological order holds when every input of
// `node` is produced before `pos` and its outputs are read only from `pos` on.
void InsertNode(onnx::GraphProto* graph, int pos, const onnx::NodeProto& node);
// Removes node `index` (0 <= index < node_size); the other nodes keep their order.
void RemoveNode(onnx::GraphProto* graph, int index);

onnx::NodeProto MakeNode(const std::string& op_type, const std::string& name,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs);
// The node's attribute called `name`; nullptr when it has none.
const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, const std::string& name);
onnx::AttributeProto* FindAttr(onnx::NodeProto* node, const std::string& name);
// An attribute's value, or `def` (an empty list) when the node does not have it.
int64_t IntAttr(const onnx::NodeProto& node, const std::string& name, int64_t def);
std::vector<int64_t> IntsAttr(const onnx::NodeProto& node, const std::string& name);
float FloatAttr(const onnx::NodeProto& node, const std::string& name, float def);
std::string StringAttr(const onnx::NodeProto& node, const std::string& name,
                       const std::string& def);
// Canonical text of an attribute's value (its name and doc string left out): 3, 0.5, "s",
// [1, 2], ["a", "b"]; graph and tensor values as "<hash of their bytes>".
std::string AttrText(const onnx::AttributeProto& attr);

// Producers and consumers of the tensors of one graph (not of its subgraphs); rebuild after
// edits. Node indices are positions in graph.node().
struct GraphIndex {
  explicit GraphIndex(const onnx::GraphProto& graph);
  std::map<std::string, int> producer;  // tensor -> node writing it
  // tensor -> nodes reading it: one entry per input slot that names it, then one for a node
  // whose subgraphs capture it (when the node does not also read it directly).
  std::map<std::string, std::vector<int>> consumers;
  std::map<std::string, std::vector<int>> captured_by;  // tensor -> nodes whose subgraphs read it
  std::map<std::string, int> initializer;               // name -> initializer index
  std::vector<std::string> inputs;     // declared graph inputs that are not initializers, in order
  std::vector<std::string> outputs;    // graph outputs, in order
  std::set<std::string> graph_inputs;  // every declared graph input (initializer-backed too)
  std::set<std::string> graph_outputs;

  bool IsInitializer(const std::string& name) const { return initializer.count(name) > 0; }
  // An initializer that no graph input can override (a true constant).
  bool IsConstant(const std::string& name) const {
    return IsInitializer(name) && !graph_inputs.count(name);
  }
  bool Captured(const std::string& name) const { return captured_by.count(name) > 0; }
  // Entries in consumers plus one when the tensor is a graph output.
  int NumConsumers(const std::string& name) const;
};

// Whether ReplaceUses renames the graph's own outputs.
enum class GraphOutputs { kRewrite, kKeep };

// Every use of tensor `from` reads `to` instead: node inputs of `graph`; node inputs and
// outputs of every nested subgraph that captures `from` (a subgraph that defines `from`
// itself shadows it, and the rewrite stops there, its own subgraphs included); and, unless
// `outputs` is kKeep, the graph outputs named `from`. Producers of `from` are not touched.
void ReplaceUses(onnx::GraphProto* graph, const std::string& from, const std::string& to,
                 GraphOutputs outputs = GraphOutputs::kRewrite);

}  // namespace concord
