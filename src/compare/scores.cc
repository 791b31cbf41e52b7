#include "compare/scores.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace concord {

namespace {

Shape Squeezed(const Tensor& t) {
  Shape s = t.shape();
  while (s.size() > 2 && s.back() == 1) {
    s.pop_back();
  }
  return s;
}

}  // namespace

bool LooksLikeScores(const Tensor& t) {
  if (!IsFloating(t.dtype()) || t.numel() == 0) {
    return false;
  }
  Shape s = Squeezed(t);
  return (s.size() == 1 && s[0] >= 2) || (s.size() == 2 && s[1] >= 2 && s[0] <= 64);
}

ScoresLayout ScoresShape(const Tensor& t) {
  Shape s = Squeezed(t);
  ScoresLayout l;
  l.classes = s.empty() ? 1 : s.back();
  l.rows = l.classes == 0 ? 0 : t.numel() / l.classes;
  return l;
}

std::vector<double> ScoresRow(const Tensor& t, int64_t row, int64_t skip) {
  ScoresLayout l = ScoresShape(t);
  std::vector<double> v;
  if (skip >= l.classes) {
    return v;
  }
  v.reserve(static_cast<size_t>(l.classes - skip));
  for (int64_t c = skip; c < l.classes; ++c) {
    v.push_back(t.GetDouble(row * l.classes + c));
  }
  return v;
}

std::vector<int64_t> TopKIndices(const std::vector<double>& scores, int k) {
  std::vector<int64_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  size_t kk = std::min(static_cast<size_t>(std::max(k, 0)), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(kk), idx.end(),
                    [&](int64_t a, int64_t b) {
                      double va = scores[static_cast<size_t>(a)],
                             vb = scores[static_cast<size_t>(b)];
                      if (std::isnan(va) != std::isnan(vb)) {
                        return std::isnan(vb);
                      }
                      if (std::isnan(va)) {
                        return a < b;
                      }
                      return va > vb || (va == vb && a < b);
                    });
  idx.resize(kk);
  return idx;
}

double Jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  sa.erase(std::unique(sa.begin(), sa.end()), sa.end());
  std::sort(sb.begin(), sb.end());
  sb.erase(std::unique(sb.begin(), sb.end()), sb.end());
  if (sa.empty() && sb.empty()) {
    return 1;
  }
  std::vector<int64_t> both;
  std::set_intersection(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(both));
  size_t uni = sa.size() + sb.size() - both.size();
  return static_cast<double>(both.size()) / static_cast<double>(uni);
}

double KendallTauB(const std::vector<double>& x, const std::vector<double>& y) {
  size_t n = std::min(x.size(), y.size());
  if (n < 2) {
    return 1;
  }
  // Orders NaN below every number so that NaN placement counts like any other rank.
  auto sign = [](double p, double q) {
    bool pn = std::isnan(p), qn = std::isnan(q);
    if (pn || qn) {
      return pn == qn ? 0 : (pn ? -1 : 1);
    }
    return p > q ? 1 : (p < q ? -1 : 0);
  };
  int64_t concordant = 0, discordant = 0, ties_x = 0, ties_y = 0, pairs = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      ++pairs;
      int sx = sign(x[i], x[j]), sy = sign(y[i], y[j]);
      if (sx == 0) {
        ++ties_x;
      }
      if (sy == 0) {
        ++ties_y;
      }
      if (sx == 0 || sy == 0) {
        continue;
      }
      if (sx == sy) {
        ++concordant;
      } else {
        ++discordant;
      }
    }
  }
  double denom =
      std::sqrt(static_cast<double>(pairs - ties_x) * static_cast<double>(pairs - ties_y));
  if (denom == 0) {
    return ties_x == pairs && ties_y == pairs ? 1 : 0;
  }
  return static_cast<double>(concordant - discordant) / denom;
}

double TopKKendallTau(const std::vector<double>& a, const std::vector<double>& b, int k) {
  std::vector<int64_t> labels = TopKIndices(a, k);
  for (int64_t i : TopKIndices(b, k)) {
    if (std::find(labels.begin(), labels.end(), i) == labels.end()) {
      labels.push_back(i);
    }
  }
  std::vector<double> x, y;
  for (int64_t i : labels) {
    if (static_cast<size_t>(i) >= a.size() || static_cast<size_t>(i) >= b.size()) {
      continue;
    }
    x.push_back(a[static_cast<size_t>(i)]);
    y.push_back(b[static_cast<size_t>(i)]);
  }
  return KendallTauB(x, y);
}

double TopKRankDistance(const std::vector<double>& a, const std::vector<double>& b, int k) {
  std::vector<int64_t> ta = TopKIndices(a, k);
  std::vector<int64_t> order = TopKIndices(b, static_cast<int>(b.size()));
  std::vector<int64_t> pos(b.size(), static_cast<int64_t>(b.size()));
  for (size_t i = 0; i < order.size(); ++i)
    pos[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
  if (ta.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < ta.size(); ++i) {
    int64_t p = static_cast<size_t>(ta[i]) < pos.size() ? pos[static_cast<size_t>(ta[i])]
                                                        : static_cast<int64_t>(b.size());
    sum += std::fabs(static_cast<double>(p) - static_cast<double>(i));
  }
  return sum / static_cast<double>(ta.size());
}

double TopKRankDistance(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    auto it = std::find(b.begin(), b.end(), a[i]);
    double p = it == b.end() ? static_cast<double>(a.size()) : static_cast<double>(it - b.begin());
    sum += std::fabs(p - static_cast<double>(i));
  }
  return sum / static_cast<double>(a.size());
}

}  // namespace concord
