// Recurrent layers: RNN, GRU, LSTM (ONNX opsets 1/3/7/14).
//
// One engine runs all three. Per direction, X·W^T is computed for every time step with one GEMM;
// each step then computes H_{t-1}·R^T with one GEMM over the batch and applies the cell's gate
// equations row by row. sequence_lens is honoured per batch row: a row only runs its first
// len steps (a reverse direction walks t = len-1 .. 0), Y is zero past len, and Y_h/Y_c hold
// the state after the row's last step. Computation is in float (float, float16, bfloat16) or
// double (double). layout=1 (opset 14) means batch-major X/Y/initial states.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "ref/ops/common.h"
#include "ref/ops/gemm.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

enum class Cell { kRnn, kGru, kLstm };

int NumGates(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 3 : 4; }
// Activations per direction: RNN f; GRU f, g; LSTM f, g, h.
size_t NumActivations(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 2 : 3; }

// ---- activation functions (spec: "activations" attribute, case-insensitive names) -------------

struct Activation {
  std::string name;  // lower-case
  double alpha = 0, beta = 0;

  template <typename CT>
  CT operator()(CT x) const {
    double v = static_cast<double>(x);
    double r;
    if (name == "sigmoid") {
      r = 1.0 / (1.0 + std::exp(-v));
    } else if (name == "tanh") {
      r = std::tanh(v);
    } else if (name == "relu") {
      r = std::max(v, 0.0);
    } else if (name == "affine") {
      r = alpha * v + beta;
    } else if (name == "leakyrelu") {
      r = v >= 0 ? v : alpha * v;
    } else if (name == "thresholdedrelu") {
      r = v > alpha ? v : 0.0;
    } else if (name == "scaledtanh") {
      r = alpha * std::tanh(beta * v);
    } else if (name == "hardsigmoid") {
      r = std::clamp(alpha * v + beta, 0.0, 1.0);
    } else if (name == "elu") {
      r = v >= 0 ? v : alpha * (std::exp(v) - 1.0);
    } else if (name == "softsign") {
      r = v / (1.0 + std::fabs(v));
    } else {  // softplus (validated in MakeActivation)
      r = std::log1p(std::exp(v));
    }
    return static_cast<CT>(r);
  }
};

// Builds an activation; alpha/beta are taken in order from the attribute lists by the functions
// that use them (as onnxruntime does), defaults otherwise.
Activation MakeActivation(const KernelContext& ctx, const std::string& raw,
                          const std::vector<float>& alphas, const std::vector<float>& betas,
                          size_t* ai, size_t* bi) {
  Activation a;
  for (char ch : raw) a.name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  struct Def {
    const char* name;
    bool has_alpha, has_beta;
    double alpha, beta;
  };
  static const Def kDefs[] = {
      {"sigmoid", false, false, 0, 0},      {"tanh", false, false, 0, 0},
      {"relu", false, false, 0, 0},         {"affine", true, true, 1.0, 0.0},
      {"leakyrelu", true, false, 0.01, 0},  {"thresholdedrelu", true, false, 1.0, 0},
      {"scaledtanh", true, true, 1.0, 1.0}, {"hardsigmoid", true, true, 0.2, 0.5},
      {"elu", true, false, 1.0, 0},         {"softsign", false, false, 0, 0},
      {"softplus", false, false, 0, 0},
  };
  for (const Def& d : kDefs) {
    if (a.name != d.name) continue;
    a.alpha = d.alpha;
    a.beta = d.beta;
    if (d.has_alpha && *ai < alphas.size()) a.alpha = alphas[(*ai)++];
    if (d.has_beta && *bi < betas.size()) a.beta = betas[(*bi)++];
    return a;
  }
  ctx.Unsupported("unknown activation function '{}'", raw);
}

// ---- small helpers -----------------------------------------------------------------------------

template <typename CT>
std::vector<CT> ToCompute(const KernelContext& ctx, const Tensor& t) {
  std::vector<CT> v(static_cast<size_t>(t.numel()));
  DispatchFloat(ctx, t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<CT>(Up(p[i]));
  });
  return v;
}

template <typename CT>
Tensor FromCompute(const KernelContext& ctx, DType dt, Shape shape, const std::vector<CT>& v) {
  Tensor t(dt, std::move(shape));
  DispatchFloat(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i)
      p[i] = Down<T>(static_cast<ComputeT<T>>(v[static_cast<size_t>(i)]));
  });
  return t;
}

template <typename CT>
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const CT* a, int64_t lda, const CT* b,
          int64_t ldb, CT beta, CT* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if constexpr (std::is_same_v<CT, float>) {
    GemmF32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  } else {
    GemmF64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  }
}

// Swaps the first two axes of a rank-3 array [A, B, C] -> [B, A, C].
template <typename CT>
std::vector<CT> Swap01(const std::vector<CT>& v, int64_t a, int64_t b, int64_t c) {
  std::vector<CT> out(v.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < c; ++k)
        out[static_cast<size_t>((j * a + i) * c + k)] = v[static_cast<size_t>((i * b + j) * c + k)];
  return out;
}

void CheckShape(const KernelContext& ctx, const char* what, const Tensor& t, const Shape& want) {
  if (t.shape() != want) {
    ctx.Fail("{} must have shape {}, got {}", what, ShapeToString(want), ShapeToString(t.shape()));
  }
}

// ---- the engine ------------------------------------------------------------------------------

template <typename CT>
std::vector<Value> RunRecurrent(KernelContext& ctx, Cell cell) {
  const Tensor& x_t = ctx.input(0);
  const Tensor& w_t = ctx.input(1);
  const Tensor& r_t = ctx.input(2);
  if (x_t.rank() != 3) ctx.Fail("X must be rank 3, got {}", ShapeToString(x_t.shape()));
  if (w_t.rank() != 3 || r_t.rank() != 3) ctx.Fail("W and R must be rank 3");
  if (w_t.dtype() != x_t.dtype() || r_t.dtype() != x_t.dtype())
    ctx.Fail("X, W and R must have the same element type");
  const int64_t layout = ctx.GetInt("layout", 0);
  if (layout != 0 && layout != 1) ctx.Fail("layout must be 0 or 1, got {}", layout);
  const int64_t seq = layout == 0 ? x_t.dim(0) : x_t.dim(1);
  const int64_t batch = layout == 0 ? x_t.dim(1) : x_t.dim(0);
  const int64_t in_size = x_t.dim(2);
  const int64_t gates = NumGates(cell);
  const int64_t hidden = ctx.GetInt("hidden_size", r_t.dim(2));
  if (hidden <= 0) ctx.Fail("hidden_size must be positive, got {}", hidden);
  const std::string direction = ctx.GetString("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    ctx.Fail("direction must be forward, reverse or bidirectional, got '{}'", direction);
  }
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  const int64_t gh = gates * hidden;
  CheckShape(ctx, "W", w_t, {dirs, gh, in_size});
  CheckShape(ctx, "R", r_t, {dirs, gh, hidden});

  // Optional inputs.
  std::vector<CT> bias(static_cast<size_t>(dirs * 2 * gh), CT(0));
  if (const Tensor* b = ctx.optional_input(3)) {
    CheckShape(ctx, "B", *b, {dirs, 2 * gh});
    bias = ToCompute<CT>(ctx, *b);
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (const Tensor* sl = ctx.optional_input(4)) {
    lens = ToInt64Vector(ctx, *sl);
    if (static_cast<int64_t>(lens.size()) != batch)
      ctx.Fail("sequence_lens must have {} entries, got {}", batch, lens.size());
    for (int64_t l : lens) {
      if (l < 0 || l > seq) ctx.Fail("sequence_lens value {} is outside [0, {}]", l, seq);
    }
  }
  const Shape state_shape = layout == 0 ? Shape{dirs, batch, hidden} : Shape{batch, dirs, hidden};
  auto read_state = [&](size_t idx, const char* what) {
    std::vector<CT> s(static_cast<size_t>(dirs * batch * hidden), CT(0));
    if (const Tensor* t = ctx.optional_input(idx)) {
      CheckShape(ctx, what, *t, state_shape);
      s = ToCompute<CT>(ctx, *t);
      if (layout == 1) s = Swap01(s, batch, dirs, hidden);
    }
    return s;
  };
  std::vector<CT> init_h = read_state(5, "initial_h");
  std::vector<CT> init_c = cell == Cell::kLstm ? read_state(6, "initial_c") : std::vector<CT>();
  std::vector<CT> peep(static_cast<size_t>(dirs * 3 * hidden), CT(0));
  if (cell == Cell::kLstm) {
    if (const Tensor* p = ctx.optional_input(7)) {
      CheckShape(ctx, "P", *p, {dirs, 3 * hidden});
      peep = ToCompute<CT>(ctx, *p);
    }
  }

  // Attributes.
  const bool has_clip = ctx.has_attr("clip");
  const CT clip = static_cast<CT>(ctx.GetFloat("clip", 0.0f));
  if (has_clip && clip <= 0) ctx.Fail("clip must be positive");
  const bool linear_before_reset = ctx.GetInt("linear_before_reset", 0) != 0;
  const bool input_forget = ctx.GetInt("input_forget", 0) != 0;
  const size_t nact = NumActivations(cell);
  std::vector<std::string> act_names = ctx.GetStrings("activations");
  if (act_names.empty()) {
    if (cell == Cell::kRnn) act_names = {"Tanh"};
    if (cell == Cell::kGru) act_names = {"Sigmoid", "Tanh"};
    if (cell == Cell::kLstm) act_names = {"Sigmoid", "Tanh", "Tanh"};
  }
  if (act_names.size() == nact && dirs == 2) {
    std::vector<std::string> twice = act_names;
    twice.insert(twice.end(), act_names.begin(), act_names.end());
    act_names = twice;
  }
  if (act_names.size() != nact * static_cast<size_t>(dirs)) {
    ctx.Fail("expected {} activations, got {}", nact * static_cast<size_t>(dirs), act_names.size());
  }
  const std::vector<float> alphas = ctx.GetFloats("activation_alpha");
  const std::vector<float> betas = ctx.GetFloats("activation_beta");
  std::vector<Activation> acts;
  size_t ai = 0, bi = 0;
  for (const auto& n : act_names) acts.push_back(MakeActivation(ctx, n, alphas, betas, &ai, &bi));

  // X as [seq, batch, input].
  std::vector<CT> x = ToCompute<CT>(ctx, x_t);
  if (layout == 1) x = Swap01(x, batch, seq, in_size);
  const std::vector<CT> w = ToCompute<CT>(ctx, w_t);
  const std::vector<CT> r = ToCompute<CT>(ctx, r_t);

  std::vector<CT> y(static_cast<size_t>(seq * dirs * batch * hidden),
                    CT(0));  // [seq, dirs, batch, hidden]
  std::vector<CT> y_h(static_cast<size_t>(dirs * batch * hidden), CT(0));
  std::vector<CT> y_c(static_cast<size_t>(dirs * batch * hidden), CT(0));

  auto clipped = [&](CT v) { return has_clip ? std::clamp(v, -clip, clip) : v; };

  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || d == 1;
    const CT* wd = w.data() + d * gh * in_size;
    const CT* rd = r.data() + d * gh * hidden;
    const CT* wb = bias.data() + d * 2 * gh;
    const CT* rb = wb + gh;
    const CT* pd = peep.data() + d * 3 * hidden;
    const Activation* f = &acts[static_cast<size_t>(d) * nact];
    // xw[t, b, :] = X[t, b, :] · W^T
    std::vector<CT> xw(static_cast<size_t>(seq * batch * gh), CT(0));
    Gemm<CT>(false, true, seq * batch, gh, in_size, x.data(), in_size, wd, in_size, CT(0),
             xw.data(), gh);
    std::vector<CT> h(init_h.begin() + d * batch * hidden,
                      init_h.begin() + (d + 1) * batch * hidden);
    std::vector<CT> c;
    if (cell == Cell::kLstm)
      c.assign(init_c.begin() + d * batch * hidden, init_c.begin() + (d + 1) * batch * hidden);
    std::vector<CT> hr(static_cast<size_t>(batch * gh));
    std::vector<CT> g(static_cast<size_t>(gh));
    std::vector<CT> rh(static_cast<size_t>(hidden));

    for (int64_t s = 0; s < seq; ++s) {
      // hr[b, :] = H_{t-1}[b, :] · R^T
      Gemm<CT>(false, true, batch, gh, hidden, h.data(), hidden, rd, hidden, CT(0), hr.data(), gh);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lens[static_cast<size_t>(b)];
        if (s >= len) continue;
        const int64_t t = reverse ? len - 1 - s : s;
        const CT* xr = xw.data() + (t * batch + b) * gh;
        const CT* hrow = hr.data() + b * gh;
        CT* hb = h.data() + b * hidden;
        // pre-activation sums for every gate except GRU's h gate
        for (int64_t k = 0; k < gh; ++k)
          g[static_cast<size_t>(k)] = xr[k] + hrow[k] + wb[k] + rb[k];
        if (cell == Cell::kRnn) {
          for (int64_t j = 0; j < hidden; ++j) hb[j] = f[0](clipped(g[static_cast<size_t>(j)]));
        } else if (cell == Cell::kGru) {
          // gate blocks: z, r, h
          CT* zg = g.data();
          CT* rg = g.data() + hidden;
          for (int64_t j = 0; j < hidden; ++j) {
            zg[j] = f[0](clipped(zg[j]));
            rg[j] = f[0](clipped(rg[j]));
          }
          const CT* rh_w = rd + 2 * hidden * hidden;  // R_h: [hidden, hidden]
          for (int64_t j = 0; j < hidden; ++j) {
            CT pre;
            if (linear_before_reset) {
              pre = xr[2 * hidden + j] + wb[2 * hidden + j] +
                    rg[j] * (hrow[2 * hidden + j] + rb[2 * hidden + j]);
            } else {
              CT acc = 0;
              for (int64_t k = 0; k < hidden; ++k) acc += rg[k] * hb[k] * rh_w[j * hidden + k];
              pre = xr[2 * hidden + j] + wb[2 * hidden + j] + acc + rb[2 * hidden + j];
            }
            rh[static_cast<size_t>(j)] = f[1](clipped(pre));
          }
          for (int64_t j = 0; j < hidden; ++j)
            hb[j] = (CT(1) - zg[j]) * rh[static_cast<size_t>(j)] + zg[j] * hb[j];
        } else {
          // gate blocks: i, o, f, c; peepholes: i, o, f
          CT* cb = c.data() + b * hidden;
          for (int64_t j = 0; j < hidden; ++j) {
            CT ig = f[0](clipped(g[static_cast<size_t>(j)] + pd[j] * cb[j]));
            CT fg = input_forget ? CT(1) - ig
                                 : f[0](clipped(g[static_cast<size_t>(2 * hidden + j)] +
                                                pd[2 * hidden + j] * cb[j]));
            CT cc = f[1](clipped(g[static_cast<size_t>(3 * hidden + j)]));
            CT cn = fg * cb[j] + ig * cc;
            CT og = f[0](clipped(g[static_cast<size_t>(hidden + j)] + pd[hidden + j] * cn));
            cb[j] = cn;
            hb[j] = og * f[2](cn);
          }
        }
        std::copy(hb, hb + hidden, y.begin() + ((t * dirs + d) * batch + b) * hidden);
      }
    }
    std::copy(h.begin(), h.end(), y_h.begin() + d * batch * hidden);
    if (cell == Cell::kLstm) std::copy(c.begin(), c.end(), y_c.begin() + d * batch * hidden);
  }

  const DType dt = x_t.dtype();
  std::vector<Value> outs(ctx.num_outputs());
  if (ctx.has_output(0)) {
    if (layout == 0) {
      outs[0] = FromCompute<CT>(ctx, dt, {seq, dirs, batch, hidden}, y);
    } else {  // [seq, dirs, batch, hidden] -> [batch, seq, dirs, hidden]
      std::vector<CT> yb(y.size());
      for (int64_t t = 0; t < seq; ++t)
        for (int64_t d = 0; d < dirs; ++d)
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t j = 0; j < hidden; ++j)
              yb[static_cast<size_t>(((b * seq + t) * dirs + d) * hidden + j)] =
                  y[static_cast<size_t>(((t * dirs + d) * batch + b) * hidden + j)];
      outs[0] = FromCompute<CT>(ctx, dt, {batch, seq, dirs, hidden}, yb);
    }
  }
  auto state_out = [&](const std::vector<CT>& s) {
    return FromCompute<CT>(ctx, dt, state_shape, layout == 0 ? s : Swap01(s, dirs, batch, hidden));
  };
  if (ctx.has_output(1)) outs[1] = state_out(y_h);
  if (cell == Cell::kLstm && ctx.has_output(2)) outs[2] = state_out(y_c);
  return outs;
}

template <Cell kCell>
std::vector<Value> Recurrent(KernelContext& ctx) {
  if (ctx.input(0).dtype() == DType::kFloat64) return RunRecurrent<double>(ctx, kCell);
  return RunRecurrent<float>(ctx, kCell);
}

}  // namespace

void RegisterRnnOps(Registry& r) {
  // One kernel serves every version: later versions only added attributes (GRU-3
  // linear_before_reset, layout in 14) whose defaults reproduce the older behaviour.
  for (int v : {1, 7, 14}) r.Add("", "RNN", v, Recurrent<Cell::kRnn>);
  for (int v : {1, 3, 7, 14}) r.Add("", "GRU", v, Recurrent<Cell::kGru>);
  for (int v : {1, 7, 14}) r.Add("", "LSTM", v, Recurrent<Cell::kLstm>);
}

}  // namespace concord::ref
