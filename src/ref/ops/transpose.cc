// Ops that move elements to new positions by an index mapping: Transpose, Expand, Tile,
// DepthToSpace, SpaceToDepth. All are dtype-agnostic data movement (strings and bools included).
#include <string>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Generic permutation of dimensions.
Tensor TransposeTensor(const Tensor& x, const std::vector<int64_t>& perm) {
  std::vector<int64_t> in_strides = Strides(x.shape());
  Shape out_shape(perm.size());
  std::vector<int64_t> strides(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    out_shape[k] = x.shape()[static_cast<size_t>(perm[k])];
    strides[k] = in_strides[static_cast<size_t>(perm[k])];
  }
  return StridedCopy(x, out_shape, 0, strides);
}

std::vector<Value> Transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm = ctx.GetInts("perm");
  if (!ctx.has_attr("perm")) {
    for (int i = x.rank() - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != x.rank())
    ctx.Fail("perm has {} entries for rank {}", perm.size(), x.rank());
  perm = NormalizeAxes(ctx, perm, x.rank());
  return Out(TransposeTensor(x, perm));
}

std::vector<Value> Expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape target = ToInt64Vector(ctx, ctx.input(1));
  Shape out_shape = BroadcastShapes(ctx, {x.shape(), target});
  return Out(StridedCopy(x, out_shape, 0, BroadcastStrides(x.shape(), out_shape)));
}

std::vector<Value> Tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> repeats = ToInt64Vector(ctx, ctx.input(1));
  if (static_cast<int>(repeats.size()) != x.rank()) {
    ctx.Fail("repeats has {} entries for input rank {}", repeats.size(), x.rank());
  }
  Shape out_shape(repeats.size());
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0) ctx.Fail("negative repeat {}", repeats[i]);
    out_shape[i] = x.shape()[i] * repeats[i];
  }
  Tensor out(x.dtype(), out_shape);
  ElementCopier copy(x, out);
  std::vector<int64_t> in_strides = Strides(x.shape());
  int64_t o = 0;
  ForEachIndex(out_shape, [&](const std::vector<int64_t>& idx) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) src += (idx[d] % x.shape()[d]) * in_strides[d];
    copy(o++, src);
  });
  return Out(std::move(out));
}

std::vector<Value> DepthToSpace(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t bs = ctx.RequireInt("blocksize");
  std::string mode = ctx.GetString("mode", "DCR");
  if (x.rank() != 4) ctx.Fail("input must be 4-D, got {}", ShapeToString(x.shape()));
  if (bs <= 0) ctx.Fail("blocksize must be positive");
  int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (c % (bs * bs) != 0) ctx.Fail("channels {} not divisible by blocksize^2", c);
  int64_t oc = c / (bs * bs);
  Tensor t;
  if (mode == "DCR") {
    t = TransposeTensor(x.Reshaped({b, bs, bs, oc, h, w}), {0, 3, 4, 1, 5, 2});
  } else if (mode == "CRD") {
    t = TransposeTensor(x.Reshaped({b, oc, bs, bs, h, w}), {0, 1, 4, 2, 5, 3});
  } else {
    ctx.Fail("unknown mode '{}'", mode);
  }
  return Out(t.Reshaped({b, oc, h * bs, w * bs}));
}

// The inverse of DepthToSpace. DCR puts the block offset outermost in the output channels
// (channel = (by * bs + bx) * C + c); CRD, added in SpaceToDepth-28, innermost
// (channel = c * bs * bs + by * bs + bx).
std::vector<Value> SpaceToDepthMode(KernelContext& ctx, const std::string& mode) {
  const Tensor& x = ctx.input(0);
  int64_t bs = ctx.RequireInt("blocksize");
  if (x.rank() != 4) ctx.Fail("input must be 4-D, got {}", ShapeToString(x.shape()));
  if (bs <= 0) ctx.Fail("blocksize must be positive");
  int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (h % bs != 0 || w % bs != 0) ctx.Fail("spatial dims not divisible by blocksize {}", bs);
  Tensor blocks = x.Reshaped({b, c, h / bs, bs, w / bs, bs});
  Tensor t;
  if (mode == "DCR") {
    t = TransposeTensor(blocks, {0, 3, 5, 1, 2, 4});
  } else if (mode == "CRD") {
    t = TransposeTensor(blocks, {0, 1, 3, 5, 2, 4});
  } else {
    ctx.Fail("unknown mode '{}'", mode);
  }
  return Out(t.Reshaped({b, c * bs * bs, h / bs, w / bs}));
}

// SpaceToDepth-1/13 have no mode attribute: always DCR.
std::vector<Value> SpaceToDepth(KernelContext& ctx) { return SpaceToDepthMode(ctx, "DCR"); }
std::vector<Value> SpaceToDepth28(KernelContext& ctx) {
  return SpaceToDepthMode(ctx, ctx.GetString("mode", "DCR"));
}

}  // namespace

void RegisterTransposeOps(Registry& r) {
  r.Add("", "Transpose", 1, Transpose);
  r.Add("", "Expand", 8, Expand);
  r.Add("", "Tile", 6, Tile);
  r.Add("", "DepthToSpace", 1, DepthToSpace);
  r.Add("", "SpaceToDepth", 1, SpaceToDepth);
  r.Add("", "SpaceToDepth", 28, SpaceToDepth28);
}

}  // namespace concord::ref
