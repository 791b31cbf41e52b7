// Col2Im (opset 18): rebuilds images from their sliding blocks, the inverse layout of im2col.
//
// Input [N, C * prod(block_shape), L] holds, per image and channel, one column per block
// position; every value is added back at its pixel (overlapping blocks add up, positions in the
// padding are dropped). The block grid follows the Conv geometry of image_shape with
// block_shape as the kernel (strides, dilations and pads attributes), so L must equal the number
// of block positions. Sums are taken in double (float types) and rounded once; integer types
// wrap as NumPy's do.
#include <algorithm>

#include "ref/ops/common.h"
#include "ref/ops/conv_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Positive sizes from a 1-D int64 input (image_shape, block_shape).
std::vector<int64_t> Sizes(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.rank() != 1) ctx.Fail("{} must be 1-D, got {}", what, t.Describe());
  std::vector<int64_t> v = ToInt64Vector(ctx, t);
  for (int64_t x : v) {
    if (x <= 0 || x > (int64_t{1} << 31)) ctx.Fail("{} values must be positive, got {}", what, x);
  }
  return v;
}

std::vector<Value> Col2ImOp(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ConvGeom g;
  g.in = Sizes(ctx, 1, "image_shape");
  g.kernel = Sizes(ctx, 2, "block_shape");
  if (g.in.empty()) ctx.Fail("image_shape must not be empty");
  ResolveConvGeom(ctx, g, false);
  const int64_t k = g.kernel_size();
  if (x.rank() != 3 || x.dim(1) % k != 0 || x.dim(2) != g.out_size()) {
    ctx.Fail(
        "input must be [N, C * {}, {}] for image {} and blocks {} ({} block positions), got {}", k,
        g.out_size(), ShapeToString(g.in), ShapeToString(g.kernel), g.out_size(), x.Describe());
  }
  const int64_t n = x.dim(0), channels = x.dim(1) / k;
  Shape out_shape = {n, channels};
  out_shape.insert(out_shape.end(), g.in.begin(), g.in.end());
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Integers add modulo 2^64 and wrap back to T, as NumPy's fixed-width sums do.
    using Acc = std::conditional_t<kIsFloatLike<T>, double, uint64_t>;
    Tensor out(x.dtype(), out_shape);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const int64_t col_size = channels * k * g.out_size();
    const int64_t img_size = channels * g.in_size();
    std::vector<Acc> col(static_cast<size_t>(col_size)), img(static_cast<size_t>(img_size));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < col_size; ++i) {
        if constexpr (kIsFloatLike<T>) {
          col[static_cast<size_t>(i)] = ToDouble(px[b * col_size + i]);
        } else {
          col[static_cast<size_t>(i)] = static_cast<Acc>(px[b * col_size + i]);
        }
      }
      std::fill(img.begin(), img.end(), Acc(0));
      Col2Im<Acc>(col.data(), channels, g, img.data());
      for (int64_t i = 0; i < img_size; ++i) {
        if constexpr (kIsFloatLike<T>) {
          po[b * img_size + i] = FromDouble<T>(img[static_cast<size_t>(i)]);
        } else {
          po[b * img_size + i] = static_cast<T>(img[static_cast<size_t>(i)]);
        }
      }
    }
    return out;
  }));
}

}  // namespace

void RegisterCol2ImOps(Registry& r) { r.Add("", "Col2Im", 18, Col2ImOp); }

}  // namespace concord::ref
