// Shape-manipulating op specs: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Concat,
// Split, Slice, Pad, Gather. Shape-like operands (shape, axes, split, starts/ends, pads) are
// int64 initializers whose values are z3 expressions fixed by the final model.
#include <algorithm>

#include "gen/spec.h"

namespace concord::gen {
namespace {

bool PickAny(BuildContext& ctx, const std::string& op, DType* dt) {
  auto dts = ctx.Allowed(op, kAllTypes);
  if (dts.empty()) return false;
  *dt = RandPick(ctx.rng(), dts);
  return true;
}

std::vector<int64_t> Shuffled(Rng& rng, int n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  for (int i = n - 1; i > 0; --i)
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(RandInt(rng, 0, i))]);
  return p;
}

// A random non-empty, sorted subset of [0, r).
std::vector<int64_t> Subset(Rng& rng, int r, double p) {
  std::vector<int64_t> out;
  for (int i = 0; i < r; ++i) {
    if (Coin(rng, p)) out.push_back(i);
  }
  if (out.empty()) out.push_back(RandInt(rng, 0, r - 1));
  return out;
}

// Negative spelling of an axis now and then (ONNX allows both).
int64_t Spell(Rng& rng, int64_t axis, int rank) { return Coin(rng, 0.3) ? axis - rank : axis; }

OpSpec Make(const std::string& op, int rmin, int rmax,
            std::function<bool(BuildContext&, DType)> body) {
  OpSpec s{op, kAllTypes, rmin, rmax, nullptr};
  s.build = [op, body](BuildContext& ctx) {
    DType dt;
    if (!PickAny(ctx, op, &dt)) return false;
    return body(ctx, dt);
  };
  return s;
}

}  // namespace

void AddShapeSpecs(std::vector<OpSpec>& out) {
  out.push_back(Make("Reshape", 0, 5, [](BuildContext& ctx, DType dt) {
    // Input dims are fixed first (partial concretization), so the output is a random
    // factorization of a known element count and no product constraint reaches z3.
    int x = ctx.Pick(dt, 0, 5);
    std::vector<int64_t> xv;
    if (!ctx.Fix(ctx.tensor(x).dims, &xv)) return false;
    int64_t left = 1;
    for (int64_t v : xv) left *= v;
    int ro = static_cast<int>(RandInt(ctx.rng(), 1, 5));
    int64_t bound = DimBound(ro);
    std::vector<z3::expr> od;
    for (int i = 0; i + 1 < ro; ++i) {
      std::vector<int64_t> divisors;
      for (int64_t d = 1; d <= std::min(left, bound); ++d) {
        if (left % d == 0) divisors.push_back(d);
      }
      int64_t d = RandPick(ctx.rng(), divisors);
      od.push_back(ctx.Int(d));
      left /= d;
    }
    if (left > bound) return false;
    od.push_back(ctx.Int(left));
    int shape = ctx.NewIntConst(od);
    ctx.Emit("Reshape", {x, shape}, {{dt, od}});
    return true;
  }));
  out.push_back(Make("Flatten", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    std::vector<int64_t> xv;
    if (!ctx.Fix(ctx.tensor(x).dims, &xv)) return false;
    int r = static_cast<int>(xv.size());
    int64_t axis = RandInt(ctx.rng(), 0, r);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; ++i) (i < axis ? outer : inner) *= xv[static_cast<size_t>(i)];
    if (outer > DimBound(2) || inner > DimBound(2)) return false;
    ctx.Emit("Flatten", {x}, {{dt, {ctx.Int(outer), ctx.Int(inner)}}},
             {IntAttr("axis", ctx.Int(axis == r ? axis : Spell(ctx.rng(), axis, r)))});
    return true;
  }));
  out.push_back(Make("Transpose", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    auto perm = Shuffled(ctx.rng(), static_cast<int>(xd.size()));
    std::vector<z3::expr> od, pe;
    for (int64_t p : perm) {
      od.push_back(xd[static_cast<size_t>(p)]);
      pe.push_back(ctx.Int(p));
    }
    ctx.Emit("Transpose", {x}, {{dt, od}}, {IntsAttr("perm", pe)});
    return true;
  }));
  out.push_back(Make("Squeeze", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    auto axes = Subset(ctx.rng(), r, 0.3);
    std::vector<z3::expr> od, ax;
    for (int i = 0; i < r; ++i) {
      if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
        ctx.Require(xd[static_cast<size_t>(i)] == 1);
        ax.push_back(ctx.Int(Spell(ctx.rng(), i, r)));
      } else {
        od.push_back(xd[static_cast<size_t>(i)]);
      }
    }
    ctx.Emit("Squeeze", {x, ctx.NewIntConst(ax)}, {{dt, od}});
    return true;
  }));
  out.push_back(Make("Unsqueeze", 0, 4, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 0, 4);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    int ro = r + static_cast<int>(RandInt(ctx.rng(), 1, std::min(2, 5 - r)));
    auto axes = Shuffled(ctx.rng(), ro);  // the first ro - r positions get the new axes
    axes.resize(static_cast<size_t>(ro - r));
    std::vector<z3::expr> od, ax;
    size_t k = 0;
    for (int i = 0; i < ro; ++i) {
      if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
        od.push_back(ctx.Int(1));
        ax.push_back(ctx.Int(Spell(ctx.rng(), i, ro)));
      } else {
        od.push_back(xd[k++]);
      }
    }
    ctx.Emit("Unsqueeze", {x, ctx.NewIntConst(ax)}, {{dt, od}});
    return true;
  }));
  out.push_back(Make("Expand", 0, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 0, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    int ro = static_cast<int>(RandInt(ctx.rng(), std::max(r, 1), 5));
    std::vector<z3::expr> target, od;
    for (int i = 0; i < ro; ++i) {
      z3::expr t = ctx.Var(1, DimBound(ro));
      target.push_back(t);
      int j = i - (ro - r);
      if (j < 0) {
        od.push_back(t);
      } else {
        const z3::expr& d = xd[static_cast<size_t>(j)];
        ctx.Require(d == 1 || t == d || t == 1);
        od.push_back(z3::ite(d == 1, t, d));
      }
    }
    ctx.Emit("Expand", {x, ctx.NewIntConst(target)}, {{dt, od}});
    return true;
  }));
  out.push_back(Make("Concat", 1, 5, [](BuildContext& ctx, DType dt) {
    int r = static_cast<int>(RandInt(ctx.rng(), 1, 5));
    int n = static_cast<int>(RandInt(ctx.rng(), 2, 3));
    int64_t axis = RandInt(ctx.rng(), 0, r - 1);
    std::vector<int> ins;
    for (int i = 0; i < n; ++i) ins.push_back(ctx.Pick(dt, r, r));
    auto od = ctx.tensor(ins[0]).dims;
    for (int i = 1; i < n; ++i) {
      auto d = ctx.tensor(ins[static_cast<size_t>(i)]).dims;
      for (int j = 0; j < r; ++j) {
        if (j == axis) continue;
        ctx.Require(d[static_cast<size_t>(j)] == od[static_cast<size_t>(j)]);
      }
      od[static_cast<size_t>(axis)] = od[static_cast<size_t>(axis)] + d[static_cast<size_t>(axis)];
    }
    ctx.Emit("Concat", ins, {{dt, od}}, {IntAttr("axis", ctx.Int(Spell(ctx.rng(), axis, r)))});
    return true;
  }));
  out.push_back(Make("Split", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    int64_t axis = RandInt(ctx.rng(), 0, r - 1);
    int n = static_cast<int>(RandInt(ctx.rng(), 2, 3));
    std::vector<z3::expr> parts;
    std::vector<std::pair<DType, std::vector<z3::expr>>> outs;
    for (int i = 0; i < n; ++i) {
      parts.push_back(ctx.Var(1, DimBound(r)));
      auto od = xd;
      od[static_cast<size_t>(axis)] = parts.back();
      outs.push_back({dt, od});
    }
    z3::expr sum = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) sum = sum + parts[i];
    ctx.Require(sum == xd[static_cast<size_t>(axis)]);
    ctx.Emit("Split", {x, ctx.NewIntConst(parts)}, outs,
             {IntAttr("axis", ctx.Int(Spell(ctx.rng(), axis, r)))});
    return true;
  }));
  out.push_back(Make("Slice", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto od = ctx.tensor(x).dims;
    int r = static_cast<int>(od.size());
    auto axes = Subset(ctx.rng(), r, 0.5);
    std::vector<z3::expr> starts, ends, ax, steps;
    for (int64_t a : axes) {
      z3::expr d = od[static_cast<size_t>(a)];
      z3::expr s = ctx.Var(0, DimBound(r) - 1), e = ctx.Var(1, DimBound(r));
      ctx.Require(s < e && e <= d);
      int64_t step = Coin(ctx.rng(), 0.7) ? 1 : 2;
      starts.push_back(s);
      ends.push_back(e);
      ax.push_back(ctx.Int(Spell(ctx.rng(), a, r)));
      steps.push_back(ctx.Int(step));
      od[static_cast<size_t>(a)] = (e - s + ctx.Int(step - 1)) / ctx.Int(step);
    }
    std::vector<int> ins = {x, ctx.NewIntConst(starts), ctx.NewIntConst(ends), ctx.NewIntConst(ax)};
    bool unit = std::all_of(steps.begin(), steps.end(),
                            [](const z3::expr& e) { return e.get_numeral_int64() == 1; });
    if (!unit || Coin(ctx.rng(), 0.5)) ins.push_back(ctx.NewIntConst(steps));
    ctx.Emit("Slice", ins, {{dt, od}});
    return true;
  }));
  out.push_back(Make("Pad", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    std::string mode =
        RandPick(ctx.rng(), std::vector<std::string>{"constant", "constant", "edge", "reflect"});
    if (dt == DType::kBool) mode = "constant";
    std::vector<z3::expr> pb, pe, od;
    for (int i = 0; i < r; ++i) {
      z3::expr b = ctx.Var(0, 2), e = ctx.Var(0, 2);
      if (mode == "reflect")
        ctx.Require(b < xd[static_cast<size_t>(i)] && e < xd[static_cast<size_t>(i)]);
      pb.push_back(b);
      pe.push_back(e);
      od.push_back(xd[static_cast<size_t>(i)] + b + e);
    }
    pb.insert(pb.end(), pe.begin(), pe.end());
    ctx.Emit("Pad", {x, ctx.NewIntConst(pb)}, {{dt, od}}, {StringAttr("mode", mode)});
    return true;
  }));
  out.push_back(Make("Gather", 1, 5, [](BuildContext& ctx, DType dt) {
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    int64_t axis = RandInt(ctx.rng(), 0, r - 1);
    int ri = static_cast<int>(RandInt(ctx.rng(), 0, std::min(2, 6 - r)));
    std::vector<z3::expr> idims, od;
    for (int i = 0; i < ri; ++i) idims.push_back(ctx.Var(1, 8));
    int idx = ctx.NewIndex(idims, xd[static_cast<size_t>(axis)]);
    for (int i = 0; i < r; ++i) {
      if (i == axis)
        od.insert(od.end(), idims.begin(), idims.end());
      else
        od.push_back(xd[static_cast<size_t>(i)]);
    }
    ctx.Emit("Gather", {x, idx}, {{dt, od}}, {IntAttr("axis", ctx.Int(Spell(ctx.rng(), axis, r)))});
    return true;
  }));
}

}  // namespace concord::gen
