// Index-driven data movement: Gather, GatherElements, GatherND, the Scatter family and
// TensorScatter.
//
// Every index is read as int64, normalized (negative counts from the end) and checked against
// its axis before any element is touched: an out-of-range index is a kernel failure, never an
// out-of-bounds read or write. Gathers copy raw elements (any dtype); scatters first collect the
// (destination, source) block pairs and then apply them in order with the requested reduction.
#include <algorithm>

#include "ref/ops/common.h"
#include "ref/ops/shape_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Normalizes index `i` along an axis of size `dim`; fails when out of range.
int64_t CheckIndex(const KernelContext& ctx, int64_t i, int64_t dim) {
  if (i < -dim || i >= dim) ctx.Fail("index {} is out of range for an axis of size {}", i, dim);
  return i < 0 ? i + dim : i;
}

int64_t Product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// ---- Gather ------------------------------------------------------------------------------------

std::vector<Value> Gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  if (data.rank() == 0) ctx.Fail("data must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), data.rank());
  size_t ax = static_cast<size_t>(axis);
  std::vector<int64_t> indices = ToInt64Vector(ctx, indices_t);
  int64_t dim = data.shape()[ax];
  for (int64_t& i : indices) i = CheckIndex(ctx, i, dim);

  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices_t.shape().begin(), indices_t.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  Tensor out(data.dtype(), out_shape);
  ElementCopier copy(data, out);
  int64_t outer = Product(data.shape(), 0, ax);
  int64_t inner = Product(data.shape(), ax + 1, data.shape().size());
  int64_t ni = static_cast<int64_t>(indices.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < ni; ++j) {
      copy((o * ni + j) * inner, (o * dim + indices[static_cast<size_t>(j)]) * inner, inner);
    }
  }
  return Out(std::move(out));
}

// Flat offsets into `data` addressed by `indices` along `axis` (GatherElements/ScatterElements):
// one per element of `indices`, in row-major order.
std::vector<int64_t> ElementOffsets(const KernelContext& ctx, const Tensor& data,
                                    const Tensor& indices_t, int64_t axis) {
  if (indices_t.rank() != data.rank()) {
    ctx.Fail("indices rank {} differs from data rank {}", indices_t.rank(), data.rank());
  }
  std::vector<int64_t> indices = ToInt64Vector(ctx, indices_t);
  std::vector<int64_t> strides = Strides(data.shape());
  size_t ax = static_cast<size_t>(axis);
  std::vector<int64_t> offsets;
  offsets.reserve(indices.size());
  size_t n = 0;
  ForEachIndex(indices_t.shape(), [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      int64_t c = idx[d];
      if (d == ax) {
        c = CheckIndex(ctx, indices[n], data.shape()[d]);
      } else if (c >= data.shape()[d]) {
        ctx.Fail("indices shape {} exceeds data shape {} on axis {}",
                 ShapeToString(indices_t.shape()), ShapeToString(data.shape()), d);
      }
      off += c * strides[d];
    }
    offsets.push_back(off);
    ++n;
  });
  return offsets;
}

std::vector<Value> GatherElements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (data.rank() == 0) ctx.Fail("data must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), data.rank());
  std::vector<int64_t> offsets = ElementOffsets(ctx, data, indices, axis);
  Tensor out(data.dtype(), indices.shape());
  ElementCopier copy(data, out);
  for (size_t i = 0; i < offsets.size(); ++i) copy(static_cast<int64_t>(i), offsets[i]);
  return Out(std::move(out));
}

// Index tuples of GatherND/ScatterND: for each tuple (row-major over indices.shape[:-1]) the flat
// offset of the addressed slice in `data`, and the slice size. batch_dims leading dims are shared.
struct NdPlan {
  std::vector<int64_t> offsets;
  int64_t slice = 1;
  Shape tuples_shape;  // indices.shape[:-1]
};

NdPlan PlanNd(const KernelContext& ctx, const Tensor& data, const Tensor& indices_t,
              int64_t batch_dims) {
  int64_t r = data.rank(), q = indices_t.rank();
  if (q < 1) ctx.Fail("indices must have rank >= 1");
  if (batch_dims < 0 || batch_dims >= std::min(r, q))
    ctx.Fail("batch_dims {} is out of range", batch_dims);
  size_t b = static_cast<size_t>(batch_dims);
  for (size_t d = 0; d < b; ++d) {
    if (data.shape()[d] != indices_t.shape()[d]) {
      ctx.Fail("batch dims differ: data {} vs indices {}", ShapeToString(data.shape()),
               ShapeToString(indices_t.shape()));
    }
  }
  int64_t k = indices_t.shape().back();
  if (k < 1 || k > r - batch_dims)
    ctx.Fail("last indices dim {} is out of range for data rank {}", k, r);
  std::vector<int64_t> indices = ToInt64Vector(ctx, indices_t);
  std::vector<int64_t> strides = Strides(data.shape());
  NdPlan plan;
  plan.tuples_shape.assign(indices_t.shape().begin(), indices_t.shape().end() - 1);
  plan.slice = Product(data.shape(), b + static_cast<size_t>(k), data.shape().size());
  int64_t batches = Product(data.shape(), 0, b);
  int64_t batch_stride = Product(data.shape(), b, data.shape().size());
  int64_t tuples = Product(plan.tuples_shape, 0, plan.tuples_shape.size());
  int64_t per_batch = batches == 0 ? 0 : tuples / batches;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = (t / per_batch) * batch_stride;
    for (int64_t j = 0; j < k; ++j) {
      size_t d = b + static_cast<size_t>(j);
      off += CheckIndex(ctx, indices[static_cast<size_t>(t * k + j)], data.shape()[d]) * strides[d];
    }
    plan.offsets.push_back(off);
  }
  return plan;
}

std::vector<Value> GatherND(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  int64_t batch_dims = ctx.GetInt("batch_dims", 0);
  NdPlan plan = PlanNd(ctx, data, indices, batch_dims);
  Shape out_shape = plan.tuples_shape;
  int64_t k = indices.shape().back();
  out_shape.insert(out_shape.end(), data.shape().begin() + batch_dims + k, data.shape().end());
  Tensor out(data.dtype(), out_shape);
  ElementCopier copy(data, out);
  for (size_t t = 0; t < plan.offsets.size(); ++t) {
    copy(static_cast<int64_t>(t) * plan.slice, plan.offsets[t], plan.slice);
  }
  return Out(std::move(out));
}

// ---- Scatter family
// -------------------------------------------------------------------------------

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction ParseReduction(const KernelContext& ctx) {
  std::string r = ctx.GetString("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  ctx.Fail("unknown reduction '{}'", r);
}

template <typename T>
T Combine(const T& a, const T& b, Reduction r) {
  if constexpr (std::is_same_v<T, bool>) {
    return (r == Reduction::kAdd || r == Reduction::kMax) ? (a || b) : (a && b);
  } else {
    using C = ComputeT<T>;
    C x = Up(a), y = Up(b);
    switch (r) {
      case Reduction::kAdd:
        return Down<T>(static_cast<C>(x + y));
      case Reduction::kMul:
        return Down<T>(static_cast<C>(x * y));
      case Reduction::kMax:
        return Down<T>(std::max(x, y));
      case Reduction::kMin:
        return Down<T>(std::min(x, y));
      default:
        return b;
    }
  }
}

// Applies out[dst + i] = reduce(out[dst + i], updates[src + i]) for i < n, for each pair in order.
void ApplyScatter(const KernelContext& ctx, Tensor& out, const Tensor& updates,
                  const std::vector<std::pair<int64_t, int64_t>>& pairs, int64_t n, Reduction r) {
  if (updates.dtype() != out.dtype()) ctx.Fail("updates type differs from data type");
  if (r == Reduction::kNone) {
    ElementCopier copy(updates, out);
    for (const auto& [dst, src] : pairs) copy(dst, src, n);
    return;
  }
  DispatchAll(ctx, out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T> || std::is_same_v<T, bool>) {
      T* po = out.data<T>();
      const T* pu = updates.data<T>();
      for (const auto& [dst, src] : pairs) {
        for (int64_t i = 0; i < n; ++i) po[dst + i] = Combine(po[dst + i], pu[src + i], r);
      }
    } else {
      ctx.Unsupported("scatter reduction on {} tensors", DTypeName(out.dtype()));
    }
    return 0;
  });
}

template <bool kHasReduction>
std::vector<Value> ScatterElements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  if (data.rank() == 0) ctx.Fail("data must have rank >= 1");
  if (updates.shape() != indices.shape()) {
    ctx.Fail("updates shape {} differs from indices shape {}", ShapeToString(updates.shape()),
             ShapeToString(indices.shape()));
  }
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), data.rank());
  std::vector<int64_t> offsets = ElementOffsets(ctx, data, indices, axis);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (size_t i = 0; i < offsets.size(); ++i)
    pairs.emplace_back(offsets[i], static_cast<int64_t>(i));
  Tensor out = data;
  ApplyScatter(ctx, out, updates, pairs, 1, kHasReduction ? ParseReduction(ctx) : Reduction::kNone);
  return Out(std::move(out));
}

template <bool kHasReduction>
std::vector<Value> ScatterND(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  NdPlan plan = PlanNd(ctx, data, indices, 0);
  Shape expected = plan.tuples_shape;
  expected.insert(expected.end(), data.shape().begin() + indices.shape().back(),
                  data.shape().end());
  if (updates.shape() != expected) {
    ctx.Fail("updates shape {} should be {}", ShapeToString(updates.shape()),
             ShapeToString(expected));
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (size_t t = 0; t < plan.offsets.size(); ++t) {
    pairs.emplace_back(plan.offsets[t], static_cast<int64_t>(t) * plan.slice);
  }
  Tensor out = data;
  ApplyScatter(ctx, out, updates, pairs, plan.slice,
               kHasReduction ? ParseReduction(ctx) : Reduction::kNone);
  return Out(std::move(out));
}

// ---- TensorScatter-24
// ----------------------------------------------------------------------------

// Writes `update` into a copy of the cache `past` along `axis` (the sequence axis, not the batch
// axis 0): for each batch b, update's positions 0..S-1 go to write_indices[b] + 0..S-1 (default
// write index 0); mode "circular" wraps them modulo the cache length, "linear" requires them to
// fit. Every other dimension of `update` must equal the cache's.
std::vector<Value> TensorScatter(KernelContext& ctx) {
  const Tensor& past = ctx.input(0);
  const Tensor& update = ctx.input(1);
  const Tensor* write_indices = ctx.optional_input(2);
  const std::string mode = ctx.GetString("mode", "linear");
  if (mode != "linear" && mode != "circular")
    ctx.Fail("mode must be \"linear\" or \"circular\", got \"{}\"", mode);
  if (past.dtype() != update.dtype()) {
    ctx.Fail("past_cache is {} but update is {}", DTypeName(past.dtype()),
             DTypeName(update.dtype()));
  }
  const int rank = past.rank();
  if (rank < 2 || update.rank() != rank) {
    ctx.Fail("past_cache {} and update {} need one rank >= 2", past.Describe(), update.Describe());
  }
  const int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -2), rank);
  if (axis == 0) ctx.Fail("axis must not be the batch axis 0");
  for (int d = 0; d < rank; ++d) {
    bool ok = d == axis ? update.dim(d) <= past.dim(d) : update.dim(d) == past.dim(d);
    if (!ok) {
      ctx.Fail("update {} does not fit past_cache {} along axis {}", ShapeToString(update.shape()),
               ShapeToString(past.shape()), axis);
    }
  }
  const int64_t batch = past.dim(0);
  std::vector<int64_t> starts(static_cast<size_t>(batch), 0);
  if (write_indices != nullptr) {
    starts = ToInt64Vector(ctx, *write_indices);
    if (static_cast<int64_t>(starts.size()) != batch)
      ctx.Fail("write_indices has {} entries for batch size {}", starts.size(), batch);
  }
  const Shape& shape = past.shape();
  const int64_t per_batch = Product(shape, 1, static_cast<size_t>(axis));  // prefix rows per b
  const int64_t max_len = past.dim(static_cast<int>(axis));
  const int64_t seq_len = update.dim(static_cast<int>(axis));
  const int64_t inner = Product(shape, static_cast<size_t>(axis) + 1, shape.size());
  Tensor out = past;
  ElementCopier copy(update, out);
  for (int64_t row = 0; row < batch * per_batch; ++row) {
    const int64_t start = starts[static_cast<size_t>(row / per_batch)];
    for (int64_t s = 0; s < seq_len; ++s) {
      int64_t pos = start + s;
      if (mode == "circular") {
        pos = ((pos % max_len) + max_len) % max_len;
      } else if (pos < 0 || pos >= max_len) {
        ctx.Fail("write index {} + {} is outside the cache length {} (mode \"linear\")", start, s,
                 max_len);
      }
      copy((row * max_len + pos) * inner, (row * seq_len + s) * inner, inner);
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterGatherScatterOps(Registry& r) {
  r.Add("", "Gather", 1, Gather);
  r.Add("", "GatherElements", 11, GatherElements);
  r.Add("", "GatherND", 11, GatherND);
  r.Add("", "Scatter", 9, ScatterElements<false>);
  r.Add("", "ScatterElements", 11, ScatterElements<false>);
  r.Add("", "ScatterElements", 16, ScatterElements<true>);
  r.Add("", "ScatterND", 11, ScatterND<false>);
  r.Add("", "ScatterND", 16, ScatterND<true>);
  r.Add("", "TensorScatter", 24, TensorScatter);
}

}  // namespace concord::ref
