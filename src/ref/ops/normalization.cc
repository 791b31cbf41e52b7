// Normalization ops: BatchNormalization, InstanceNormalization, LayerNormalization,
// LpNormalization, LRN and MeanVarianceNormalization.
//
// All of them compute in double: the input is read once into a double buffer, statistics are
// gathered per "group" (the elements that share one mean/variance), and the result is rounded
// back to the input type. A group is described by a keepdims-reduced shape broadcast onto the
// input shape, so one helper (GroupIndex) serves every op.
#include <algorithm>
#include <cmath>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- shared helpers -----------------------------------------------------------------------------

std::vector<double> ToDoubles(const KernelContext& ctx, const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  DispatchFloat(ctx, t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = ToDouble(p[i]);
    return 0;
  });
  return v;
}

Tensor FromDoubles(const KernelContext& ctx, DType dt, const Shape& shape,
                   const std::vector<double>& v) {
  return DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(dt, shape);
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = FromDouble<T>(v[static_cast<size_t>(i)]);
    return out;
  });
}

// For every element of `shape`, the flat index of the element of `sub` (a shape broadcastable
// onto `shape`) that it maps to.
std::vector<int64_t> GroupIndex(const Shape& sub, const Shape& shape) {
  std::vector<int64_t> idx(static_cast<size_t>(NumElements(shape)));
  std::array<std::vector<int64_t>, 1> strides = {BroadcastStrides(sub, shape)};
  ForEachBroadcast<1>(shape, strides, [&](int64_t o, const std::array<int64_t, 1>& off) {
    idx[static_cast<size_t>(o)] = off[0];
  });
  return idx;
}

// Mean and population variance of x per group (two passes, in double).
struct Moments {
  std::vector<double> mean, var;
};
Moments GroupMoments(const std::vector<double>& x, const std::vector<int64_t>& group,
                     int64_t groups) {
  Moments m;
  std::vector<double> count(static_cast<size_t>(groups), 0.0);
  m.mean.assign(static_cast<size_t>(groups), 0.0);
  m.var.assign(static_cast<size_t>(groups), 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    m.mean[static_cast<size_t>(group[i])] += x[i];
    count[static_cast<size_t>(group[i])] += 1.0;
  }
  for (size_t g = 0; g < m.mean.size(); ++g) m.mean[g] /= count[g];
  for (size_t i = 0; i < x.size(); ++i) {
    double d = x[i] - m.mean[static_cast<size_t>(group[i])];
    m.var[static_cast<size_t>(group[i])] += d * d;
  }
  for (size_t g = 0; g < m.var.size(); ++g) m.var[g] /= count[g];
  return m;
}

// Reads a per-channel parameter and checks its element count.
std::vector<double> Param(const KernelContext& ctx, size_t input, const char* name,
                          int64_t expect) {
  const Tensor& t = ctx.input(input);
  if (t.numel() != expect) ctx.Fail("{} must have {} elements, got {}", name, expect, t.Describe());
  return ToDoubles(ctx, t);
}

// ---- BatchNormalization -------------------------------------------------------------------------

// X is [N, C, D1, ...]. In inference mode Y uses the given mean/var. In training mode Y uses the
// batch statistics (population variance over every axis but 1) and the running statistics are
// updated as `input * momentum + batch * (1 - momentum)`.
//   legacy (opset < 14) training outputs: Y, running_mean, running_var, saved_mean, saved_var
//   opset 14+ training outputs:           Y, running_mean, running_var
// spatial=0 (opset < 9) gives every element of X[n] its own statistics: parameters are [C, D1...].
std::vector<Value> BatchNormImpl(KernelContext& ctx, bool training, bool spatial) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("X must have rank >= 2, got {}", x.Describe());
  double eps = ctx.GetFloat("epsilon", 1e-5f);
  double momentum = ctx.GetFloat("momentum", 0.9f);
  int64_t channels = x.dim(1);
  Shape group_shape(x.shape().size(), 1);
  group_shape[1] = channels;
  if (!spatial && ctx.input(1).numel() != channels) {
    group_shape.assign(x.shape().begin(), x.shape().end());
    group_shape[0] = 1;
    channels = NumElements(group_shape);
  }
  std::vector<double> scale = Param(ctx, 1, "scale", channels);
  std::vector<double> bias = Param(ctx, 2, "B", channels);
  std::vector<double> mean = Param(ctx, 3, "input_mean", channels);
  std::vector<double> var = Param(ctx, 4, "input_var", channels);

  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<int64_t> group = GroupIndex(group_shape, x.shape());
  Moments batch;
  if (training) batch = GroupMoments(xv, group, channels);
  const std::vector<double>& use_mean = training ? batch.mean : mean;
  const std::vector<double>& use_var = training ? batch.var : var;

  std::vector<double> y(xv.size());
  ctx.ParallelFor(
      static_cast<int64_t>(xv.size()), kElementwiseGrain, [&](int64_t begin, int64_t end) {
        for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
          size_t c = static_cast<size_t>(group[i]);
          y[i] = scale[c] * (xv[i] - use_mean[c]) / std::sqrt(use_var[c] + eps) + bias[c];
        }
      });
  std::vector<Value> out;
  out.emplace_back(FromDoubles(ctx, x.dtype(), x.shape(), y));
  if (!training) return out;

  std::vector<double> running_mean(mean.size()), running_var(var.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    running_mean[c] = mean[c] * momentum + batch.mean[c] * (1.0 - momentum);
    running_var[c] = var[c] * momentum + batch.var[c] * (1.0 - momentum);
  }
  const Tensor& mean_in = ctx.input(3);
  const Tensor& var_in = ctx.input(4);
  out.emplace_back(FromDoubles(ctx, mean_in.dtype(), mean_in.shape(), running_mean));
  out.emplace_back(FromDoubles(ctx, var_in.dtype(), var_in.shape(), running_var));
  if (ctx.opset() < 14) {
    out.emplace_back(FromDoubles(ctx, mean_in.dtype(), mean_in.shape(), batch.mean));
    out.emplace_back(FromDoubles(ctx, var_in.dtype(), var_in.shape(), batch.var));
  }
  return out;
}

bool WantsTrainingOutputs(const KernelContext& ctx) {
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.has_output(i)) return true;
  }
  return false;
}

// Opset 1/6: is_test=1 forces inference; otherwise training only when statistics are requested.
std::vector<Value> BatchNorm1(KernelContext& ctx) {
  bool training = ctx.GetInt("is_test", 0) == 0 && WantsTrainingOutputs(ctx);
  return BatchNormImpl(ctx, training, ctx.GetInt("spatial", 1) != 0);
}

// Opset 7: is_test removed; the optional outputs select training mode.
std::vector<Value> BatchNorm7(KernelContext& ctx) {
  return BatchNormImpl(ctx, WantsTrainingOutputs(ctx), ctx.GetInt("spatial", 1) != 0);
}

// Opset 9: spatial removed (always per-channel).
std::vector<Value> BatchNorm9(KernelContext& ctx) {
  return BatchNormImpl(ctx, WantsTrainingOutputs(ctx), true);
}

// Opset 14/15: explicit training_mode attribute (15 only widened the parameter types).
std::vector<Value> BatchNorm14(KernelContext& ctx) {
  return BatchNormImpl(ctx, ctx.GetInt("training_mode", 0) != 0, true);
}

// ---- InstanceNormalization ----------------------------------------------------------------------

// y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c], statistics per (n, c).
std::vector<Value> InstanceNorm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2, got {}", x.Describe());
  double eps = ctx.GetFloat("epsilon", 1e-5f);
  int64_t n = x.dim(0), channels = x.dim(1);
  std::vector<double> scale = Param(ctx, 1, "scale", channels);
  std::vector<double> bias = Param(ctx, 2, "B", channels);
  Shape group_shape(x.shape().size(), 1);
  group_shape[0] = n;
  group_shape[1] = channels;
  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<int64_t> group = GroupIndex(group_shape, x.shape());
  Moments m = GroupMoments(xv, group, n * channels);
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t g = static_cast<size_t>(group[i]);
    size_t c = g % static_cast<size_t>(channels);
    y[i] = scale[c] * (xv[i] - m.mean[g]) / std::sqrt(m.var[g] + eps) + bias[c];
  }
  return Out(FromDoubles(ctx, x.dtype(), x.shape(), y));
}

// ---- LayerNormalization (opset 17) --------------------------------------------------------------

// Normalizes over axes [axis, rank); Scale and B broadcast onto X. Optional outputs Mean and
// InvStdDev have shape X.shape[:axis] + [1] * (rank - axis) and element type stash_type.
std::vector<Value> LayerNorm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  if (rank == 0) ctx.Fail("X must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -1), rank);
  double eps = ctx.GetFloat("epsilon", 1e-5f);
  auto stash = static_cast<DType>(ctx.GetInt("stash_type", 1));
  if (!IsFloating(stash))
    ctx.Fail("stash_type must be a floating type, got {}", static_cast<int>(stash));

  const Tensor& scale_t = ctx.input(1);
  const Tensor* bias_t = ctx.optional_input(2);
  auto check_broadcast = [&](const Tensor& t, const char* name) {
    if (BroadcastShapes(ctx, {t.shape(), x.shape()}) != x.shape()) {
      ctx.Fail("{} {} does not broadcast onto X {}", name, ShapeToString(t.shape()),
               ShapeToString(x.shape()));
    }
  };
  check_broadcast(scale_t, "Scale");
  if (bias_t) check_broadcast(*bias_t, "B");

  Shape stat_shape = x.shape();
  for (int64_t d = axis; d < rank; ++d) stat_shape[static_cast<size_t>(d)] = 1;
  int64_t rows = NumElements(stat_shape);
  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<int64_t> group = GroupIndex(stat_shape, x.shape());
  Moments m = GroupMoments(xv, group, rows);
  std::vector<double> inv_std(static_cast<size_t>(rows));
  for (size_t r = 0; r < inv_std.size(); ++r) inv_std[r] = 1.0 / std::sqrt(m.var[r] + eps);

  std::vector<double> scale = ToDoubles(ctx, scale_t);
  std::vector<int64_t> scale_idx = GroupIndex(scale_t.shape(), x.shape());
  std::vector<double> bias;
  std::vector<int64_t> bias_idx;
  if (bias_t) {
    bias = ToDoubles(ctx, *bias_t);
    bias_idx = GroupIndex(bias_t->shape(), x.shape());
  }
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t g = static_cast<size_t>(group[i]);
    y[i] = (xv[i] - m.mean[g]) * inv_std[g] * scale[static_cast<size_t>(scale_idx[i])];
    if (bias_t) y[i] += bias[static_cast<size_t>(bias_idx[i])];
  }
  std::vector<Value> out;
  out.emplace_back(FromDoubles(ctx, x.dtype(), x.shape(), y));
  if (ctx.has_output(1) || ctx.has_output(2)) {
    out.emplace_back(FromDoubles(ctx, stash, stat_shape, m.mean));
    out.emplace_back(FromDoubles(ctx, stash, stat_shape, inv_std));
  }
  return out;
}

// ---- LpNormalization ----------------------------------------------------------------------------

// y = x / ||x||_p along `axis`, p in {1, 2}. A zero norm gives 0: LpNormalization-22 defines it
// so, and ONNX's reference (one class for every opset) does the same for opset 1, which left it
// unsaid.
std::vector<Value> LpNorm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.Fail("input must have rank >= 1");
  int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", -1), x.rank());
  int64_t p = ctx.GetInt("p", 2);
  if (p != 1 && p != 2) ctx.Fail("p must be 1 or 2, got {}", p);
  Shape norm_shape = x.shape();
  norm_shape[static_cast<size_t>(axis)] = 1;
  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<int64_t> group = GroupIndex(norm_shape, x.shape());
  std::vector<double> norm(static_cast<size_t>(NumElements(norm_shape)), 0.0);
  for (size_t i = 0; i < xv.size(); ++i) {
    norm[static_cast<size_t>(group[i])] += p == 1 ? std::fabs(xv[i]) : xv[i] * xv[i];
  }
  if (p == 2) {
    for (double& n : norm) n = std::sqrt(n);
  }
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    double n = norm[static_cast<size_t>(group[i])];
    y[i] = n == 0 ? 0.0 : xv[i] / n;
  }
  return Out(FromDoubles(ctx, x.dtype(), x.shape(), y));
}

// ---- LRN ----------------------------------------------------------------------------------------

// Across-channel local response normalization on [N, C, ...]:
//   y = x / (bias + alpha / size * sum_{c' in window(c)} x[c']^2) ^ beta
// with window(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C).
std::vector<Value> Lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.Fail("input must have rank >= 2, got {}", x.Describe());
  int64_t size = ctx.RequireInt("size");
  if (size <= 0) ctx.Fail("size must be positive, got {}", size);
  double alpha = ctx.GetFloat("alpha", 1e-4f);
  double beta = ctx.GetFloat("beta", 0.75f);
  double bias = ctx.GetFloat("bias", 1.0f);
  int64_t n = x.dim(0), channels = x.dim(1);
  int64_t inner = channels == 0 || n == 0 ? 0 : x.numel() / (n * channels);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<double> y(xv.size());
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t c = 0; c < channels; ++c) {
      int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min<int64_t>(channels - 1, c + hi);
      for (int64_t s = 0; s < inner; ++s) {
        double sq = 0;
        for (int64_t k = c0; k <= c1; ++k) {
          double v = xv[static_cast<size_t>((b * channels + k) * inner + s)];
          sq += v * v;
        }
        size_t at = static_cast<size_t>((b * channels + c) * inner + s);
        y[at] = xv[at] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta);
      }
    }
  }
  return Out(FromDoubles(ctx, x.dtype(), x.shape(), y));
}

// ---- MeanVarianceNormalization ------------------------------------------------------------------

// y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default [0, 2, 3]); this is the
// op's function body, computed directly (variance taken as E[(x - E[x])^2], the same quantity).
std::vector<Value> Mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  Shape stat_shape = x.shape();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.GetInts("axes", {0, 2, 3})) {
    int64_t d = NormalizeAxis(ctx, a, rank);
    if (rank == 0) continue;
    if (seen[static_cast<size_t>(d)]) ctx.Fail("axis {} is listed more than once in axes", a);
    seen[static_cast<size_t>(d)] = true;
    stat_shape[static_cast<size_t>(d)] = 1;
  }
  std::vector<double> xv = ToDoubles(ctx, x);
  std::vector<int64_t> group = GroupIndex(stat_shape, x.shape());
  Moments m = GroupMoments(xv, group, NumElements(stat_shape));
  std::vector<double> y(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    size_t g = static_cast<size_t>(group[i]);
    y[i] = (xv[i] - m.mean[g]) / (std::sqrt(m.var[g]) + 1e-9);
  }
  return Out(FromDoubles(ctx, x.dtype(), x.shape(), y));
}

}  // namespace

void RegisterNormalizationOps(Registry& r) {
  r.Add("", "BatchNormalization", 1, BatchNorm1);
  r.Add("", "BatchNormalization", 7, BatchNorm7);
  r.Add("", "BatchNormalization", 9, BatchNorm9);
  r.Add("", "BatchNormalization", 14, BatchNorm14);     // 15 only widened parameter types
  r.Add("", "InstanceNormalization", 1, InstanceNorm);  // 6 dropped consumed_inputs
  // Before 17, ONNX Runtime's LayerNormalization (same definition; schema: ir/runtime_schemas.h).
  r.Add("", "LayerNormalization", 1, LayerNorm);
  r.Add("", "LayerNormalization", 17, LayerNorm);
  r.Add("", "LpNormalization", 1, LpNorm);
  r.Add("", "LRN", 1, Lrn);
  r.Add("", "MeanVarianceNormalization", 9, Mvn);  // 13 only added bfloat16
}

}  // namespace concord::ref
