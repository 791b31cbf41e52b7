// The registry of generator op specs (one family per file in this folder) and the helpers the
// specs share: attribute builders, symbolic broadcasting and products.
#include <algorithm>

#include "gen/spec.h"

namespace concord::gen {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t DimBound(int rank) {
  switch (rank) {
    case 0:
    case 1:
    case 2:
      return 32;
    case 3:
      return 16;
    case 4:
      return 10;
    default:
      return 6;
  }
}

AttrSpec IntAttr(const std::string& name, z3::expr v) {
  AttrSpec a;
  a.name = name;
  a.kind = AttrSpec::Kind::kInt;
  a.ints.push_back(v);
  return a;
}
AttrSpec IntsAttr(const std::string& name, std::vector<z3::expr> v) {
  AttrSpec a;
  a.name = name;
  a.kind = AttrSpec::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
AttrSpec FloatAttr(const std::string& name, float v) {
  AttrSpec a;
  a.name = name;
  a.kind = AttrSpec::Kind::kFloat;
  a.f = v;
  return a;
}
AttrSpec StringAttr(const std::string& name, const std::string& v) {
  AttrSpec a;
  a.name = name;
  a.kind = AttrSpec::Kind::kString;
  a.s = v;
  return a;
}

std::vector<z3::expr> Broadcast(BuildContext& ctx, const std::vector<z3::expr>& a,
                                const std::vector<z3::expr>& b) {
  size_t r = std::max(a.size(), b.size());
  std::vector<z3::expr> out;
  for (size_t i = 0; i < r; ++i) {
    // Align from the right.
    bool has_a = i + a.size() >= r, has_b = i + b.size() >= r;
    if (has_a && has_b) {
      const z3::expr& x = a[i + a.size() - r];
      const z3::expr& y = b[i + b.size() - r];
      ctx.Require(x == y || x == 1 || y == 1);
      out.push_back(z3::ite(x == 1, y, x));
    } else {
      out.push_back(has_a ? a[i + a.size() - r] : b[i + b.size() - r]);
    }
  }
  return out;
}

const std::vector<OpSpec>& AllSpecs() {
  static const std::vector<OpSpec> specs = [] {
    std::vector<OpSpec> v;
    AddElementwiseSpecs(v);
    AddNnSpecs(v);
    AddShapeSpecs(v);
    AddReduceSpecs(v);
    std::sort(v.begin(), v.end(),
              [](const OpSpec& a, const OpSpec& b) { return a.op_type < b.op_type; });
    return v;
  }();
  return specs;
}

}  // namespace concord::gen
