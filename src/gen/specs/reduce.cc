// Reduction op specs: ReduceSum (axes as input, opset 13) and ReduceMean/Max/Min/Prod/L2
// (axes attribute up to opset 17), ArgMax/ArgMin and TopK (k as an int64 initializer).
#include <algorithm>

#include "gen/spec.h"

namespace concord::gen {
namespace {

std::vector<int64_t> Subset(Rng& rng, int r) {
  std::vector<int64_t> out;
  for (int i = 0; i < r; ++i) {
    if (Coin(rng, 0.4)) out.push_back(i);
  }
  if (out.empty()) out.push_back(RandInt(rng, 0, r - 1));
  return out;
}

OpSpec MakeReduce(const std::string& op, std::vector<DType> dtypes) {
  OpSpec s{op, dtypes, 1, 5, nullptr};
  s.build = [op, dtypes](BuildContext& ctx) {
    auto dts = ctx.Allowed(op, dtypes);
    if (dts.empty()) return false;
    Rng& rng = ctx.rng();
    DType dt = RandPick(rng, dts);
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    bool all = Coin(rng, 0.15);
    std::vector<int64_t> axes = all ? std::vector<int64_t>{} : Subset(rng, r);
    bool keep = Coin(rng, 0.5);
    std::vector<z3::expr> od, ax;
    for (int i = 0; i < r; ++i) {
      bool red = all || std::find(axes.begin(), axes.end(), i) != axes.end();
      if (red && keep) od.push_back(ctx.Int(1));
      if (!red) od.push_back(xd[static_cast<size_t>(i)]);
    }
    for (int64_t a : axes) ax.push_back(ctx.Int(Coin(rng, 0.3) ? a - r : a));
    std::vector<AttrSpec> attrs = {IntAttr("keepdims", ctx.Int(keep ? 1 : 0))};
    std::vector<int> ins = {x};
    if (!all) {
      if (op == "ReduceSum")
        ins.push_back(ctx.NewIntConst(ax));
      else
        attrs.push_back(IntsAttr("axes", ax));
    }
    ctx.Emit(op, ins, {{dt, od}}, attrs);
    return true;
  };
  return s;
}

OpSpec MakeArg(const std::string& op) {
  OpSpec s{op, kNumTypes, 1, 5, nullptr};
  s.build = [op](BuildContext& ctx) {
    auto dts = ctx.Allowed(op, kNumTypes);
    if (dts.empty()) return false;
    Rng& rng = ctx.rng();
    DType dt = RandPick(rng, dts);
    int x = ctx.Pick(dt, 1, 5);
    auto od = ctx.tensor(x).dims;
    int r = static_cast<int>(od.size());
    int64_t axis = RandInt(rng, 0, r - 1);
    bool keep = Coin(rng, 0.5);
    if (keep)
      od[static_cast<size_t>(axis)] = ctx.Int(1);
    else
      od.erase(od.begin() + axis);
    ctx.Emit(op, {x}, {{DType::kInt64, od}},
             {IntAttr("axis", ctx.Int(Coin(rng, 0.3) ? axis - r : axis)),
              IntAttr("keepdims", ctx.Int(keep ? 1 : 0))});
    return true;
  };
  return s;
}

OpSpec MakeTopK() {
  OpSpec s{"TopK", kNumTypes, 1, 5, nullptr};
  s.build = [](BuildContext& ctx) {
    auto dts = ctx.Allowed("TopK", kNumTypes);
    if (dts.empty()) return false;
    Rng& rng = ctx.rng();
    DType dt = RandPick(rng, dts);
    int x = ctx.Pick(dt, 1, 5);
    auto od = ctx.tensor(x).dims;
    int r = static_cast<int>(od.size());
    int64_t axis = RandInt(rng, 0, r - 1);
    z3::expr k = ctx.Var(1, DimBound(r));
    ctx.Require(k <= od[static_cast<size_t>(axis)]);
    od[static_cast<size_t>(axis)] = k;
    ctx.Emit("TopK", {x, ctx.NewIntConst({k})}, {{dt, od}, {DType::kInt64, od}},
             {IntAttr("axis", ctx.Int(Coin(rng, 0.3) ? axis - r : axis)),
              IntAttr("largest", ctx.Int(Coin(rng, 0.7) ? 1 : 0))});
    return true;
  };
  return s;
}

}  // namespace

void AddReduceSpecs(std::vector<OpSpec>& out) {
  out.push_back(MakeReduce("ReduceSum", kNumTypes));
  out.push_back(MakeReduce("ReduceMean", kNumTypes));
  out.push_back(MakeReduce("ReduceMax", kNumTypes));
  out.push_back(MakeReduce("ReduceMin", kNumTypes));
  out.push_back(MakeReduce("ReduceProd", kNumTypes));
  out.push_back(MakeReduce("ReduceL2", kFloatTypes));
  out.push_back(MakeArg("ArgMax"));
  out.push_back(MakeArg("ArgMin"));
  out.push_back(MakeTopK());
}

}  // namespace concord::gen
