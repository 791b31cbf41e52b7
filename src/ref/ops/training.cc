// Training ops of ai.onnx.preview.training (version 1): the Adagrad, Adam and Momentum
// optimizers, and Gradient.
//
// Optimizer inputs are (R learning rate, T update count, then per-tensor groups) and outputs
// are the updated groups; formulas follow the ONNX operator specification. Arithmetic is in
// double, rounded once to the tensor's type.
#include <cmath>
#include <map>
#include <set>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

constexpr const char* kTraining = "ai.onnx.preview.training";

double ScalarInput(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.Fail("{} must be a scalar, got shape {}", what, ShapeToString(t.shape()));
  return t.GetDouble(0);
}

std::vector<double> ToDoubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

Tensor FromDoubles(const KernelContext& ctx, DType dt, const Shape& shape,
                   const std::vector<double>& v) {
  Tensor t(dt, shape);
  DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = FromDouble<T>(v[static_cast<size_t>(i)]);
  });
  return t;
}

// Splits inputs [R, T, group_0 (n), group_1 (n), ...] into n tensors per group; checks that
// tensors of one index share a shape.
size_t GroupSize(const KernelContext& ctx, size_t groups) {
  if (ctx.num_inputs() < 2 || (ctx.num_inputs() - 2) % groups != 0) {
    ctx.Fail("expected R, T and {} groups of equally many tensors, got {} inputs", groups,
             ctx.num_inputs());
  }
  size_t n = (ctx.num_inputs() - 2) / groups;
  for (size_t i = 0; i < n; ++i) {
    const Tensor& x = ctx.input(2 + i);
    if (!IsFloating(x.dtype())) ctx.Fail("optimized tensors must be floating-point");
    for (size_t g = 1; g < groups; ++g) {
      if (ctx.input(2 + g * n + i).shape() != x.shape())
        ctx.Fail("tensors of group {} do not match X{}'s shape", g, i);
    }
  }
  if (ctx.num_outputs() > (groups - 1) * n) ctx.Fail("too many outputs");
  return n;
}

// X_new = X - r * G_reg / (sqrt(H_new) + epsilon), r = R / (1 + T * decay_factor),
// G_reg = norm_coefficient * X + G, H_new = H + G_reg^2. Outputs: X_new..., H_new...
std::vector<Value> Adagrad(KernelContext& ctx) {
  const size_t n = GroupSize(ctx, 3);
  const double r = ScalarInput(ctx, 0, "R"), t = ScalarInput(ctx, 1, "T");
  const double decay = ctx.GetFloat("decay_factor", 0.0f);
  const double eps = ctx.GetFloat("epsilon", 1e-6f);
  const double norm = ctx.GetFloat("norm_coefficient", 0.0f);
  const double lr = r / (1.0 + t * decay);
  std::vector<Value> outs(2 * n);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& xt = ctx.input(2 + i);
    std::vector<double> x = ToDoubles(xt), g = ToDoubles(ctx.input(2 + n + i)),
                        h = ToDoubles(ctx.input(2 + 2 * n + i));
    for (size_t k = 0; k < x.size(); ++k) {
      double gr = norm * x[k] + g[k];
      h[k] += gr * gr;
      x[k] -= lr * gr / (std::sqrt(h[k]) + eps);
    }
    outs[i] = FromDoubles(ctx, xt.dtype(), xt.shape(), x);
    outs[n + i] = FromDoubles(ctx, ctx.input(2 + 2 * n + i).dtype(), xt.shape(), h);
  }
  outs.resize(ctx.num_outputs());
  return outs;
}

// G_reg = norm_coefficient * X + G; V_new = alpha * V + (1 - alpha) * G_reg;
// H_new = beta * H + (1 - beta) * G_reg^2; r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R;
// X_new = (1 - norm_coefficient_post) * (X - r * V_new / (sqrt(H_new) + epsilon)).
std::vector<Value> Adam(KernelContext& ctx) {
  const size_t n = GroupSize(ctx, 4);
  const double r = ScalarInput(ctx, 0, "R"), t = ScalarInput(ctx, 1, "T");
  const double alpha = ctx.GetFloat("alpha", 0.9f), beta = ctx.GetFloat("beta", 0.999f);
  const double eps = ctx.GetFloat("epsilon", 1e-6f);
  const double norm = ctx.GetFloat("norm_coefficient", 0.0f);
  const double norm_post = ctx.GetFloat("norm_coefficient_post", 0.0f);
  const double lr = t > 0 ? r * std::sqrt(1.0 - std::pow(beta, t)) / (1.0 - std::pow(alpha, t)) : r;
  std::vector<Value> outs(3 * n);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& xt = ctx.input(2 + i);
    std::vector<double> x = ToDoubles(xt), g = ToDoubles(ctx.input(2 + n + i));
    std::vector<double> v = ToDoubles(ctx.input(2 + 2 * n + i)),
                        h = ToDoubles(ctx.input(2 + 3 * n + i));
    for (size_t k = 0; k < x.size(); ++k) {
      double gr = norm * x[k] + g[k];
      v[k] = alpha * v[k] + (1.0 - alpha) * gr;
      h[k] = beta * h[k] + (1.0 - beta) * gr * gr;
      x[k] = (1.0 - norm_post) * (x[k] - lr * v[k] / (std::sqrt(h[k]) + eps));
    }
    outs[i] = FromDoubles(ctx, xt.dtype(), xt.shape(), x);
    outs[n + i] = FromDoubles(ctx, ctx.input(2 + 2 * n + i).dtype(), xt.shape(), v);
    outs[2 * n + i] = FromDoubles(ctx, ctx.input(2 + 3 * n + i).dtype(), xt.shape(), h);
  }
  outs.resize(ctx.num_outputs());
  return outs;
}

// G_reg = norm_coefficient * X + G; beta' = T > 0 ? beta : 1; V_new = alpha * V + beta' * G_reg;
// standard: X_new = X - R * V_new; nesterov: X_new = X - R * (G_reg + alpha * V_new).
std::vector<Value> Momentum(KernelContext& ctx) {
  const size_t n = GroupSize(ctx, 3);
  const double r = ScalarInput(ctx, 0, "R"), t = ScalarInput(ctx, 1, "T");
  const double alpha = ctx.GetFloat("alpha", 0.0f), beta = ctx.GetFloat("beta", 0.0f);
  const double norm = ctx.GetFloat("norm_coefficient", 0.0f);
  if (!ctx.has_attr("alpha") || !ctx.has_attr("beta") || !ctx.has_attr("mode") ||
      !ctx.has_attr("norm_coefficient")) {
    ctx.Fail("Momentum requires the alpha, beta, mode and norm_coefficient attributes");
  }
  const std::string mode = ctx.GetString("mode", "");
  if (mode != "standard" && mode != "nesterov")
    ctx.Fail("mode must be 'standard' or 'nesterov', got '{}'", mode);
  const double beta_adj = t > 0 ? beta : 1.0;
  std::vector<Value> outs(2 * n);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& xt = ctx.input(2 + i);
    std::vector<double> x = ToDoubles(xt), g = ToDoubles(ctx.input(2 + n + i)),
                        v = ToDoubles(ctx.input(2 + 2 * n + i));
    for (size_t k = 0; k < x.size(); ++k) {
      double gr = norm * x[k] + g[k];
      v[k] = alpha * v[k] + beta_adj * gr;
      x[k] -= mode == "standard" ? r * v[k] : r * (gr + alpha * v[k]);
    }
    outs[i] = FromDoubles(ctx, xt.dtype(), xt.shape(), x);
    outs[n + i] = FromDoubles(ctx, ctx.input(2 + 2 * n + i).dtype(), xt.shape(), v);
  }
  outs.resize(ctx.num_outputs());
  return outs;
}

// ---- Gradient
// --------------------------------------------------------------------------------------
// Reverse-mode differentiation of y with respect to xs over the graph that contains the node.
// The forward values are recomputed by running the ancestors of y (taking xs ++ zs from the
// node's inputs) as a subgraph, then gradients flow back through Add, Sub, Mul, Neg and
// Identity with broadcasting reduced by summation.

struct Dense {
  Shape shape;
  std::vector<double> v;
};

// Sums `g` (shaped `out`) down to the broadcast operand shape `in`, optionally scaled
// element-wise by `scale` (shaped `scale_shape`, broadcast onto `out`).
void AccumulateBroadcast(const Dense& g, const Shape& in, Dense* acc, const Dense* scale,
                         double sign) {
  std::array<std::vector<int64_t>, 3> strides = {BroadcastStrides(in, g.shape), Strides(g.shape),
                                                 scale != nullptr
                                                     ? BroadcastStrides(scale->shape, g.shape)
                                                     : std::vector<int64_t>(g.shape.size(), 0)};
  ForEachBroadcast<3>(g.shape, strides, [&](int64_t, const std::array<int64_t, 3>& off) {
    double s = scale != nullptr ? scale->v[static_cast<size_t>(off[2])] : 1.0;
    acc->v[static_cast<size_t>(off[0])] += sign * g.v[static_cast<size_t>(off[1])] * s;
  });
}

std::vector<Value> GradientOfGraph(KernelContext& ctx, const onnx::GraphProto& graph) {
  const std::vector<std::string> xs = ctx.GetStrings("xs");
  const std::vector<std::string> zs = ctx.GetStrings("zs");
  const std::string y = ctx.GetString("y", "");
  if (xs.empty() || y.empty()) ctx.Fail("attributes 'xs' and 'y' are required");
  if (ctx.num_inputs() != xs.size() + zs.size())
    ctx.Fail("expected {} inputs (xs then zs), got {}", xs.size() + zs.size(), ctx.num_inputs());
  if (ctx.num_outputs() != xs.size()) ctx.Fail("expected {} outputs (one per xs entry)", xs.size());

  // Nodes before this one that lead to y.
  std::set<std::string> leaves(xs.begin(), xs.end());
  leaves.insert(zs.begin(), zs.end());
  std::vector<const onnx::NodeProto*> before;
  for (const auto& n : graph.node()) {
    // This node, found by address (or by its outputs, which are unique in a graph).
    if (&n == &ctx.node() || (n.output_size() > 0 && n.output(0) == ctx.node().output(0))) break;
    before.push_back(&n);
  }
  std::set<std::string> needed = {y};
  std::vector<const onnx::NodeProto*> tape;  // in forward order
  for (auto it = before.rbegin(); it != before.rend(); ++it) {
    bool produces = false;
    for (const auto& o : (*it)->output()) produces |= needed.count(o) > 0;
    if (!produces) continue;
    tape.insert(tape.begin(), *it);
    for (const auto& in : (*it)->input()) {
      if (!in.empty() && !leaves.count(in)) needed.insert(in);
    }
  }
  if (!leaves.count(y) && tape.empty()) ctx.Fail("'{}' is not computed by an earlier node", y);

  // Forward pass as a subgraph: inputs xs ++ zs, outputs every value the tape touches.
  onnx::GraphProto fwd;
  fwd.set_name("gradient_forward");
  for (const auto& name : xs) fwd.add_input()->set_name(name);
  for (const auto& name : zs) fwd.add_input()->set_name(name);
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto* n : tape) {
    *fwd.add_node() = *n;
    for (const auto& list : {n->input(), n->output()}) {
      for (const auto& name : list) {
        if (!name.empty() && seen.insert(name).second) names.push_back(name);
      }
    }
  }
  if (names.empty()) names.push_back(y);
  for (const auto& name : names) fwd.add_output()->set_name(name);
  std::vector<Value> fwd_in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) fwd_in.push_back(ctx.value(i));
  std::vector<Value> fwd_out = ctx.RunSubgraph(fwd, fwd_in);
  std::map<std::string, Dense> val;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!fwd_out[i].is_tensor())
      ctx.Unsupported("gradient through non-tensor value '{}'", names[i]);
    val[names[i]] = {fwd_out[i].tensor.shape(), ToDoubles(fwd_out[i].tensor)};
  }

  // Reverse pass.
  std::map<std::string, Dense> grad;
  auto grad_of = [&](const std::string& name) -> Dense& {
    auto it = grad.find(name);
    if (it == grad.end()) {
      const Dense& v = val.at(name);
      it = grad.emplace(name, Dense{v.shape, std::vector<double>(v.v.size(), 0.0)}).first;
    }
    return it->second;
  };
  Dense& gy = grad_of(y);
  std::fill(gy.v.begin(), gy.v.end(), 1.0);
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    const onnx::NodeProto& n = **it;
    auto git = grad.find(n.output(0));
    if (git == grad.end()) continue;
    const Dense g = git->second;
    const std::string& op = n.op_type();
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      ctx.Unsupported("gradient of {}::{}", n.domain(), op);
    if (op == "Add" || op == "Sub") {
      AccumulateBroadcast(g, val.at(n.input(0)).shape, &grad_of(n.input(0)), nullptr, 1.0);
      AccumulateBroadcast(g, val.at(n.input(1)).shape, &grad_of(n.input(1)), nullptr,
                          op == "Add" ? 1.0 : -1.0);
    } else if (op == "Mul") {
      const Dense a = val.at(n.input(0)), b = val.at(n.input(1));
      AccumulateBroadcast(g, a.shape, &grad_of(n.input(0)), &b, 1.0);
      AccumulateBroadcast(g, b.shape, &grad_of(n.input(1)), &a, 1.0);
    } else if (op == "Neg" || op == "Identity") {
      AccumulateBroadcast(g, val.at(n.input(0)).shape, &grad_of(n.input(0)), nullptr,
                          op == "Neg" ? -1.0 : 1.0);
    } else {
      ctx.Unsupported("gradient of {} is not implemented (Add, Sub, Mul, Neg, Identity are)", op);
    }
  }

  std::vector<Value> outs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = ctx.input(i);
    auto it = grad.find(xs[i]);
    std::vector<double> g =
        it != grad.end() ? it->second.v : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    outs.emplace_back(FromDoubles(ctx, x.dtype(), x.shape(), g));
  }
  return outs;
}

std::vector<Value> Gradient(KernelContext& ctx) {
  // The graph to differentiate is the one containing this node.
  if (const onnx::GraphProto* g = ctx.graph()) return GradientOfGraph(ctx, *g);
  ctx.Unsupported("Gradient inside a function body has no enclosing graph to differentiate");
}

}  // namespace

void RegisterTrainingOps(Registry& r) {
  r.Add(kTraining, "Adagrad", 1, Adagrad);
  r.Add(kTraining, "Adam", 1, Adam);
  r.Add(kTraining, "Momentum", 1, Momentum);
  r.Add(kTraining, "Gradient", 1, Gradient);
}

}  // namespace concord::ref
