// Elementwise op specs: unary math and activations (domain-limited ones guard their input),
// binary arithmetic with numpy broadcasting, comparisons, logical ops, Where, Clip and Cast.
#include <cmath>

#include "gen/spec.h"

namespace concord::gen {
namespace {

constexpr double kInf = INFINITY;

bool PickDType(BuildContext& ctx, const std::string& op, const std::vector<DType>& cands,
               DType* out) {
  auto dts = ctx.Allowed(op, cands);
  if (dts.empty()) return false;
  *out = RandPick(ctx.rng(), dts);
  return true;
}

struct Unary {
  const char* op;
  std::vector<DType> dtypes;
  double lo = -kInf, hi = kInf;  // input domain needing a guard
};

OpSpec MakeUnary(const Unary& u) {
  OpSpec s{u.op, u.dtypes, 0, kMaxRank, nullptr};
  s.build = [u](BuildContext& ctx) {
    DType dt;
    if (!PickDType(ctx, u.op, u.dtypes, &dt)) return false;
    int x = ctx.Pick(dt, 0, kMaxRank);
    if (u.lo > -kInf || u.hi < kInf) x = ctx.Guard(x, u.lo, u.hi);
    std::vector<AttrSpec> attrs;
    std::string op = u.op;
    Rng& rng = ctx.rng();
    if (op == "LeakyRelu") attrs.push_back(FloatAttr("alpha", Coin(rng, 0.5) ? 0.01f : 0.2f));
    if (op == "Elu") attrs.push_back(FloatAttr("alpha", Coin(rng, 0.5) ? 1.0f : 0.5f));
    if (op == "HardSigmoid") attrs.push_back(FloatAttr("alpha", 0.25f));
    auto dims = ctx.tensor(x).dims;
    ctx.Emit(u.op, {x}, {{dt, dims}}, attrs);
    return true;
  };
  return s;
}

enum class BinKind { kArith, kDiv, kPow, kCompare, kLogical };

OpSpec MakeBinary(const char* op, std::vector<DType> dtypes, BinKind kind) {
  OpSpec s{op, dtypes, 0, kMaxRank, nullptr};
  s.build = [op = std::string(op), dtypes, kind](BuildContext& ctx) {
    DType dt;
    if (!PickDType(ctx, op, dtypes, &dt)) return false;
    int a = ctx.Pick(dt, 0, kMaxRank);
    int b = ctx.Pick(dt, 0, kMaxRank);
    if (kind == BinKind::kDiv) b = ctx.Guard(b, IsFloating(dt) ? 0.5 : 1, kInf);
    if (kind == BinKind::kPow) {
      a = ctx.Guard(a, 0.5, kInf);
      b = ctx.Guard(b, -1, 1);
    }
    auto out = Broadcast(ctx, ctx.tensor(a).dims, ctx.tensor(b).dims);
    DType out_dt = (kind == BinKind::kCompare) ? DType::kBool : dt;
    ctx.Emit(op, {a, b}, {{out_dt, out}});
    return true;
  };
  return s;
}

OpSpec MakeWhere() {
  OpSpec s{"Where", kAllTypes, 0, kMaxRank, nullptr};
  s.build = [](BuildContext& ctx) {
    DType dt;
    if (!PickDType(ctx, "Where", kAllTypes, &dt)) return false;
    int c = ctx.Pick(DType::kBool, 0, kMaxRank);
    int x = ctx.Pick(dt, 0, kMaxRank);
    int y = ctx.Pick(dt, 0, kMaxRank);
    auto xy = Broadcast(ctx, ctx.tensor(x).dims, ctx.tensor(y).dims);
    auto out = Broadcast(ctx, ctx.tensor(c).dims, xy);
    ctx.Emit("Where", {c, x, y}, {{dt, out}});
    return true;
  };
  return s;
}

OpSpec MakeClip() {
  OpSpec s{"Clip", kNumTypes, 0, kMaxRank, nullptr};
  s.build = [](BuildContext& ctx) {
    DType dt;
    if (!PickDType(ctx, "Clip", kNumTypes, &dt)) return false;
    int x = ctx.Pick(dt, 0, kMaxRank);
    double lo = IsFloating(dt) ? -0.5 : -2, hi = IsFloating(dt) ? 0.75 : 3;
    int mn = ctx.NewWeight(dt, {}, lo, lo);
    int mx = Coin(ctx.rng(), 0.7) ? ctx.NewWeight(dt, {}, hi, hi) : -1;
    std::vector<int> ins = {x, mn};
    if (mx >= 0) ins.push_back(mx);
    auto dims = ctx.tensor(x).dims;
    ctx.Emit("Clip", ins, {{dt, dims}});
    return true;
  };
  return s;
}

OpSpec MakeCast() {
  OpSpec s{"Cast", kAllTypes, 0, kMaxRank, nullptr};
  s.build = [](BuildContext& ctx) {
    DType from, to;
    if (!PickDType(ctx, "Cast", kAllTypes, &from)) return false;
    auto tos = ctx.Allowed("Cast", kAllTypes);
    to = RandPick(ctx.rng(), tos);
    int x = ctx.Pick(from, 0, kMaxRank);
    auto dims = ctx.tensor(x).dims;
    ctx.Emit("Cast", {x}, {{to, dims}}, {IntAttr("to", ctx.Int(static_cast<int64_t>(to)))});
    return true;
  };
  return s;
}

}  // namespace

void AddElementwiseSpecs(std::vector<OpSpec>& out) {
  const std::vector<DType> f = kFloatTypes;
  const std::vector<DType> signed_num = kNumTypes;
  const std::vector<DType> f32 = {DType::kFloat32};
  std::vector<Unary> unary = {
      {"Abs", signed_num},
      {"Neg", signed_num},
      {"Relu", f},
      {"Sigmoid", f},
      {"Tanh", f},
      {"Exp", f},
      {"Sqrt", f, 0, kInf},
      {"Log", f, 0.5, kInf},
      {"Reciprocal", f, 0.5, kInf},
      {"Floor", f},
      {"Ceil", f},
      {"Round", f},
      {"Sin", f},
      {"Cos", f},
      {"Erf", f32},
      {"Sign", signed_num},
      {"Softplus", f},
      {"Softsign", f},
      {"LeakyRelu", f},
      {"Elu", f},
      {"HardSigmoid", f},
      {"HardSwish", f},
      {"Acos", f32, -1, 1},
      {"Asin", f32, -1, 1},
      {"Identity", kAllTypes},
      {"Not", {DType::kBool}},
  };
  for (const auto& u : unary) out.push_back(MakeUnary(u));
  out.push_back(MakeBinary("Add", signed_num, BinKind::kArith));
  out.push_back(MakeBinary("Sub", signed_num, BinKind::kArith));
  out.push_back(MakeBinary("Mul", signed_num, BinKind::kArith));
  out.push_back(MakeBinary("Div", signed_num, BinKind::kDiv));
  out.push_back(MakeBinary("Pow", f32, BinKind::kPow));
  out.push_back(MakeBinary("Max", signed_num, BinKind::kArith));
  out.push_back(MakeBinary("Min", signed_num, BinKind::kArith));
  out.push_back(MakeBinary("Equal", kAllTypes, BinKind::kCompare));
  out.push_back(MakeBinary("Less", signed_num, BinKind::kCompare));
  out.push_back(MakeBinary("Greater", signed_num, BinKind::kCompare));
  out.push_back(MakeBinary("LessOrEqual", signed_num, BinKind::kCompare));
  out.push_back(MakeBinary("GreaterOrEqual", signed_num, BinKind::kCompare));
  out.push_back(MakeBinary("And", {DType::kBool}, BinKind::kLogical));
  out.push_back(MakeBinary("Or", {DType::kBool}, BinKind::kLogical));
  out.push_back(MakeBinary("Xor", {DType::kBool}, BinKind::kLogical));
  out.push_back(MakeWhere());
  out.push_back(MakeClip());
  out.push_back(MakeCast());
}

}  // namespace concord::gen
