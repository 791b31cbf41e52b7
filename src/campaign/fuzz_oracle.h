// The fuzzer's verdict rules beyond "outputs differ": boundary effects of discontinuous ops,
// the tolerance each output gets from the ops on its path, the re-timing rule for performance
// findings and the root-cause signature findings are clustered on.
//
// Boundary effects. Floor, Ceil, Round, Cast to an integer type, Sign, Mod, the comparisons
// (Less, Greater, Equal, LessOrEqual, GreaterOrEqual) and ArgMax/ArgMin/TopK jump at a
// discontinuity: an integer (Round: a half-integer), the compared value, zero, a multiple of the
// divisor, a tie. When ref's value of such an op's input lies within `ulps` units in the last
// place of its dtype from the discontinuity (distances from a zero boundary are measured in ULPs
// of 1, since cancellation leaves an absolute error), an env whose upstream arithmetic rounds
// differently may land on the other side. The input may be computed, a graph input or an
// initializer (Greater(w, Cos(x)) with w holding cos(x) itself). BoundaryEffect then re-runs ref
// with those elements moved just across the boundary (all of them at once to each side, then a
// greedy mix of single moves over at most 64 of them; with more, only those of an element-wise
// op whose own output is a graph output differing at that position) and calls the difference a
// boundary effect only when one of those runs agrees with the env's outputs within the
// tolerance: a near-boundary value elsewhere in the model cannot hide an unrelated wrong value.
//
// Tolerance per output (OutputTolerances): the ops on the output's path (its ancestors) add a
// weight: data movement, selection and exact ops (Reshape, Transpose, Gather, Concat, Slice,
// Cast, Relu, Max, Floor, comparisons, MaxPool, ReduceMax...) 0; Add/Sub/Mul and other
// one-rounding arithmetic 1; division, square root and transcendental functions (Exp, Log, Tanh,
// Erf, Sigmoid, Sin...) 2; reductions, contractions and normalisations (MatMul, Gemm, Conv,
// ReduceSum/Mean, pools that average, BatchNormalization, Softmax...) 4; Pow 8; ops not listed 2.
// A path of weight 0 must match exactly (rtol = atol = 0); otherwise the campaign tolerance is
// scaled by clamp(W / 16, 1/16, 4): a 16-weight path (a typical 10-node generated chain) gets the
// campaign's --rtol/--atol, one Add gets 1/16 of it, long exp/pow/reduction chains up to 4x.
//
// Performance confirmation (PerfVerdict): the env and ref are re-timed (>= 3 runs each); the
// env's 95% confidence interval of the mean (Student t) must lie wholly above the interval of
// ref's times scaled by the threshold (perf_factor x the env's usual ratio to ref). Overlapping
// intervals, or failed re-runs, leave the finding unconfirmed.
//
// Root causes (RootCauseSignature): the reduced repro's node kinds (op type, key attributes with
// their values, dtype of the first input), the env and the symptom class (wrong value, crash and
// its first line, error and its normalised message, timeout, perf, or a non-bug label). Two
// findings share a root cause when their env and symptom class are equal and one's node kinds are
// contained in the other's (the smaller repro explains the larger); for a crash or an error,
// whose class names the failing check, sharing one node kind is enough. Two steps merge by
// execution: a wrong value's, error's or crash's repro is generalised (campaign/reduce.h's
// IncidentalNodes with the reduction's oracle: each node replaced by Neg over its own value,
// element-wise nodes also swapped for other ops, the env re-run; nodes whose replacement still
// fails become the wildcard "*:<dtype>", the others are needed), and a generalised repro is
// explained only by a cause whose kinds are exactly its needed ones ({Abs:float, *:float} for
// Abs(ReduceSum(c)) and Abs(Neg(c)) alike, not for {Abs, Concat, *} whose Concat is needed); a raw
// repro is explained by a cause whose concrete kinds it contains. And the same node kinds failing
// the same way on two configurations of one runtime (envs equal but for opt, tune, threads,
// xnnpack) are one cause.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compare/compare.h"
#include "ir/model.h"
#include "ir/value.h"

namespace concord {

// A reason ("Floor 'n3' input[412] = 2.9999998 is 1 ULP from 3; ref with it moved across agrees
// with the env"), or nullopt when the difference is not explained by a boundary.
std::optional<std::string> BoundaryEffect(const Model& model, const ValueMap& inputs,
                                          const ValueMap& ref_taps,
                                          const std::vector<Value>& env_outputs,
                                          const Tolerance& base_tol, int ulps = 4);

// The ops-on-path weight of each graph output (see above).
std::vector<int> OutputPathWeights(const Model& model);
// One tolerance per graph output, from `base` and the output's path weight.
std::vector<Tolerance> OutputTolerances(const Model& model, const Tolerance& base);

// Mean and its 95% confidence interval (Student t); lo = hi = mean for one sample.
struct MeanCI {
  double mean = 0, lo = 0, hi = 0;
};
MeanCI ConfidenceInterval95(const std::vector<double>& samples);

struct PerfVerdict {
  bool confirmed = false;
  MeanCI env, scaled_ref;  // scaled_ref: ref's times x threshold
};
// `threshold` multiplies ref's times; confirmed when env.lo > scaled_ref.hi and each side has at
// least 3 samples.
PerfVerdict JudgePerf(const std::vector<double>& env_ms, const std::vector<double>& ref_ms,
                      double threshold);

// Node kinds of a repro: "Op[attr=value,...]:dtype" with the key attributes (string-valued
// modes, Cast's `to`, 0/1 integer flags such as keepdims or transA) and the element type of the
// first input; float hyperparameters and shape-like lists are not part of it.
std::vector<std::string> RootCauseNodes(const Model& model);
// The same spelling per node, in graph order (duplicates kept).
std::vector<std::string> NodeKinds(const Model& model);
// The wildcard a generalised signature holds in place of incidental nodes, followed by the
// node's dtype: "*:float16".
inline constexpr const char* kAnyNode = "*";
// RootCauseNodes with the nodes at `incidental` (indices) replaced by "*:<dtype>".
std::set<std::string> GeneralisedNodes(const Model& model, const std::vector<int>& incidental);
// Whether a signature holds a wildcard.
bool IsGeneralised(const std::set<std::string>& nodes);
// The env without the options that configure rather than choose a runtime (opt, tune, threads,
// xnnpack): "ort@cpu,opt=3,threads=1" -> "ort@cpu".
std::string RuntimeOf(const std::string& env);
// "wrong value", "crash: SIGSEGV during prepare" (signal and phase), "error: <message class>"
// (normalised, parenthesised parts such as shapes taken out, its first sentence), "timeout",
// "perf", or the label itself for non-bug symptoms (undefined, boundary, perf_unconfirmed).
std::string SymptomClass(const std::string& symptom, const std::string& message);

struct RootCauseSignature {
  std::string env, symptom_class;
  std::set<std::string> nodes;
};
// Whether `a` explains `b` (same symptom class; see the rules above).
bool Explains(const RootCauseSignature& a, const RootCauseSignature& b);

// Symptoms that are labels, not bugs.
bool IsLabelSymptom(const std::string& symptom);

}  // namespace concord
