// Test-case reduction for fuzzing findings: delta debugging (Zeller's ddmin) over the nodes of a
// model, keeping the smallest node set found whose sub-model still shows the symptom; then over
// its graph inputs, one at a time: an input whose value can be frozen into an initializer while
// the symptom stays is frozen, so the repro needs as few input files as possible (an input that
// a runtime must see as variable, e.g. to avoid its constant folding, stays an input).
//
// A sub-model keeps a subset of the nodes (in graph order) and the initializers they use. A
// tensor a kept node consumes but no kept node produces becomes a graph input, fed with the
// value `ref` computed for it on the original inputs (so the kept nodes see exactly what they
// saw in the full model); kept nodes' outputs that no kept node consumes become graph outputs.
// Candidates that are not valid ONNX (checker/shape inference) are skipped. The oracle decides
// whether a candidate still shows the symptom (e.g. "env X still differs from ref", "env X
// still crashes"); it is called at most `max_tests` times. Single-threaded; the oracle may
// throw nothing (exceptions propagate).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "backends/backend.h"
#include "ir/model.h"

namespace concord {

using ReduceOracle = std::function<bool(const Model& candidate, const ValueMap& inputs)>;

struct ReduceOptions {
  int max_tests = 200;  // oracle calls, both phases together
  bool freeze_inputs = true;
};

struct ReduceResult {
  Model model;
  ValueMap inputs;
  int original_nodes = 0;
  int reduced_nodes = 0;
  int frozen_inputs = 0;  // graph inputs of the node-reduced model turned into initializers
  int tests = 0;          // oracle calls made
};

// `values`: the original inputs plus every intermediate value (ref taps) by tensor name.
// Returns nullopt when the kept set yields no valid model (no outputs, checker failure).
std::optional<std::pair<Model, ValueMap>> SubModel(const Model& model, const ValueMap& values,
                                                   const std::vector<int>& keep);

// Reduces `model` (whose symptom the oracle confirms on `inputs`). The full model must show the
// symptom; when no smaller candidate shows it, the result is the model itself.
ReduceResult ReduceModel(const Model& model, const ValueMap& inputs, const ReduceOracle& oracle,
                         const ReduceOptions& options = {});

// Generalisation of a reduced repro: the nodes whose op the symptom does not depend on. Each
// node that does not produce a graph output is first replaced, whatever its op, by Neg over a
// new initializer holding minus the value ref computed for it (Identity over the value for
// unsigned and bool outputs): everything downstream sees the same values, only the producing
// op differs. An element-wise node is then
// also swapped, attributes dropped, for another op of its arity that keeps its output's shape and
// type (unary: Neg, Abs, Identity; binary: Add, Mul, Sub, Max; its own op and ops that do not
// take its element type skipped). The node is incidental when the oracle still confirms the
// symptom after any one replacement. Two repros whose needed nodes are the same kinds show one
// root cause (`Abs(ReduceSum(c))` and `Abs(Sub(c))` when a runtime ignores Abs over any
// constant-folded producer). The failure that persists could in principle be another defect
// than the original one; repros are small, so this is rare. `tests` counts oracle calls.
std::vector<int> IncidentalNodes(const Model& model, const ValueMap& inputs,
                                 const ReduceOracle& oracle, int* tests = nullptr);

}  // namespace concord
