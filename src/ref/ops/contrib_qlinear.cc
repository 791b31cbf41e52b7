// com.microsoft QLinear* ops that ONNX Runtime's quantizer writes (quantize_static with QOperator
// format): QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat,
// QLinearAveragePool and QLinearGlobalAveragePool. QLinearConv and QLinearMatMul are ONNX ops
// (conv.cc, matmul.cc).
//
// Each is its float op between per-tensor dequantization and quantization, in exact arithmetic
// (contrib_util.h), rounding where ONNX Runtime rounds: y = saturate(round_half_even(f(dequantized
// inputs) / y_scale [+ y_zero_point]) [+ y_zero_point]). ONNX Runtime computes the same formula in
// float (MLAS), so the two agree exactly except where float rounding moves a value across a .5
// boundary. Zero points default to 0 when omitted.
#include "ref/ops/common.h"
#include "ref/ops/contrib_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// A quantized output of x's type from doubles.
Tensor QuantizeAll(const KernelContext& ctx, DType dt, const Shape& shape,
                   const std::vector<double>& v, double scale, double zero_point,
                   Rounding rounding) {
  return DispatchQuantized(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor t(dt, shape);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = Quantize<T>(v[i], scale, zero_point, rounding);
    return t;
  });
}

// Inputs A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point, with numpy
// broadcasting between A and B. The zero point is added before rounding (MLAS adds it to the
// float sum).
template <typename F>
std::vector<Value> QLinearBinary(KernelContext& ctx, F&& f) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  if (a.dtype() != b.dtype())
    ctx.Fail("A is {} but B is {}", DTypeName(a.dtype()), DTypeName(b.dtype()));
  const double sa = ScalarInput(ctx, 1, 1), za = ScalarInput(ctx, 2, 0);
  const double sb = ScalarInput(ctx, 4, 1), zb = ScalarInput(ctx, 5, 0);
  const double sc = ScalarInput(ctx, 6, 1), zc = ScalarInput(ctx, 7, 0);
  return Out(DispatchQuantized(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return BroadcastBinary<T, T, T>(ctx, a, b, a.dtype(), [&](T x, T y) {
      double v = f(sa * (static_cast<double>(x) - za), sb * (static_cast<double>(y) - zb));
      return Quantize<T>(v, sc, zc, Rounding::kShiftThenRound);
    });
  }));
}

std::vector<Value> QLinearAdd(KernelContext& ctx) {
  return QLinearBinary(ctx, [](double x, double y) { return x + y; });
}

std::vector<Value> QLinearMul(KernelContext& ctx) {
  return QLinearBinary(ctx, [](double x, double y) { return x * y; });
}

// Inputs X, X_scale, X_zero_point, Y_scale, Y_zero_point; quantized as QuantizeLinear does
// (ONNX Runtime builds a 256-entry table with it).
template <typename F>
std::vector<Value> QLinearUnary(KernelContext& ctx, F&& f) {
  const Tensor& x = ctx.input(0);
  const double sx = ScalarInput(ctx, 1, 1), zx = ScalarInput(ctx, 2, 0);
  const double sy = ScalarInput(ctx, 3, 1), zy = ScalarInput(ctx, 4, 0);
  std::vector<double> v = Dequantize(ctx, x, sx, zx);
  for (double& e : v) e = f(e);
  return Out(QuantizeAll(ctx, x.dtype(), x.shape(), v, sy, zy, Rounding::kRoundThenShift));
}

std::vector<Value> QLinearSigmoid(KernelContext& ctx) {
  return QLinearUnary(ctx, [](double v) { return 1 / (1 + std::exp(-v)); });
}

std::vector<Value> QLinearLeakyRelu(KernelContext& ctx) {
  const double alpha = ctx.GetFloat("alpha", 0.01f);
  return QLinearUnary(ctx, [&](double v) { return v >= 0 ? v : alpha * v; });
}

// Inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input; every input is
// requantized to Y's scale and zero point (as QuantizeLinear) and concatenated along `axis`.
std::vector<Value> QLinearConcat(KernelContext& ctx) {
  if (ctx.num_inputs() < 5 || (ctx.num_inputs() - 2) % 3 != 0)
    ctx.Fail("expected Y_scale, Y_zero_point and triples (X, scale, zero point); got {} inputs",
             ctx.num_inputs());
  const double sy = ScalarInput(ctx, 0, 1), zy = ScalarInput(ctx, 1, 0);
  std::vector<Value> parts;
  for (size_t i = 2; i < ctx.num_inputs(); i += 3) {
    const Tensor& x = ctx.input(i);
    std::vector<double> v =
        Dequantize(ctx, x, ScalarInput(ctx, i + 1, 1), ScalarInput(ctx, i + 2, 0));
    parts.emplace_back(
        QuantizeAll(ctx, x.dtype(), x.shape(), v, sy, zy, Rounding::kRoundThenShift));
  }
  std::vector<const Value*> ins;
  for (const auto& p : parts) ins.push_back(&p);
  return RunKernel(ctx, OnnxNode(ctx, "Concat"), 13, ins);
}

// NHWC <-> NCHW for channels_last pooling (rank >= 3).
Tensor MoveChannels(const KernelContext& ctx, const Tensor& t, bool to_first) {
  const int rank = t.rank();
  onnx::NodeProto tr = PlainNode(ctx, "Transpose");
  auto* a = tr.add_attribute();
  a->set_name("perm");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(0);
  if (to_first) {
    a->add_ints(rank - 1);
    for (int d = 1; d < rank - 1; ++d) a->add_ints(d);
  } else {
    for (int d = 2; d < rank; ++d) a->add_ints(d);
    a->add_ints(1);
  }
  Value v(t);
  return RunKernel(ctx, tr, 13, {&v})[0].tensor;
}

// Dequantized X (channels first), or pooled values back to a quantized Y of X's layout.
Tensor DequantizedChannelsFirst(const KernelContext& ctx, bool channels_last) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.Fail("X must have rank >= 3, got {}", ShapeToString(x.shape()));
  Tensor d =
      DoubleTensor(x.shape(), Dequantize(ctx, x, ScalarInput(ctx, 1, 1), ScalarInput(ctx, 2, 0)));
  return channels_last ? MoveChannels(ctx, d, true) : d;
}

Tensor Requantized(const KernelContext& ctx, const Tensor& pooled, bool channels_last,
                   Rounding rounding) {
  Tensor p = channels_last ? MoveChannels(ctx, pooled, false) : pooled;
  std::vector<double> v(p.data<double>(), p.data<double>() + p.numel());
  return QuantizeAll(ctx, ctx.input(0).dtype(), p.shape(), v, ScalarInput(ctx, 3, 1),
                     ScalarInput(ctx, 4, 0), rounding);
}

// ONNX's AveragePool on the dequantized X; channels_last=1 means NHWC in and out. The zero point
// is added before rounding (ONNX Runtime's quantize_value).
std::vector<Value> QLinearAveragePool(KernelContext& ctx) {
  const bool channels_last = ctx.GetInt("channels_last", 0) != 0;
  Value d = DequantizedChannelsFirst(ctx, channels_last);
  Tensor pooled =
      RunKernel(ctx, OnnxNode(ctx, "AveragePool", {"channels_last"}), 19, {&d})[0].tensor;
  return Out(Requantized(ctx, pooled, channels_last, Rounding::kShiftThenRound));
}

// The mean over the spatial axes, rounded before the zero point is added (MLAS).
std::vector<Value> QLinearGlobalAveragePool(KernelContext& ctx) {
  const bool channels_last = ctx.GetInt("channels_last", 0) != 0;
  Value d = DequantizedChannelsFirst(ctx, channels_last);
  Tensor pooled =
      RunKernel(ctx, OnnxNode(ctx, "GlobalAveragePool", {"channels_last"}), 1, {&d})[0].tensor;
  return Out(Requantized(ctx, pooled, channels_last, Rounding::kRoundThenShift));
}

}  // namespace

void RegisterContribQLinearOps(Registry& r) {
  const std::string ms = "com.microsoft";
  r.Add(ms, "QLinearAdd", 1, QLinearAdd);
  r.Add(ms, "QLinearAveragePool", 1, QLinearAveragePool);
  r.Add(ms, "QLinearConcat", 1, QLinearConcat);
  r.Add(ms, "QLinearGlobalAveragePool", 1, QLinearGlobalAveragePool);
  r.Add(ms, "QLinearLeakyRelu", 1, QLinearLeakyRelu);
  r.Add(ms, "QLinearMul", 1, QLinearMul);
  r.Add(ms, "QLinearSigmoid", 1, QLinearSigmoid);
}

}  // namespace concord::ref
