#include "ref/ops/conv_util.h"

#include <algorithm>

namespace concord::ref {

namespace {
// Geometry attributes beyond this are treated as corrupt (keeps every product inside int64).
constexpr int64_t kMaxGeomValue = int64_t{1} << 31;

int64_t Prod(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Reads an ints attribute of length nd (default `def` for every dim when absent).
std::vector<int64_t> PerDim(const KernelContext& ctx, const char* name, int nd, int64_t def) {
  std::vector<int64_t> v = ctx.GetInts(name, std::vector<int64_t>(static_cast<size_t>(nd), def));
  if (static_cast<int>(v.size()) != nd) {
    ctx.Fail("attribute '{}' has {} values, expected {} (one per spatial dim)", name, v.size(), nd);
  }
  for (int64_t x : v) {
    if (x <= 0 || x > kMaxGeomValue)
      ctx.Fail("attribute '{}' must be positive and sane, got {}", name, x);
  }
  return v;
}
}  // namespace

int64_t ConvGeom::in_size() const { return Prod(in); }
int64_t ConvGeom::kernel_size() const { return Prod(kernel); }
int64_t ConvGeom::out_size() const { return Prod(out); }

std::vector<int64_t> SpatialDims(const KernelContext& ctx, const Shape& x_shape, const char* what) {
  if (x_shape.size() < 3) {
    ctx.Fail("{} must have rank >= 3 ([N, C, spatial...]), got shape {}", what,
             ShapeToString(x_shape));
  }
  return std::vector<int64_t>(x_shape.begin() + 2, x_shape.end());
}

void ResolveConvGeom(const KernelContext& ctx, ConvGeom& g, bool ceil_mode) {
  const int nd = static_cast<int>(g.in.size());
  g.nd = nd;
  if (static_cast<int>(g.kernel.size()) != nd) {
    ctx.Fail("kernel has {} spatial dims but input has {}", g.kernel.size(), nd);
  }
  for (int64_t k : g.kernel) {
    if (k <= 0 || k > kMaxGeomValue) ctx.Fail("kernel_shape values must be positive, got {}", k);
  }
  g.strides = PerDim(ctx, "strides", nd, 1);
  g.dilations = PerDim(ctx, "dilations", nd, 1);
  g.pad_begin.assign(nd, 0);
  g.pad_end.assign(nd, 0);
  g.out.assign(nd, 0);
  std::string auto_pad = ctx.GetString("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    std::vector<int64_t> pads = ctx.GetInts("pads", std::vector<int64_t>(2 * nd, 0));
    if (static_cast<int>(pads.size()) != 2 * nd) {
      ctx.Fail("attribute 'pads' has {} values, expected {}", pads.size(), 2 * nd);
    }
    for (int d = 0; d < nd; ++d) {
      g.pad_begin[d] = pads[d];
      g.pad_end[d] = pads[d + nd];
      if (pads[d] < 0 || pads[d + nd] < 0) ctx.Fail("negative pads are not allowed");
      if (pads[d] > kMaxGeomValue || pads[d + nd] > kMaxGeomValue) ctx.Fail("pads value too large");
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (int d = 0; d < nd; ++d) {
      int64_t dk = (g.kernel[d] - 1) * g.dilations[d] + 1;
      int64_t out = (g.in[d] + g.strides[d] - 1) / g.strides[d];
      int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[d] + dk - g.in[d]);
      int64_t small = total / 2;
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[d] = total - g.pad_begin[d];
    }
  } else if (auto_pad != "VALID") {
    ctx.Fail("unknown auto_pad value '{}'", auto_pad);
  }
  for (int d = 0; d < nd; ++d) {
    int64_t dk = (g.kernel[d] - 1) * g.dilations[d] + 1;
    int64_t span = g.in[d] + g.pad_begin[d] + g.pad_end[d] - dk;
    if (span < 0) {
      ctx.Fail("kernel extent {} is larger than the padded input {} in spatial dim {}", dk,
               g.in[d] + g.pad_begin[d] + g.pad_end[d], d);
    }
    int64_t out = span / g.strides[d] + 1;
    if (ceil_mode && span % g.strides[d] != 0) {
      ++out;
      // the last window must start inside the input or its left padding
      if ((out - 1) * g.strides[d] >= g.in[d] + g.pad_begin[d]) --out;
    }
    g.out[d] = out;
  }
}

}  // namespace concord::ref
