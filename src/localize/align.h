// Tensor alignment between a source model and a target model (a conversion of it, or the same
// model on another env), and the divergence metrics of each aligned pair.
//
// Alignment uses the values of tapped runs of both
// models on the same input sets. A target tensor is aligned to a source tensor, in this order:
//   input     graph input K <-> graph input K (position);
//   name      same tensor name, shapes equal or equal up to NCHW<->NHWC — unless that pair
//             diverges and another source tensor holds the target's values, which wins (a
//             fault that moved a name onto a different tensor);
//   name_map  the target's concord.name_map names the source tensor (same rule as name);
//   output    graph output K <-> graph output K (position) when names differ;
//   structure the producing nodes have the same op type and their activation inputs are
//             aligned to each other, input by input;
//   value     some source tensor of the same element count holds the same values within
//             tolerance on every input set (fused/split nodes, Identity, renamed graphs).
// Static tensors (initializers, Constant outputs and anything computed only from them) are
// parameters, not activations: they are not aligned here; localize compares them per node.
// Nothing here throws on mismatching tensors: dtype/shape mismatches are divergences.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "compare/compare.h"
#include "ir/graph_edit.h"

namespace concord::localize {

// The values one side produced: per input set, graph inputs and every tapped tensor.
struct SideValues {
  std::vector<ValueMap> sets;
  std::vector<std::vector<Value>> outputs;  // per set, in graph output order
  bool has_taps = false;
  const Value* Find(size_t set, const std::string& name) const;
};

struct Divergence {
  bool compared = false;   // false: values missing on a side
  bool agree = false;
  bool shape_mismatch = false;
  bool dtype_mismatch = false;
  std::string layout;      // "" or "target NHWC" / "target NCHW" when a permutation was applied
  double max_abs = 0;
  double max_rel = 0;
  double cosine = 1;
  double mismatch_fraction = 0;  // elements beyond tolerance / elements
  double rel_l2 = 0;             // ||target - source|| / ||source|| (0 when both are zero)
  std::string message;
};

// Source value vs target value (target permuted NHWC<->NCHW when that makes shapes equal; float
// dtypes compared in double). Sequences compare element-wise; none vs none agrees.
Divergence Measure(const Value& source, const Value& target, const Tolerance& tol);
// Worst case over input sets: max of the error figures, min cosine, agree only if all agree.
void Accumulate(Divergence* acc, const Divergence& d);

struct Alignment {
  std::string source;  // source tensor name
  std::string method;  // input, name, output, structure, value
  Divergence div;      // aggregated over input sets
};

// Target tensor name -> its alignment; unaligned target tensors are absent. `renamed` maps
// target tensors to the source tensors they carry (the tensors part of the target's
// concord.name_map, written by `concord convert`): such a pair aligns by "name_map" right after
// same-name pairs, so a tensor a pass renamed or re-laid-out aligns to its original.
std::map<std::string, Alignment> AlignTensors(
    const GraphIndex& src, const SideValues& sv, const GraphIndex& tgt, const SideValues& tv,
    const Tolerance& tol, const std::map<std::string, std::string>& renamed = {});

}  // namespace concord::localize
