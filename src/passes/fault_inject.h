// Fault injection: derive a faulty "converted" target model from a source model, one named fault
// at a time, and say which target node carries the fault (the ground truth that `concord
// localize` must find and `concord repair` must undo).
//
// InjectFault() never modifies its argument; it returns a new, checker-valid Model. Faults are
// named "<kind>.<what>" where kind is one of input, param, hyper, graph or control (see
// FaultNames()). The node a fault acts on is FaultSpec::node when given, else the first node of
// the op type the fault needs (in graph order). A fault that cannot be applied to the model (no
// node of the needed op type, a node that lacks the attribute or input the fault changes, an
// unknown fault name) is Error(kUsage) naming the fault and the reason; nothing is partially
// applied.
//
// One file per fault family under passes/faults/ (input, param, hyper, graph, control), listed
// in the table in fault_inject.cc. The net the fault suite is built on is test support:
// passes/fault_suite_net.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/model.h"

namespace concord::passes {

struct FaultSpec {
  std::string name;   // "param.fp16", "hyper.pads", "control.restructure", ...
  std::string node;   // node to act on; "" = first node of the op type the fault needs
  uint64_t seed = 0;  // for faults that draw values (permutations)
};

struct FaultLog {
  std::string fault;          // the fault name
  std::string kind;           // "input", "parameter", "hyperparameter", "graph", or "" (control)
  std::string injected_node;  // target node name carrying the fault; "" for controls
  std::string description;    // one line: what changed, before -> after
};

// Every fault name InjectFault() knows, controls included, in a stable order.
std::vector<std::string> FaultNames();
// "input" / "parameter" / "hyperparameter" / "graph" / "" (control) for a fault name.
std::string FaultKind(const std::string& fault_name);

Model InjectFault(const Model& source, const FaultSpec& fault, FaultLog* log = nullptr);

}  // namespace concord::passes
