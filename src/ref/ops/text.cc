// Text ops: StringNormalizer and TfIdfVectorizer.
#include <locale>
#include <map>
#include <set>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- StringNormalizer ---------------------------------------------------------------------------
// Removes stopwords, then lower-/upper-cases. Case mapping is Unicode-aware through the C++
// wide ctype facet of the requested locale (en_US by default; falls back to C.UTF-8, then to
// ASCII-only mapping when neither locale is installed). Input must be UTF-8.

bool DecodeUtf8(const std::string& s, std::wstring* out) {
  out->clear();
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80           ? 0
            : (c >> 5) == 0x6  ? 1
            : (c >> 4) == 0xE  ? 2
            : (c >> 3) == 0x1E ? 3
                               : -1;  // continuation bytes
    if (n < 0 || i + static_cast<size_t>(n) >= s.size()) return false;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out->push_back(static_cast<wchar_t>(cp));
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

std::string EncodeUtf8(const std::wstring& w) {
  std::string s;
  for (wchar_t wc : w) {
    auto cp = static_cast<uint32_t>(wc);
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return s;
}

std::locale MakeLocale(const std::string& name) {
  for (const std::string& n :
       {name.empty() ? std::string("en_US") : name, std::string("C.UTF-8")}) {
    for (const std::string& cand : {n + ".UTF-8", n}) {
      try {
        return std::locale(cand);
      } catch (const std::exception&) {
      }
    }
  }
  return std::locale::classic();
}

struct CaseMapper {
  const KernelContext& ctx;
  std::locale loc;
  std::string Map(const std::string& s, bool upper) const {
    std::wstring w;
    if (!DecodeUtf8(s, &w)) ctx.Fail("input string is not valid UTF-8");
    const auto& facet = std::use_facet<std::ctype<wchar_t>>(loc);
    for (wchar_t& c : w) {
      if (c < 0x80) {  // ASCII: locale-independent
        if (upper && c >= L'a' && c <= L'z') c = static_cast<wchar_t>(c - 32);
        if (!upper && c >= L'A' && c <= L'Z') c = static_cast<wchar_t>(c + 32);
      } else {
        c = upper ? facet.toupper(c) : facet.tolower(c);
      }
    }
    return EncodeUtf8(w);
  }
};

std::vector<Value> StringNormalizer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kString) ctx.Fail("input must be a string tensor");
  const bool two_d = x.rank() == 2;
  if (!(x.rank() == 1 || (two_d && x.dim(0) == 1))) {
    ctx.Fail("input must have shape [C] or [1, C], got {}", ShapeToString(x.shape()));
  }
  const std::string action = ctx.GetString("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER")
    ctx.Fail("invalid case_change_action '{}'", action);
  const bool case_sensitive = ctx.GetInt("is_case_sensitive", 0) != 0;
  CaseMapper mapper{ctx, MakeLocale(ctx.GetString("locale", ""))};

  std::set<std::string> stops;
  for (const auto& w : ctx.GetStrings("stopwords"))
    stops.insert(case_sensitive ? w : mapper.Map(w, false));
  std::vector<std::string> kept;
  const std::string* px = x.data<std::string>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const std::string& s = px[i];
    if (!stops.empty() && stops.count(case_sensitive ? s : mapper.Map(s, false))) continue;
    kept.push_back(action == "NONE" ? s : mapper.Map(s, action == "UPPER"));
  }
  if (kept.empty()) kept.emplace_back();  // all dropped: a single empty string
  auto n = static_cast<int64_t>(kept.size());
  return Out(Tensor::FromVector<std::string>(two_d ? Shape{1, n} : Shape{n}, kept));
}

// ---- TfIdfVectorizer
// ------------------------------------------------------------------------------- The pool holds
// n-grams grouped by length: ngram_counts[i] is where the (i+1)-grams start. Each pool n-gram
// (numbered in pool order) maps to output column ngram_indexes[number]. For every start position
// and skip s in [0, max_skip_count], the n-gram taking every (s+1)-th item is counted if it is in
// the pool; unigrams are counted once (they do not depend on the skip).

std::vector<Value> TfIdfVectorizer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t min_n = ctx.RequireInt("min_gram_length");
  const int64_t max_n = ctx.RequireInt("max_gram_length");
  const int64_t max_skip = ctx.RequireInt("max_skip_count");
  const std::string mode = ctx.GetString("mode", "");
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF")
    ctx.Fail("mode must be TF, IDF or TFIDF, got '{}'", mode);
  if (min_n < 1 || max_n < min_n) ctx.Fail("invalid gram lengths [{}, {}]", min_n, max_n);
  if (max_skip < 0) ctx.Fail("max_skip_count must be non-negative");
  const std::vector<int64_t> counts = ctx.GetInts("ngram_counts");
  const std::vector<int64_t> indexes = ctx.GetInts("ngram_indexes");
  const std::vector<float> weights = ctx.GetFloats("weights");
  const bool strings = ctx.has_attr("pool_strings");
  const std::vector<std::string> pool_s = ctx.GetStrings("pool_strings");
  const std::vector<int64_t> pool_i = ctx.GetInts("pool_int64s");
  if (strings != (x.dtype() == DType::kString))
    ctx.Fail("pool_strings must be used with string input, pool_int64s with integers");
  const auto pool_size = static_cast<int64_t>(strings ? pool_s.size() : pool_i.size());

  // Items are compared as strings (integers are printed) so one map serves both pools.
  auto item = [&](int64_t i) -> std::string {
    if (strings) return x.data<std::string>()[i];
    return std::to_string(x.dtype() == DType::kInt32 ? x.data<int32_t>()[i] : x.data<int64_t>()[i]);
  };
  if (!strings && x.dtype() != DType::kInt32 && x.dtype() != DType::kInt64)
    ctx.Fail("input must be string, int32 or int64");

  std::map<std::vector<std::string>, int64_t> pool;  // n-gram -> output column
  int64_t ngram_no = 0;
  for (size_t level = 0; level < counts.size(); ++level) {
    const auto n = static_cast<int64_t>(level + 1);
    const int64_t begin = counts[level];
    const int64_t end = level + 1 < counts.size() ? counts[level + 1] : pool_size;
    if (begin < 0 || end > pool_size || begin > end || (end - begin) % n != 0) {
      ctx.Fail("ngram_counts do not partition the pool into {}-grams", n);
    }
    for (int64_t p = begin; p < end; p += n, ++ngram_no) {
      if (ngram_no >= static_cast<int64_t>(indexes.size()))
        ctx.Fail("ngram_indexes is shorter than the number of pool n-grams");
      std::vector<std::string> key;
      for (int64_t k = 0; k < n; ++k)
        key.push_back(strings ? pool_s[static_cast<size_t>(p + k)]
                              : std::to_string(pool_i[static_cast<size_t>(p + k)]));
      pool[key] = indexes[static_cast<size_t>(ngram_no)];
    }
  }
  int64_t out_cols = 0;
  for (int64_t idx : indexes) {
    if (idx < 0) ctx.Fail("ngram_indexes must be non-negative");
    out_cols = std::max(out_cols, idx + 1);
  }
  // weights[k] belongs to the k-th pool n-gram, i.e. to output column ngram_indexes[k].
  if (!weights.empty() && weights.size() != indexes.size())
    ctx.Fail("weights must have one entry per ngram_indexes entry");
  std::vector<double> col_weight(static_cast<size_t>(out_cols), 1.0);
  for (size_t k = 0; k < weights.size(); ++k)
    col_weight[static_cast<size_t>(indexes[k])] = weights[k];

  if (x.rank() != 1 && x.rank() != 2)
    ctx.Fail("input must be [C] or [N, C], got {}", ShapeToString(x.shape()));
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
  const int64_t cols = x.rank() == 2 ? x.dim(1) : x.dim(0);
  std::vector<double> freq(static_cast<size_t>(rows * out_cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double* fr = freq.data() + r * out_cols;
    for (int64_t skip = 0; skip <= max_skip; ++skip) {
      const int64_t step = skip + 1;
      const int64_t lo = skip == 0 ? min_n : std::max<int64_t>(min_n, 2);
      for (int64_t start = 0; start < cols; ++start) {
        std::vector<std::string> key;
        for (int64_t n = 1; n <= max_n; ++n) {
          int64_t pos = start + (n - 1) * step;
          if (pos >= cols) break;
          key.push_back(item(r * cols + pos));
          if (n < lo) continue;
          auto it = pool.find(key);
          if (it != pool.end()) fr[it->second] += 1.0;
        }
      }
    }
    for (int64_t c = 0; c < out_cols; ++c) {
      double w = col_weight[static_cast<size_t>(c)];
      if (mode == "IDF") fr[c] = fr[c] > 0 ? w : 0.0;
      if (mode == "TFIDF") fr[c] *= w;
    }
  }
  Tensor out(DType::kFloat32, x.rank() == 2 ? Shape{rows, out_cols} : Shape{out_cols});
  for (size_t i = 0; i < freq.size(); ++i) out.data<float>()[i] = static_cast<float>(freq[i]);
  return Out(std::move(out));
}

}  // namespace

void RegisterTextOps(Registry& r) {
  r.Add("", "StringNormalizer", 10, StringNormalizer);
  r.Add("", "TfIdfVectorizer", 9, TfIdfVectorizer);
}

}  // namespace concord::ref
