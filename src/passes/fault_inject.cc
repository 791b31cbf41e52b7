#include "passes/fault_inject.h"

#include <fmt/ranges.h>

#include <algorithm>

#include "passes/faults/fault_util.h"

namespace concord::passes {

namespace {

// The fault families, one file each under passes/faults/, in FaultNames() order.
struct Family {
  const char* prefix;  // "<prefix>.<what>"
  const char* kind;    // FaultKind() of its faults
  std::vector<std::string> faults;
  faults::ApplyFn apply;
};

const std::vector<Family>& Families() {
  static const std::vector<Family> kFamilies = {
      {"input",
       "input",
       {"input.mean", "input.std", "input.bgr", "input.bgr_consts", "input.scale255"},
       faults::ApplyInput},
      {"param",
       "parameter",
       {"param.transpose", "param.transpose_fc", "param.fp16", "param.int8", "param.bias_drop",
        "param.bias_scale", "param.permute_out", "param.bn_mean"},
       faults::ApplyParam},
      {"hyper",
       "hyperparameter",
       {"hyper.bn_epsilon", "hyper.pads", "hyper.strides", "hyper.dilations",
        "hyper.count_include_pad", "hyper.softmax_axis", "hyper.transB", "hyper.leaky_alpha",
        "hyper.pool_kernel"},
       faults::ApplyHyper},
      {"graph",
       "graph",
       {"graph.insert_relu", "graph.insert_mul", "graph.remove_node", "graph.replace_op"},
       faults::ApplyGraph},
      {"control", "", {"control.identical", "control.restructure"}, faults::ApplyControl},
  };
  return kFamilies;
}

const Family* FamilyOf(const std::string& fault_name) {
  const std::string prefix = fault_name.substr(0, fault_name.find('.'));
  for (const auto& f : Families()) {
    if (prefix == f.prefix) return &f;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> FaultNames() {
  std::vector<std::string> names;
  for (const auto& f : Families()) names.insert(names.end(), f.faults.begin(), f.faults.end());
  return names;
}

std::string FaultKind(const std::string& name) {
  const Family* f = FamilyOf(name);
  return f == nullptr ? "" : f->kind;
}

Model InjectFault(const Model& source, const FaultSpec& fault, FaultLog* log) {
  const auto names = FaultNames();
  if (std::find(names.begin(), names.end(), fault.name) == names.end()) {
    Fail(ErrorKind::kUsage, "unknown fault '{}'; known: {}", fault.name, fmt::join(names, ", "));
  }
  onnx::ModelProto proto = source.proto();
  faults::Applied a = FamilyOf(fault.name)->apply(proto.mutable_graph(), fault);
  // Shapes may have changed: let shape inference start over.
  proto.mutable_graph()->clear_value_info();
  Model out =
      Model::FromProto(std::move(proto), source.base_dir(), "model with fault " + fault.name);
  if (log) *log = {fault.name, FaultKind(fault.name), a.node, a.what};
  return out;
}

}  // namespace concord::passes
