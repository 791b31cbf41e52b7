// Classifier-like outputs: recognizing them, their top-k labels, and label agreement metrics.
//
// Shared by `concord run` (top-k display) and `concord compare` (top-1 / top-k / Kendall tau
// agreement, DeltaNN-style label comparison). A scores tensor is a float tensor shaped [C] or
// [N, C] (trailing 1-dims such as [N, C, 1, 1] are ignored) with C >= 2 and N <= 64. All
// functions are pure; NaN scores rank below every number, ties rank the lower class first.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"

namespace concord {

bool LooksLikeScores(const Tensor& t);

// Rows and classes of a scores tensor ([C] -> 1 x C). Only meaningful when LooksLikeScores.
struct ScoresLayout {
  int64_t rows = 0;
  int64_t classes = 0;
};
ScoresLayout ScoresShape(const Tensor& t);

// Scores of row `row`, dropping the first `skip` classes (label offset alignment).
std::vector<double> ScoresRow(const Tensor& t, int64_t row, int64_t skip = 0);

// Class indices of the k largest scores, best first (k is clamped to the row length).
std::vector<int64_t> TopKIndices(const std::vector<double>& scores, int k);

// |A ∩ B| / |A ∪ B| of two label lists (1 when both are empty).
double Jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Kendall's tau-b of two paired samples: (C - D) / sqrt((P - Tx)(P - Ty)), where P is the
// number of pairs and Tx/Ty the pairs tied in x/y. 1 when fewer than two items or when either
// side is all ties and the two sides are identical as rankings; 0 when one side is all ties
// and the other is not.
double KendallTauB(const std::vector<double>& x, const std::vector<double>& y);

// Kendall tau-b of two top-k lists: over the union of both top-k label sets, each label
// ranked by its own score on each side (so labels present in one list only still count).
double TopKKendallTau(const std::vector<double>& a, const std::vector<double>& b, int k);

// DeltaNN's rank distance: the mean, over a's top-k labels (best first, position i), of
// |i - that label's position in b's full ranking|; 0 when b ranks them the same way.
double TopKRankDistance(const std::vector<double>& a, const std::vector<double>& b, int k);
// The same from two top-k label lists alone: a label missing from b counts at position k.
double TopKRankDistance(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace concord
