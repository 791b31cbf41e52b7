// What a single pass sees (PassRun) and the tensor and attribute helpers the passes share;
// graph editing itself (names, node insertion, indexes, ReplaceUses) is ir/graph_edit.h.
//
// Internal to src/passes/ (the pass table in passes.cc and each pass's .cc).
// A pass edits run.proto (a copy of the validated input model) in place and records, for each
// node it creates or fuses, the input-model nodes it came from (run.Origin); RunPasses fills
// the identity for nodes that kept their name and infers the origin of any other node from the
// tensors it produces. Helpers throw concord::Error; a pass that finds a model it cannot
// handle throws Error(kUnsupported) naming the node.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph_edit.h"
#include "ir/tensor.h"
#include "passes/pass.h"

namespace concord::passes {

struct PassRun {
  const Model& input;                          // validated, shape-inferred input of the pass
  onnx::ModelProto proto;                      // the pass rewrites this
  std::map<std::string, std::string> options;  // resolved (defaults filled in)
  const PassContext& ctx;
  std::map<std::string, std::vector<std::string>> node_origin;  // new node -> input nodes
  std::map<std::string, std::string> tensor_origin;             // new tensor -> input tensor
  nlohmann::json changes = nlohmann::json::object();            // counters shown in summaries
  nlohmann::json details = nlohmann::json::array();             // one line per rewrite

  onnx::GraphProto* graph() { return proto.mutable_graph(); }
  // `from` names input-model nodes, or nodes this pass created earlier (expanded to theirs).
  void Origin(const std::string& node, const std::vector<std::string>& from);
  void Count(const std::string& what, int64_t n = 1);
  void Detail(const std::string& line) { details.push_back(line); }
  const std::string& Opt(const std::string& key) const;
  int64_t IntOpt(const std::string& key) const;  // Error(kUsage) when not an integer
};

// Initializer <-> Tensor (external data resolved against base_dir).
Tensor ReadInitializer(const onnx::TensorProto& proto, const std::string& base_dir);
void AddInitializer(onnx::GraphProto* graph, const Tensor& t, const std::string& name);
// Removes initializers no node, subgraph or graph output uses any more; returns how many.
int RemoveUnusedInitializers(onnx::GraphProto* graph);

void SetIntAttr(onnx::NodeProto* node, const std::string& name, int64_t v);
void SetIntsAttr(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& v);
// Reorders nodes topologically (stable: keeps the given order where it is valid).
// Error(kInternal) on a cycle.
void TopoSort(onnx::GraphProto* graph);
// Element types and static shapes of every value of the (shape-inferred) input model:
// graph inputs/outputs, value_info and initializers.
class TypeTable {
 public:
  explicit TypeTable(const onnx::GraphProto& graph);
  DType Elem(const std::string& name) const;  // kUndefined when unknown or not a tensor
  bool Static(const std::string& name, Shape* shape) const;    // true when fully known
  int Rank(const std::string& name) const;                     // -1 when unknown
  const onnx::TypeProto* Type(const std::string& name) const;  // nullptr when unknown

 private:
  struct Entry {
    DType dtype = DType::kUndefined;
    bool has_shape = false;
    Shape shape;  // -1 for unknown dims
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, onnx::TypeProto> protos_;
};

}  // namespace concord::passes

namespace concord::passes {

// Pass entry points (one .cc each), listed in the table in passes.cc.
void RunOpsetPass(PassRun& run);          // opset.cc
void RunFoldConstantsPass(PassRun& run);  // fold_constants.cc
void RunFoldBnPass(PassRun& run);         // fold_bn.cc
void RunFp16Pass(PassRun& run);           // fp16.cc
void RunQuantizeInt8Pass(PassRun& run);   // quantize.cc
void RunNhwcPass(PassRun& run);           // nhwc.cc

}  // namespace concord::passes
