// Neural-network op specs: Conv/ConvTranspose (strides, pads, dilations, groups), pooling,
// MatMul/Gemm, normalization ops, Softmax/LogSoftmax and Resize.
//
// Shape transfer (per spatial axis, stride s and dilation d concrete, the rest symbolic):
//   Conv/Pool:     out = floor((H + pb + pe - d*(k-1) - 1) / s) + 1, requiring the numerator >= 0
//   ConvTranspose: out = s*(H-1) + d*(k-1) + 1 - pb - pe, requiring out >= 1
// Pads are kept below the kernel size so that every pooling window sees real data.
#include "gen/spec.h"

namespace concord::gen {
namespace {

bool PickFloat(BuildContext& ctx, const std::string& op, DType* dt,
               const std::vector<DType>& cands = kFloatTypes) {
  auto dts = ctx.Allowed(op, cands);
  if (dts.empty()) return false;
  *dt = RandPick(ctx.rng(), dts);
  return true;
}

struct Window {
  std::vector<z3::expr> kernel, pads_begin, pads_end, out;
  std::vector<int64_t> strides, dilations;
};

// Symbolic window over the spatial dims of x (dims 2..), with the output size per axis.
Window MakeWindow(BuildContext& ctx, const std::vector<z3::expr>& x, bool dilate, bool transpose,
                  int64_t max_kernel) {
  Window w;
  Rng& rng = ctx.rng();
  for (size_t i = 2; i < x.size(); ++i) {
    z3::expr k = ctx.Var(1, max_kernel);
    z3::expr pb = ctx.Var(0, 2), pe = ctx.Var(0, 2);
    ctx.Require(pb < k && pe < k);
    int64_t s = Coin(rng, 0.6) ? 1 : 2;
    int64_t d = dilate && Coin(rng, 0.25) ? 2 : 1;
    if (transpose) {
      z3::expr o = ctx.Int(s) * (x[i] - 1) + ctx.Int(d) * (k - 1) + 1 - pb - pe;
      ctx.Require(o >= 1);
      w.out.push_back(o);
    } else {
      z3::expr num = x[i] + pb + pe - ctx.Int(d) * (k - 1) - 1;
      ctx.Require(num >= 0);
      w.out.push_back(num / ctx.Int(s) + 1);
    }
    w.kernel.push_back(k);
    w.pads_begin.push_back(pb);
    w.pads_end.push_back(pe);
    w.strides.push_back(s);
    w.dilations.push_back(d);
  }
  return w;
}

std::vector<z3::expr> Nums(BuildContext& ctx, const std::vector<int64_t>& v) {
  std::vector<z3::expr> out;
  for (int64_t x : v) out.push_back(ctx.Int(x));
  return out;
}

std::vector<z3::expr> Concat(std::vector<z3::expr> a, const std::vector<z3::expr>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

OpSpec MakeConv(bool transpose) {
  std::string op = transpose ? "ConvTranspose" : "Conv";
  OpSpec s{op, kFloatTypes, 3, 5, nullptr};
  s.build = [op, transpose](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, op, &dt)) return false;
    Rng& rng = ctx.rng();
    int r = static_cast<int>(RandInt(rng, 3, 5));
    int x = ctx.Pick(dt, r, r);
    auto xd = ctx.tensor(x).dims;
    int64_t g = RandPick(rng, std::vector<int64_t>{1, 1, 1, 2, 3});
    z3::expr cg = ctx.Var(1, 16), mg = ctx.Var(1, 16);
    ctx.Require(xd[1] == ctx.Int(g) * cg);
    Window w = MakeWindow(ctx, xd, true, transpose, 4);
    z3::expr m = ctx.Int(g) * mg;
    std::vector<z3::expr> wdims =
        transpose ? std::vector<z3::expr>{xd[1], mg} : std::vector<z3::expr>{m, cg};
    wdims = Concat(wdims, w.kernel);
    int weight = ctx.NewWeight(dt, wdims, -0.5, 0.5);
    std::vector<int> ins = {x, weight};
    if (Coin(rng, 0.5)) ins.push_back(ctx.NewWeight(dt, {m}, -0.5, 0.5));
    std::vector<z3::expr> out = {xd[0], m};
    out = Concat(out, w.out);
    std::vector<AttrSpec> attrs = {IntsAttr("kernel_shape", w.kernel),
                                   IntsAttr("strides", Nums(ctx, w.strides)),
                                   IntsAttr("dilations", Nums(ctx, w.dilations)),
                                   IntsAttr("pads", Concat(w.pads_begin, w.pads_end))};
    if (g != 1 || Coin(rng, 0.3)) attrs.push_back(IntAttr("group", ctx.Int(g)));
    ctx.Emit(op, ins, {{dt, out}}, attrs);
    return true;
  };
  return s;
}

OpSpec MakePool(const std::string& op) {
  OpSpec s{op, kFloatTypes, 3, 5, nullptr};
  s.build = [op](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, op, &dt)) return false;
    Rng& rng = ctx.rng();
    int r = static_cast<int>(RandInt(rng, 3, 5));
    int x = ctx.Pick(dt, r, r);
    auto xd = ctx.tensor(x).dims;
    Window w = MakeWindow(ctx, xd, op == "MaxPool", false, 4);
    std::vector<z3::expr> out = {xd[0], xd[1]};
    out = Concat(out, w.out);
    std::vector<AttrSpec> attrs = {IntsAttr("kernel_shape", w.kernel),
                                   IntsAttr("strides", Nums(ctx, w.strides)),
                                   IntsAttr("pads", Concat(w.pads_begin, w.pads_end))};
    if (op == "MaxPool") attrs.push_back(IntsAttr("dilations", Nums(ctx, w.dilations)));
    if (op == "AveragePool") {
      attrs.push_back(IntAttr("count_include_pad", ctx.Int(Coin(rng, 0.5) ? 1 : 0)));
    }
    ctx.Emit(op, {x}, {{dt, out}}, attrs);
    return true;
  };
  return s;
}

OpSpec MakeGlobalPool(const std::string& op) {
  OpSpec s{op, kFloatTypes, 3, 5, nullptr};
  s.build = [op](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, op, &dt)) return false;
    int r = static_cast<int>(RandInt(ctx.rng(), 3, 5));
    int x = ctx.Pick(dt, r, r);
    auto out = ctx.tensor(x).dims;
    for (size_t i = 2; i < out.size(); ++i) out[i] = ctx.Int(1);
    ctx.Emit(op, {x}, {{dt, out}});
    return true;
  };
  return s;
}

OpSpec MakeMatMul() {
  OpSpec s{"MatMul", kNumTypes, 1, 4, nullptr};
  s.build = [](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, "MatMul", &dt, kNumTypes)) return false;
    int a = ctx.Pick(dt, 1, 4), b = ctx.Pick(dt, 1, 4);
    auto ad = ctx.tensor(a).dims, bd = ctx.tensor(b).dims;
    size_t ra = ad.size(), rb = bd.size();
    ctx.Require(ad[ra - 1] == (rb == 1 ? bd[0] : bd[rb - 2]));
    std::vector<z3::expr> ba(ad.begin(), ad.end() - (ra >= 2 ? 2 : 1));
    std::vector<z3::expr> bb(bd.begin(), bd.end() - (rb >= 2 ? 2 : 1));
    auto out = Broadcast(ctx, ba, bb);
    if (ra >= 2) out.push_back(ad[ra - 2]);
    if (rb >= 2) out.push_back(bd[rb - 1]);
    ctx.Emit("MatMul", {a, b}, {{dt, out}});
    return true;
  };
  return s;
}

OpSpec MakeGemm() {
  OpSpec s{"Gemm", kFloatTypes, 2, 2, nullptr};
  s.build = [](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, "Gemm", &dt)) return false;
    Rng& rng = ctx.rng();
    int a = ctx.Pick(dt, 2, 2);
    auto ad = ctx.tensor(a).dims;
    bool ta = Coin(rng, 0.3), tb = Coin(rng, 0.5);
    z3::expr m = ta ? ad[1] : ad[0], k = ta ? ad[0] : ad[1];
    z3::expr n = ctx.Var(1, 32);
    int b = ctx.NewWeight(dt, tb ? std::vector<z3::expr>{n, k} : std::vector<z3::expr>{k, n}, -0.5,
                          0.5);
    std::vector<int> ins = {a, b};
    int64_t bias = RandInt(rng, 0, 2);
    if (bias == 1) ins.push_back(ctx.NewWeight(dt, {n}, -0.5, 0.5));
    if (bias == 2) ins.push_back(ctx.NewWeight(dt, {m, n}, -0.5, 0.5));
    std::vector<AttrSpec> attrs;
    if (ta) attrs.push_back(IntAttr("transA", ctx.Int(1)));
    if (tb) attrs.push_back(IntAttr("transB", ctx.Int(1)));
    if (Coin(rng, 0.3)) attrs.push_back(FloatAttr("alpha", 0.5f));
    if (bias && Coin(rng, 0.3)) attrs.push_back(FloatAttr("beta", 0.25f));
    ctx.Emit("Gemm", ins, {{dt, {m, n}}}, attrs);
    return true;
  };
  return s;
}

OpSpec MakeNorm(const std::string& op) {
  int rmin = op == "BatchNormalization" ? 2 : op == "InstanceNormalization" ? 3 : 1;
  OpSpec s{op, kFloatTypes, rmin, 5, nullptr};
  s.build = [op, rmin](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, op, &dt)) return false;
    Rng& rng = ctx.rng();
    int r = static_cast<int>(RandInt(rng, rmin, 5));
    int x = ctx.Pick(dt, r, r);
    auto xd = ctx.tensor(x).dims;
    std::vector<AttrSpec> attrs;
    std::vector<int> ins = {x};
    if (op == "LayerNormalization") {
      int64_t axis = RandInt(rng, 0, r - 1);
      std::vector<z3::expr> pd(xd.begin() + axis, xd.end());
      // ONNX allows a single normalized element; onnxruntime rejects it (X.shape[axis:] must
      // have more than one element), which would only add noise to differential runs.
      ctx.Require(xd.back() >= 2);
      ins.push_back(ctx.NewWeight(dt, pd, 0.5, 1.5));
      if (Coin(rng, 0.7)) ins.push_back(ctx.NewWeight(dt, pd, -0.5, 0.5));
      attrs.push_back(IntAttr("axis", ctx.Int(Coin(rng, 0.5) ? axis : axis - r)));
    } else {
      ins.push_back(ctx.NewWeight(dt, {xd[1]}, 0.5, 1.5));
      ins.push_back(ctx.NewWeight(dt, {xd[1]}, -0.5, 0.5));
      if (op == "BatchNormalization") {
        ins.push_back(ctx.NewWeight(dt, {xd[1]}, -0.5, 0.5));
        ins.push_back(ctx.NewWeight(dt, {xd[1]}, 0.5, 1.5));
      }
    }
    if (Coin(rng, 0.3)) attrs.push_back(FloatAttr("epsilon", 1e-3f));
    ctx.Emit(op, ins, {{dt, xd}}, attrs);
    return true;
  };
  return s;
}

OpSpec MakeSoftmax(const std::string& op) {
  OpSpec s{op, kFloatTypes, 1, 5, nullptr};
  s.build = [op](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, op, &dt)) return false;
    int x = ctx.Pick(dt, 1, 5);
    auto xd = ctx.tensor(x).dims;
    int r = static_cast<int>(xd.size());
    int64_t axis = RandInt(ctx.rng(), -r, r - 1);
    ctx.Emit(op, {x}, {{dt, xd}}, {IntAttr("axis", ctx.Int(axis))});
    return true;
  };
  return s;
}

OpSpec MakeResize() {
  OpSpec s{"Resize", kFloatTypes, 3, 4, nullptr};
  s.build = [](BuildContext& ctx) {
    DType dt;
    if (!PickFloat(ctx, "Resize", &dt)) return false;
    Rng& rng = ctx.rng();
    int r = static_cast<int>(RandInt(rng, 3, 4));
    int x = ctx.Pick(dt, r, r);
    auto out = ctx.tensor(x).dims;
    for (int i = 2; i < r; ++i) out[i] = ctx.Var(1, DimBound(r));
    int sizes = ctx.NewIntConst(out);
    bool linear = Coin(rng, 0.5);
    std::vector<AttrSpec> attrs = {StringAttr("mode", linear ? "linear" : "nearest")};
    attrs.push_back(
        StringAttr("coordinate_transformation_mode", Coin(rng, 0.5) ? "half_pixel" : "asymmetric"));
    if (!linear) attrs.push_back(StringAttr("nearest_mode", "floor"));
    ctx.Emit("Resize", {x, -1, -1, sizes}, {{dt, out}}, attrs);
    return true;
  };
  return s;
}

}  // namespace

void AddNnSpecs(std::vector<OpSpec>& out) {
  out.push_back(MakeConv(false));
  out.push_back(MakeConv(true));
  out.push_back(MakePool("MaxPool"));
  out.push_back(MakePool("AveragePool"));
  out.push_back(MakeGlobalPool("GlobalAveragePool"));
  out.push_back(MakeGlobalPool("GlobalMaxPool"));
  out.push_back(MakeMatMul());
  out.push_back(MakeGemm());
  out.push_back(MakeNorm("BatchNormalization"));
  out.push_back(MakeNorm("InstanceNormalization"));
  out.push_back(MakeNorm("LayerNormalization"));
  out.push_back(MakeSoftmax("Softmax"));
  out.push_back(MakeSoftmax("LogSoftmax"));
  out.push_back(MakeResize());
}

}  // namespace concord::gen
