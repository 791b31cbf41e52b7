#include "compare/nxn.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "compare/scores.h"

namespace concord {

namespace {

// Folds one sequence element's diff into the running total.
void MergeDiff(TensorDiff* total, const TensorDiff& d, size_t element) {
  total->dtype_mismatch |= d.dtype_mismatch;
  total->shape_mismatch |= d.shape_mismatch;
  total->count += d.count;
  total->mismatches += d.mismatches;
  total->nan_mismatches += d.nan_mismatches;
  total->inf_mismatches += d.inf_mismatches;
  total->max_abs = std::max(total->max_abs, d.max_abs);
  total->max_rel = std::max(total->max_rel, d.max_rel);
  total->cosine = std::min(total->cosine, d.cosine);
  total->needed_rtol = std::max(total->needed_rtol, d.needed_rtol);
  total->needed_atol = std::max(total->needed_atol, d.needed_atol);
  if (!d.ok && total->ok) {
    total->message = fmt::format("sequence element {}: {}", element, d.message);
    total->worst_index = d.worst_index;
  }
  total->ok &= d.ok;
}

// Copy of the scores with the first `skip` classes of every row dropped, as float64 [rows, C].
Tensor DropClasses(const Tensor& t, int64_t skip) {
  ScoresLayout l = ScoresShape(t);
  Tensor out(DType::kFloat64, {l.rows, l.classes - skip});
  double* p = out.data<double>();
  for (int64_t r = 0; r < l.rows; ++r) {
    for (int64_t c = skip; c < l.classes; ++c) {
      *p++ = t.GetDouble(r * l.classes + c);
    }
  }
  return out;
}

void CompareTensorOutput(const Tensor& a, const Tensor& b, const PairOptions& options,
                         OutputAgreement* out) {
  int64_t skip_a = 0, skip_b = 0;
  bool scores = LooksLikeScores(a) && LooksLikeScores(b);
  if (scores && a.dtype() == b.dtype() && a.shape() != b.shape() && options.label_offset != 0) {
    ScoresLayout la = ScoresShape(a), lb = ScoresShape(b);
    int64_t off = std::abs(options.label_offset);
    if (la.rows == lb.rows && lb.classes - la.classes == off) {
      skip_b = off;
    }
    if (la.rows == lb.rows && la.classes - lb.classes == off) {
      skip_a = off;
    }
  }
  if (skip_a || skip_b) {
    out->offset_applied = skip_b - skip_a;
    out->diff = CompareTensors(DropClasses(a, skip_a), DropClasses(b, skip_b), options.tol);
  } else {
    out->diff = CompareTensors(a, b, options.tol);
  }
  out->ok = out->diff.ok;
  out->message = out->diff.message;
  if (!scores || out->diff.dtype_mismatch || out->diff.shape_mismatch || options.top_k <= 0) {
    return;
  }
  out->labels = true;
  out->rows = ScoresShape(a).rows;
  double top1 = 0, jaccard = 0, tau = 0;
  for (int64_t r = 0; r < out->rows; ++r) {
    std::vector<double> ra = ScoresRow(a, r, skip_a), rb = ScoresRow(b, r, skip_b);
    top1 += TopKIndices(ra, 1) == TopKIndices(rb, 1) ? 1 : 0;
    jaccard += Jaccard(TopKIndices(ra, options.top_k), TopKIndices(rb, options.top_k));
    tau += TopKKendallTau(ra, rb, options.top_k);
  }
  double n = static_cast<double>(std::max<int64_t>(out->rows, 1));
  out->top1_agree = top1 / n;
  out->topk_jaccard = jaccard / n;
  out->kendall_tau = tau / n;
}

const char* KindName(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kTensor:
      return "a tensor";
    case Value::Kind::kSequence:
      return "a sequence";
    case Value::Kind::kMapSequence:
      return "a sequence of maps";
    case Value::Kind::kNone:
      break;
  }
  return "none";
}

}  // namespace

OutputAgreement CompareOutput(const std::string& name, const Value& a, const Value& b,
                              const PairOptions& options) {
  OutputAgreement out;
  out.name = name;
  if (a.kind != b.kind) {
    out.message = fmt::format("output '{}' is {} on one side and {} on the other", name,
                              KindName(a), KindName(b));
    return out;
  }
  if (a.is_none()) {
    out.ok = true;
    return out;
  }
  if (a.is_tensor()) {
    CompareTensorOutput(a.tensor, b.tensor, options, &out);
    return out;
  }
  size_t na = a.is_map_sequence() ? a.maps.size() : a.sequence.size();
  size_t nb = b.is_map_sequence() ? b.maps.size() : b.sequence.size();
  if (na != nb) {
    out.message = fmt::format("output '{}': sequence lengths differ ({} vs {})", name, na, nb);
    return out;
  }
  out.diff.ok = true;
  for (size_t i = 0; i < na; ++i) {
    MergeDiff(&out.diff,
              a.is_map_sequence() ? CompareMaps(a.maps[i], b.maps[i], options.tol)
                                  : CompareTensors(a.sequence[i], b.sequence[i], options.tol),
              i);
  }
  out.ok = out.diff.ok;
  out.message = out.diff.message;
  return out;
}

std::vector<PairAgreement> CompareAllPairs(const std::vector<const std::vector<Value>*>& runs,
                                           const std::vector<std::string>& names,
                                           const PairOptions& options) {
  std::vector<PairAgreement> pairs;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (size_t j = i + 1; j < runs.size(); ++j) {
      PairAgreement p;
      p.a = i;
      p.b = j;
      if (runs[i] == nullptr || runs[j] == nullptr) {
        p.skipped = fmt::format("env {} failed", runs[i] == nullptr ? i : j);
        pairs.push_back(std::move(p));
        continue;
      }
      const auto& ra = *runs[i];
      const auto& rb = *runs[j];
      p.ok = true;
      for (size_t k = 0; k < std::max({names.size(), ra.size(), rb.size()}); ++k) {
        std::string name = k < names.size() ? names[k] : fmt::format("output_{}", k);
        OutputAgreement o;
        if (k < ra.size() && k < rb.size()) {
          o = CompareOutput(name, ra[k], rb[k], options);
        } else {
          o.name = name;
          o.message = fmt::format("output '{}' is missing on one side ({} vs {} outputs)", name,
                                  ra.size(), rb.size());
        }
        p.ok &= o.ok;
        p.outputs.push_back(std::move(o));
      }
      pairs.push_back(std::move(p));
    }
  }
  return pairs;
}

}  // namespace concord
