// String ops of opset 20: StringConcat, StringSplit and RegexFullMatch.
//
// StringConcat joins element-wise with NumPy broadcasting. StringSplit follows ONNX's reference
// (np.char.split, i.e. Python's str.split): with a delimiter, every occurrence separates (so
// "a--b" has an empty piece); without one (or with ""), runs of whitespace separate and leading
// and trailing whitespace is dropped, whitespace being Python's str.isspace() set decoded from
// UTF-8. maxsplit bounds the number of splits from the left (absent or negative: no bound); the
// pieces are padded with "" to the longest count. RegexFullMatch uses RE2, whose syntax the ONNX
// spec names (the Python reference uses `re`, a superset for the patterns RE2 accepts); a
// pattern RE2 rejects is an error naming it.
#include <re2/re2.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

void RequireStrings(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kString)
    ctx.Fail("{} must be a string tensor, got {}", what, t.Describe());
}

std::vector<Value> StringConcat(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireStrings(ctx, a, "X");
  RequireStrings(ctx, b, "Y");
  return Out(BroadcastBinary<std::string, std::string, std::string>(
      ctx, a, b, DType::kString, [](const std::string& x, const std::string& y) { return x + y; }));
}

// Python's str.isspace() code points.
bool IsPythonSpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Length in bytes of the whitespace code point at s[i], or 0 when s[i] starts anything else
// (invalid UTF-8 included).
size_t SpaceAt(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return IsPythonSpace(c) ? 1 : 0;
  size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t cp = n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) return 0;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  return IsPythonSpace(cp) ? n : 0;
}

// str.split(None, maxsplit): whitespace runs separate; the rest after maxsplit splits keeps its
// trailing whitespace.
std::vector<std::string> SplitWhitespace(const std::string& s, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    while (i < s.size()) {
      size_t n = SpaceAt(s, i);
      if (n == 0) break;
      i += n;
    }
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(s.substr(i));
      break;
    }
    size_t j = i;
    while (j < s.size() && SpaceAt(s, j) == 0) ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// str.split(sep, maxsplit) with a non-empty separator.
std::vector<std::string> SplitOn(const std::string& s, const std::string& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t i = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    size_t j = s.find(sep, i);
    if (j == std::string::npos) break;
    out.push_back(s.substr(i, j - i));
    i = j + sep.size();
  }
  out.push_back(s.substr(i));
  return out;
}

std::vector<Value> StringSplit(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  RequireStrings(ctx, x, "X");
  std::string delimiter = ctx.GetString("delimiter", "");
  int64_t maxsplit = ctx.has_attr("maxsplit") ? ctx.GetInt("maxsplit", -1) : -1;
  const std::string* px = x.data<std::string>();
  std::vector<std::vector<std::string>> pieces(static_cast<size_t>(x.numel()));
  size_t longest = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto& p = pieces[static_cast<size_t>(i)];
    p = delimiter.empty() ? SplitWhitespace(px[i], maxsplit) : SplitOn(px[i], delimiter, maxsplit);
    longest = std::max(longest, p.size());
  }
  Shape y_shape = x.shape();
  y_shape.push_back(static_cast<int64_t>(longest));
  Tensor y(DType::kString, y_shape);
  Tensor z(DType::kInt64, x.shape());
  std::string* py = y.data<std::string>();
  int64_t* pz = z.data<int64_t>();
  for (size_t i = 0; i < pieces.size(); ++i) {
    pz[i] = static_cast<int64_t>(pieces[i].size());
    std::copy(pieces[i].begin(), pieces[i].end(), py + i * longest);  // the rest stays ""
  }
  std::vector<Value> out;
  out.emplace_back(std::move(y));
  out.emplace_back(std::move(z));
  return out;
}

std::vector<Value> RegexFullMatch(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  RequireStrings(ctx, x, "X");
  if (!ctx.has_attr("pattern")) ctx.Fail("missing attribute 'pattern'");
  std::string pattern = ctx.GetString("pattern", "");
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) ctx.Fail("pattern '{}' is not valid RE2 syntax: {}", pattern, re.error());
  Tensor y(DType::kBool, x.shape());
  const std::string* px = x.data<std::string>();
  bool* py = y.data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = RE2::FullMatch(px[i], re);
  return Out(std::move(y));
}

}  // namespace

void RegisterStringOps(Registry& r) {
  r.Add("", "StringConcat", 20, StringConcat);
  r.Add("", "StringSplit", 20, StringSplit);
  r.Add("", "RegexFullMatch", 20, RegexFullMatch);
}

}  // namespace concord::ref
