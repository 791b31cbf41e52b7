// The fault table: every fault InjectFault() knows, its kind and the family that applies it.
#include <algorithm>

#include "passes/faults/faults.h"

namespace concord::passes {

namespace {

struct FaultEntry {
  const char* name;
  const char* kind;  // "" for controls
  faults::Applied (*apply)(onnx::GraphProto*, const FaultSpec&);
};

const std::vector<FaultEntry>& Table() {
  using namespace faults;  // NOLINT(google-build-using-namespace): the family functions
  static const std::vector<FaultEntry> kTable = {
      {"input.mean", "input", ApplyInput},
      {"input.std", "input", ApplyInput},
      {"input.bgr", "input", ApplyInput},
      {"input.bgr_consts", "input", ApplyInput},
      {"input.scale255", "input", ApplyInput},
      {"param.transpose", "parameter", ApplyParam},
      {"param.transpose_fc", "parameter", ApplyParam},
      {"param.fp16", "parameter", ApplyParam},
      {"param.int8", "parameter", ApplyParam},
      {"param.bias_drop", "parameter", ApplyParam},
      {"param.bias_scale", "parameter", ApplyParam},
      {"param.permute_out", "parameter", ApplyParam},
      {"param.bn_mean", "parameter", ApplyParam},
      {"hyper.bn_epsilon", "hyperparameter", ApplyHyper},
      {"hyper.pads", "hyperparameter", ApplyHyper},
      {"hyper.strides", "hyperparameter", ApplyHyper},
      {"hyper.dilations", "hyperparameter", ApplyHyper},
      {"hyper.count_include_pad", "hyperparameter", ApplyHyper},
      {"hyper.softmax_axis", "hyperparameter", ApplyHyper},
      {"hyper.transB", "hyperparameter", ApplyHyper},
      {"hyper.leaky_alpha", "hyperparameter", ApplyHyper},
      {"hyper.pool_kernel", "hyperparameter", ApplyHyper},
      {"graph.insert_relu", "graph", ApplyGraph},
      {"graph.insert_mul", "graph", ApplyGraph},
      {"graph.remove_node", "graph", ApplyGraph},
      {"graph.replace_op", "graph", ApplyGraph},
      {"control.identical", "", ApplyControl},
      {"control.restructure", "", ApplyControl},
      {"control.rename", "", ApplyControl},
  };
  return kTable;
}

const FaultEntry* Find(const std::string& name) {
  for (const auto& e : Table()) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> FaultNames() {
  std::vector<std::string> names;
  for (const auto& e : Table()) names.emplace_back(e.name);
  return names;
}

std::string FaultKind(const std::string& name) {
  const FaultEntry* e = Find(name);
  return e == nullptr ? "" : e->kind;
}

Model InjectFault(const Model& source, const FaultSpec& fault, FaultLog* log) {
  const FaultEntry* e = Find(fault.name);
  if (e == nullptr) {
    Fail(ErrorKind::kUsage, "unknown fault '{}'; known: {}", fault.name,
         fmt::join(FaultNames(), ", "));
  }
  onnx::ModelProto proto = source.proto();
  faults::Applied a = e->apply(proto.mutable_graph(), fault);
  // Shapes may have changed: let shape inference start over.
  proto.mutable_graph()->clear_value_info();
  Model out =
      Model::FromProto(std::move(proto), source.base_dir(), "model with fault " + fault.name);
  if (log) *log = {fault.name, e->kind, a.node, a.what, a.renamed_nodes};
  return out;
}

}  // namespace concord::passes
