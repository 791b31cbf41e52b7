// Resampling ops: Resize (10, 11, 13, 18, 19), Upsample (7, 9), RoiAlign (10, 16).
//
// Resize follows ONNX's Python reference (onnx/reference/ops/op_resize.py, 1.23) bit for bit:
// every output coordinate is mapped back to a fractional input coordinate x_ori per axis, the n
// input positions nearest x_ori (n = 2 for nearest/linear, 4 for cubic, more when antialiasing
// widens the kernel) are read with edge clamping, and the 1-D weights are applied in one pass per
// resized axis (in `axes` order), each in double over the previous pass's result. An axis that
// is neither scaled nor cropped is left as it is. RoiAlign follows the reference's pre-computed
// bilinear sampling. (GridSample lives in grid_sample.cc.)
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- Resize / Upsample -----------------------------------------------------------------------

enum class InterpMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNN,
  kTfCropAndResize
};
// kSimple is the pre-opset-11 behaviour (Resize-10, Upsample): floor when upsampling an axis,
// ceil when downsampling it (what onnxruntime implements and the opset-10 tests expect).
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeParams {
  InterpMode mode = InterpMode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0.0;
  std::vector<double> scales;  // per axis of X (1 where an axis is not resized)
  Shape out_shape;
  // Per axis of X: the roi's start and end (0 and 1 where it is absent), and end - start as the
  // reference computes it: in the roi's element type.
  std::vector<double> roi_start, roi_end, roi_span;
  // The axes resized, in the order the reference resizes them (X's axes ascending, or the
  // `axes` attribute's order).
  std::vector<int64_t> axes;
};

// The taps of one output coordinate along one axis: input indices (already clamped to the axis,
// i.e. edge padding) with their weights, or "extrapolate" (tf_crop_and_resize outside the roi).
struct Taps {
  bool extrapolate = false;
  std::vector<int64_t> index;
  std::vector<double> weight;
};

InterpMode ParseMode(const KernelContext& ctx, const std::string& s) {
  if (s == "nearest") return InterpMode::kNearest;
  if (s == "linear" || s == "bilinear" || s == "trilinear") return InterpMode::kLinear;
  if (s == "cubic") return InterpMode::kCubic;
  ctx.Fail("unknown mode '{}'", s);
}

CoordMode ParseCoordMode(const KernelContext& ctx, const std::string& s) {
  if (s == "half_pixel") return CoordMode::kHalfPixel;
  if (s == "half_pixel_symmetric") return CoordMode::kHalfPixelSymmetric;
  if (s == "pytorch_half_pixel") return CoordMode::kPytorchHalfPixel;
  if (s == "align_corners") return CoordMode::kAlignCorners;
  if (s == "asymmetric") return CoordMode::kAsymmetric;
  if (s == "tf_half_pixel_for_nn") return CoordMode::kTfHalfPixelForNN;
  if (s == "tf_crop_and_resize") return CoordMode::kTfCropAndResize;
  ctx.Fail("unknown coordinate_transformation_mode '{}'", s);
}

NearestMode ParseNearestMode(const KernelContext& ctx, const std::string& s) {
  if (s == "round_prefer_floor") return NearestMode::kRoundPreferFloor;
  if (s == "round_prefer_ceil") return NearestMode::kRoundPreferCeil;
  if (s == "floor") return NearestMode::kFloor;
  if (s == "ceil") return NearestMode::kCeil;
  ctx.Fail("unknown nearest_mode '{}'", s);
}

// Maps output coordinate x of an axis back to the input axis; nullopt = extrapolate.
std::optional<double> OriginalCoordinate(const ResizeParams& p, int64_t axis, int64_t x,
                                         int64_t in_len) {
  const size_t a = static_cast<size_t>(axis);
  double scale = p.scales[a];
  double in_w = static_cast<double>(in_len);
  double out_w = scale * in_w;  // as the reference: the un-floored output length
  double xd = static_cast<double>(x);
  switch (p.coord) {
    case CoordMode::kHalfPixel:
      return (xd + 0.5) / scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      // Centers the output on the input when the output length was floored.
      double adjustment = static_cast<double>(p.out_shape[a]) / out_w;
      double offset = in_w / 2 * (1 - adjustment);
      return offset + (xd + 0.5) / scale - 0.5;
    }
    case CoordMode::kPytorchHalfPixel:
      return out_w == 1 ? -0.5 : (xd + 0.5) / scale - 0.5;
    case CoordMode::kAlignCorners:
      return out_w == 1 ? 0.0 : xd * (in_w - 1) / (out_w - 1);
    case CoordMode::kAsymmetric:
      return xd / scale;
    case CoordMode::kTfHalfPixelForNN:
      return (xd + 0.5) / scale;
    case CoordMode::kTfCropAndResize: {
      double span = p.roi_span[a];
      double xo = out_w == 1 ? span * (in_w - 1) / 2 : xd * span * (in_w - 1) / (out_w - 1);
      xo += p.roi_start[a] * (in_w - 1);
      if (xo < 0 || xo > in_w - 1) return std::nullopt;
      return xo;
    }
  }
  return 0.0;
}

std::vector<double> CubicCoeffs(double r, double A) {
  double s = 1 - r;
  return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
          ((A + 2) * r - (A + 3)) * r * r + 1, ((A + 2) * s - (A + 3)) * s * s + 1,
          ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A};
}

std::vector<double> Normalized(std::vector<double> w) {
  double sum = 0;
  for (double v : w) sum += v;  // in order, as Python's sum()
  for (double& v : w) v /= sum;
  return w;
}

// Antialiased (downsampling) kernels: the filter is stretched by 1 / scale, so it covers more
// input taps, and normalized to sum 1. As the reference's _linear/_cubic_coeffs_antialias.
std::vector<double> LinearAntialiasCoeffs(double ratio, double scale) {
  scale = std::min(scale, 1.0);
  int64_t start = static_cast<int64_t>(std::floor(-1 / scale) + 1);
  int64_t footprint = 2 - 2 * start;
  std::vector<double> w;
  for (int64_t i = start; i < start + footprint; ++i) {
    double arg = (static_cast<double>(i) - ratio) * scale;
    w.push_back(std::clamp(1 - std::fabs(arg), 0.0, 1.0));
  }
  return Normalized(std::move(w));
}

std::vector<double> CubicAntialiasCoeffs(double ratio, double scale, double A) {
  scale = std::min(scale, 1.0);
  int64_t i_start = static_cast<int64_t>(std::floor(-2 / scale) + 1);
  int64_t i_end = 2 - i_start;
  std::vector<double> w;
  for (int64_t i = i_start; i < i_end; ++i) {
    double x = std::fabs(scale * (static_cast<double>(i) - ratio));
    double x2 = x * x, x3 = x * x2;
    if (x <= 1) {
      w.push_back((A + 2) * x3 - (A + 3) * x2 + 1);
    } else if (x < 2) {
      w.push_back(A * x3 - 5 * A * x2 + 8 * A * x - 4 * A);
    } else {
      w.push_back(0.0);
    }
  }
  return Normalized(std::move(w));
}

std::vector<double> NearestCoeffs(double ratio, NearestMode mode, bool downsampling) {
  if (ratio == 1.0) return {0, 1};  // x_ori is an integer: take it
  switch (mode) {
    case NearestMode::kRoundPreferFloor:
      return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
    case NearestMode::kRoundPreferCeil:
      return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
    case NearestMode::kFloor:
      return {1, 0};
    case NearestMode::kCeil:
      return {0, 1};
    case NearestMode::kSimple:
      return downsampling ? std::vector<double>{0, 1} : std::vector<double>{1, 0};
  }
  return {0, 1};
}

std::vector<double> Coeffs(const ResizeParams& p, double ratio, double scale) {
  switch (p.mode) {
    case InterpMode::kNearest:
      return NearestCoeffs(ratio, p.nearest, scale < 1.0);
    case InterpMode::kLinear:
      return p.antialias ? LinearAntialiasCoeffs(ratio, scale)
                         : std::vector<double>{1 - ratio, ratio};
    case InterpMode::kCubic:
      return p.antialias ? CubicAntialiasCoeffs(ratio, scale, p.cubic_a)
                         : CubicCoeffs(ratio, p.cubic_a);
  }
  return {};
}

// Taps of output coordinate x along `axis` (input length in_len), as the reference's
// _interpolate_1d_along_axis: the n (even) taps nearest to x_ori, preferring the left one, with
// positions outside the axis clamped to its edge.
Taps ComputeTaps(const ResizeParams& p, int64_t axis, int64_t x, int64_t in_len) {
  Taps t;
  std::optional<double> xo = OriginalCoordinate(p, axis, x, in_len);
  if (!xo) {
    t.extrapolate = true;
    return t;
  }
  if (!std::isfinite(*xo)) return t;  // caller reports it
  // ratio = x_ori - (the input position just left of x_ori) lies in (0, 1].
  double fl = std::floor(*xo);
  double ratio = fl == *xo ? 1.0 : *xo - fl;
  std::vector<double> w = Coeffs(p, ratio, p.scales[static_cast<size_t>(axis)]);
  const int64_t n = static_cast<int64_t>(w.size());
  // The window, computed in the edge-padded axis as the reference does (not clamped to it).
  const int64_t pad = (n + 1) / 2;
  double xp = *xo + static_cast<double>(pad);
  double pf = std::floor(xp);
  int64_t start = static_cast<int64_t>(pf) + (xp == pf ? -(n / 2) : 1 - n / 2) - pad;
  if (p.exclude_outside) {
    for (int64_t k = 0; k < n; ++k) {
      if (start + k < 0 || start + k >= in_len) w[static_cast<size_t>(k)] = 0;
    }
    double sum =
        NumpyPairwiseSum<double>(0, n, [&](int64_t k) { return w[static_cast<size_t>(k)]; });
    if (sum == 0) sum = 1;
    for (double& v : w) v /= sum;
  }
  for (int64_t k = 0; k < n; ++k) {
    t.index.push_back(std::clamp<int64_t>(start + k, 0, in_len - 1));
  }
  t.weight = std::move(w);
  return t;
}

// math.isclose with its default relative tolerance.
bool IsClose(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

// The reference leaves an axis untouched when it neither scales nor crops it.
bool IsIdentityAxis(const ResizeParams& p, int64_t axis, int64_t in_len) {
  size_t a = static_cast<size_t>(axis);
  return IsClose(p.scales[a], 1.0) && p.out_shape[a] == in_len && p.roi_start[a] == 0.0 &&
         IsClose(p.roi_end[a], 1.0);
}

// Interpolated value -> element type as the reference's saturate_cast: integers round half to
// even and saturate; floats convert (overflow becomes inf).
template <typename T>
T FromInterpolated(double v) {
  if constexpr (kIsIntLike<T>) {
    if (std::isnan(v)) return T(0);
    double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    double hi = static_cast<double>(std::numeric_limits<T>::max());
    v = std::nearbyint(v);
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return FromDouble<T>(v);
  }
}

// Nearest copies the element its taps pick (every dtype, bit-exact). An axis whose taps all
// lost their weight (exclude_outside) yields 0 and an extrapolated one the extrapolation value;
// as in the reference's axis-by-axis passes, the last such axis decides.
constexpr int64_t kSrcExtrapolate = -1;
constexpr int64_t kSrcZero = -2;

template <typename T>
Tensor NearestResize(const Tensor& x, const ResizeParams& p,
                     const std::vector<std::vector<Taps>>& taps) {
  const int rank = x.rank();
  Tensor out(x.dtype(), p.out_shape);
  // src[d][o]: input index along axis d for output index o (or kSrc*).
  std::vector<std::vector<int64_t>> src(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) {
    const auto& axis_taps = taps[static_cast<size_t>(d)];
    auto& s = src[static_cast<size_t>(d)];
    for (int64_t o = 0; o < p.out_shape[static_cast<size_t>(d)]; ++o) {
      if (axis_taps.empty()) {  // identity axis
        s.push_back(o);
        continue;
      }
      const Taps& t = axis_taps[static_cast<size_t>(o)];
      if (t.extrapolate) {
        s.push_back(kSrcExtrapolate);
      } else if (t.weight[0] != 0) {
        s.push_back(t.index[0]);
      } else {
        s.push_back(t.weight[1] != 0 ? t.index[1] : kSrcZero);
      }
    }
  }
  std::vector<int64_t> in_strides = Strides(x.shape());
  const T* px = x.data<T>();
  T* po = out.data<T>();
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t off = 0, special = 0;
    for (int d = 0; d < rank; ++d) {
      int64_t s = src[static_cast<size_t>(d)][static_cast<size_t>(idx[static_cast<size_t>(d)])];
      if (s < 0) {
        special = s;
      } else {
        off += s * in_strides[static_cast<size_t>(d)];
      }
    }
    if constexpr (std::is_same_v<T, std::string> || kIsComplex<T>) {
      po[o] = special != 0 ? T() : px[off];
    } else {
      po[o] = special == kSrcExtrapolate ? FromInterpolated<T>(p.extrapolation)
              : special == kSrcZero      ? T(0)
                                         : px[off];
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < p.out_shape[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  return out;
}

// One reference pass: interpolates axis `axis` of `in` (shape `shape`, in double) to out_len.
// Along the last axis numpy sums the weighted taps pairwise, along others tap by tap.
std::vector<double> ResizeAxis(const KernelContext& ctx, const std::vector<double>& in,
                               const Shape& shape, int64_t axis, const std::vector<Taps>& taps,
                               double extrapolation) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t in_len = shape[static_cast<size_t>(axis)];
  const int64_t out_len = static_cast<int64_t>(taps.size());
  std::vector<double> out(static_cast<size_t>(outer * out_len * inner));
  ctx.ParallelFor(outer * out_len, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)),
                  [&](int64_t begin, int64_t end) {
                    for (int64_t row = begin; row < end; ++row) {
                      const int64_t oo = row / out_len;
                      const Taps& t = taps[static_cast<size_t>(row % out_len)];
                      double* po = out.data() + row * inner;
                      const double* pin = in.data() + oo * in_len * inner;
                      const int64_t n = static_cast<int64_t>(t.index.size());
                      for (int64_t i = 0; i < inner; ++i) {
                        if (t.extrapolate) {
                          po[i] = extrapolation;
                          continue;
                        }
                        auto term = [&](int64_t k) {
                          return t.weight[static_cast<size_t>(k)] *
                                 pin[t.index[static_cast<size_t>(k)] * inner + i];
                        };
                        if (inner == 1) {
                          po[i] = NumpyPairwiseSum<double>(0, n, term);
                        } else {
                          double acc = 0;
                          for (int64_t k = 0; k < n; ++k) acc += term(k);
                          po[i] = acc;
                        }
                      }
                    }
                  });
  return out;
}

// Resizes as the reference does: one separable pass per resized axis in p.axes order, each in
// double over the previous pass's result; an axis it leaves untouched is skipped.
Tensor ResizeTensor(const KernelContext& ctx, const Tensor& x, const ResizeParams& p) {
  const int rank = x.rank();
  Tensor out(x.dtype(), p.out_shape);
  if (out.numel() == 0) return out;
  if (x.numel() == 0)
    ctx.Fail("cannot resize an empty input {} to {}", x.Describe(), ShapeToString(p.out_shape));
  // taps[d][o]: taps of output coordinate o along axis d (none for an axis left as it is).
  std::vector<std::vector<Taps>> taps(static_cast<size_t>(rank));
  for (int64_t d : p.axes) {
    if (IsIdentityAxis(p, d, x.dim(static_cast<int>(d)))) continue;
    for (int64_t o = 0; o < p.out_shape[static_cast<size_t>(d)]; ++o) {
      Taps t = ComputeTaps(p, d, o, x.dim(static_cast<int>(d)));
      if (!t.extrapolate && t.index.empty())
        ctx.Fail("non-finite source coordinate on axis {} (check roi)", d);
      taps[static_cast<size_t>(d)].push_back(std::move(t));
    }
  }
  return DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (p.mode == InterpMode::kNearest) return NearestResize<T>(x, p, taps);
    if constexpr (!kIsNumeric<T>) {
      ctx.Unsupported("linear/cubic Resize of {} tensors", DTypeName(x.dtype()));
      return out;
    } else {
      const T* px = x.data<T>();
      std::vector<double> buf(static_cast<size_t>(x.numel()));
      for (int64_t i = 0; i < x.numel(); ++i) buf[static_cast<size_t>(i)] = ToDouble(px[i]);
      Shape shape = x.shape();
      for (int64_t d : p.axes) {
        const auto& axis_taps = taps[static_cast<size_t>(d)];
        if (axis_taps.empty()) continue;
        buf = ResizeAxis(ctx, buf, shape, d, axis_taps, p.extrapolation);
        shape[static_cast<size_t>(d)] = p.out_shape[static_cast<size_t>(d)];
      }
      T* po = out.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i)
        po[i] = FromInterpolated<T>(buf[static_cast<size_t>(i)]);
      return out;
    }
  });
}

std::vector<double> ToDoubleVector(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (!IsFloating(t.dtype())) ctx.Fail("{} must be a float tensor, got {}", what, t.Describe());
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

// Starts with every axis of X resized (in order) by 1: no roi, output shape = input shape.
ResizeParams IdentityParams(const Tensor& x) {
  ResizeParams p;
  size_t rank = static_cast<size_t>(x.rank());
  p.scales.assign(rank, 1.0);
  p.out_shape = x.shape();
  p.roi_start.assign(rank, 0.0);
  p.roi_end.assign(rank, 1.0);
  p.roi_span.assign(rank, 1.0);
  for (size_t d = 0; d < rank; ++d) p.axes.push_back(static_cast<int64_t>(d));
  return p;
}

// Scales of p.axes; output length floor(scale * input length), computed in double as the
// reference.
void SetScales(const KernelContext& ctx, const Tensor& x, const std::vector<double>& scales,
               ResizeParams& p) {
  if (scales.size() != p.axes.size()) {
    ctx.Fail("scales has {} elements, expected {} (one per resized axis)", scales.size(),
             p.axes.size());
  }
  for (size_t i = 0; i < scales.size(); ++i) {
    size_t d = static_cast<size_t>(p.axes[i]);
    double s = scales[i];
    if (!(s > 0) || !std::isfinite(s)) ctx.Fail("scales must be positive and finite, got {}", s);
    double len = std::floor(s * static_cast<double>(x.shape()[d]));
    if (len > 9.0e15) ctx.Fail("output dimension {} is too large", d);
    p.scales[d] = s;
    p.out_shape[d] = static_cast<int64_t>(len);
  }
}

// Sizes of p.axes. keep_aspect_ratio_policy not_larger / not_smaller applies the smallest /
// largest of the axes' scales to all of them, rounding each output length half up.
void SetSizes(const KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& sizes,
              const std::string& policy, ResizeParams& p) {
  if (sizes.size() != p.axes.size()) {
    ctx.Fail("sizes has {} elements, expected {} (one per resized axis)", sizes.size(),
             p.axes.size());
  }
  std::vector<double> scales;
  for (size_t i = 0; i < sizes.size(); ++i) {
    size_t d = static_cast<size_t>(p.axes[i]);
    if (sizes[i] < 0) ctx.Fail("sizes must be non-negative, got {}", sizes[i]);
    if (x.shape()[d] == 0) ctx.Fail("cannot resize axis {} of length 0", d);
    scales.push_back(static_cast<double>(sizes[i]) / static_cast<double>(x.shape()[d]));
  }
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    ctx.Fail("unknown keep_aspect_ratio_policy '{}'", policy);
  for (size_t i = 0; i < sizes.size(); ++i) {
    size_t d = static_cast<size_t>(p.axes[i]);
    if (policy == "stretch") {
      p.scales[d] = scales[i];
      p.out_shape[d] = sizes[i];
      continue;
    }
    double s = policy == "not_larger" ? *std::min_element(scales.begin(), scales.end())
                                      : *std::max_element(scales.begin(), scales.end());
    p.scales[d] = s;
    p.out_shape[d] = static_cast<int64_t>(s * static_cast<double>(x.shape()[d]) + 0.5);
  }
}

// Resize-10 and Upsample: asymmetric coordinates, nearest or linear.
ResizeParams LegacyParams(const KernelContext& ctx, const Tensor& x) {
  ResizeParams p = IdentityParams(x);
  p.mode = ParseMode(ctx, ctx.GetString("mode", "nearest"));
  if (p.mode == InterpMode::kCubic) ctx.Fail("mode 'cubic' is not valid before Resize-11");
  p.coord = CoordMode::kAsymmetric;
  p.nearest = NearestMode::kSimple;
  return p;
}

std::vector<Value> Resize10(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ResizeParams p = LegacyParams(ctx, x);
  SetScales(ctx, x, ToDoubleVector(ctx, ctx.input(1), "scales"), p);
  return Out(ResizeTensor(ctx, x, p));
}

std::vector<Value> Upsample(KernelContext& ctx, const std::vector<double>& scales) {
  const Tensor& x = ctx.input(0);
  ResizeParams p = LegacyParams(ctx, x);
  for (double s : scales) {
    if (s < 1) ctx.Fail("Upsample scales must be >= 1, got {}", s);
  }
  SetScales(ctx, x, scales, p);
  return Out(ResizeTensor(ctx, x, p));
}

std::vector<Value> Upsample7(KernelContext& ctx) {
  if (!ctx.has_attr("scales")) ctx.Fail("missing attribute 'scales'");
  std::vector<float> f = ctx.GetFloats("scales");
  return Upsample(ctx, std::vector<double>(f.begin(), f.end()));
}

std::vector<Value> Upsample9(KernelContext& ctx) {
  return Upsample(ctx, ToDoubleVector(ctx, ctx.input(1), "scales"));
}

// Resize-11 and later: X, roi, scales, sizes (roi and scales optional/empty from 13). Resize-18
// adds antialias, axes and keep_aspect_ratio_policy; Resize-19 half_pixel_symmetric.
template <int kSince>
std::vector<Value> Resize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ResizeParams p = IdentityParams(x);
  p.mode = ParseMode(ctx, ctx.GetString("mode", "nearest"));
  std::string coord = ctx.GetString("coordinate_transformation_mode", "half_pixel");
  if (kSince < 19 && coord == "half_pixel_symmetric")
    ctx.Fail("coordinate_transformation_mode '{}' needs Resize-19", coord);
  p.coord = ParseCoordMode(ctx, coord);
  p.nearest = ParseNearestMode(ctx, ctx.GetString("nearest_mode", "round_prefer_floor"));
  p.cubic_a = ctx.GetFloat("cubic_coeff_a", -0.75f);
  p.exclude_outside = ctx.GetInt("exclude_outside", 0) != 0;
  p.extrapolation = ctx.GetFloat("extrapolation_value", 0.0f);
  std::string policy = "stretch";
  if constexpr (kSince < 18) {
    for (const char* a : {"antialias", "axes", "keep_aspect_ratio_policy"}) {
      if (ctx.has_attr(a)) ctx.Fail("attribute '{}' needs Resize-18", a);
    }
  } else {
    p.antialias = ctx.GetInt("antialias", 0) != 0;
    if (p.antialias && p.mode == InterpMode::kNearest)
      ctx.Fail("antialias is not defined for mode 'nearest'");
    if (ctx.has_attr("axes")) p.axes = NormalizeAxes(ctx, ctx.GetInts("axes"), x.rank());
    policy = ctx.GetString("keep_aspect_ratio_policy", "stretch");
  }
  const Tensor* scales = ctx.optional_input(2);
  const Tensor* sizes = ctx.optional_input(3);
  bool has_scales = scales && scales->numel() > 0;
  bool has_sizes = sizes && sizes->numel() > 0;
  if (has_scales == has_sizes) ctx.Fail("exactly one of 'scales' and 'sizes' must be given");
  if (has_scales) {
    SetScales(ctx, x, ToDoubleVector(ctx, *scales, "scales"), p);
  } else {
    SetSizes(ctx, x, ToInt64Vector(ctx, *sizes), policy, p);
  }
  // roi: starts then ends of the resized axes. Only tf_crop_and_resize needs it, but the
  // reference also lets it decide whether an axis is left untouched.
  const Tensor* roi = ctx.optional_input(1);
  const size_t naxes = p.axes.size();
  if (roi && roi->numel() == static_cast<int64_t>(2 * naxes)) {
    std::vector<double> r = ToDoubleVector(ctx, *roi, "roi");
    for (size_t i = 0; i < naxes; ++i) {
      size_t d = static_cast<size_t>(p.axes[i]);
      p.roi_start[d] = r[i];
      p.roi_end[d] = r[naxes + i];
      p.roi_span[d] = DispatchFloat(ctx, roi->dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* pr = roi->data<T>();
        return ToDouble(Down<T>(Up(pr[naxes + i]) - Up(pr[i])));
      });
    }
  } else if (p.coord == CoordMode::kTfCropAndResize) {
    ctx.Fail("tf_crop_and_resize needs roi with {} elements", 2 * naxes);
  }
  return Out(ResizeTensor(ctx, x, p));
}

// ---- RoiAlign (10: output_half_pixel; 16: coordinate_transformation_mode) --------------------

struct BilinearTap {
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

BilinearTap PreCalcTap(double y, double x, int64_t height, int64_t width) {
  BilinearTap t;
  if (!(y >= -1.0 && y <= static_cast<double>(height) && x >= -1.0 &&
        x <= static_cast<double>(width))) {
    return t;  // outside the feature map (or NaN): contributes zero
  }
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<double>(y_low);
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<double>(x_low);
  } else {
    x_high = x_low + 1;
  }
  double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  double hy = 1.0 - ly, hx = 1.0 - lx;
  t.pos[0] = y_low * width + x_low;
  t.pos[1] = y_low * width + x_high;
  t.pos[2] = y_high * width + x_low;
  t.pos[3] = y_high * width + x_high;
  t.w[0] = hy * hx;
  t.w[1] = hy * lx;
  t.w[2] = ly * hx;
  t.w[3] = ly * lx;
  return t;
}

std::vector<Value> RoiAlignImpl(KernelContext& ctx, bool half_pixel) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& bidx_t = ctx.input(2);
  std::string mode = ctx.GetString("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.Fail("unknown mode '{}'", mode);
  int64_t out_h = ctx.GetInt("output_height", 1), out_w = ctx.GetInt("output_width", 1);
  int64_t sampling_ratio = ctx.GetInt("sampling_ratio", 0);
  double spatial_scale = ctx.GetFloat("spatial_scale", 1.0f);
  if (out_h <= 0 || out_w <= 0) ctx.Fail("output_height/output_width must be positive");
  if (sampling_ratio < 0) ctx.Fail("sampling_ratio must be >= 0");
  if (x.rank() != 4) ctx.Fail("X must be 4-D, got {}", x.Describe());
  if (rois.rank() != 2 || rois.dim(1) != 4)
    ctx.Fail("rois must be [num_rois, 4], got {}", rois.Describe());
  std::vector<int64_t> bidx = ToInt64Vector(ctx, bidx_t);
  const int64_t num_rois = rois.dim(0);
  if (bidx_t.rank() != 1 || static_cast<int64_t>(bidx.size()) != num_rois) {
    ctx.Fail("batch_indices must be [{}], got {}", num_rois, bidx_t.Describe());
  }
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  for (int64_t b : bidx) {
    if (b < 0 || b >= N) ctx.Fail("batch index {} is out of range [0, {})", b, N);
  }
  if (rois.dtype() != x.dtype()) ctx.Fail("rois and X types differ");
  Tensor out(x.dtype(), {num_rois, C, out_h, out_w});
  if (out.numel() == 0) return Out(std::move(out));
  if (H == 0 || W == 0) ctx.Fail("X has an empty spatial dimension: {}", x.Describe());
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const T* pr = rois.data<T>();
    T* po = out.data<T>();
    for (int64_t r = 0; r < num_rois; ++r) {
      double offset = half_pixel ? 0.5 : 0.0;
      double start_w = ToDouble(pr[r * 4 + 0]) * spatial_scale - offset;
      double start_h = ToDouble(pr[r * 4 + 1]) * spatial_scale - offset;
      double end_w = ToDouble(pr[r * 4 + 2]) * spatial_scale - offset;
      double end_h = ToDouble(pr[r * 4 + 3]) * spatial_scale - offset;
      double roi_w = end_w - start_w, roi_h = end_h - start_h;
      if (!half_pixel) {  // force malformed rois to be 1x1
        roi_w = std::max(roi_w, 1.0);
        roi_h = std::max(roi_h, 1.0);
      }
      double bin_h = roi_h / static_cast<double>(out_h), bin_w = roi_w / static_cast<double>(out_w);
      // Samples per bin: sampling_ratio, or adaptive ceil(roi_size / output_size).
      auto samples = [&](double roi_len, int64_t out_len) -> int64_t {
        if (sampling_ratio > 0) return sampling_ratio;
        double g = std::ceil(roi_len / static_cast<double>(out_len));
        if (!(g <= 4096.0))
          ctx.Fail("roi {} is too large (or not finite) for adaptive sampling", r);
        return std::max<int64_t>(static_cast<int64_t>(g), 0);
      };
      int64_t grid_h = samples(roi_h, out_h), grid_w = samples(roi_w, out_w);
      if (static_cast<double>(grid_h) * static_cast<double>(grid_w) *
              static_cast<double>(out_h * out_w) >
          268435456.0) {
        ctx.Fail("too many RoiAlign samples");
      }
      double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
      // Taps shared by every channel: [ph][pw][iy][ix].
      std::vector<BilinearTap> taps;
      taps.reserve(static_cast<size_t>(out_h * out_w * grid_h * grid_w));
      for (int64_t ph = 0; ph < out_h; ++ph) {
        for (int64_t pw = 0; pw < out_w; ++pw) {
          for (int64_t iy = 0; iy < grid_h; ++iy) {
            double yy = start_h + static_cast<double>(ph) * bin_h +
                        (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
            for (int64_t ix = 0; ix < grid_w; ++ix) {
              double xx = start_w + static_cast<double>(pw) * bin_w +
                          (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
              taps.push_back(PreCalcTap(yy, xx, H, W));
            }
          }
        }
      }
      for (int64_t c = 0; c < C; ++c) {
        const T* plane = px + (bidx[static_cast<size_t>(r)] * C + c) * H * W;
        size_t ti = 0;
        for (int64_t ph = 0; ph < out_h; ++ph) {
          for (int64_t pw = 0; pw < out_w; ++pw) {
            double val = 0;
            bool first = true;
            for (int64_t k = 0; k < grid_h * grid_w; ++k, ++ti) {
              const BilinearTap& t = taps[ti];
              if (mode == "avg") {
                val += t.w[0] * ToDouble(plane[t.pos[0]]) + t.w[1] * ToDouble(plane[t.pos[1]]) +
                       t.w[2] * ToDouble(plane[t.pos[2]]) + t.w[3] * ToDouble(plane[t.pos[3]]);
              } else {
                // As the reference (and onnxruntime): the max of the weighted corner values.
                double m = std::max(
                    {t.w[0] * ToDouble(plane[t.pos[0]]), t.w[1] * ToDouble(plane[t.pos[1]]),
                     t.w[2] * ToDouble(plane[t.pos[2]]), t.w[3] * ToDouble(plane[t.pos[3]])});
                val = first ? m : std::max(val, m);
                first = false;
              }
            }
            if (mode == "avg") val /= count;
            po[((r * C + c) * out_h + ph) * out_w + pw] = FromDouble<T>(val);
          }
        }
      }
    }
    return out;
  }));
}

std::vector<Value> RoiAlign10(KernelContext& ctx) { return RoiAlignImpl(ctx, false); }

std::vector<Value> RoiAlign16(KernelContext& ctx) {
  std::string m = ctx.GetString("coordinate_transformation_mode", "half_pixel");
  if (m != "half_pixel" && m != "output_half_pixel")
    ctx.Fail("unknown coordinate_transformation_mode '{}'", m);
  return RoiAlignImpl(ctx, m == "half_pixel");
}

}  // namespace

void RegisterResizeOps(Registry& r) {
  r.Add("", "Upsample", 7, Upsample7);
  r.Add("", "Upsample", 9, Upsample9);
  r.Add("", "Resize", 10, Resize10);
  r.Add("", "Resize", 11, Resize<11>);  // 13 only widened types and made roi/scales optional
  r.Add("", "Resize", 18, Resize<18>);
  r.Add("", "Resize", 19, Resize<19>);
  r.Add("", "RoiAlign", 10, RoiAlign10);
  r.Add("", "RoiAlign", 16, RoiAlign16);
}

}  // namespace concord::ref
