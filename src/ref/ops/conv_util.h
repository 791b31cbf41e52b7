// Shared geometry for convolution-like and pooling ops: reading kernel/stride/dilation/pad
// attributes, resolving auto_pad, computing output spatial sizes, and im2col / col2im.
//
// Layout conventions (ONNX): data is [N, C, D1, ..., Dn]; a "column" buffer for one image is
// [C * prod(kernel), prod(out)] row-major, row (c, k1..kn), column = output position. Im2Col
// gathers input values for every (channel, kernel offset, output position); Col2Im is its exact
// adjoint (scatter-add), used by ConvTranspose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ref/kernel.h"

namespace concord::ref {

struct ConvGeom {
  int nd = 0;                   // number of spatial dims
  std::vector<int64_t> in;      // input spatial sizes
  std::vector<int64_t> kernel;  // kernel spatial sizes
  std::vector<int64_t> strides, dilations;
  std::vector<int64_t> pad_begin, pad_end;
  std::vector<int64_t> out;  // output spatial sizes

  int64_t in_size() const;      // prod(in)
  int64_t kernel_size() const;  // prod(kernel)
  int64_t out_size() const;     // prod(out)
};

// Reads strides/dilations/pads/auto_pad and fills `g` (g.in and g.kernel must be set; g.nd is
// taken from them). Output size follows ONNX: explicit pads use floor (or ceil when ceil_mode,
// with the rule that the last window must start inside the input or its left padding);
// SAME_UPPER/SAME_LOWER give ceil(in / stride) with the odd pad at the end / beginning;
// VALID uses no padding.
void ResolveConvGeom(const KernelContext& ctx, ConvGeom& g, bool ceil_mode);

// Spatial dims of x (rank >= 3): fails clearly otherwise.
std::vector<int64_t> SpatialDims(const KernelContext& ctx, const Shape& x_shape, const char* what);

// col[(c*K + k) * O + o] = img[c][o * stride - pad_begin + k * dilation] or `pad` outside.
template <typename T>
void Im2Col(const T* img, int64_t channels, const ConvGeom& g, T* col, T pad);

// Adjoint of Im2Col: img[c][o * stride - pad_begin + k * dilation] += col[...] (positions
// outside the image are dropped). `img` must be pre-initialized (usually zeros).
template <typename T>
void Col2Im(const T* col, int64_t channels, const ConvGeom& g, T* img);

// ---- implementation of the templates ----------------------------------------------------------

namespace conv_detail {
// For every kernel offset and every output position of the outer (all but last) dims, calls
// f(kernel_index, first_output_index, outer_valid, input_offset_of_outer_dims, first_input_col):
// the caller loops over the innermost output dim, where input col = first_input_col + ow * stride.
template <typename F>
void ForEachRow(const ConvGeom& g, F&& f) {
  const int nd = g.nd;
  const int64_t K = g.kernel_size();
  const int64_t last_out = g.out[nd - 1];
  std::vector<int64_t> kpos(nd, 0), opos(nd, 0);
  std::vector<int64_t> in_strides(nd, 1);
  for (int d = nd - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * g.in[d + 1];
  int64_t outer = g.out_size() / (last_out == 0 ? 1 : last_out);
  if (last_out == 0) outer = 0;
  for (int64_t kidx = 0; kidx < K; ++kidx) {
    // decompose kernel index
    int64_t rem = kidx;
    for (int d = nd - 1; d >= 0; --d) {
      kpos[d] = rem % g.kernel[d];
      rem /= g.kernel[d];
    }
    std::fill(opos.begin(), opos.end(), 0);
    for (int64_t oo = 0; oo < outer; ++oo) {
      // input offset of the outer dims and whether they are inside the image
      bool valid = true;
      int64_t base = 0;
      for (int d = 0; d < nd - 1; ++d) {
        int64_t i = opos[d] * g.strides[d] - g.pad_begin[d] + kpos[d] * g.dilations[d];
        if (i < 0 || i >= g.in[d]) valid = false;
        base += i * in_strides[d];
      }
      // innermost dim: input index = ow * s - p + k * d
      int64_t start = -g.pad_begin[nd - 1] + kpos[nd - 1] * g.dilations[nd - 1];
      f(kidx, oo * last_out, valid, base, start);
      for (int d = nd - 2; d >= 0; --d) {
        if (++opos[d] < g.out[d]) break;
        opos[d] = 0;
      }
    }
  }
}
}  // namespace conv_detail

template <typename T>
void Im2Col(const T* img, int64_t channels, const ConvGeom& g, T* col, T pad) {
  const int64_t K = g.kernel_size();
  const int64_t O = g.out_size();
  const int64_t I = g.in_size();
  const int nd = g.nd;
  const int64_t W = g.in[nd - 1];
  const int64_t OW = g.out[nd - 1];
  const int64_t s = g.strides[nd - 1];
  for (int64_t c = 0; c < channels; ++c) {
    const T* src = img + c * I;
    T* dst_c = col + c * K * O;
    conv_detail::ForEachRow(g,
                            [&](int64_t kidx, int64_t o0, bool valid, int64_t base, int64_t start) {
                              T* dst = dst_c + kidx * O + o0;
                              if (!valid) {
                                for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = pad;
                                return;
                              }
                              const T* row = src + base;
                              for (int64_t ow = 0, iw = start; ow < OW; ++ow, iw += s) {
                                dst[ow] = (iw >= 0 && iw < W) ? row[iw] : pad;
                              }
                            });
  }
}

template <typename T>
void Col2Im(const T* col, int64_t channels, const ConvGeom& g, T* img) {
  const int64_t K = g.kernel_size();
  const int64_t O = g.out_size();
  const int64_t I = g.in_size();
  const int nd = g.nd;
  const int64_t W = g.in[nd - 1];
  const int64_t OW = g.out[nd - 1];
  const int64_t s = g.strides[nd - 1];
  for (int64_t c = 0; c < channels; ++c) {
    T* dst = img + c * I;
    const T* src_c = col + c * K * O;
    conv_detail::ForEachRow(g,
                            [&](int64_t kidx, int64_t o0, bool valid, int64_t base, int64_t start) {
                              if (!valid) return;
                              const T* src = src_c + kidx * O + o0;
                              T* row = dst + base;
                              for (int64_t ow = 0, iw = start; ow < OW; ++ow, iw += s) {
                                if (iw >= 0 && iw < W) row[iw] += src[ow];
                              }
                            });
  }
}

}  // namespace concord::ref
