// Shape manipulation and data-movement ops: reshaping, transposing, slicing, padding, tiling,
// concatenation/splitting, index generation (NonZero, Unique, OneHot, Range, ...).
//
// Pure data movement goes through the dtype-agnostic helpers in shape_util.h, so every op works
// for every element type, strings and bools included. Ops that look at values (OneHot, Unique,
// Trilu's zero fill, Range, ...) dispatch on the dtype.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

Tensor ShapeTensor(const Shape& s) {
  return Tensor::FromVector<int64_t>({static_cast<int64_t>(s.size())}, s);
}

// An integer list from optional input #i (nullopt when omitted).
std::optional<std::vector<int64_t>> IntsInput(const KernelContext& ctx, size_t i) {
  if (const Tensor* t = ctx.optional_input(i)) return ToInt64Vector(ctx, *t);
  return std::nullopt;
}

// An integer list from an optional attribute (nullopt when absent).
std::optional<std::vector<int64_t>> IntsAttr(const KernelContext& ctx, const std::string& name) {
  if (ctx.has_attr(name)) return ctx.GetInts(name);
  return std::nullopt;
}

// Normalizes a list of axes against `rank`, failing on duplicates.
std::vector<int64_t> NormalizeAxes(const KernelContext& ctx, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = NormalizeAxis(ctx, a, rank);
    if (std::find(out.begin(), out.end(), n) != out.end()) ctx.Fail("axis {} is repeated", a);
    out.push_back(n);
  }
  return out;
}

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

// ---- Identity, Shape, Size -------------------------------------------------------------------

std::vector<Value> Identity(KernelContext& ctx) { return {ctx.value(0)}; }

template <bool kHasStartEnd>
std::vector<Value> ShapeOp(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = 0, end = rank;
  if constexpr (kHasStartEnd) {
    auto clamp = [&](int64_t v) {
      if (v < 0) v += rank;
      return std::clamp<int64_t>(v, 0, rank);
    };
    start = clamp(ctx.GetInt("start", 0));
    end = ctx.has_attr("end") ? clamp(ctx.GetInt("end", rank)) : rank;
  }
  Shape out;
  for (int64_t i = start; i < end; ++i) out.push_back(s[static_cast<size_t>(i)]);
  return Out(ShapeTensor(out));
}

std::vector<Value> Size(KernelContext& ctx) { return Out(Tensor::Scalar<int64_t>(ctx.input(0).numel())); }

// ---- Reshape, Flatten, Squeeze, Unsqueeze ------------------------------------------------------

Shape ResolveReshape(const KernelContext& ctx, const Shape& in, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) ctx.Fail("more than one -1 in the target shape");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < -1) ctx.Fail("invalid target dimension {}", d);
    if (d == 0) {
      has_zero = true;
      if (!allowzero) {
        if (i >= in.size()) ctx.Fail("target dim {} is 0 but the input has rank {}", i, in.size());
        d = in[i];
      }
    }
    out[i] = d;
    known *= d;
  }
  if (allowzero && has_zero && infer >= 0) ctx.Fail("allowzero=1 forbids 0 and -1 in the same shape");
  int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      ctx.Fail("cannot reshape {} to {}", ShapeToString(in), ShapeToString(spec));
    }
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (NumElements(out) != total) ctx.Fail("cannot reshape {} to {}", ShapeToString(in), ShapeToString(spec));
  return out;
}

std::vector<Value> Reshape1(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return Out(x.Reshaped(ResolveReshape(ctx, x.shape(), ctx.GetInts("shape"), false)));
}

std::vector<Value> Reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool allowzero = ctx.GetInt("allowzero", 0) != 0;
  return Out(x.Reshaped(ResolveReshape(ctx, x.shape(), ToInt64Vector(ctx, ctx.input(1)), allowzero)));
}

std::vector<Value> Flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  int64_t axis = ctx.GetInt("axis", 1);
  if (axis < -rank || axis > rank) ctx.Fail("axis {} is out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape()[static_cast<size_t>(i)];
  int64_t inner = 1;
  for (int64_t i = axis; i < rank; ++i) inner *= x.shape()[static_cast<size_t>(i)];
  return Out(x.Reshaped({outer, inner}));
}

template <bool kAxesInput>
std::vector<Value> Squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::optional<std::vector<int64_t>> axes = kAxesInput ? IntsInput(ctx, 1) : IntsAttr(ctx, "axes");
  Shape out;
  if (!axes) {
    for (int64_t d : x.shape()) {
      if (d != 1) out.push_back(d);
    }
  } else {
    std::vector<int64_t> ax = NormalizeAxes(ctx, *axes, x.rank());
    for (int i = 0; i < x.rank(); ++i) {
      if (std::find(ax.begin(), ax.end(), i) != ax.end()) {
        if (x.dim(i) != 1) ctx.Fail("cannot squeeze axis {} of size {}", i, x.dim(i));
      } else {
        out.push_back(x.dim(i));
      }
    }
  }
  return Out(x.Reshaped(out));
}

template <bool kAxesInput>
std::vector<Value> Unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = kAxesInput ? ToInt64Vector(ctx, ctx.input(1)) : ctx.GetInts("axes");
  int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  axes = NormalizeAxes(ctx, axes, out_rank);
  Shape out;
  size_t src = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (std::find(axes.begin(), axes.end(), i) != axes.end()) {
      out.push_back(1);
    } else {
      out.push_back(x.shape()[src++]);
    }
  }
  return Out(x.Reshaped(out));
}

// ---- Transpose, Expand, Tile ---------------------------------------------------------------------

std::vector<Value> Transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm = ctx.GetInts("perm");
  if (!ctx.has_attr("perm")) {
    for (int i = x.rank() - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != x.rank()) ctx.Fail("perm has {} entries for rank {}", perm.size(), x.rank());
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

// ---- Concat, Split -----------------------------------------------------------------------------

template <bool kAxisRequired>
std::vector<Value> Concat(KernelContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.Fail("Concat needs at least one input");
  const Tensor& first = ctx.input(0);
  int64_t axis = NormalizeAxis(ctx, kAxisRequired ? ctx.RequireInt("axis") : ctx.GetInt("axis", 1), first.rank());
  size_t ax = static_cast<size_t>(axis);
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype()) ctx.Fail("inputs have different element types");
    if (t.rank() != first.rank()) ctx.Fail("input #{} has rank {}, expected {}", i, t.rank(), first.rank());
    for (size_t d = 0; d < out_shape.size(); ++d) {
      if (d != ax && t.shape()[d] != first.shape()[d]) {
        ctx.Fail("input #{} has shape {}, incompatible with {}", i, ShapeToString(t.shape()),
                 ShapeToString(first.shape()));
      }
    }
    out_shape[ax] += t.shape()[ax];
  }
  Tensor out(first.dtype(), out_shape);
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= out_shape[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  int64_t out_row = out_shape[ax] * inner;
  int64_t offset = 0;  // within an output row
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    ElementCopier copy(t, out);
    int64_t row = t.shape()[ax] * inner;
    for (int64_t o = 0; o < outer; ++o) copy(o * out_row + offset, o * row, row);
    offset += row;
  }
  return Out(std::move(out));
}

// Splits `x` along `axis` into pieces of the given sizes.
std::vector<Value> SplitInto(const KernelContext& ctx, const Tensor& x, int64_t axis, const std::vector<int64_t>& sizes) {
  size_t ax = static_cast<size_t>(axis);
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= x.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < x.shape().size(); ++d) inner *= x.shape()[d];
  int64_t in_row = x.shape()[ax] * inner;
  std::vector<Value> outs;
  int64_t offset = 0;
  for (int64_t n : sizes) {
    if (n < 0) ctx.Fail("negative split size {}", n);
    Shape s = x.shape();
    s[ax] = n;
    Tensor t(x.dtype(), s);
    ElementCopier copy(x, t);
    for (int64_t o = 0; o < outer; ++o) copy(o * n * inner, o * in_row + offset, n * inner);
    offset += n * inner;
    outs.emplace_back(std::move(t));
  }
  return outs;
}

// Split: `split` comes from an attribute (<13) or an input (>=13); absent means equal parts
// (ceil-sized with a smaller last part, as the reference does for num_outputs at opset 18).
template <int kVersion>
std::vector<Value> Split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  int64_t dim = x.shape()[static_cast<size_t>(axis)];
  std::optional<std::vector<int64_t>> given;
  if constexpr (kVersion == 1) {
    given = IntsInput(ctx, 1);
    if (!given) given = IntsAttr(ctx, "split");
  } else if constexpr (kVersion < 13) {
    given = IntsAttr(ctx, "split");
  } else {
    given = IntsInput(ctx, 1);
  }
  if (given && given->empty()) given.reset();  // an empty list means "not given"
  std::vector<int64_t> split;
  if (given) {
    split = *given;
    if (kVersion >= 18 && ctx.has_attr("num_outputs")) ctx.Fail("both 'split' and 'num_outputs' are given");
    int64_t sum = 0;
    for (int64_t s : split) sum += s;
    if (sum != dim) ctx.Fail("split sizes sum to {} but the axis has size {}", sum, dim);
    if (split.size() != ctx.num_outputs()) {
      ctx.Fail("split has {} entries for {} outputs", split.size(), ctx.num_outputs());
    }
  } else {
    int64_t n = static_cast<int64_t>(ctx.num_outputs());
    if (kVersion >= 18 && ctx.has_attr("num_outputs")) {
      n = ctx.GetInt("num_outputs", n);
      if (n != static_cast<int64_t>(ctx.num_outputs())) {
        ctx.Fail("num_outputs={} but the node has {} outputs", n, ctx.num_outputs());
      }
    }
    if (n <= 0) ctx.Fail("Split needs at least one output");
    int64_t chunk = dim % n == 0 ? dim / n : dim / n + 1;
    split.assign(static_cast<size_t>(n), chunk);
    split.back() = dim - chunk * (n - 1);
    if (split.back() < 0) ctx.Fail("cannot split an axis of size {} into {} parts", dim, n);
  }
  return SplitInto(ctx, x, axis, split);
}

// ---- Slice ---------------------------------------------------------------------------------------

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
  if (!steps.empty() && steps.size() != starts.size()) ctx.Fail("steps and starts have different lengths");
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
      if (start > end) len = 1 + static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / neg_step);
    }
    out_shape[a] = len;
    if (len > 0) base += start * in_strides[a];
    strides[a] = len > 1 ? in_strides[a] * step : 0;  // |step| < dim here, so no overflow
  }
  if (NumElements(out_shape) == 0) return Tensor(x.dtype(), out_shape);
  return StridedCopy(x, out_shape, base, strides);
}

std::vector<Value> Slice1(KernelContext& ctx) {
  return Out(SliceTensor(ctx, ctx.input(0), ctx.GetInts("starts"), ctx.GetInts("ends"), ctx.GetInts("axes"), {}));
}

std::vector<Value> Slice(KernelContext& ctx) {
  std::vector<int64_t> axes, steps;
  if (const Tensor* t = ctx.optional_input(3)) axes = ToInt64Vector(ctx, *t);
  if (const Tensor* t = ctx.optional_input(4)) steps = ToInt64Vector(ctx, *t);
  return Out(SliceTensor(ctx, ctx.input(0), ToInt64Vector(ctx, ctx.input(1)), ToInt64Vector(ctx, ctx.input(2)),
                         axes, steps));
}

// ---- Pad -----------------------------------------------------------------------------------------

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
                 const std::vector<int64_t>& axes_in, const std::string& mode, const Tensor* value) {
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
  return Out(PadTensor(ctx, ctx.input(0), ToInt64Vector(ctx, ctx.input(1)), axes, ctx.GetString("mode", "constant"),
                       ctx.optional_input(2)));
}

// ---- DepthToSpace, SpaceToDepth -------------------------------------------------------------------

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

std::vector<Value> SpaceToDepth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t bs = ctx.RequireInt("blocksize");
  if (x.rank() != 4) ctx.Fail("input must be 4-D, got {}", ShapeToString(x.shape()));
  if (bs <= 0) ctx.Fail("blocksize must be positive");
  int64_t b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (h % bs != 0 || w % bs != 0) ctx.Fail("spatial dims not divisible by blocksize {}", bs);
  Tensor t = TransposeTensor(x.Reshaped({b, c, h / bs, bs, w / bs, bs}), {0, 3, 5, 1, 2, 4});
  return Out(t.Reshaped({b, c * bs * bs, h / bs, w / bs}));
}

// ---- ConstantOfShape, EyeLike, Range, Trilu, OneHot ----------------------------------------------

std::vector<Value> ConstantOfShape(KernelContext& ctx) {
  Shape shape = ToInt64Vector(ctx, ctx.input(0));
  for (int64_t d : shape) {
    if (d < 0) ctx.Fail("negative dimension {}", d);
  }
  std::optional<Tensor> value = ctx.GetTensor("value");
  if (!value) return Out(Tensor(DType::kFloat32, shape));
  if (value->numel() != 1) ctx.Fail("value must have exactly one element");
  Tensor out(value->dtype(), shape);
  Tensor src = value->Reshaped({1});
  ElementCopier copy(src, out);
  for (int64_t i = 0; i < out.numel(); ++i) copy(i, 0);
  return Out(std::move(out));
}

std::vector<Value> EyeLike(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) ctx.Fail("input must be 2-D, got {}", ShapeToString(x.shape()));
  DType dt = ctx.has_attr("dtype") ? static_cast<DType>(ctx.GetInt("dtype", 0)) : x.dtype();
  if (!IsValidDType(static_cast<int32_t>(dt))) ctx.Fail("invalid dtype attribute");
  int64_t k = ctx.GetInt("k", 0);
  int64_t rows = x.dim(0), cols = x.dim(1);
  return Out(DispatchAll(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(dt, x.shape());
    if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
      T* p = out.data<T>();
      for (int64_t i = 0; i < rows; ++i) {
        int64_t j = i + k;
        if (j >= 0 && j < cols) p[i * cols + j] = FromDouble<T>(1.0);
      }
    } else {
      ctx.Unsupported("EyeLike of type {}", DTypeName(dt));
    }
    return out;
  }));
}

std::vector<Value> Range(KernelContext& ctx) {
  const Tensor& start = ctx.input(0);
  const Tensor& limit = ctx.input(1);
  const Tensor& delta = ctx.input(2);
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1) ctx.Fail("inputs must be scalars");
  if (start.dtype() != limit.dtype() || start.dtype() != delta.dtype()) ctx.Fail("inputs differ in type");
  return Out(DispatchNumeric(ctx, start.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = ComputeT<T>;
    C s = Up(start.data<T>()[0]), l = Up(limit.data<T>()[0]), d = Up(delta.data<T>()[0]);
    if (d == C(0)) ctx.Fail("delta cannot be 0");
    double n_d = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
    if (!(n_d > 0)) n_d = 0;
    if (n_d > static_cast<double>(kMaxTensorBytes)) ctx.Fail("range has too many elements");
    int64_t n = static_cast<int64_t>(n_d);
    Tensor out(start.dtype(), {n});
    T* p = out.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = Down<T>(static_cast<C>(s + static_cast<C>(i) * d));
    return out;
  }));
}

std::vector<Value> Trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2");
  int64_t k = 0;
  if (const Tensor* kt = ctx.optional_input(1)) {
    std::vector<int64_t> kv = ToInt64Vector(ctx, *kt);
    if (kv.size() != 1) ctx.Fail("k must be a scalar");
    k = kv[0];
  }
  bool upper = ctx.GetInt("upper", 1) != 0;
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Tensor out(x.dtype(), x.shape());  // zero (or empty string) where not kept
  ElementCopier copy(x, out);
  int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? (j - i >= k) : (j - i <= k);
        int64_t off = (m * rows + i) * cols + j;
        if (keep) copy(off, off);
      }
    }
  }
  return Out(std::move(out));
}

std::vector<Value> OneHot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.numel() != 1) ctx.Fail("depth must have one element");
  if (values.numel() != 2) ctx.Fail("values must have two elements [off, on]");
  double depth_d = DispatchNumeric(ctx, depth_t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return ToDouble(depth_t.data<T>()[0]);
  });
  if (!(depth_d >= 1) || depth_d > static_cast<double>(kMaxTensorBytes)) ctx.Fail("invalid depth {}", depth_d);
  int64_t depth = static_cast<int64_t>(depth_d);
  int64_t rank = indices.rank();
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -1), rank + 1);
  // Non-integer indices are cast to int64 (truncation), as the spec says; values that do not
  // fit (or NaN) can never match and give an all-off row.
  std::vector<int64_t> idx(static_cast<size_t>(indices.numel()));
  DispatchNumeric(ctx, indices.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < indices.numel(); ++i) {
      const T& v = indices.data<T>()[i];
      if constexpr (std::is_integral_v<T>) {
        bool fits = static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
                    std::is_signed_v<T>;
        idx[static_cast<size_t>(i)] = fits ? static_cast<int64_t>(v) : std::numeric_limits<int64_t>::min();
      } else {
        double d = ToDouble(v);
        idx[static_cast<size_t>(i)] = std::fabs(d) < 9.0e18 ? static_cast<int64_t>(d) : std::numeric_limits<int64_t>::min();
      }
    }
    return 0;
  });
  Shape out_shape = indices.shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= indices.shape()[static_cast<size_t>(d)];
  int64_t inner = indices.numel() / std::max<int64_t>(outer, 1);
  Tensor out(values.dtype(), out_shape);
  Tensor vals = values.Reshaped({2});
  ElementCopier put(vals, out);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t d = 0; d < depth; ++d) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = idx[static_cast<size_t>(o * inner + i)];
        if (v < 0) v += depth;
        put((o * depth + d) * inner + i, v == d ? 1 : 0);
      }
    }
  }
  return Out(std::move(out));
}

// ---- Compress, NonZero, Unique, ReverseSequence -------------------------------------------------

std::vector<Value> Compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool) ctx.Fail("condition must be bool");
  if (cond.rank() != 1) ctx.Fail("condition must be 1-D");
  const bool* c = cond.data<bool>();
  Tensor src = x;
  int64_t axis = 0;
  if (ctx.has_attr("axis")) {
    axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  } else {
    src = x.Reshaped({x.numel()});
  }
  size_t ax = static_cast<size_t>(axis);
  int64_t dim = src.shape()[ax];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!c[i]) continue;
    if (i >= dim) ctx.Fail("condition selects index {} beyond axis size {}", i, dim);
    keep.push_back(i);
  }
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= src.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < src.shape().size(); ++d) inner *= src.shape()[d];
  Shape out_shape = src.shape();
  out_shape[ax] = static_cast<int64_t>(keep.size());
  Tensor out(x.dtype(), out_shape);
  ElementCopier copy(src, out);
  int64_t n = static_cast<int64_t>(keep.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      copy((o * n + k) * inner, (o * dim + keep[static_cast<size_t>(k)]) * inner, inner);
    }
  }
  return Out(std::move(out));
}

template <typename T>
bool IsNonZero(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return !v.empty();
  } else if constexpr (kIsHalf<T>) {
    return static_cast<float>(v) != 0.0f;
  } else {
    return v != T{};
  }
}

std::vector<Value> NonZero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape shape = x.rank() == 0 ? Shape{1} : x.shape();  // numpy treats a scalar as 1-D
  std::vector<int64_t> hits;
  DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (IsNonZero(p[i])) hits.push_back(i);
    }
    return 0;
  });
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t n = static_cast<int64_t>(hits.size());
  Tensor out(DType::kInt64, {rank, n});
  int64_t* po = out.data<int64_t>();
  std::vector<int64_t> strides = Strides(shape);
  for (int64_t j = 0; j < n; ++j) {
    int64_t flat = hits[static_cast<size_t>(j)];
    for (int64_t d = 0; d < rank; ++d) {
      po[d * n + j] = flat / strides[static_cast<size_t>(d)];
      flat %= strides[static_cast<size_t>(d)];
    }
  }
  return Out(std::move(out));
}

// Orders values as numpy.unique does (NaNs last).
template <typename T>
bool UniqueLess(const T& a, const T& b) {
  if constexpr (kIsFloatLike<T>) {
    double x = ToDouble(a), y = ToDouble(b);
    if (std::isnan(x)) return false;
    if (std::isnan(y)) return true;
    return x < y;
  } else if constexpr (kIsComplex<T>) {
    return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
  } else {
    return a < b;
  }
}

template <typename T>
bool UniqueEqual(const T& a, const T& b) {
  if constexpr (kIsFloatLike<T>) {
    double x = ToDouble(a), y = ToDouble(b);
    return x == y || (std::isnan(x) && std::isnan(y));
  } else {
    return a == b;
  }
}

// Unique over slices along `axis` (or over elements of the flattened input when axis is absent).
std::vector<Value> Unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool sorted = ctx.GetInt("sorted", 1) != 0;
  bool has_axis = ctx.has_attr("axis");
  Tensor src = has_axis ? x : x.Reshaped({x.numel()});
  int64_t axis = has_axis ? NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank()) : 0;
  size_t ax = static_cast<size_t>(axis);
  int64_t n = src.shape()[ax];
  int64_t outer = 1;
  for (size_t d = 0; d < ax; ++d) outer *= src.shape()[d];
  int64_t inner = 1;
  for (size_t d = ax + 1; d < src.shape().size(); ++d) inner *= src.shape()[d];

  // Slice i consists of elements (o * n + i) * inner + k for o < outer, k < inner.
  std::vector<int64_t> order(static_cast<size_t>(n));  // slice ids sorted, stable
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> first;                          // first occurrence of each unique slice
  std::vector<int64_t> inverse(static_cast<size_t>(n));
  std::vector<int64_t> counts;
  DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = src.data<T>();
    auto cmp = [&](int64_t a, int64_t b) -> int {  // lexicographic over the slice
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t k = 0; k < inner; ++k) {
          const T& va = p[(o * n + a) * inner + k];
          const T& vb = p[(o * n + b) * inner + k];
          if (UniqueEqual(va, vb)) continue;
          return UniqueLess(va, vb) ? -1 : 1;
        }
      }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
        first.push_back(order[i]);  // stable sort: the first of a run is the earliest occurrence
        counts.push_back(0);
      }
      inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(first.size()) - 1;
      ++counts.back();
    }
    return 0;
  });
  size_t u = first.size();
  std::vector<size_t> rank(u);  // output position of the unique entry with sorted id i
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {
    std::vector<size_t> by_first(u);
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
    for (size_t pos = 0; pos < u; ++pos) rank[by_first[pos]] = pos;
  }
  std::vector<int64_t> indices_out(u), counts_out(u), inverse_out(static_cast<size_t>(n));
  for (size_t i = 0; i < u; ++i) {
    indices_out[rank[i]] = first[i];
    counts_out[rank[i]] = counts[i];
  }
  for (size_t i = 0; i < inverse.size(); ++i) inverse_out[i] = static_cast<int64_t>(rank[static_cast<size_t>(inverse[i])]);

  Shape y_shape = src.shape();
  y_shape[ax] = static_cast<int64_t>(u);
  Tensor y(x.dtype(), y_shape);
  ElementCopier copy(src, y);
  int64_t un = static_cast<int64_t>(u);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < un; ++j) {
      copy((o * un + j) * inner, (o * n + indices_out[static_cast<size_t>(j)]) * inner, inner);
    }
  }
  std::vector<Value> outs;
  outs.emplace_back(std::move(y));
  outs.emplace_back(Tensor::FromVector<int64_t>({un}, indices_out));
  outs.emplace_back(Tensor::FromVector<int64_t>({n}, inverse_out));
  outs.emplace_back(Tensor::FromVector<int64_t>({un}, counts_out));
  return outs;
}

std::vector<Value> ReverseSequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> lens = ToInt64Vector(ctx, ctx.input(1));
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2");
  int64_t time_axis = ctx.GetInt("time_axis", 0);
  int64_t batch_axis = ctx.GetInt("batch_axis", 1);
  if (!((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0))) {
    ctx.Fail("time_axis/batch_axis must be 0/1 or 1/0");
  }
  int64_t batch = x.dim(static_cast<int>(batch_axis)), time = x.dim(static_cast<int>(time_axis));
  if (static_cast<int64_t>(lens.size()) != batch) ctx.Fail("sequence_lens has {} entries for batch {}", lens.size(), batch);
  std::vector<int64_t> strides = Strides(x.shape());
  int64_t inner = strides[1];  // elements per (dim0, dim1) cell
  Tensor out = x;
  ElementCopier copy(x, out);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t len = lens[static_cast<size_t>(b)];
    if (len < 0 || len > time) ctx.Fail("sequence length {} out of range [0, {}]", len, time);
    for (int64_t t = 0; t < len; ++t) {
      int64_t src_t = len - 1 - t;
      int64_t dst = time_axis == 0 ? (t * batch + b) : (b * time + t);
      int64_t src = time_axis == 0 ? (src_t * batch + b) : (b * time + src_t);
      copy(dst * inner, src * inner, inner);
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterShapeOps(Registry& r) {
  r.Add("", "Identity", 1, Identity);
  r.Add("", "Shape", 1, ShapeOp<false>);
  r.Add("", "Shape", 15, ShapeOp<true>);
  r.Add("", "Size", 1, Size);
  r.Add("", "Reshape", 1, Reshape1);
  r.Add("", "Reshape", 5, Reshape);
  r.Add("", "Flatten", 1, Flatten);
  r.Add("", "Transpose", 1, Transpose);
  r.Add("", "Squeeze", 1, Squeeze<false>);
  r.Add("", "Squeeze", 13, Squeeze<true>);
  r.Add("", "Unsqueeze", 1, Unsqueeze<false>);
  r.Add("", "Unsqueeze", 13, Unsqueeze<true>);
  r.Add("", "Expand", 8, Expand);
  r.Add("", "Concat", 1, Concat<false>);
  r.Add("", "Concat", 4, Concat<true>);
  r.Add("", "Split", 1, Split<1>);
  r.Add("", "Split", 2, Split<2>);
  r.Add("", "Split", 13, Split<13>);
  r.Add("", "Split", 18, Split<18>);
  r.Add("", "Slice", 1, Slice1);
  r.Add("", "Slice", 10, Slice);
  r.Add("", "Tile", 6, Tile);
  r.Add("", "Pad", 2, Pad2);
  r.Add("", "Pad", 11, Pad11);
  r.Add("", "DepthToSpace", 1, DepthToSpace);
  r.Add("", "SpaceToDepth", 1, SpaceToDepth);
  r.Add("", "ConstantOfShape", 9, ConstantOfShape);
  r.Add("", "EyeLike", 9, EyeLike);
  r.Add("", "Range", 11, Range);
  r.Add("", "Trilu", 14, Trilu);
  r.Add("", "OneHot", 9, OneHot);
  r.Add("", "Compress", 9, Compress);
  r.Add("", "NonZero", 9, NonZero);
  r.Add("", "Unique", 11, Unique);
  r.Add("", "ReverseSequence", 10, ReverseSequence);
}

}  // namespace concord::ref
