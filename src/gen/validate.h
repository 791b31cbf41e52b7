// Validation of a concretized candidate, and the value search that rescues a candidate whose
// values (not its graph) put NaN/Inf into a node output.
//
// Validate: the ONNX checker and shape inference must agree with the spec's shapes, and a `ref`
// run must succeed with every node output finite. On failure it names the reason and, for a
// non-finite output, the first one in graph order and how many of its elements are NaN/Inf.
//
// SearchValues is NNSmith's gradient-guided input search done without gradients (Concord's
// oracle is an interpreter, not an autodiff framework): the first node whose output is
// non-finite names the culprit; the floating-point graph inputs and weights in its ancestor cone
// are moved and redrawn with a fresh value seed, three ways per step: their ranges halved toward
// zero (the descent direction of NNSmith's overflow losses: Exp, Pow, products and sums in
// float16), made positive and away from zero (a reciprocal of values near zero, a negative
// base of a fractional power), or halfway to 1 (products over many elements: ReduceProd of
// reciprocals); domain-limited ops already get ranges or guard nodes from their specs. The best
// move is kept when the first non-finite node moves later or has no more
// non-finite elements than before; otherwise the next step redraws from the kept ranges. The graph,
// the z3 model (shapes, attributes) and the op mix are kept, so generation no longer drifts
// away from the ops that overflow easily.
#pragma once

#include <z3++.h>

#include <cstdint>
#include <string>

#include "gen/concretize.h"
#include "ir/model.h"

namespace concord::gen {

struct Verdict {
  std::string reason;            // "" when the candidate is valid
  std::string nonfinite_tensor;  // the first node output (graph order) with NaN/Inf, or ""
  int64_t nonfinite_count = 0;   // its NaN/Inf elements
  bool ok() const { return reason.empty(); }
};

// Validates one candidate; fills `out` when valid.
Verdict Validate(const Concrete& c, Model* out);

struct SearchResult {
  int steps = 0;  // value-search steps taken
  bool found = false;
  Concrete concrete;  // the valid candidate when found
  Model model;
  Verdict last;  // the last step's verdict when not found
};

// Searches values for `graph` (solved by `model`) after `first` reported a non-finite output;
// at most `max_steps` re-concretizations, seeded from `value_seed`.
SearchResult SearchValues(const SymGraph& graph, const z3::model& model, uint64_t value_seed,
                          const std::string& graph_name, const Verdict& first, int max_steps);

}  // namespace concord::gen
