// Axis slicing and stacking shared by the sequence ops (SplitToSequence, ConcatFromSequence)
// and the control-flow ops (Scan slices and stacks along an axis, Loop stacks scan outputs).
#pragma once

#include <vector>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"

namespace concord::ref {

// Sub-tensor of `t` taking `count` entries starting at `start` along `axis` (kept, sized count).
inline Tensor SliceAxis(const KernelContext& ctx, const Tensor& t, int64_t axis, int64_t start,
                        int64_t count) {
  Shape out_shape = t.shape();
  const int64_t len = out_shape[static_cast<size_t>(axis)];
  if (start < 0 || count < 0 || start + count > len)
    ctx.Fail("slice [{}, {}) is outside axis of size {}", start, start + count, len);
  out_shape[static_cast<size_t>(axis)] = count;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= t.dim(static_cast<int>(i));
  for (int64_t i = axis + 1; i < t.rank(); ++i) inner *= t.dim(static_cast<int>(i));
  if (t.dtype() == DType::kUndefined) ctx.Fail("undefined element type");
  Tensor out(t.dtype(), out_shape);
  ElementCopier copy(t, out);  // any element type, including the low-precision ones
  for (int64_t o = 0; o < outer; ++o)
    copy(o * count * inner, (o * len + start) * inner, count * inner);
  return out;
}

// Slice `index` along `axis` with that axis removed.
inline Tensor TakeAxis(const KernelContext& ctx, const Tensor& t, int64_t axis, int64_t index) {
  Tensor s = SliceAxis(ctx, t, axis, index, 1);
  Shape shape = t.shape();
  shape.erase(shape.begin() + axis);
  return s.Reshaped(shape);
}

// Concatenates tensors along `axis`; with new_axis, stacks them along a new axis at `axis`
// (axis already normalized against the output rank). Shapes and dtypes must agree.
inline Tensor ConcatAxis(const KernelContext& ctx, const std::vector<Tensor>& items, int64_t axis,
                         bool new_axis) {
  if (items.empty()) ctx.Fail("cannot concatenate an empty list of tensors");
  const Tensor& first = items[0];
  std::vector<Tensor> parts;
  parts.reserve(items.size());
  for (const Tensor& it : items) {
    if (it.dtype() != first.dtype())
      ctx.Fail("element types differ: {} vs {}", DTypeName(first.dtype()), DTypeName(it.dtype()));
    if (new_axis) {
      if (it.shape() != first.shape()) {
        ctx.Fail("cannot stack tensors of shapes {} and {}", ShapeToString(first.shape()),
                 ShapeToString(it.shape()));
      }
      Shape s = it.shape();
      s.insert(s.begin() + axis, 1);
      parts.push_back(it.Reshaped(s));
    } else {
      parts.push_back(it);
    }
  }
  Shape out_shape = parts[0].shape();
  const int rank = static_cast<int>(out_shape.size());
  if (axis < 0 || axis >= rank) ctx.Fail("concat axis {} is out of range for rank {}", axis, rank);
  int64_t total = 0;
  for (const Tensor& p : parts) {
    if (p.rank() != rank) ctx.Fail("cannot concatenate tensors of ranks {} and {}", rank, p.rank());
    for (int d = 0; d < rank; ++d) {
      if (d != axis && p.dim(d) != out_shape[static_cast<size_t>(d)]) {
        ctx.Fail("cannot concatenate shapes {} and {} along axis {}", ShapeToString(out_shape),
                 ShapeToString(p.shape()), axis);
      }
    }
    total += p.dim(static_cast<int>(axis));
  }
  out_shape[static_cast<size_t>(axis)] = total;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= out_shape[static_cast<size_t>(i)];
  for (int64_t i = axis + 1; i < rank; ++i) inner *= out_shape[static_cast<size_t>(i)];
  if (first.dtype() == DType::kUndefined) ctx.Fail("undefined element type");
  Tensor out(first.dtype(), out_shape);
  int64_t offset = 0;  // position along axis
  for (const Tensor& p : parts) {
    ElementCopier copy(p, out);
    const int64_t n = p.dim(static_cast<int>(axis));
    for (int64_t o = 0; o < outer; ++o)
      copy((o * total + offset) * inner, o * n * inner, n * inner);
    offset += n;
  }
  return out;
}

}  // namespace concord::ref
