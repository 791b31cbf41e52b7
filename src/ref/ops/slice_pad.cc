// Slice and Pad: per-axis windows onto the input. Slice clamps starts/ends exactly as the ONNX
// spec says; Pad supports the constant, reflect, edge and wrap modes.
#include <algorithm>
#include <string>
#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Slices with per-axis (start, end, step), clamped exactly as the ONNX spec says.
Tensor SliceTensor(const KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& starts,
                   const std::vector<int64_t>& ends, const std::vector<int64_t>& axes_in,
                   const std::vector<int64_t>& steps) {
  if (starts.size() != ends.size()) ctx.Fail("starts and ends have different lengths");
  std::vector<int64_t> axes = axes_in;
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.size() != starts.size()) ctx.Fail("axes and starts have different lengths");
  if (!steps.empty() && steps.size() != starts.size())
    ctx.Fail("steps and starts have different lengths");
  axes = NormalizeAxes(ctx, axes, x.rank());

  Shape out_shape = x.shape();
  std::vector<int64_t> in_strides = Strides(x.shape());
  std::vector<int64_t> strides = in_strides;
  int64_t base = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    size_t a = static_cast<size_t>(axes[i]);
    int64_t dim = x.shape()[a];
    int64_t step = steps.empty() ? 1 : steps[i];
    if (step == 0) ctx.Fail("slice step cannot be 0");
    int64_t start = starts[i], end = ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t len = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) len = 1 + (end - start - 1) / step;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      uint64_t neg_step = static_cast<uint64_t>(-(step + 1)) + 1;  // |step| without overflow
      if (start > end)
        len = 1 + static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / neg_step);
    }
    out_shape[a] = len;
    if (len > 0) base += start * in_strides[a];
    strides[a] = len > 1 ? in_strides[a] * step : 0;  // |step| < dim here, so no overflow
  }
  if (NumElements(out_shape) == 0) return Tensor(x.dtype(), out_shape);
  return StridedCopy(x, out_shape, base, strides);
}

std::vector<Value> Slice1(KernelContext& ctx) {
  return Out(SliceTensor(ctx, ctx.input(0), ctx.GetInts("starts"), ctx.GetInts("ends"),
                         ctx.GetInts("axes"), {}));
}

std::vector<Value> Slice(KernelContext& ctx) {
  std::vector<int64_t> axes, steps;
  if (const Tensor* t = ctx.optional_input(3)) axes = ToInt64Vector(ctx, *t);
  if (const Tensor* t = ctx.optional_input(4)) steps = ToInt64Vector(ctx, *t);
  return Out(SliceTensor(ctx, ctx.input(0), ToInt64Vector(ctx, ctx.input(1)),
                         ToInt64Vector(ctx, ctx.input(2)), axes, steps));
}

// Source coordinate for an output coordinate `i` (already shifted by the begin pad) along an
// axis of size `dim`, or -1 when the constant value goes there.
int64_t PadSource(int64_t i, int64_t dim, const std::string& mode) {
  if (i >= 0 && i < dim) return i;
  if (mode == "constant" || dim == 0) return -1;
  if (mode == "edge") return i < 0 ? 0 : dim - 1;
  if (mode == "wrap") return ((i % dim) + dim) % dim;
  // reflect: mirror about the first and last elements (numpy's "reflect"), repeatedly.
  if (dim == 1) return 0;
  int64_t period = 2 * (dim - 1);
  i = ((i % period) + period) % period;
  return i < dim ? i : period - i;
}

Tensor PadTensor(const KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& pads_in,
                 const std::vector<int64_t>& axes_in, const std::string& mode,
                 const Tensor* value) {
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    ctx.Fail("unknown pad mode '{}'", mode);
  }
  int64_t rank = x.rank();
  std::vector<int64_t> axes = axes_in;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  axes = NormalizeAxes(ctx, axes, rank);
  size_t n = axes.size();
  if (pads_in.size() != 2 * n) ctx.Fail("pads has {} entries, expected {}", pads_in.size(), 2 * n);
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), end(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < n; ++i) {
    begin[static_cast<size_t>(axes[i])] = pads_in[i];
    end[static_cast<size_t>(axes[i])] = pads_in[i + n];
  }
  Shape out_shape(static_cast<size_t>(rank));
  for (size_t d = 0; d < out_shape.size(); ++d) {
    out_shape[d] = x.shape()[d] + begin[d] + end[d];
    if (out_shape[d] < 0) ctx.Fail("pads make axis {} negative", d);
    if (mode != "constant" && x.shape()[d] == 0 && out_shape[d] > 0) {
      ctx.Fail("cannot {}-pad an empty axis", mode);
    }
  }
  Tensor out(x.dtype(), out_shape);
  if (value && value->numel() > 0 && mode == "constant") {
    if (value->dtype() != x.dtype()) ctx.Fail("constant_value type differs from data type");
    Tensor fill_src = value->Reshaped({value->numel()});
    ElementCopier fill(fill_src, out);
    for (int64_t o = 0; o < out.numel(); ++o) fill(o, 0);
  } else if (x.dtype() == DType::kFloat8E8M0 && mode == "constant") {
    // The default pad value 0 has no float8e8m0 code: numpy's conversion gives NaN (0xFF).
    std::fill(out.codes(), out.codes() + out.numel(), uint8_t{0xFF});
  }
  ElementCopier copy(x, out);
  std::vector<int64_t> in_strides = Strides(x.shape());
  int64_t o = 0;
  ForEachIndex(out_shape, [&](const std::vector<int64_t>& idx) {
    int64_t src = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      int64_t s = PadSource(idx[d] - begin[d], x.shape()[d], mode);
      if (s < 0) {
        src = -1;
        break;
      }
      src += s * in_strides[d];
    }
    if (src >= 0) copy(o, src);
    ++o;
  });
  return out;
}

std::vector<Value> Pad2(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  float v = ctx.GetFloat("value", 0.0f);
  Tensor value = DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
      return Tensor::Scalar<T>(FromDouble<T>(v));
    } else {
      return Tensor(x.dtype(), {});
    }
  });
  return Out(PadTensor(ctx, x, ctx.GetInts("pads"), {}, ctx.GetString("mode", "constant"), &value));
}

std::vector<Value> Pad11(KernelContext& ctx) {
  std::vector<int64_t> axes;
  if (const Tensor* t = ctx.optional_input(3)) axes = ToInt64Vector(ctx, *t);
  return Out(PadTensor(ctx, ctx.input(0), ToInt64Vector(ctx, ctx.input(1)), axes,
                       ctx.GetString("mode", "constant"), ctx.optional_input(2)));
}

}  // namespace

void RegisterSlicePadOps(Registry& r) {
  r.Add("", "Slice", 1, Slice1);
  r.Add("", "Slice", 10, Slice);
  r.Add("", "Pad", 2, Pad2);
  r.Add("", "Pad", 11, Pad11);
}

}  // namespace concord::ref
