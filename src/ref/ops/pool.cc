// Pooling ops: MaxPool, AveragePool, LpPool, their Global* forms, MaxUnpool, MaxRoiPool.
//
// Windowed pools share one driver: for each output position it lists the window's taps that
// fall inside the input (padding is never read), then reduces those taps for every (n, c),
// images spread over the session's threads.
// Geometry (pads, auto_pad, ceil_mode, dilations) comes from conv_util. Sums accumulate in
// double; float16/bfloat16 are read and written through float.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/ops/conv_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// One pooling window: flat offsets (within one [spatial...] image) of the taps inside the
// input, the same positions in column-major order (MaxPool storage_order=1), and the number
// of taps inside the padded extent [-pad_begin, in + pad_end) (count_include_pad divisor).
struct Window {
  const int64_t* offsets = nullptr;
  const int64_t* col_major = nullptr;
  size_t size = 0;
  int64_t padded_count = 0;
};

// Every output position's window, computed once per node and shared by all (n, c) images.
class WindowTable {
 public:
  explicit WindowTable(const ConvGeom& g);
  int64_t size() const { return static_cast<int64_t>(begin_.size()) - 1; }
  Window operator[](int64_t o) const {
    size_t b = begin_[static_cast<size_t>(o)], e = begin_[static_cast<size_t>(o) + 1];
    return {offsets_.data() + b, col_major_.data() + b, e - b,
            padded_count_[static_cast<size_t>(o)]};
  }

 private:
  std::vector<int64_t> offsets_, col_major_, padded_count_;
  std::vector<size_t> begin_;
};

struct PoolSetup {
  int64_t n = 0, c = 0;
  ConvGeom g;
  Shape y_shape;
};

PoolSetup SetupPool(const KernelContext& ctx, const Tensor& x, bool ceil_mode) {
  PoolSetup s;
  s.g.in = SpatialDims(ctx, x.shape(), "input X");
  s.n = x.dim(0);
  s.c = x.dim(1);
  if (!ctx.has_attr("kernel_shape")) ctx.Fail("attribute 'kernel_shape' is required");
  s.g.kernel = ctx.GetInts("kernel_shape");
  ResolveConvGeom(ctx, s.g, ceil_mode);
  s.y_shape = {s.n, s.c};
  s.y_shape.insert(s.y_shape.end(), s.g.out.begin(), s.g.out.end());
  return s;
}

WindowTable::WindowTable(const ConvGeom& g) {
  const int nd = g.nd;
  const int64_t O = g.out_size(), K = g.kernel_size();
  std::vector<int64_t> opos(nd, 0), kpos(nd, 0);
  begin_.push_back(0);
  for (int64_t o = 0; o < O; ++o) {
    int64_t padded = 0;
    std::fill(kpos.begin(), kpos.end(), 0);
    for (int64_t k = 0; k < K; ++k) {
      bool inside = true, inside_padded = true;
      int64_t off = 0, cm = 0, cm_stride = 1;
      for (int d = 0; d < nd; ++d) {
        int64_t i = opos[d] * g.strides[d] - g.pad_begin[d] + kpos[d] * g.dilations[d];
        if (i < 0 || i >= g.in[d]) inside = false;
        if (i < -g.pad_begin[d] || i >= g.in[d] + g.pad_end[d]) inside_padded = false;
        off = off * g.in[d] + i;
        cm += i * cm_stride;
        cm_stride *= g.in[d];
      }
      if (inside_padded) ++padded;
      if (inside) {
        offsets_.push_back(off);
        col_major_.push_back(cm);
      }
      for (int d = nd - 1; d >= 0; --d) {
        if (++kpos[d] < g.kernel[d]) break;
        kpos[d] = 0;
      }
    }
    padded_count_.push_back(padded);
    begin_.push_back(offsets_.size());
    for (int d = nd - 1; d >= 0; --d) {
      if (++opos[d] < g.out[d]) break;
      opos[d] = 0;
    }
  }
}

// Calls f(nc, o, window) for every image nc in [0, NC) and output position o, spreading the
// images over the session's threads.
template <typename F>
void ForEachImageWindow(const KernelContext& ctx, const WindowTable& windows, int64_t NC, F&& f) {
  const int64_t O = windows.size();
  ctx.ParallelFor(NC, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, O)),
                  [&](int64_t begin, int64_t end) {
                    for (int64_t nc = begin; nc < end; ++nc) {
                      for (int64_t o = 0; o < O; ++o) f(nc, o, windows[o]);
                    }
                  });
}

// ---- MaxPool --------------------------------------------------------------------------------

// Max over the taps; NaN is skipped unless every tap is NaN. Returns the winning tap (or -1).
template <typename T>
int64_t ArgMaxTap(const T* img, const Window& w) {
  int64_t best = -1;
  for (size_t t = 0; t < w.size; ++t) {
    auto v = Up(img[w.offsets[t]]);
    if constexpr (kIsFloatLike<T>) {
      if (std::isnan(v)) {
        if (best < 0) best = static_cast<int64_t>(t);
        continue;
      }
      if (best < 0 || std::isnan(Up(img[w.offsets[best]])) || v > Up(img[w.offsets[best]])) {
        best = static_cast<int64_t>(t);
      }
    } else {
      if (best < 0 || v > Up(img[w.offsets[best]])) best = static_cast<int64_t>(t);
    }
  }
  return best;
}

std::vector<Value> MaxPool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  PoolSetup s = SetupPool(ctx, x, ctx.GetInt("ceil_mode", 0) != 0);
  int64_t storage_order = ctx.GetInt("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) ctx.Fail("storage_order must be 0 or 1");
  const bool want_indices = ctx.has_output(1);
  const int64_t I = s.g.in_size(), O = s.g.out_size(), NC = s.n * s.c;
  Tensor indices(DType::kInt64, want_indices ? s.y_shape : Shape{0});
  Tensor y = DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloatLike<T> && !std::is_same_v<T, int8_t> && !std::is_same_v<T, uint8_t>) {
      ctx.Unsupported("MaxPool on {}", DTypeName(x.dtype()));
      return Tensor();
    } else {
      Tensor out(x.dtype(), s.y_shape);
      const T* px = x.data<T>();
      T* py = out.data<T>();
      int64_t* pi = want_indices ? indices.data<int64_t>() : nullptr;
      ForEachImageWindow(ctx, WindowTable(s.g), NC, [&](int64_t nc, int64_t o, const Window& w) {
        int64_t t = ArgMaxTap(px + nc * I, w);
        if (t < 0) {  // window entirely in padding
          py[nc * O + o] = Down<T>(kIsFloatLike<T> ? -std::numeric_limits<ComputeT<T>>::infinity()
                                                   : std::numeric_limits<ComputeT<T>>::lowest());
          if (pi) pi[nc * O + o] = -1;
          return;
        }
        py[nc * O + o] = px[nc * I + w.offsets[t]];
        if (pi) pi[nc * O + o] = nc * I + (storage_order == 0 ? w.offsets[t] : w.col_major[t]);
      });
      return out;
    }
  });
  std::vector<Value> outs;
  outs.emplace_back(std::move(y));
  if (want_indices) outs.emplace_back(std::move(indices));
  return outs;
}

// ---- AveragePool / LpPool -------------------------------------------------------------------

// Applies reduce(img, window) -> double for every window and (n, c).
template <typename Reduce>
Tensor WindowReduce(const KernelContext& ctx, const Tensor& x, const PoolSetup& s,
                    Reduce&& reduce) {
  const int64_t I = s.g.in_size(), O = s.g.out_size(), NC = s.n * s.c;
  return DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), s.y_shape);
    const T* px = x.data<T>();
    T* py = out.data<T>();
    ForEachImageWindow(ctx, WindowTable(s.g), NC, [&](int64_t nc, int64_t o, const Window& w) {
      const T* img = px + nc * I;
      double r = reduce(w, [&](int64_t off) { return ToDouble(img[off]); });
      py[nc * O + o] = FromDouble<T>(r);
    });
    return out;
  });
}

std::vector<Value> AveragePool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  PoolSetup s = SetupPool(ctx, x, ctx.GetInt("ceil_mode", 0) != 0);
  const bool include_pad = ctx.GetInt("count_include_pad", 0) != 0;
  return Out(WindowReduce(ctx, x, s, [&](const Window& w, auto at) {
    double sum = 0;
    for (size_t t = 0; t < w.size; ++t) sum += at(w.offsets[t]);
    double count = static_cast<double>(include_pad ? w.padded_count : static_cast<int64_t>(w.size));
    return sum / count;
  }));
}

// LpPool-1 has a float attribute p; later versions an int.
double ReadP(const KernelContext& ctx) {
  const onnx::AttributeProto* a = ctx.attr("p");
  if (!a) return 2.0;
  double p = a->type() == onnx::AttributeProto::FLOAT ? a->f() : static_cast<double>(a->i());
  if (!(p > 0)) ctx.Fail("p must be positive, got {}", p);
  return p;
}

double LpNorm(double sum_pow, double p) { return std::pow(sum_pow, 1.0 / p); }

std::vector<Value> LpPool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  PoolSetup s = SetupPool(ctx, x, ctx.GetInt("ceil_mode", 0) != 0);
  const double p = ReadP(ctx);
  return Out(WindowReduce(ctx, x, s, [&](const Window& w, auto at) {
    double sum = 0;
    for (size_t t = 0; t < w.size; ++t) sum += std::pow(std::fabs(at(w.offsets[t])), p);
    return LpNorm(sum, p);
  }));
}

// ---- Global pools ---------------------------------------------------------------------------

// Reduces each [spatial...] image of x to one value: out shape [N, C, 1, ..., 1].
template <typename Reduce>
Tensor GlobalReduce(const KernelContext& ctx, const Tensor& x, bool allow_int8, Reduce&& reduce) {
  std::vector<int64_t> spatial = SpatialDims(ctx, x.shape(), "input X");
  Shape y_shape = {x.dim(0), x.dim(1)};
  y_shape.resize(x.shape().size(), 1);
  const int64_t NC = x.dim(0) * x.dim(1);
  const int64_t I = NumElements(spatial);
  return DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!kIsFloatLike<T> && !std::is_same_v<T, int8_t> && !std::is_same_v<T, uint8_t>) {
      ctx.Unsupported("element type {}", DTypeName(x.dtype()));
      return Tensor();
    } else {
      if (!kIsFloatLike<T> && !allow_int8) ctx.Unsupported("element type {}", DTypeName(x.dtype()));
      Tensor out(x.dtype(), y_shape);
      const T* px = x.data<T>();
      T* py = out.data<T>();
      ctx.ParallelFor(NC, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, I)),
                      [&](int64_t begin, int64_t end) {
                        for (int64_t nc = begin; nc < end; ++nc) py[nc] = reduce(px + nc * I, I);
                      });
      return out;
    }
  });
}

std::vector<Value> GlobalAveragePool(KernelContext& ctx) {
  return Out(GlobalReduce(ctx, ctx.input(0), false, [](const auto* img, int64_t n) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(img)>>;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += ToDouble(img[i]);
    return FromDouble<T>(sum / static_cast<double>(n));
  }));
}

std::vector<Value> GlobalMaxPool(KernelContext& ctx) {
  return Out(GlobalReduce(ctx, ctx.input(0), true, [](const auto* img, int64_t n) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(img)>>;
    std::vector<int64_t> offsets(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) offsets[static_cast<size_t>(i)] = i;
    int64_t t = ArgMaxTap(img, Window{offsets.data(), nullptr, offsets.size(), n});
    if (t < 0) return FromDouble<T>(-std::numeric_limits<double>::infinity());
    return img[t];
  }));
}

std::vector<Value> GlobalLpPool(KernelContext& ctx) {
  const double p = ReadP(ctx);
  return Out(GlobalReduce(ctx, ctx.input(0), false, [p](const auto* img, int64_t n) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(img)>>;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::pow(std::fabs(ToDouble(img[i])), p);
    return FromDouble<T>(LpNorm(sum, p));
  }));
}

// ---- MaxUnpool ------------------------------------------------------------------------------

std::vector<Value> MaxUnpool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  std::vector<int64_t> in = SpatialDims(ctx, x.shape(), "input X");
  const int nd = static_cast<int>(in.size());
  if (ind.dtype() != DType::kInt64) ctx.Fail("indices I must be int64");
  if (ind.shape() != x.shape()) {
    ctx.Fail("indices I shape {} differs from X shape {}", ShapeToString(ind.shape()),
             ShapeToString(x.shape()));
  }
  if (!ctx.has_attr("kernel_shape")) ctx.Fail("attribute 'kernel_shape' is required");
  std::vector<int64_t> kernel = ctx.GetInts("kernel_shape");
  std::vector<int64_t> strides = ctx.GetInts("strides", std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = ctx.GetInts("pads", std::vector<int64_t>(2 * nd, 0));
  if (static_cast<int>(kernel.size()) != nd || static_cast<int>(strides.size()) != nd ||
      static_cast<int>(pads.size()) != 2 * nd) {
    ctx.Fail("kernel_shape/strides/pads do not match {} spatial dims", nd);
  }
  constexpr int64_t kMax = int64_t{1} << 31;
  for (int d = 0; d < nd; ++d) {
    if (kernel[d] <= 0 || kernel[d] > kMax || strides[d] <= 0 || strides[d] > kMax || pads[d] < 0 ||
        pads[d] > kMax || pads[d + nd] < 0 || pads[d + nd] > kMax) {
      ctx.Fail("invalid kernel_shape/strides/pads in spatial dim {}", d);
    }
  }
  // Indices refer to positions in the default output [N, C, (in-1)*stride + k - pads]; an
  // explicit output_shape keeps those coordinates (extra rows/cols stay zero).
  Shape def_shape = {x.dim(0), x.dim(1)};
  for (int d = 0; d < nd; ++d) {
    int64_t v = (in[d] - 1) * strides[d] + kernel[d] - pads[d] - pads[d + nd];
    if (v < 0) ctx.Fail("computed output size {} is negative in spatial dim {}", v, d);
    def_shape.push_back(v);
  }
  Shape y_shape = def_shape;
  if (const Tensor* os = ctx.optional_input(2)) {
    y_shape = ToInt64Vector(ctx, *os);
    if (static_cast<int>(y_shape.size()) != x.rank()) {
      ctx.Fail("output_shape has {} values, expected {}", y_shape.size(), x.rank());
    }
    if (y_shape[0] != x.dim(0) || y_shape[1] != x.dim(1))
      ctx.Fail("output_shape must keep N and C of X");
  }
  const int64_t def_numel = NumElements(def_shape);
  // Maps a flat index over def_shape to a flat index over y_shape (-1 when it falls outside).
  auto remap = [&](int64_t idx) -> int64_t {
    if (y_shape == def_shape) return idx;
    int64_t out = 0, stride = 1;
    for (int d = static_cast<int>(def_shape.size()) - 1; d >= 0; --d) {
      int64_t coord = idx % def_shape[d];
      idx /= def_shape[d];
      if (coord >= y_shape[d]) return -1;
      out += coord * stride;
      stride *= y_shape[d];
    }
    return out;
  };
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), y_shape);
    const T* px = x.data<T>();
    const int64_t* pi = ind.data<int64_t>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t o = (pi[i] >= 0 && pi[i] < def_numel) ? remap(pi[i]) : -1;
      if (o < 0) {
        ctx.Fail("index {} at position {} is out of range for output shape {}", pi[i], i,
                 ShapeToString(y_shape));
      }
      py[o] = px[i];
    }
    return y;
  }));
}

// ---- MaxRoiPool -----------------------------------------------------------------------------

std::vector<Value> MaxRoiPool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  if (x.rank() != 4) ctx.Fail("X must be [N, C, H, W], got {}", ShapeToString(x.shape()));
  if (rois.rank() != 2 || rois.dim(1) != 5)
    ctx.Fail("rois must be [num_rois, 5], got {}", ShapeToString(rois.shape()));
  if (rois.dtype() != x.dtype()) ctx.Fail("rois must have X's element type");
  std::vector<int64_t> pooled = ctx.GetInts("pooled_shape");
  if (pooled.size() != 2 || pooled[0] <= 0 || pooled[1] <= 0)
    ctx.Fail("pooled_shape must be two positive ints");
  const double scale = ctx.GetFloat("spatial_scale", 1.0f);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t R = rois.dim(0), PH = pooled[0], PW = pooled[1];
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor y(x.dtype(), {R, C, PH, PW});
    const T* px = x.data<T>();
    const T* pr = rois.data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < R; ++r) {
      double batch_d = ToDouble(pr[r * 5]);
      int64_t b = static_cast<int64_t>(batch_d);
      if (!(batch_d >= 0) || b >= N)
        ctx.Fail("roi {} has batch index {} outside [0, {})", r, batch_d, N);
      int64_t x1 = std::llround(ToDouble(pr[r * 5 + 1]) * scale);
      int64_t y1 = std::llround(ToDouble(pr[r * 5 + 2]) * scale);
      int64_t x2 = std::llround(ToDouble(pr[r * 5 + 3]) * scale);
      int64_t y2 = std::llround(ToDouble(pr[r * 5 + 4]) * scale);
      double bin_h =
          static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / static_cast<double>(PH);
      double bin_w =
          static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / static_cast<double>(PW);
      for (int64_t c = 0; c < C; ++c) {
        const T* img = px + (b * C + c) * H * W;
        for (int64_t ph = 0; ph < PH; ++ph) {
          int64_t hs = std::clamp<int64_t>(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, 0, H);
          int64_t he =
              std::clamp<int64_t>(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, 0, H);
          for (int64_t pw = 0; pw < PW; ++pw) {
            int64_t ws =
                std::clamp<int64_t>(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, 0, W);
            int64_t we =
                std::clamp<int64_t>(static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, 0, W);
            double best = 0;  // empty bin -> 0
            bool any = false;
            for (int64_t h = hs; h < he; ++h) {
              for (int64_t w = ws; w < we; ++w) {
                double v = ToDouble(img[h * W + w]);
                if (!any || v > best) best = v;
                any = true;
              }
            }
            py[((r * C + c) * PH + ph) * PW + pw] = FromDouble<T>(best);
          }
        }
      }
    }
    return y;
  }));
}

}  // namespace

void RegisterPoolOps(Registry& r) {
  // One kernel serves every version: newer attributes (storage_order, ceil_mode, dilations,
  // int8/uint8) read as their defaults when absent.
  for (int v : {1, 8, 10, 11, 12}) r.Add("", "MaxPool", v, MaxPool);
  for (int v : {1, 7, 10, 11, 19}) r.Add("", "AveragePool", v, AveragePool);
  for (int v : {1, 2, 11, 18}) r.Add("", "LpPool", v, LpPool);
  r.Add("", "GlobalAveragePool", 1, GlobalAveragePool);
  r.Add("", "GlobalMaxPool", 1, GlobalMaxPool);
  for (int v : {1, 2}) r.Add("", "GlobalLpPool", v, GlobalLpPool);
  for (int v : {9, 11}) r.Add("", "MaxUnpool", v, MaxUnpool);
  r.Add("", "MaxRoiPool", 1, MaxRoiPool);
}

}  // namespace concord::ref
