// DeformConv (opset 19; 22 adds bfloat16): convolution whose kernel taps move by learned offsets.
//
// For output position o and kernel tap k, tap k of input channel c (offset group c / (C /
// offset_group)) reads X[c] at the real-valued point
//   p = o * strides - pads_begin + k * dilations + offset[n, (g * K + k) * nd + d, o]   (per dim d)
// by multilinear interpolation, pixels outside the image counting 0 (ONNX's reference samples
// with GridSample, bilinear, align_corners=1, zero padding), scaled by mask[n, g * K + k, o]
// (1 when absent). Those values form a "deformed" im2col buffer [C * K, O], so the rest is Conv:
// Y_group = W_group * col_group + B. Any number of spatial dims; the output's spatial shape is
// the offset's, which must match the Conv geometry. Everything is computed in double and
// rounded once.
#include <cmath>

#include "ref/ops/common.h"
#include "ref/ops/conv_util.h"
#include "ref/ops/gemm.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

std::vector<double> Doubles(const KernelContext& ctx, const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  DispatchFloat(ctx, t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = ToDouble(p[i]);
    return 0;
  });
  return v;
}

// Multilinear interpolation of `img` (spatial sizes `dims`, row-major) at real point `p`; corners
// outside the image contribute 0.
double Interpolate(const double* img, const std::vector<int64_t>& dims, const double* p) {
  const size_t nd = dims.size();
  double sum = 0;
  for (uint32_t corner = 0; corner < (1u << nd); ++corner) {
    double weight = 1;
    int64_t offset = 0;
    bool inside = true;
    for (size_t d = 0; d < nd && inside; ++d) {
      double lo = std::floor(p[d]);
      double frac = p[d] - lo;
      bool up = ((corner >> d) & 1u) != 0;
      double i = up ? lo + 1 : lo;
      weight *= up ? frac : 1 - frac;
      inside = i >= 0 && i < static_cast<double>(dims[d]);
      if (inside) offset = offset * dims[d] + static_cast<int64_t>(i);
    }
    if (inside && weight != 0) sum += weight * img[offset];
  }
  return sum;
}

struct DeformShapes {
  int64_t n = 0, c = 0, oc = 0, group = 1, offset_group = 1;
  ConvGeom g;
};

DeformShapes CheckShapes(const KernelContext& ctx, const Tensor& x, const Tensor& w,
                         const Tensor& offset, const Tensor* b, const Tensor* mask) {
  DeformShapes s;
  s.g.in = SpatialDims(ctx, x.shape(), "X");
  const int nd = static_cast<int>(s.g.in.size());
  if (w.rank() != nd + 2) ctx.Fail("W {} must have rank {}", ShapeToString(w.shape()), nd + 2);
  s.g.kernel =
      ctx.GetInts("kernel_shape", std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
  for (int d = 0; d < nd && static_cast<int>(s.g.kernel.size()) == nd; ++d) {
    if (s.g.kernel[static_cast<size_t>(d)] != w.dim(d + 2))
      ctx.Fail("kernel_shape {} differs from W {}", ShapeToString(s.g.kernel),
               ShapeToString(w.shape()));
  }
  ResolveConvGeom(ctx, s.g, false);
  s.n = x.dim(0);
  s.c = x.dim(1);
  s.oc = w.dim(0);
  s.group = ctx.GetInt("group", 1);
  s.offset_group = ctx.GetInt("offset_group", 1);
  if (s.group <= 0 || s.c != w.dim(1) * s.group || s.oc % s.group != 0) {
    ctx.Fail("X {} and W {} do not fit group {}", ShapeToString(x.shape()),
             ShapeToString(w.shape()), s.group);
  }
  if (s.offset_group <= 0 || s.c % s.offset_group != 0)
    ctx.Fail("{} input channels do not split into offset_group {}", s.c, s.offset_group);
  const int64_t k = s.g.kernel_size();
  Shape want = {s.n, s.offset_group * k * nd};
  want.insert(want.end(), s.g.out.begin(), s.g.out.end());
  if (offset.shape() != want)
    ctx.Fail("offset {} should be {}", ShapeToString(offset.shape()), ShapeToString(want));
  want[1] = s.offset_group * k;
  if (mask != nullptr && mask->shape() != want)
    ctx.Fail("mask {} should be {}", ShapeToString(mask->shape()), ShapeToString(want));
  if (b != nullptr && b->shape() != Shape{s.oc})
    ctx.Fail("B {} should be [{}]", ShapeToString(b->shape()), s.oc);
  return s;
}

std::vector<Value> DeformConv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& offset = ctx.input(2);
  const Tensor* b = ctx.optional_input(3);
  const Tensor* mask = ctx.optional_input(4);
  const DeformShapes s = CheckShapes(ctx, x, w, offset, b, mask);
  const ConvGeom& g = s.g;
  const int nd = g.nd;
  const int64_t k_size = g.kernel_size(), o_size = g.out_size(), i_size = g.in_size();
  const int64_t c_per_og = s.c / s.offset_group;
  const std::vector<double> xv = Doubles(ctx, x), wv = Doubles(ctx, w), ov = Doubles(ctx, offset);
  const std::vector<double> mv = mask ? Doubles(ctx, *mask) : std::vector<double>();
  const std::vector<double> bv = b ? Doubles(ctx, *b) : std::vector<double>();

  std::vector<double> col(static_cast<size_t>(s.c * k_size * o_size));
  std::vector<double> y(static_cast<size_t>(s.n * s.oc * o_size));
  std::vector<int64_t> kpos(static_cast<size_t>(nd)), opos(static_cast<size_t>(nd));
  std::vector<double> point(static_cast<size_t>(nd));
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t og = 0; og < s.offset_group; ++og) {
      for (int64_t k = 0; k < k_size; ++k) {
        for (int64_t r = k, d = nd - 1; d >= 0; --d) {
          kpos[static_cast<size_t>(d)] = r % g.kernel[static_cast<size_t>(d)];
          r /= g.kernel[static_cast<size_t>(d)];
        }
        const int64_t tap = og * k_size + k;
        for (int64_t o = 0; o < o_size; ++o) {
          for (int64_t r = o, d = nd - 1; d >= 0; --d) {
            opos[static_cast<size_t>(d)] = r % g.out[static_cast<size_t>(d)];
            r /= g.out[static_cast<size_t>(d)];
          }
          for (size_t d = 0; d < static_cast<size_t>(nd); ++d) {
            double shift = ov[static_cast<size_t>(
                ((n * s.offset_group * k_size + tap) * nd + static_cast<int64_t>(d)) * o_size + o)];
            point[d] = static_cast<double>(opos[d] * g.strides[d] - g.pad_begin[d] +
                                           kpos[d] * g.dilations[d]) +
                       shift;
          }
          const double m =
              mask ? mv[static_cast<size_t>((n * s.offset_group * k_size + tap) * o_size + o)]
                   : 1.0;
          for (int64_t c = og * c_per_og; c < (og + 1) * c_per_og; ++c) {
            const double* img = xv.data() + (n * s.c + c) * i_size;
            col[static_cast<size_t>((c * k_size + k) * o_size + o)] =
                m * Interpolate(img, g.in, point.data());
          }
        }
      }
    }
    // Y_group[ocg, O] = W_group[ocg, cg * K] * col_group[cg * K, O]
    const int64_t cg = s.c / s.group, ocg = s.oc / s.group;
    for (int64_t grp = 0; grp < s.group; ++grp) {
      double* yg = y.data() + (n * s.oc + grp * ocg) * o_size;
      if (cg * k_size > 0) {
        GemmF64(false, false, ocg, o_size, cg * k_size, 1.0, wv.data() + grp * ocg * cg * k_size,
                cg * k_size, col.data() + grp * cg * k_size * o_size, o_size, 0.0, yg, o_size);
      }
      for (int64_t oc = 0; oc < ocg && b != nullptr; ++oc) {
        for (int64_t o = 0; o < o_size; ++o)
          yg[oc * o_size + o] += bv[static_cast<size_t>(grp * ocg + oc)];
      }
    }
  }
  Shape out_shape = {s.n, s.oc};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), out_shape);
    T* po = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = FromDouble<T>(y[static_cast<size_t>(i)]);
    return out;
  }));
}

}  // namespace

void RegisterDeformConvOps(Registry& r) {
  // 22 only widens the types (bfloat16), which the same kernel handles.
  r.Add("", "DeformConv", 19, DeformConv);
  r.Add("", "DeformConv", 22, DeformConv);
}

}  // namespace concord::ref
