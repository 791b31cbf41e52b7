// GridSample (16: 4-D, bilinear/nearest/bicubic; 20: N-D, linear/nearest/cubic).
//
// Follows PyTorch's grid_sampler_2d/3d, which ONNX's GridSample tests were generated with (the
// expected outputs are PyTorch's), generalized to r spatial axes: grid[n, o..., k] is the
// normalized coordinate along spatial axis r-1-k (x first). Coordinates are unnormalized, the
// padding mode pulls them inside (border clips, reflection reflects then clips; zeros leaves
// them), and a tap outside the input reads 0. Linear sums the 2^r corners weighted by products
// of 1-D weights (x's first), cubic interpolates with Keys' kernel (A = -0.75) over 4 taps per
// axis, innermost axis first, padding each tap. Arithmetic is in float, double when X or the
// grid is double, as PyTorch computes in the tensors' type. Nearest rounds half to even and
// copies the element, so it serves every element type.
#include <cmath>
#include <string>
#include <vector>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

enum class Mode { kLinear, kNearest, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

struct Spec {
  Mode mode = Mode::kLinear;
  Padding padding = Padding::kZeros;
  bool align_corners = false;
  Shape in_dims;   // spatial dims of X
  Shape out_dims;  // spatial dims of Y
};

template <typename C>
C Unnormalize(C coord, int64_t size, bool align_corners) {
  C s = static_cast<C>(size);
  return align_corners ? (coord + 1) / 2 * (s - 1) : ((coord + 1) * s - 1) / 2;
}

template <typename C>
C ReflectCoordinates(C in, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return 0;
  if (!std::isfinite(in)) return in;  // stays out of bounds: reads zero
  C lo = static_cast<C>(twice_low) / 2;
  C span = static_cast<C>(twice_high - twice_low) / 2;
  in = std::fabs(in - lo);
  C extra = std::fmod(in, span);
  C flips = std::floor(in / span);
  return std::fmod(flips, C(2)) == 0 ? extra + lo : span - extra + lo;
}

// The padding mode applied to an unnormalized coordinate (border/reflection pull it inside).
template <typename C>
C ApplyPadding(C coord, int64_t size, Padding padding, bool align_corners) {
  auto clip = [&](C v) { return std::min(static_cast<C>(size - 1), std::max(v, C(0))); };
  if (padding == Padding::kBorder) return clip(coord);
  if (padding == Padding::kReflection) {
    coord = align_corners ? ReflectCoordinates(coord, 0, 2 * (size - 1))
                          : ReflectCoordinates(coord, -1, 2 * size - 1);
    return clip(coord);
  }
  return coord;
}

// Index of an integral coordinate, or -1 outside [0, size) (NaN included).
template <typename C>
int64_t IndexOf(C v, int64_t size) {
  return v >= 0 && v < static_cast<C>(size) ? static_cast<int64_t>(v) : -1;
}

template <typename C>
C CubicConv1(C x, C A) {
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}
template <typename C>
C CubicConv2(C x, C A) {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
template <typename C>
void CubicCoeffs(C t, C c[4]) {
  const C A = static_cast<C>(-0.75);
  c[0] = CubicConv2(t + 1, A);
  c[1] = CubicConv1(t, A);
  c[2] = CubicConv1(1 - t, A);
  c[3] = CubicConv2(2 - t, A);
}

// The taps of one sampling point along one spatial axis: input indices (-1 = reads zero) and
// their 1-D weights (1 tap for nearest, 2 for linear, 4 for cubic).
template <typename C>
struct AxisTaps {
  int64_t index[4] = {-1, -1, -1, -1};
  C weight[4] = {0, 0, 0, 0};
};

template <typename C>
AxisTaps<C> TapsAlong(const Spec& s, C coord, int64_t size) {
  AxisTaps<C> t;
  C i = Unnormalize(coord, size, s.align_corners);
  if (s.mode == Mode::kCubic) {
    // Padding applies to each tap, not to the sampling point.
    C f = std::floor(i);
    CubicCoeffs(i - f, t.weight);
    for (int j = 0; j < 4; ++j) {
      C tap = ApplyPadding(f - 1 + static_cast<C>(j), size, s.padding, s.align_corners);
      t.index[j] = IndexOf(tap, size);
    }
    return t;
  }
  i = ApplyPadding(i, size, s.padding, s.align_corners);
  if (s.mode == Mode::kNearest) {
    t.index[0] = IndexOf(std::nearbyint(i), size);
    t.weight[0] = 1;
    return t;
  }
  C i0 = std::floor(i), i1 = i0 + 1;
  t.index[0] = IndexOf(i0, size);
  t.index[1] = IndexOf(i1, size);
  t.weight[0] = i1 - i;
  t.weight[1] = i - i0;
  return t;
}

// Cubic over axes [a, r): 1-D interpolation of the 4 taps of axis a, each the interpolation of
// the remaining axes (the innermost axis first, as PyTorch's bicubic).
template <typename C>
C CubicNested(const std::vector<AxisTaps<C>>& taps, const std::vector<int64_t>& strides,
              const C* plane, size_t a, int64_t offset, bool outside) {
  C v[4];
  for (int j = 0; j < 4; ++j) {
    int64_t idx = taps[a].index[j];
    bool out_j = outside || idx < 0;
    int64_t off = offset + (idx < 0 ? 0 : idx * strides[a]);
    if (a + 1 == taps.size()) {
      v[j] = out_j ? C(0) : plane[off];
    } else {
      v[j] = CubicNested(taps, strides, plane, a + 1, off, out_j);
    }
  }
  const C* c = taps[a].weight;
  return v[0] * c[0] + v[1] * c[1] + v[2] * c[2] + v[3] * c[3];
}

// Samples X (N, C, in_dims...) converted to C at every grid point: Y (N, C, out_dims...).
template <typename C>
std::vector<C> Sample(const Spec& s, const std::vector<C>& x, const std::vector<C>& grid, int64_t N,
                      int64_t channels) {
  const size_t r = s.in_dims.size();
  const int64_t in_plane = NumElements(s.in_dims), out_plane = NumElements(s.out_dims);
  const std::vector<int64_t> strides = Strides(s.in_dims);
  std::vector<C> y(static_cast<size_t>(N * channels * out_plane));
  std::vector<AxisTaps<C>> taps(r);
  const int ntaps = s.mode == Mode::kNearest ? 1 : s.mode == Mode::kLinear ? 2 : 4;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < out_plane; ++p) {
      const C* g = grid.data() + (n * out_plane + p) * static_cast<int64_t>(r);
      for (size_t a = 0; a < r; ++a) taps[a] = TapsAlong(s, g[r - 1 - a], s.in_dims[a]);
      for (int64_t c = 0; c < channels; ++c) {
        const C* plane = x.data() + (n * channels + c) * in_plane;
        C val = 0;
        if (s.mode == Mode::kCubic) {
          val = CubicNested(taps, strides, plane, 0, 0, false);
        } else {
          // Corners in order with the last axis fastest; weights multiplied x first.
          const int64_t corners = int64_t{1} << (ntaps == 2 ? r : 0);
          for (int64_t k = 0; k < corners; ++k) {
            int64_t off = 0;
            bool inside = true;
            C w = 1;
            for (size_t a = r; a-- > 0;) {
              int bit = ntaps == 2 ? static_cast<int>((k >> (r - 1 - a)) & 1) : 0;
              int64_t idx = taps[a].index[bit];
              inside = inside && idx >= 0;
              off += idx * strides[a];
              w = a + 1 == r ? taps[a].weight[bit] : w * taps[a].weight[bit];
            }
            if (inside) val += plane[off] * w;
          }
        }
        y[static_cast<size_t>((n * channels + c) * out_plane + p)] = val;
      }
    }
  }
  return y;
}

// Nearest for any element type: the flat input offset each output element copies (-1: zero).
template <typename C>
std::vector<int64_t> NearestSources(const Spec& s, const std::vector<C>& grid, int64_t N,
                                    int64_t channels) {
  const size_t r = s.in_dims.size();
  const int64_t in_plane = NumElements(s.in_dims), out_plane = NumElements(s.out_dims);
  const std::vector<int64_t> strides = Strides(s.in_dims);
  std::vector<int64_t> src(static_cast<size_t>(N * channels * out_plane));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < out_plane; ++p) {
      const C* g = grid.data() + (n * out_plane + p) * static_cast<int64_t>(r);
      int64_t off = 0;
      for (size_t a = 0; a < r && off >= 0; ++a) {
        int64_t idx = TapsAlong(s, g[r - 1 - a], s.in_dims[a]).index[0];
        off = idx < 0 ? -1 : off + idx * strides[a];
      }
      for (int64_t c = 0; c < channels; ++c) {
        src[static_cast<size_t>((n * channels + c) * out_plane + p)] =
            off < 0 ? -1 : (n * channels + c) * in_plane + off;
      }
    }
  }
  return src;
}

template <typename C>
std::vector<C> AsVector(const KernelContext& ctx, const Tensor& t) {
  return DispatchFloat(ctx, t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    std::vector<C> v(static_cast<size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i)
      v[static_cast<size_t>(i)] = static_cast<C>(ToDouble(p[i]));
    return v;
  });
}

template <typename C>
Tensor RunGridSample(const KernelContext& ctx, const Spec& s, const Tensor& x, const Tensor& grid) {
  const int64_t N = x.dim(0), channels = x.dim(1);
  Shape out_shape = {N, channels};
  out_shape.insert(out_shape.end(), s.out_dims.begin(), s.out_dims.end());
  Tensor out(x.dtype(), out_shape);
  if (out.numel() == 0) return out;
  if (NumElements(s.in_dims) == 0) ctx.Fail("X has an empty spatial dimension: {}", x.Describe());
  std::vector<C> g = AsVector<C>(ctx, grid);
  if (s.mode == Mode::kNearest) {
    std::vector<int64_t> src = NearestSources(s, g, N, channels);
    DispatchAll(ctx, x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* po = out.data<T>();
      for (size_t i = 0; i < src.size(); ++i) {
        if constexpr (std::is_same_v<T, std::string> || kIsComplex<T> || kIsHalf<T>) {
          po[i] = src[i] < 0 ? T() : px[src[i]];
        } else {
          po[i] = src[i] < 0 ? T(0) : px[src[i]];
        }
      }
    });
    return out;
  }
  if (!IsFloating(x.dtype()))
    ctx.Unsupported("linear/cubic GridSample of {} tensors (float types only)",
                    DTypeName(x.dtype()));
  std::vector<C> y = Sample(s, AsVector<C>(ctx, x), g, N, channels);
  DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    for (size_t i = 0; i < y.size(); ++i) po[i] = FromDouble<T>(static_cast<double>(y[i]));
  });
  return out;
}

// kSince 16: 4-D X, modes bilinear/nearest/bicubic; 20: any rank >= 3, linear/nearest/cubic.
template <int kSince>
std::vector<Value> GridSample(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  Spec s;
  std::string mode = ctx.GetString("mode", kSince < 20 ? "bilinear" : "linear");
  if (mode == (kSince < 20 ? "bilinear" : "linear")) {
    s.mode = Mode::kLinear;
  } else if (mode == "nearest") {
    s.mode = Mode::kNearest;
  } else if (mode == (kSince < 20 ? "bicubic" : "cubic")) {
    s.mode = Mode::kCubic;
  } else {
    ctx.Fail("unknown mode '{}' for GridSample-{}", mode, kSince);
  }
  std::string pad = ctx.GetString("padding_mode", "zeros");
  if (pad == "zeros") {
    s.padding = Padding::kZeros;
  } else if (pad == "border") {
    s.padding = Padding::kBorder;
  } else if (pad == "reflection") {
    s.padding = Padding::kReflection;
  } else {
    ctx.Fail("unknown padding_mode '{}'", pad);
  }
  s.align_corners = ctx.GetInt("align_corners", 0) != 0;
  if (kSince < 20 && x.rank() != 4)
    ctx.Unsupported("GridSample-16 supports 4-D input only, got {}", x.Describe());
  if (x.rank() < 3) ctx.Fail("X must have rank >= 3 (N, C, spatial...), got {}", x.Describe());
  const int r = x.rank() - 2;
  if (grid.rank() != x.rank() || grid.dim(0) != x.dim(0) || grid.dim(grid.rank() - 1) != r) {
    ctx.Fail("grid must be [N, D1_out, ..., D{}_out, {}] with N = {}, got {}", r, r, x.dim(0),
             grid.Describe());
  }
  if (!IsFloating(grid.dtype())) ctx.Fail("grid must be a float tensor, got {}", grid.Describe());
  s.in_dims.assign(x.shape().begin() + 2, x.shape().end());
  s.out_dims.assign(grid.shape().begin() + 1, grid.shape().end() - 1);
  bool wide = x.dtype() == DType::kFloat64 || grid.dtype() == DType::kFloat64;
  return Out(wide ? RunGridSample<double>(ctx, s, x, grid) : RunGridSample<float>(ctx, s, x, grid));
}

}  // namespace

void RegisterGridSampleOps(Registry& r) {
  r.Add("", "GridSample", 16, GridSample<16>);
  r.Add("", "GridSample", 20, GridSample<20>);
}

}  // namespace concord::ref
