// Signal-processing ops (opset 17, DFT also 20): DFT, STFT, HannWindow, HammingWindow,
// BlackmanWindow, MelWeightMatrix.
//
// Follows ONNX's Python reference (onnx/reference/ops/op_dft.py, op_stft.py, op_*_window.py,
// op_mel_weight_matrix.py): transforms are computed in double precision (as numpy.fft does)
// and rounded to the input type at the end. Complex values travel as a trailing dimension of
// size 2 ([..., 2] = real, imaginary); a real signal has a trailing dimension of size 1.
#include <cmath>
#include <complex>
#include <numbers>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

using cd = std::complex<double>;

// In-place radix-2 FFT (length a power of two); sign = -1 forward, +1 inverse (unscaled).
void Radix2Fft(std::vector<cd>& a, int sign) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {  // bit-reversal permutation
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    for (size_t k = 0; k < len / 2; ++k) {
      double ang = sign * 2 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(len);
      cd w(std::cos(ang), std::sin(ang));
      for (size_t i = 0; i < n; i += len) {
        cd u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
      }
    }
  }
}

// Discrete Fourier transform of `in` (zero-padded or truncated to `length`). Forward:
// X[k] = sum_n x[n] e^{-2 pi i k n / L}; inverse: x[n] = 1/L sum_k X[k] e^{+2 pi i k n / L}.
std::vector<cd> Dft(const std::vector<cd>& in, int64_t length, bool inverse) {
  const size_t L = static_cast<size_t>(length);
  std::vector<cd> x(L);
  for (size_t i = 0; i < std::min(L, in.size()); ++i) x[i] = in[i];
  int sign = inverse ? 1 : -1;
  std::vector<cd> out(L);
  if ((L & (L - 1)) == 0) {
    out = x;
    Radix2Fft(out, sign);
  } else {
    // Direct sum with an exact twiddle table indexed by (k * n) mod L.
    std::vector<cd> tw(L);
    for (size_t m = 0; m < L; ++m) {
      double ang = sign * 2 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(L);
      tw[m] = cd(std::cos(ang), std::sin(ang));
    }
    for (size_t k = 0; k < L; ++k) {
      cd acc = 0;
      for (size_t n = 0; n < L; ++n) acc += x[n] * tw[(k * n) % L];
      out[k] = acc;
    }
  }
  if (inverse) {
    for (auto& v : out) v /= static_cast<double>(L);
  }
  return out;
}

int64_t ScalarInt(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.Fail("{} must be a scalar, got {}", what, t.Describe());
  return ToInt64Vector(ctx, t)[0];
}

// ---- DFT-17 / DFT-20 ----------------------------------------------------------------------------

// Inverse DFT of a one-sided (Hermitian) spectrum into `length` real samples, as numpy's irfft:
// the spectrum is cut or zero-padded to length / 2 + 1 bins, the imaginary parts of bin 0 and
// (for even lengths) bin length / 2 are ignored, and the other half is the conjugate mirror.
std::vector<double> InverseRealDft(const std::vector<cd>& half, int64_t length) {
  const size_t L = static_cast<size_t>(length);
  auto bin = [&](size_t k) { return k < half.size() ? half[k] : cd(0); };
  std::vector<cd> full(L);
  full[0] = bin(0).real();
  for (size_t k = 1; 2 * k < L; ++k) {
    full[k] = bin(k);
    full[L - k] = std::conj(bin(k));
  }
  if (L % 2 == 0 && L > 0) full[L / 2] = bin(L / 2).real();
  std::vector<cd> res = Dft(full, length, true);
  std::vector<double> out(L);
  for (size_t n = 0; n < L; ++n) out[n] = res[n].real();
  return out;
}

// DFT over `axis` (already read from the attribute or input) of x: [..., signal..., 1 or 2].
// Forward, optionally one-sided (the first length / 2 + 1 bins); inverse, complex to complex, or
// with `onesided` one-sided complex to real ([..., length, 1], default length 2 * (n - 1)), as
// ONNX's reference does for both versions.
std::vector<Value> RunDft(KernelContext& ctx, int64_t axis) {
  const Tensor& x = ctx.input(0);
  const int r = x.rank();
  if (r < 2) ctx.Fail("input must have rank >= 2 ([..., signal, 1 or 2]), got {}", x.Describe());
  const int64_t comps = x.dim(r - 1);
  if (comps != 1 && comps != 2)
    ctx.Fail("last dimension must be 1 (real) or 2 (complex), got {}", x.Describe());
  if (axis < -r || axis > r - 2 || axis == -1)
    ctx.Fail("axis {} is out of range for rank {}", axis, r);
  if (axis < 0) axis += r;
  const bool inverse = ctx.GetInt("inverse", 0) != 0;
  const bool onesided = ctx.GetInt("onesided", 0) != 0;
  const bool real_out = inverse && onesided;
  const int64_t n_in = x.dim(static_cast<int>(axis));
  int64_t length = real_out ? 2 * (n_in - 1) : n_in;
  if (ctx.has_input(1) && ctx.optional_input(1)->numel() > 0)
    length = ScalarInt(ctx, 1, "dft_length");
  if (length <= 0) ctx.Fail("dft_length must be positive, got {}", length);
  const int64_t n_out = onesided && !inverse ? length / 2 + 1 : length;
  const int64_t out_comps = real_out ? 1 : 2;

  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = static_cast<int>(axis) + 1; d < r - 1; ++d) inner *= x.dim(d);
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(axis)] = n_out;
  out_shape[static_cast<size_t>(r - 1)] = out_comps;
  Tensor out(x.dtype(), out_shape);
  if (out.numel() == 0) return Out(std::move(out));
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    std::vector<cd> line(static_cast<size_t>(n_in));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        for (int64_t k = 0; k < n_in; ++k) {
          int64_t off = ((o * n_in + k) * inner + i) * comps;
          line[static_cast<size_t>(k)] =
              cd(ToDouble(px[off]), comps == 2 ? ToDouble(px[off + 1]) : 0.0);
        }
        if (real_out) {
          std::vector<double> res = InverseRealDft(line, length);
          for (int64_t k = 0; k < n_out; ++k)
            po[(o * n_out + k) * inner + i] = FromDouble<T>(res[static_cast<size_t>(k)]);
          continue;
        }
        std::vector<cd> res = Dft(line, length, inverse);
        for (int64_t k = 0; k < n_out; ++k) {
          int64_t off = ((o * n_out + k) * inner + i) * 2;
          po[off] = FromDouble<T>(res[static_cast<size_t>(k)].real());
          po[off + 1] = FromDouble<T>(res[static_cast<size_t>(k)].imag());
        }
      }
    }
    return out;
  }));
}

// DFT-17: the axis is an attribute (default 1).
std::vector<Value> Dft17(KernelContext& ctx) { return RunDft(ctx, ctx.GetInt("axis", 1)); }

// DFT-20: the axis is optional input 2 (default -2, the last signal axis).
std::vector<Value> Dft20(KernelContext& ctx) {
  int64_t axis = -2;
  if (ctx.has_input(2)) axis = ScalarInt(ctx, 2, "axis");
  return RunDft(ctx, axis);
}

// ---- STFT-17 ------------------------------------------------------------------------------------

std::vector<Value> Stft(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2)) {
    ctx.Fail("signal must be [batch, signal_length, 1 or 2], got {}", x.Describe());
  }
  const int64_t batch = x.dim(0), sig_len = x.dim(1), comps = x.dim(2);
  const int64_t step = ScalarInt(ctx, 1, "frame_step");
  if (step <= 0) ctx.Fail("frame_step must be positive, got {}", step);
  const Tensor* window = ctx.optional_input(2);
  if (window && window->rank() != 1) ctx.Fail("window must be 1-D, got {}", window->Describe());
  int64_t frame_len = window ? window->dim(0) : sig_len;
  if (ctx.has_input(3)) frame_len = ScalarInt(ctx, 3, "frame_length");
  if (frame_len <= 0) ctx.Fail("frame_length must be positive, got {}", frame_len);
  if (frame_len > sig_len)
    ctx.Fail("frame_length {} exceeds the signal length {}", frame_len, sig_len);
  // Frames are window-sized slices (zero-padded past the signal end); each DFT has frame_length.
  const int64_t win_len = window ? window->dim(0) : frame_len;
  std::vector<double> win(static_cast<size_t>(win_len), 1.0);
  if (window) {
    if (!IsFloating(window->dtype())) ctx.Fail("window must be a float tensor");
    for (int64_t i = 0; i < win_len; ++i) win[static_cast<size_t>(i)] = window->GetDouble(i);
  }
  const bool onesided = ctx.GetInt("onesided", 1) != 0;
  const int64_t n_frames = 1 + (sig_len - frame_len) / step;
  const int64_t bins = onesided ? frame_len / 2 + 1 : frame_len;
  Tensor out(x.dtype(), {batch, n_frames, bins, 2});
  if (out.numel() == 0) return Out(std::move(out));
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    std::vector<cd> frame(static_cast<size_t>(win_len));
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t f = 0; f < n_frames; ++f) {
        for (int64_t k = 0; k < win_len; ++k) {
          int64_t s = f * step + k;
          cd v = 0;
          if (s < sig_len) {
            int64_t off = (b * sig_len + s) * comps;
            v = cd(ToDouble(px[off]), comps == 2 ? ToDouble(px[off + 1]) : 0.0);
          }
          frame[static_cast<size_t>(k)] = v * win[static_cast<size_t>(k)];
        }
        std::vector<cd> res = Dft(frame, frame_len, false);
        for (int64_t k = 0; k < bins; ++k) {
          int64_t off = ((b * n_frames + f) * bins + k) * 2;
          po[off] = FromDouble<T>(res[static_cast<size_t>(k)].real());
          po[off + 1] = FromDouble<T>(res[static_cast<size_t>(k)].imag());
        }
      }
    }
    return out;
  }));
}

// ---- window functions and MelWeightMatrix ------------------------------------------------------

// A tensor of `output_datatype` (attribute, default float) from double values; integer outputs
// truncate as numpy's astype (NaN -> 0).
Tensor MakeOutput(const KernelContext& ctx, Shape shape, const std::vector<double>& values) {
  int64_t dt = ctx.GetInt("output_datatype", 1);
  if (!IsValidDType(static_cast<int32_t>(dt))) ctx.Fail("invalid output_datatype {}", dt);
  DType dtype = static_cast<DType>(dt);
  Tensor out(dtype, std::move(shape));
  DispatchNumeric(ctx, dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = out.data<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      double v = values[i];
      if constexpr (kIsIntLike<T>) {
        if (!std::isfinite(v)) v = 0;
      }
      po[i] = FromDouble<T>(v);
    }
    return 0;
  });
  return out;
}

// Generalized cosine window: a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size when
// periodic, size - 1 when symmetric.
std::vector<Value> CosineWindow(KernelContext& ctx, double a0, double a1, double a2) {
  int64_t size = ScalarInt(ctx, 0, "size");
  if (size < 0) ctx.Fail("size must be non-negative, got {}", size);
  if (size > (int64_t{1} << 31)) ctx.Fail("size {} is too large", size);
  bool periodic = ctx.GetInt("periodic", 1) != 0;
  double N = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> v(static_cast<size_t>(size));
  for (int64_t n = 0; n < size; ++n) {
    double t = static_cast<double>(n) * std::numbers::pi;
    double y = -a1 * std::cos(t * 2 / N);
    if (a2 != 0) y += a2 * std::cos(t * 4 / N);
    v[static_cast<size_t>(n)] = y + a0;
  }
  return Out(MakeOutput(ctx, {size}, v));
}

std::vector<Value> HannWindow(KernelContext& ctx) { return CosineWindow(ctx, 0.5, 0.5, 0.0); }
std::vector<Value> HammingWindow(KernelContext& ctx) {
  return CosineWindow(ctx, 25.0 / 46.0, 1.0 - 25.0 / 46.0, 0.0);
}
std::vector<Value> BlackmanWindow(KernelContext& ctx) { return CosineWindow(ctx, 0.42, 0.5, 0.08); }

double ScalarDouble(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.Fail("{} must be a scalar, got {}", what, t.Describe());
  return t.GetDouble(0);
}

// Triangular filters on the mel scale (mel = 2595 log10(1 + hz / 700)), as the reference.
std::vector<Value> MelWeightMatrix(KernelContext& ctx) {
  int64_t num_mel_bins = ScalarInt(ctx, 0, "num_mel_bins");
  int64_t dft_length = ScalarInt(ctx, 1, "dft_length");
  int64_t sample_rate = ScalarInt(ctx, 2, "sample_rate");
  double lower_hz = ScalarDouble(ctx, 3, "lower_edge_hertz");
  double upper_hz = ScalarDouble(ctx, 4, "upper_edge_hertz");
  if (num_mel_bins <= 0 || dft_length <= 0 || sample_rate <= 0) {
    ctx.Fail("num_mel_bins, dft_length and sample_rate must be positive");
  }
  if (num_mel_bins > (1 << 20) || dft_length > (int64_t{1} << 30)) ctx.Fail("sizes are too large");
  const int64_t num_spec_bins = dft_length / 2 + 1;
  double low_mel = 2595 * std::log10(1 + lower_hz / 700);
  double high_mel = 2595 * std::log10(1 + upper_hz / 700);
  double mel_step = (high_mel - low_mel) / static_cast<double>(num_mel_bins + 2);
  std::vector<int64_t> bins(static_cast<size_t>(num_mel_bins + 2));
  for (int64_t i = 0; i < num_mel_bins + 2; ++i) {
    double mel = static_cast<double>(i) * mel_step + low_mel;
    double hz = 700 * (std::pow(10.0, mel / 2595) - 1);
    double b =
        std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate));
    if (!(b >= 0 && b < static_cast<double>(num_spec_bins))) {
      ctx.Fail("mel filter edge {} Hz maps to spectrogram bin {} outside [0, {})", hz, b,
               num_spec_bins);
    }
    bins[static_cast<size_t>(i)] = static_cast<int64_t>(b);
  }
  std::vector<double> w(static_cast<size_t>(num_spec_bins * num_mel_bins), 0.0);
  auto at = [&](int64_t j, int64_t i) -> double& {
    return w[static_cast<size_t>(j * num_mel_bins + i)];
  };
  for (int64_t i = 0; i < num_mel_bins; ++i) {
    int64_t lo = bins[static_cast<size_t>(i)], center = bins[static_cast<size_t>(i + 1)],
            hi = bins[static_cast<size_t>(i + 2)];
    int64_t low_to_center = center - lo;
    if (low_to_center == 0) {
      at(center, i) = 1;
    } else {
      for (int64_t j = lo; j <= center; ++j) {
        at(j, i) = static_cast<double>(j - lo) / static_cast<double>(low_to_center);
      }
    }
    int64_t center_to_high = hi - center;
    if (center_to_high > 0) {
      for (int64_t j = center; j < hi; ++j) {
        at(j, i) = static_cast<double>(hi - j) / static_cast<double>(center_to_high);
      }
    }
  }
  return Out(MakeOutput(ctx, {num_spec_bins, num_mel_bins}, w));
}

}  // namespace

void RegisterSignalOps(Registry& r) {
  r.Add("", "DFT", 17, Dft17);
  r.Add("", "DFT", 20, Dft20);
  r.Add("", "STFT", 17, Stft);
  r.Add("", "HannWindow", 17, HannWindow);
  r.Add("", "HammingWindow", 17, HammingWindow);
  r.Add("", "BlackmanWindow", 17, BlackmanWindow);
  r.Add("", "MelWeightMatrix", 17, MelWeightMatrix);
}

}  // namespace concord::ref
