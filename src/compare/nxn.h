// N×N evaluation: every pair of runs of one model, output by output, under one tolerance.
//
// The unit of work is a pair of runs (the outputs of one model on two environments, same
// inputs). For each output this reports CompareTensors' metrics (max abs/rel error, cosine,
// NaN/Inf placement, mismatch count, the tolerance that would have passed) and, for
// classifier-like outputs (compare/scores.h), label agreement: top-1 agreement, top-k Jaccard
// and Kendall tau-b of the top-k lists, averaged over rows. A declared label offset aligns
// 1001-class outputs (TF: background class 0) with 1000-class ones: when the two class counts
// differ by exactly |offset|, the wider side's first |offset| classes are dropped and its
// labels shifted down, for both the numeric and the label comparison. Side `a` is the
// expected value (the tolerance rule |b - a| <= atol + rtol * |a| is asymmetric). Pure
// functions; a failed run is a nullptr and its pairs are marked skipped, never thrown.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compare/compare.h"
#include "ir/value.h"

namespace concord {

struct PairOptions {
  Tolerance tol{1e-5, 1e-5};  // Polygraphy's defaults for cross-runtime comparison
  int top_k = 5;
  int64_t label_offset = 0;  // declared by the user; 0 = shapes must match
};

struct OutputAgreement {
  std::string name;
  bool ok = false;
  TensorDiff diff;      // merged over elements for sequence outputs
  bool labels = false;  // classifier-like: the label metrics below are set
  int64_t rows = 0;
  int64_t offset_applied = 0;  // > 0: b had that many extra classes; < 0: a had
  double top1_agree = 0;       // fraction of rows whose top-1 labels agree
  double topk_jaccard = 0;     // mean over rows of |A ∩ B| / |A ∪ B| of the top-k labels
  double kendall_tau = 0;      // mean over rows of TopKKendallTau
  std::string message;         // empty when ok
};

// Compares one output of two runs (a = expected, b = actual).
OutputAgreement CompareOutput(const std::string& name, const Value& a, const Value& b,
                              const PairOptions& options);

struct PairAgreement {
  size_t a = 0, b = 0;  // indices into the runs
  bool ok = false;
  std::string skipped;  // non-empty when a side has no outputs (its env failed)
  std::vector<OutputAgreement> outputs;
};

// Every unordered pair i < j of `runs`, in row-major order. runs[i] == nullptr means env i
// failed. `names` names the outputs (graph order); a run with a different output count is a
// mismatch on the missing outputs.
std::vector<PairAgreement> CompareAllPairs(const std::vector<const std::vector<Value>*>& runs,
                                           const std::vector<std::string>& names,
                                           const PairOptions& options);

}  // namespace concord
