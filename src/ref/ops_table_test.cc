// The reference interpreter op by op, as a table of cases in the style of ggml's
// test-backend-ops: each case is one node (op, opset, attributes), its inputs and the outputs
// worked out by hand (shown in the comments) or from first principles (std::exp and friends),
// never from ref itself. Each case is its own test named after the op, so a kernel regression
// reads "RefOps/OpTable.Matches/Conv_pads_stride_bias" in ctest. Floats must agree within the
// case's tolerance (|got - want| <= tol * (1 + |want|)), NaN with NaN, an infinity exactly;
// everything else exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ref/interpreter.h"
#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

using Attrs = std::function<void(onnx::NodeProto*)>;

struct OpCase {
  std::string name;  // test name; starts with the op type
  std::string op;
  int opset = 13;
  Attrs attrs;                                // may be empty
  std::vector<std::optional<Tensor>> inputs;  // nullopt: an omitted optional input ("")
  std::vector<Tensor> want;
  double tol = 1e-6;
};

Tensor F(const Shape& s, const std::vector<float>& v) { return Tensor::FromVector<float>(s, v); }
Tensor I64(const Shape& s, const std::vector<int64_t>& v) {
  return Tensor::FromVector<int64_t>(s, v);
}
Tensor I32(const Shape& s, const std::vector<int32_t>& v) {
  return Tensor::FromVector<int32_t>(s, v);
}
Tensor U8(const Shape& s, const std::vector<uint8_t>& v) {
  return Tensor::FromVector<uint8_t>(s, v);
}
Tensor I8(const Shape& s, const std::vector<int8_t>& v) { return Tensor::FromVector<int8_t>(s, v); }
Tensor B(const Shape& s, const std::vector<bool>& v) { return Tensor::FromVector<bool>(s, v); }
using namespace std::string_literals;  // "..."s keeps embedded NULs

// The bytes of a string as a 1-D uint8 tensor (an encoded file).
Tensor Bytes(const std::string& b) {
  return U8({static_cast<int64_t>(b.size())}, std::vector<uint8_t>(b.begin(), b.end()));
}
Tensor S(const Shape& s, const std::vector<std::string>& v) {
  return Tensor::FromVector<std::string>(s, v);
}
// Half-precision tensors from float values (each rounded to the type).
template <typename H>
Tensor Halves(const Shape& s, const std::vector<float>& v) {
  std::vector<H> h;
  for (float f : v) h.push_back(H(f));
  return Tensor::FromVector<H>(s, h);
}
Tensor F16(const Shape& s, const std::vector<float>& v) { return Halves<Float16>(s, v); }
Tensor BF16(const Shape& s, const std::vector<float>& v) { return Halves<BFloat16>(s, v); }
// A low-precision tensor from its one-byte codes (bit patterns; int4/int2 as int8 values).
Tensor Codes(DType dt, const Shape& s, const std::vector<uint8_t>& v) {
  Tensor t(dt, s);
  for (size_t i = 0; i < v.size(); ++i) t.codes()[i] = v[i];
  return t;
}
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
Tensor Iota(const Shape& s, float start = 0) {
  std::vector<float> v(static_cast<size_t>(NumElements(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return F(s, v);
}

Attrs Int(const std::string& n, int64_t v) {
  return [=](onnx::NodeProto* p) { GraphBuilder::Int(p, n, v); };
}
Attrs Ints(const std::string& n, std::vector<int64_t> v) {
  return [=](onnx::NodeProto* p) { GraphBuilder::Ints(p, n, v); };
}
Attrs Float(const std::string& n, float v) {
  return [=](onnx::NodeProto* p) { GraphBuilder::Float(p, n, v); };
}
Attrs Str(const std::string& n, const std::string& v) {
  return [=](onnx::NodeProto* p) { GraphBuilder::String(p, n, v); };
}
Attrs All(std::vector<Attrs> list) {
  return [=](onnx::NodeProto* p) {
    for (const auto& a : list) a(p);
  };
}

std::vector<OpCase> Cases() {
  const float ln2 = std::log(2.0f), ln3 = std::log(3.0f), ln5 = std::log(5.0f);
  const Tensor m23 = F({2, 3}, {1, 2, 3, 4, 5, 6});
  return {
      // Elementwise arithmetic with numpy broadcasting.
      {"Add_broadcast_row",
       "Add",
       13,
       {},
       {m23, F({3}, {10, 20, 30})},
       {F({2, 3}, {11, 22, 33, 14, 25, 36})}},
      {"Sub_broadcast_scalar",
       "Sub",
       13,
       {},
       {F({2, 2}, {5, 6, 7, 8}), F({}, {1})},
       {F({2, 2}, {4, 5, 6, 7})}},
      // [2,1] * [1,3] -> [2,3]: {1,2} x {3,4,5}.
      {"Mul_broadcast_outer",
       "Mul",
       13,
       {},
       {F({2, 1}, {1, 2}), F({1, 3}, {3, 4, 5})},
       {F({2, 3}, {3, 4, 5, 6, 8, 10})}},
      {"Div_float", "Div", 13, {}, {F({3}, {1, 4, 9}), F({3}, {2, 2, 3})}, {F({3}, {0.5f, 2, 3})}},
      // Integer Div truncates toward zero (C semantics, as ONNX's reference does).
      {"Div_int32_truncates",
       "Div",
       13,
       {},
       {I32({2}, {7, -7}), I32({2}, {2, 2})},
       {I32({2}, {3, -3})}},
      {"Pow_float", "Pow", 13, {}, {F({2}, {2, 3}), F({2}, {3, 2})}, {F({2}, {8, 9})}},
      // Mod with fmod=0 takes the divisor's sign: -7 mod 3 = 2, 7 mod -3 = -2.
      {"Mod_int64_divisor_sign",
       "Mod",
       13,
       {},
       {I64({2}, {-7, 7}), I64({2}, {3, -3})},
       {I64({2}, {2, -2})}},
      // Mod-28 takes fmod=0 on floats too (NumPy's np.mod): -7 mod 3 = 2, 7 mod -3 = -2,
      // 5.5 mod 2 = 1.5, 3 mod -inf = -inf (signs differ: y), 3 mod inf = 3, inf mod 2 = NaN,
      // 1 mod 0 = NaN.
      {"Mod_float_fmod0_opset28",
       "Mod",
       28,
       {},
       {F({7}, {-7, 7, 5.5f, 3, 3, kInf, 1}), F({7}, {3, -3, 2, -kInf, kInf, 2, 0})},
       {F({7}, {2, -2, 1.5f, -kInf, 3, kNaN, kNaN})}},
      // BitShift-28 on int8. Right shifts are arithmetic: -8 >> 1 = -4, -1 >> 3 = -1; a shift
      // outside [0, 8) gives 0, or -1 for a negative value shifted right.
      {"BitShift_int8_right_opset28",
       "BitShift",
       28,
       Str("direction", "RIGHT"),
       {I8({4}, {-8, -1, 5, -128}), I8({4}, {1, 3, 8, -1})},
       {I8({4}, {-4, -1, 0, -1})}},
      // Left shifts keep the low 8 bits: 1 << 7 = 0x80 = -128, 3 << 2 = 12; -1 << 8 and a
      // negative shift give 0.
      {"BitShift_int8_left_opset28",
       "BitShift",
       28,
       Str("direction", "LEFT"),
       {I8({4}, {1, 3, -1, 3}), I8({4}, {7, 2, 8, -2})},
       {I8({4}, {-128, 12, 0, 0})}},
      {"Max_variadic",
       "Max",
       13,
       {},
       {F({3}, {1, 5, 3}), F({3}, {4, 2, 6}), F({}, {2})},
       {F({3}, {4, 5, 6})}},
      {"Min_two", "Min", 13, {}, {F({3}, {1, 5, 3}), F({3}, {4, 2, 6})}, {F({3}, {1, 2, 3})}},
      {"Abs", "Abs", 13, {}, {F({3}, {-1.5f, 2, -3})}, {F({3}, {1.5f, 2, 3})}},
      {"Neg", "Neg", 13, {}, {F({2}, {-1.5f, 2})}, {F({2}, {1.5f, -2})}},
      {"Sqrt", "Sqrt", 13, {}, {F({3}, {4, 9, 2.25f})}, {F({3}, {2, 3, 1.5f})}},
      {"Reciprocal", "Reciprocal", 13, {}, {F({2}, {4, -0.5f})}, {F({2}, {0.25f, -2})}},
      {"Exp", "Exp", 13, {}, {F({2}, {0, ln2})}, {F({2}, {1, 2})}, 1e-6},
      {"Log", "Log", 13, {}, {F({2}, {1, 8})}, {F({2}, {0, 3 * ln2})}, 1e-6},
      {"Floor", "Floor", 13, {}, {F({3}, {-1.5f, 1.2f, 2})}, {F({3}, {-2, 1, 2})}},
      {"Ceil", "Ceil", 13, {}, {F({3}, {-1.5f, 1.2f, 2})}, {F({3}, {-1, 2, 2})}},
      // Round is half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -1.5 -> -2.
      {"Round_half_to_even",
       "Round",
       11,
       {},
       {F({4}, {0.5f, 1.5f, 2.5f, -1.5f})},
       {F({4}, {0, 2, 2, -2})}},
      {"Sign", "Sign", 13, {}, {F({3}, {-2, 0, 3})}, {F({3}, {-1, 0, 1})}},
      {"Erf_odd",
       "Erf",
       13,
       {},
       {F({3}, {0, 0.5f, -0.5f})},
       {F({3}, {0, std::erf(0.5f), -std::erf(0.5f)})},
       1e-6},
      // Comparison and logic produce bool.
      {"Equal_int64",
       "Equal",
       13,
       {},
       {I64({3}, {1, 2, 3}), I64({3}, {1, 0, 3})},
       {B({3}, {true, false, true})}},
      {"Greater_broadcast",
       "Greater",
       13,
       {},
       {F({3}, {1, 2, 3}), F({}, {2})},
       {B({3}, {false, false, true})}},
      {"And",
       "And",
       7,
       {},
       {B({4}, {true, true, false, false}), B({4}, {true, false, true, false})},
       {B({4}, {true, false, false, false})}},
      {"Not", "Not", 1, {}, {B({2}, {true, false})}, {B({2}, {false, true})}},
      {"Where_broadcast",
       "Where",
       16,
       {},
       {B({3}, {true, false, true}), F({3}, {1, 2, 3}), F({}, {10})},
       {F({3}, {1, 10, 3})}},

      // Activations.
      {"Relu", "Relu", 14, {}, {F({3}, {-1, 0, 2})}, {F({3}, {0, 0, 2})}},
      // sigmoid(0) = 1/2, sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4.
      {"Sigmoid", "Sigmoid", 13, {}, {F({2}, {0, ln3})}, {F({2}, {0.5f, 0.75f})}, 1e-6},
      // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
      {"Tanh", "Tanh", 13, {}, {F({2}, {0, ln2})}, {F({2}, {0, 0.6f})}, 1e-6},
      {"LeakyRelu_alpha",
       "LeakyRelu",
       16,
       Float("alpha", 0.1f),
       {F({2}, {-2, 3})},
       {F({2}, {-0.2f, 3})}},
      {"PRelu_broadcast_slope",
       "PRelu",
       16,
       {},
       {F({2}, {-2, 3}), F({1}, {0.25f})},
       {F({2}, {-0.5f, 3})}},
      // elu(-ln 2) = exp(-ln 2) - 1 = -1/2.
      {"Elu", "Elu", 6, Float("alpha", 1.0f), {F({2}, {-ln2, 1})}, {F({2}, {-0.5f, 1})}, 1e-6},
      // max(0, min(1, 0.2 x + 0.5)).
      {"HardSigmoid",
       "HardSigmoid",
       6,
       All({Float("alpha", 0.2f), Float("beta", 0.5f)}),
       {F({4}, {-3, 0, 1, 3})},
       {F({4}, {0, 0.5f, 0.7f, 1})},
       1e-6},
      {"Clip_min_max_inputs",
       "Clip",
       13,
       {},
       {F({3}, {-1, 3, 7}), F({}, {0}), F({}, {6})},
       {F({3}, {0, 3, 6})}},
      {"Clip_max_only",
       "Clip",
       13,
       {},
       {F({3}, {-1, 3, 7}), std::nullopt, F({}, {2})},
       {F({3}, {-1, 2, 2})}},
      // softplus(0) = ln 2, softplus(ln 3) = ln 4.
      {"Softplus", "Softplus", 1, {}, {F({2}, {0, ln3})}, {F({2}, {ln2, 2 * ln2})}, 1e-6},
      // x * max(0, min(1, x / 6 + 1/2)): 0, 1 * 2/3, 4 * 1.
      {"HardSwish", "HardSwish", 14, {}, {F({3}, {-4, 1, 4})}, {F({3}, {0, 2.0f / 3, 4})}, 1e-6},

      // Convolution. X = 1..9 as [1,1,3,3]; a 2x2 box of ones sums each 2x2 window:
      // 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24, 5+6+8+9 = 28.
      {"Conv_box_2x2",
       "Conv",
       11,
       {},
       {Iota({1, 1, 3, 3}, 1), F({1, 1, 2, 2}, {1, 1, 1, 1})},
       {F({1, 1, 2, 2}, {12, 16, 24, 28})}},
      // 3x3 box, pads 1, stride 2: windows centred on (0,0), (0,2), (2,0), (2,2) see the same
      // 2x2 corners as above; bias 1 is added.
      {"Conv_pads_stride_bias",
       "Conv",
       11,
       All({Ints("pads", {1, 1, 1, 1}), Ints("strides", {2, 2})}),
       {Iota({1, 1, 3, 3}, 1), F({1, 1, 3, 3}, std::vector<float>(9, 1)), F({1}, {1})},
       {F({1, 1, 2, 2}, {13, 17, 25, 29})}},
      // Depthwise (group = 2): channel 0 scaled by 2, channel 1 by -1.
      {"Conv_group_depthwise",
       "Conv",
       11,
       Int("group", 2),
       {F({1, 2, 1, 2}, {1, 2, 3, 4}), F({2, 1, 1, 1}, {2, -1})},
       {F({1, 2, 1, 2}, {2, 4, -3, -4})}},
      // ConvTranspose of {1,2;3,4} with a 2x2 box of ones: each input spreads onto a 2x2 patch.
      {"ConvTranspose_box",
       "ConvTranspose",
       11,
       {},
       {F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1, 1, 2, 2}, {1, 1, 1, 1})},
       {F({1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4})}},
      // Col2Im, 1-D: image [3], blocks of 2, rows k0 = {1 2}, k1 = {3 4}; pixel = block + k:
      // {1, 2 + 3, 4}.
      {"Col2Im_1d_overlap",
       "Col2Im",
       18,
       {},
       {F({1, 2, 2}, {1, 2, 3, 4}), I64({1}, {3}), I64({1}, {2})},
       {F({1, 1, 3}, {1, 5, 4})}},
      // pads 1 on both sides: 4 blocks at -1..2; pixel = block - 1 + k. k0 = {1 2 3 4},
      // k1 = {5 6 7 8}: {2 + 5, 3 + 6, 4 + 7}; 1 (at -1) and 8 (at 3) fall in the padding.
      {"Col2Im_1d_pads",
       "Col2Im",
       18,
       Ints("pads", {1, 1}),
       {F({1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), I64({1}, {3}), I64({1}, {2})},
       {F({1, 1, 3}, {7, 9, 11})}},
      // 2-D, image [2, 4], blocks [1, 2], strides [1, 2]: four disjoint blocks. k0 = {1 2 3 4}
      // fills even columns, k1 = {5 6 7 8} odd ones.
      {"Col2Im_2d_strides",
       "Col2Im",
       18,
       Ints("strides", {1, 2}),
       {F({1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), I64({2}, {2, 4}), I64({2}, {1, 2})},
       {F({1, 1, 2, 4}, {1, 5, 2, 6, 3, 7, 4, 8})}},
      // DeformConv with zero offsets is Conv: a 2x2 box over {1 2; 3 4} plus bias 0.5.
      {"DeformConv_zero_offset_is_conv",
       "DeformConv",
       19,
       {},
       {F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1, 1, 2, 2}, {1, 1, 1, 1}),
        F({1, 8, 1, 1}, {0, 0, 0, 0, 0, 0, 0, 0}), F({1}, {0.5f})},
       {F({1, 1, 1, 1}, {10.5f})}},
      // 1x1 kernel (weight 2) over the row {4 10 20}, w offsets {-0.5, 0.25, 1}: samples at
      // -0.5 (half of 4, the other neighbour is outside: 2), 1.25 (0.75 * 10 + 0.25 * 20 = 12.5)
      // and 3 (outside: 0); times 2, times mask {1, 0.5, 1}, plus bias 1: {5, 13.5, 1}.
      {"DeformConv_fractional_offsets_mask",
       "DeformConv",
       22,
       {},
       {F({1, 1, 1, 3}, {4, 10, 20}), F({1, 1, 1, 1}, {2}),
        F({1, 2, 1, 3}, {0, 0, 0, -0.5f, 0.25f, 1}), F({1}, {1}), F({1, 1, 1, 3}, {1, 0.5f, 1})},
       {F({1, 1, 1, 3}, {5, 13.5f, 1})}},

      // Pooling over 0..15 as [1,1,4,4], 2x2 windows, stride 2.
      {"MaxPool_2x2",
       "MaxPool",
       12,
       All({Ints("kernel_shape", {2, 2}), Ints("strides", {2, 2})}),
       {Iota({1, 1, 4, 4})},
       {F({1, 1, 2, 2}, {5, 7, 13, 15})}},
      // (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, (8+9+12+13)/4 = 10.5, (10+11+14+15)/4 = 12.5.
      {"AveragePool_2x2",
       "AveragePool",
       11,
       All({Ints("kernel_shape", {2, 2}), Ints("strides", {2, 2})}),
       {Iota({1, 1, 4, 4})},
       {F({1, 1, 2, 2}, {2.5f, 4.5f, 10.5f, 12.5f})}},
      // Pads excluded from the count (count_include_pad = 0): the corner window over {0} and
      // padding averages to 0, the next one over {1, 2} to 1.5.
      {"AveragePool_pads_exclude",
       "AveragePool",
       11,
       All({Ints("kernel_shape", {1, 2}), Ints("strides", {1, 2}), Ints("pads", {0, 1, 0, 1})}),
       {F({1, 1, 1, 4}, {0, 1, 2, 3})},
       {F({1, 1, 1, 3}, {0, 1.5f, 3})}},
      {"GlobalAveragePool",
       "GlobalAveragePool",
       1,
       {},
       {F({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40})},
       {F({1, 2, 1, 1}, {2.5f, 25})}},
      {"GlobalMaxPool",
       "GlobalMaxPool",
       1,
       {},
       {F({1, 2, 1, 2}, {1, -2, -3, -4})},
       {F({1, 2, 1, 1}, {1, -3})}},

      // Matrix products. [1 2 3; 4 5 6] x [7 8; 9 10; 11 12] = [58 64; 139 154].
      {"MatMul_2d",
       "MatMul",
       13,
       {},
       {m23, F({3, 2}, {7, 8, 9, 10, 11, 12})},
       {F({2, 2}, {58, 64, 139, 154})}},
      // Batched [2,1,2] x [2,1] (broadcast): {1,2}.{1,1} = 3, {3,4}.{1,1} = 7.
      {"MatMul_batched_broadcast",
       "MatMul",
       13,
       {},
       {F({2, 1, 2}, {1, 2, 3, 4}), F({2, 1}, {1, 1})},
       {F({2, 1, 1}, {3, 7})}},
      {"MatMul_1d_vector",
       "MatMul",
       13,
       {},
       {F({3}, {1, 2, 3}), F({3, 1}, {1, 0, -1})},
       {F({1}, {-2})}},
      // 2 * ({1,2} x [1 2; 3 4]^T) + {1,1} = 2 * {5, 11} + 1 = {11, 23}.
      {"Gemm_transB_alpha_bias",
       "Gemm",
       13,
       All({Int("transB", 1), Float("alpha", 2)}),
       {F({1, 2}, {1, 2}), F({2, 2}, {1, 2, 3, 4}), F({2}, {1, 1})},
       {F({1, 2}, {11, 23})}},
      // (uint8 {3,4} - 1) . (uint8 {2;5} - 0) = 2*2 + 3*5 = 19.
      {"MatMulInteger_zero_point",
       "MatMulInteger",
       10,
       {},
       {U8({1, 2}, {3, 4}), U8({2, 1}, {2, 5}), U8({}, {1})},
       {I32({1, 1}, {19})}},
      {"Einsum_matmul",
       "Einsum",
       12,
       Str("equation", "ij,jk->ik"),
       {m23, F({3, 2}, {7, 8, 9, 10, 11, 12})},
       {F({2, 2}, {58, 64, 139, 154})}},

      // Reductions over [1 2 3; 4 5 6].
      {"ReduceSum_axes_input",
       "ReduceSum",
       13,
       Int("keepdims", 0),
       {m23, I64({1}, {1})},
       {F({2}, {6, 15})}},
      {"ReduceMean_keepdims",
       "ReduceMean",
       13,
       Ints("axes", {0}),
       {m23},
       {F({1, 3}, {2.5f, 3.5f, 4.5f})}},
      {"ReduceMax_all", "ReduceMax", 13, Int("keepdims", 0), {m23}, {F({}, {6})}},
      // ReduceMax/ReduceMin-20 on bool: any / all per row ([[T, F], [F, F]] over axis 1).
      {"ReduceMax_bool_opset20",
       "ReduceMax",
       20,
       Int("keepdims", 0),
       {B({2, 2}, {true, false, false, false}), I64({1}, {1})},
       {B({2}, {true, false})}},
      {"ReduceMin_bool_opset20",
       "ReduceMin",
       20,
       Int("keepdims", 0),
       {B({2, 2}, {true, true, true, false}), I64({1}, {1})},
       {B({2}, {true, false})}},
      // The empty set: max gives false, min gives true.
      {"ReduceMax_bool_empty_opset20",
       "ReduceMax",
       20,
       {},
       {B({2, 0}, {}), I64({1}, {1})},
       {B({2, 1}, {false, false})}},
      {"ReduceMin_axis",
       "ReduceMin",
       13,
       All({Ints("axes", {1}), Int("keepdims", 0)}),
       {m23},
       {F({2}, {1, 4})}},
      {"ReduceProd",
       "ReduceProd",
       13,
       All({Ints("axes", {1}), Int("keepdims", 0)}),
       {m23},
       {F({2}, {6, 120})}},
      // sqrt(3^2 + 4^2) = 5.
      {"ReduceL2", "ReduceL2", 13, Int("keepdims", 0), {F({2}, {3, 4})}, {F({}, {5})}, 1e-6},
      // log(e^0 + e^ln3) = log 4.
      {"ReduceLogSumExp",
       "ReduceLogSumExp",
       13,
       Int("keepdims", 0),
       {F({2}, {0, ln3})},
       {F({}, {2 * ln2})},
       1e-6},
      {"ArgMax_axis1",
       "ArgMax",
       13,
       All({Int("axis", 1), Int("keepdims", 0)}),
       {F({2, 3}, {1, 9, 3, 7, 5, 6})},
       {I64({2}, {1, 0})}},
      // Ties: the first index unless select_last_index.
      {"ArgMin_select_last_index",
       "ArgMin",
       13,
       All({Int("axis", 0), Int("select_last_index", 1)}),
       {F({4}, {2, 1, 3, 1})},
       {I64({1}, {3})}},

      // Softmax: exp {0, ln2, ln5} = {1, 2, 5}, sum 8.
      {"Softmax_last_axis",
       "Softmax",
       13,
       {},
       {F({1, 3}, {0, ln2, ln5})},
       {F({1, 3}, {0.125f, 0.25f, 0.625f})},
       1e-6},
      // bfloat16 rounds every numpy step as ONNX's reference does (by hand, 8-bit significands):
      // exp {-2, -1, 0} = {0.1357421875, 0.3671875, 1}; the sum rounds after each addition,
      // 0.5029296875 -> 0.50390625, 1.50390625 -> 1.5 (tie to even); then / 1.5 rounds to
      // {0.09033203125, 0.2451171875, 0.66796875}. Double-then-round would give 0.08984375 first.
      {"Softmax_bfloat16_rounds_each_step",
       "Softmax",
       13,
       {},
       {BF16({1, 3}, {0, 1, 2})},
       {BF16({1, 3}, {0.09033203125f, 0.2451171875f, 0.66796875f})},
       0},
      // float16 along the contiguous axis: exp rounds to {0.1353759765625, 0.367919921875, 1},
      // numpy sums them in float (1.5032958984375) and rounds once (1.5029296875), then divides.
      {"Softmax_float16_contiguous_sum",
       "Softmax",
       13,
       {},
       {F16({1, 3}, {0, 1, 2})},
       {F16({1, 3}, {0.090087890625f, 0.2447509765625f, 0.66552734375f})},
       0},
      // float16 along a strided axis: numpy adds element by element in float16 (values from
      // numpy; column 0's last element is 0.5302734375 when computed in double).
      {"Softmax_float16_strided_axis",
       "Softmax",
       13,
       Int("axis", 0),
       {F16({4, 2}, {0.1f, 0, 1.3f, 1, 2.7f, 2, 3.1f, 3})},
       {F16({4, 2}, {0.0264129638671875f, 0.03204345703125f, 0.08770751953125f, 0.087158203125f,
                     0.35546875f, 0.2369384765625f, 0.53076171875f, 0.64404296875f})},
       0},
      {"LogSoftmax",
       "LogSoftmax",
       13,
       {},
       {F({1, 2}, {0, ln3})},
       {F({1, 2}, {std::log(0.25f), std::log(0.75f)})},
       1e-6},

      // Shape manipulation.
      {"Reshape_infer_dim",
       "Reshape",
       14,
       {},
       {m23, I64({2}, {3, -1})},
       {F({3, 2}, {1, 2, 3, 4, 5, 6})}},
      {"Transpose_2d",
       "Transpose",
       13,
       Ints("perm", {1, 0}),
       {m23},
       {F({3, 2}, {1, 4, 2, 5, 3, 6})}},
      {"Concat_axis0",
       "Concat",
       13,
       Int("axis", 0),
       {F({1, 2}, {1, 2}), F({2, 2}, {3, 4, 5, 6})},
       {F({3, 2}, {1, 2, 3, 4, 5, 6})}},
      {"Split_sizes_input",
       "Split",
       13,
       {},
       {Iota({6}), I64({2}, {2, 4})},
       {F({2}, {0, 1}), F({4}, {2, 3, 4, 5})}},
      // Rows 0..1 of 0..7 as [2,4], columns 1..2.
      {"Slice_axes",
       "Slice",
       13,
       {},
       {Iota({2, 4}), I64({1}, {1}), I64({1}, {3}), I64({1}, {1})},
       {F({2, 2}, {1, 2, 5, 6})}},
      {"Slice_negative_step",
       "Slice",
       13,
       {},
       {Iota({4}), I64({1}, {-1}), I64({1}, {INT64_MIN}), I64({1}, {0}), I64({1}, {-2})},
       {F({2}, {3, 1})}},
      {"Squeeze_axes_input",
       "Squeeze",
       13,
       {},
       {F({1, 3, 1}, {1, 2, 3}), I64({2}, {0, 2})},
       {F({3}, {1, 2, 3})}},
      {"Unsqueeze_negative_axis",
       "Unsqueeze",
       13,
       {},
       {F({3}, {1, 2, 3}), I64({1}, {-1})},
       {F({3, 1}, {1, 2, 3})}},
      {"Flatten_axis1", "Flatten", 13, Int("axis", 1), {Iota({2, 3, 2})}, {Iota({2, 6})}},
      {"Expand_broadcast",
       "Expand",
       13,
       {},
       {F({3, 1}, {1, 2, 3}), I64({2}, {3, 2})},
       {F({3, 2}, {1, 1, 2, 2, 3, 3})}},
      // A zero-size leading dim: nothing to copy (used to divide by zero walking the odometer).
      {"Expand_to_zero_rows",
       "Expand",
       13,
       {},
       {F({1, 3}, {1, 2, 3}), I64({2}, {0, 3})},
       {F({0, 3}, {})}},
      {"Tile", "Tile", 13, {}, {F({2}, {1, 2}), I64({1}, {3})}, {F({6}, {1, 2, 1, 2, 1, 2})}},
      {"Shape", "Shape", 13, {}, {m23}, {I64({2}, {2, 3})}},
      {"Size", "Size", 13, {}, {m23}, {I64({}, {6})}},
      {"Pad_constant",
       "Pad",
       13,
       {},
       {F({2}, {1, 2}), I64({2}, {1, 1}), F({}, {-1})},
       {F({4}, {-1, 1, 2, -1})}},
      // reflect: {1,2,3,4} padded 2 before, 1 after -> 3 2 | 1 2 3 4 | 3.
      {"Pad_reflect",
       "Pad",
       13,
       Str("mode", "reflect"),
       {F({4}, {1, 2, 3, 4}), I64({2}, {2, 1})},
       {F({7}, {3, 2, 1, 2, 3, 4, 3})}},
      // SpaceToDepth, blocksize 2, of two 2x2 channels c0 = [[0 1] [2 3]], c1 = [[4 5] [6 7]].
      // DCR: output channel (by * 2 + bx) * 2 + c -> 0 4 1 5 2 6 3 7.
      {"SpaceToDepth_dcr_opset28",
       "SpaceToDepth",
       28,
       Int("blocksize", 2),
       {Iota({1, 2, 2, 2})},
       {F({1, 8, 1, 1}, {0, 4, 1, 5, 2, 6, 3, 7})}},
      // CRD: output channel c * 4 + by * 2 + bx -> 0 1 2 3 4 5 6 7.
      {"SpaceToDepth_crd_opset28",
       "SpaceToDepth",
       28,
       All({Int("blocksize", 2), Str("mode", "CRD")}),
       {Iota({1, 2, 2, 2})},
       {F({1, 8, 1, 1}, {0, 1, 2, 3, 4, 5, 6, 7})}},
      // DepthToSpace DCR, blocksize 2: channels {a, b, c, d} (one pixel) -> [[a b] [c d]].
      {"DepthToSpace_dcr",
       "DepthToSpace",
       13,
       Int("blocksize", 2),
       {F({1, 4, 1, 1}, {1, 2, 3, 4})},
       {F({1, 1, 2, 2}, {1, 2, 3, 4})}},

      // Gather and scatter.
      {"Gather_axis0",
       "Gather",
       13,
       {},
       {F({3, 2}, {1, 2, 3, 4, 5, 6}), I64({2}, {2, 0})},
       {F({2, 2}, {5, 6, 1, 2})}},
      {"Gather_negative_index_axis1",
       "Gather",
       13,
       Int("axis", 1),
       {F({3, 2}, {1, 2, 3, 4, 5, 6}), I64({1}, {-1})},
       {F({3, 1}, {2, 4, 6})}},
      {"GatherElements_axis1",
       "GatherElements",
       13,
       Int("axis", 1),
       {F({2, 2}, {1, 2, 3, 4}), I64({2, 2}, {0, 0, 1, 0})},
       {F({2, 2}, {1, 1, 4, 3})}},
      {"GatherND",
       "GatherND",
       13,
       {},
       {F({2, 2}, {0, 1, 2, 3}), I64({2, 2}, {0, 0, 1, 1})},
       {F({2}, {0, 3})}},
      // TensorScatter-24 along axis -2 (= 1) of caches [0 1 2] and [3 4 5]: batch 0 writes 7
      // at 2, batch 1 writes 8 at 0.
      {"TensorScatter_linear",
       "TensorScatter",
       24,
       {},
       {Iota({2, 3, 1}), F({2, 1, 1}, {7, 8}), I64({2}, {2, 0})},
       {F({2, 3, 1}, {0, 1, 7, 8, 4, 5})}},
      // Circular: batch 0 writes 1, 2 at 1, 2; batch 1 writes 3, 4 at 2 and (wrapping) 0.
      {"TensorScatter_circular",
       "TensorScatter",
       24,
       Str("mode", "circular"),
       {F({2, 3, 1}, {0, 0, 0, 0, 0, 0}), F({2, 2, 1}, {1, 2, 3, 4}), I64({2}, {1, 2})},
       {F({2, 3, 1}, {0, 1, 2, 4, 0, 3})}},
      // ONNX's own example: [[1,2,3,4,5]], indices [[1,3]], updates [[1.1,2.1]].
      {"ScatterElements_axis1",
       "ScatterElements",
       13,
       Int("axis", 1),
       {F({1, 5}, {1, 2, 3, 4, 5}), I64({1, 2}, {1, 3}), F({1, 2}, {1.1f, 2.1f})},
       {F({1, 5}, {1, 1.1f, 3, 2.1f, 5})}},
      {"ScatterND",
       "ScatterND",
       13,
       {},
       {Iota({8}, 1), I64({4, 1}, {4, 3, 1, 7}), F({4}, {9, 10, 11, 12})},
       {F({8}, {1, 11, 3, 10, 9, 6, 7, 12})}},
      {"NonZero", "NonZero", 13, {}, {F({4}, {0, 1, 0, 2})}, {I64({1, 2}, {1, 3})}},
      // K = 2 largest of {3,1,4,1,5}: 5 at 4, 4 at 2.
      {"TopK_largest",
       "TopK",
       11,
       {},
       {F({5}, {3, 1, 4, 1, 5}), I64({1}, {2})},
       {F({2}, {5, 4}), I64({2}, {4, 2})}},
      // CumProd-26 along axis 1 of [[1, 2, 3], [4, 5, 6]]: [[1, 2, 6], [4, 20, 120]].
      {"CumProd_axis1", "CumProd", 26, {}, {m23, I64({}, {1})}, {F({2, 3}, {1, 2, 6, 4, 20, 120})}},
      // int32, exclusive and reverse: from the end, starting at 1: [3*4, 4, 1] = [12, 4, 1].
      {"CumProd_int32_exclusive_reverse",
       "CumProd",
       26,
       All({Int("exclusive", 1), Int("reverse", 1)}),
       {I32({3}, {2, 3, 4}), I32({}, {0})},
       {I32({3}, {12, 4, 1})}},
      {"CumSum_exclusive_reverse",
       "CumSum",
       14,
       All({Int("exclusive", 1), Int("reverse", 1)}),
       {F({3}, {1, 2, 3}), I64({}, {0})},
       {F({3}, {5, 3, 0})}},
      {"Range_float", "Range", 11, {}, {F({}, {1}), F({}, {6}), F({}, {2})}, {F({3}, {1, 3, 5})}},
      {"OneHot",
       "OneHot",
       11,
       {},
       {I64({2}, {0, 2}), I64({}, {3}), F({2}, {0, 5})},
       {F({2, 3}, {5, 0, 0, 0, 0, 5})}},

      // Resize. Nearest, scales 2, half_pixel: output x maps to (x + 0.5) / 2 - 0.5 =
      // -0.25, 0.25, 0.75, 1.25 -> round_prefer_floor -> 0, 0, 1, 1.
      {"Resize_nearest_scales",
       "Resize",
       13,
       Str("mode", "nearest"),
       {F({1, 1, 2, 2}, {1, 2, 3, 4}), std::nullopt, F({4}, {1, 1, 2, 2})},
       {F({1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4})}},
      // Linear, align_corners, sizes 4: x maps to x * (2 - 1) / (4 - 1), between 0 and 3.
      {"Resize_linear_align_corners",
       "Resize",
       13,
       All({Str("mode", "linear"), Str("coordinate_transformation_mode", "align_corners")}),
       {F({1, 1, 1, 2}, {0, 3}), std::nullopt, std::nullopt, I64({4}, {1, 1, 1, 4})},
       {F({1, 1, 1, 4}, {0, 1, 2, 3})},
       1e-6},
      // Integer outputs round half to even: half_pixel maps outputs to -0.25, 0.25, 0.75, 1.25,
      // i.e. 0, 0.5, 1.5, 2 between {0, 2} -> 0, 0, 2, 2 (truncation would give 0, 0, 1, 2).
      {"Resize_linear_uint8_rounds_half_even",
       "Resize",
       13,
       Str("mode", "linear"),
       {U8({2}, {0, 2}), std::nullopt, F({1}, {2})},
       {U8({4}, {0, 0, 2, 2})}},
      // Resize-18 axes: only the last axis doubles (asymmetric nearest repeats each element).
      {"Resize_18_axes",
       "Resize",
       18,
       All({Ints("axes", {3}), Str("coordinate_transformation_mode", "asymmetric")}),
       {Iota({1, 1, 2, 2}, 1), std::nullopt, F({1}, {2})},
       {F({1, 1, 2, 4}, {1, 1, 2, 2, 3, 3, 4, 4})}},
      // not_larger: sizes [1,1,1,3] of [1,1,2,4] -> one scale min(1, 1, 0.5, 0.75) = 0.5 for all
      // axes, output [1,1,int(1.5),int(2.5)] = [1,1,1,2]; half_pixel maps to 0.5 and 2.5, which
      // round_prefer_floor picks as 0 and 2: elements 1 and 3 of 1..8.
      {"Resize_18_keep_aspect_ratio_not_larger",
       "Resize",
       18,
       Str("keep_aspect_ratio_policy", "not_larger"),
       {Iota({1, 1, 2, 4}, 1), std::nullopt, std::nullopt, I64({4}, {1, 1, 1, 3})},
       {F({1, 1, 1, 2}, {1, 3})}},
      // Antialiased linear at scale 0.5: the tent is twice as wide, taps i - 0.5 for i in -1..2
      // scaled by 0.5 give weights {0.25, 0.75, 0.75, 0.25} / 2. Output 0 (x_ori 0.5) reads
      // {1, 1, 2, 3} (edge-clamped) = 1.625; output 1 (x_ori 2.5) reads {2, 3, 4, 4} = 3.375.
      // Plain linear would give 1.5 and 3.5.
      {"Resize_18_linear_antialias",
       "Resize",
       18,
       All({Str("mode", "linear"), Int("antialias", 1)}),
       {Iota({4}, 1), std::nullopt, F({1}, {0.5f})},
       {F({2}, {1.625f, 3.375f})},
       1e-6},
      // half_pixel_symmetric at scale 0.6 on length 4: output length floor(2.4) = 2, offset
      // 2 * (1 - 2 / 2.4) = 1/3, so x_ori = 1/3 + (x + 0.5) / 0.6 - 0.5 = 2/3 and 7/3:
      // 1 + 2/3 and 1 + 7/3 (half_pixel would give 1 + 1/3 and 3).
      {"Resize_19_half_pixel_symmetric",
       "Resize",
       19,
       All({Str("mode", "linear"), Str("coordinate_transformation_mode", "half_pixel_symmetric")}),
       {Iota({4}, 1), std::nullopt, F({1}, {0.6f})},
       {F({2}, {5.0f / 3, 10.0f / 3})},
       1e-6},

      // GridSample-20, one spatial axis, align_corners: g = -1, 0.5 map to x = 0, 1.5 of
      // {0, 10, 20} -> 0, 15.
      {"GridSample_20_linear_1d",
       "GridSample",
       20,
       Int("align_corners", 1),
       {F({1, 1, 3}, {0, 10, 20}), F({1, 2, 1}, {-1, 0.5f})},
       {F({1, 1, 2}, {0, 15})}},
      // Trilinear on X[z][y][x] = 4z + 2y + x (2x2x2, align_corners): trilinear reproduces a
      // linear function, so grid (x, y, z) = (0, 0, 0) -> index (0.5, 0.5, 0.5) -> 3.5 and
      // (1, -1, -0.5) -> (1, 0, 0.25) -> 2.
      {"GridSample_20_trilinear_5d",
       "GridSample",
       20,
       Int("align_corners", 1),
       {Iota({1, 1, 2, 2, 2}), F({1, 1, 1, 2, 3}, {0, 0, 0, 1, -1, -0.5f})},
       {F({1, 1, 1, 1, 2}, {3.5f, 2})}},
      // Nearest copies any element type; along x (length 2, align_corners 0) g = 1 maps to 1.5,
      // which rounds half to even to 2: outside, so zeros padding reads 0; g = 0 maps to 0.5 ->
      // 0 -> 7. The length-1 axes map g = 0 to 0.
      {"GridSample_20_nearest_int32_5d",
       "GridSample",
       20,
       Str("mode", "nearest"),
       {I32({1, 1, 1, 1, 2}, {7, 9}), F({1, 1, 1, 2, 3}, {1, 0, 0, 0, 0, 0})},
       {I32({1, 1, 1, 1, 2}, {0, 7})}},
      // Cubic (Keys, A = -0.75) reproduces the linear {0, 1, 2, 3} inside: g = 0 -> x = 1.5 with
      // weights {-0.09375, 0.59375, 0.59375, -0.09375} -> 1.5; g = -1 -> x = 0 exactly -> 0.
      {"GridSample_20_cubic_1d",
       "GridSample",
       20,
       All({Str("mode", "cubic"), Int("align_corners", 1), Str("padding_mode", "border")}),
       {Iota({1, 1, 4}), F({1, 2, 1}, {0, -1})},
       {F({1, 1, 2}, {1.5f, 0})}},

      // String ops (opset 20). StringConcat broadcasts like any binary op.
      {"StringConcat_broadcast",
       "StringConcat",
       20,
       {},
       {S({2}, {"a", "b\xc3\xa9"}), S({}, {"!"})},
       {S({2}, {"a!", "b\xc3\xa9!"})}},
      // No delimiter: whitespace runs separate (U+00A0 is whitespace, as in Python), maxsplit 1
      // keeps the rest with its trailing space; "" has no pieces. Padded with "" to 2 pieces.
      {"StringSplit_whitespace_maxsplit",
       "StringSplit",
       20,
       Int("maxsplit", 1),
       {S({3}, {"  a b  c ", "\xc2\xa0x", ""})},
       {S({3, 2}, {"a", "b  c ", "x", "", "", ""}), I64({3}, {2, 1, 0})}},
      // A delimiter separates at every occurrence, so consecutive ones give empty pieces.
      {"StringSplit_delimiter",
       "StringSplit",
       20,
       Str("delimiter", "--"),
       {S({2}, {"a----b", "--"})},
       {S({2, 3}, {"a", "", "b", "", "", ""}), I64({2}, {3, 2})}},
      // Full match, not search: "aabb" has a second b. RE2's \w is ASCII ("é" is not a word
      // character there, unlike in Python's re).
      {"RegexFullMatch_re2",
       "RegexFullMatch",
       20,
       Str("pattern", "a+b?|\\w+_\\d"),
       {S({2, 3}, {"aab", "aabb", "", "x_1", "\xc3\xa9_1", "a"})},
       {B({2, 3}, {true, false, false, true, false, true})}},

      // ImageDecoder on a 2x1 binary PNM (P6) with pixels (255, 0, 0) and (0, 153, 85).
      // Grayscale is Pillow's luma (19595 R + 38470 G + 7471 B + 0x8000) >> 16: 76 and 100
      // (OpenCV's own BGR2GRAY and a truncated 0.299/0.587/0.114 both give 99 for the second).
      {"ImageDecoder_pnm_rgb",
       "ImageDecoder",
       20,
       {},
       {Bytes("P6\n2 1\n255\n\xff\x00\x00\x00\x99\x55"s)},
       {U8({1, 2, 3}, {255, 0, 0, 0, 153, 85})}},
      {"ImageDecoder_pnm_bgr",
       "ImageDecoder",
       20,
       Str("pixel_format", "BGR"),
       {Bytes("P6\n2 1\n255\n\xff\x00\x00\x00\x99\x55"s)},
       {U8({1, 2, 3}, {0, 0, 255, 85, 153, 0})}},
      {"ImageDecoder_pnm_grayscale",
       "ImageDecoder",
       20,
       Str("pixel_format", "Grayscale"),
       {Bytes("P6\n2 1\n255\n\xff\x00\x00\x00\x99\x55"s)},
       {U8({1, 2, 1}, {76, 100})}},

      // Casts: float -> int truncates toward zero; nonzero -> true.
      // BitCast-26 keeps the bits: 1.0f = 0x3F800000 = 1065353216, -2.0f = 0xC0000000.
      {"BitCast_float_to_int32",
       "BitCast",
       26,
       Int("to", onnx::TensorProto::INT32),
       {F({2}, {1, -2})},
       {I32({2}, {1065353216, -1073741824})}},
      // int8 -1 and -128 are the bytes 0xFF and 0x80.
      {"BitCast_int8_to_uint8",
       "BitCast",
       26,
       Int("to", onnx::TensorProto::UINT8),
       {I8({3}, {-1, -128, 5})},
       {U8({3}, {255, 128, 5})}},
      // 4-bit: uint4 15 = 0b1111 is int4 -1, 8 = 0b1000 is int4 -8, 7 stays 7.
      {"BitCast_uint4_to_int4",
       "BitCast",
       26,
       Int("to", onnx::TensorProto::INT4),
       {Codes(DType::kUInt4, {3}, {15, 8, 7})},
       {Codes(DType::kInt4, {3}, {0xFF, 0xF8, 7})}},
      // The byte 0x38 is float8e4m3fn 1.0.
      {"BitCast_uint8_to_float8e4m3fn",
       "BitCast",
       26,
       Int("to", onnx::TensorProto::FLOAT8E4M3FN),
       {U8({2}, {0x38, 0xC0})},
       {Codes(DType::kFloat8E4M3FN, {2}, {0x38, 0xC0})}},
      {"Cast_float_to_int32",
       "Cast",
       13,
       Int("to", onnx::TensorProto::INT32),
       {F({3}, {1.7f, -1.7f, 2.5f})},
       {I32({3}, {1, -1, 2})}},
      {"Cast_float_to_bool",
       "Cast",
       13,
       Int("to", onnx::TensorProto::BOOL),
       {F({2}, {0, 0.5f})},
       {B({2}, {false, true})}},
      {"Cast_int64_to_float",
       "Cast",
       13,
       Int("to", onnx::TensorProto::FLOAT),
       {I64({2}, {-3, 1 << 20})},
       {F({2}, {-3, 1 << 20})}},

      // float8 E4M3FN: max 448 = 0x7E, NaN 0x7F/0xFF, no infinity, smallest subnormal 2^-9 = 0x01.
      // Saturating (the default): 1000 -> 448; 464 is halfway between 448 (mantissa 110) and
      // 480 (111) and rounds to the even 448.
      {"Cast_float_to_float8e4m3fn_saturates",
       "Cast",
       19,
       Int("to", onnx::TensorProto::FLOAT8E4M3FN),
       {F({6}, {448, 1000, -1000, 464, kNaN, 0.001953125f})},
       {Codes(DType::kFloat8E4M3FN, {6}, {0x7E, 0x7E, 0xFE, 0x7E, 0x7F, 0x01})}},
      // saturate=0: overflow becomes NaN (the type has no inf); 470 rounds up to 480 > 448.
      {"Cast_float_to_float8e4m3fn_no_saturate",
       "Cast",
       19,
       All({Int("to", onnx::TensorProto::FLOAT8E4M3FN), Int("saturate", 0)}),
       {F({5}, {448, 1000, -1000, 470, kInf})},
       {Codes(DType::kFloat8E4M3FN, {5}, {0x7E, 0x7F, 0xFF, 0x7F, 0x7F})}},
      // E5M2 has inf (0x7C): 61440 is halfway between 57344 (max, 0x7B) and 65536, rounds to the
      // even 65536 and overflows to inf; 1e-9 underflows to +0.
      {"Cast_float_to_float8e5m2_no_saturate",
       "Cast",
       19,
       All({Int("to", onnx::TensorProto::FLOAT8E5M2), Int("saturate", 0)}),
       {F({4}, {57344, 61440, -kInf, 1e-9f})},
       {Codes(DType::kFloat8E5M2, {4}, {0x7B, 0x7C, 0xFC, 0x00})}},
      // E4M3FNUZ: max 240 = 0x7F, the one NaN is 0x80, and -0 has no code: it becomes +0.
      {"Cast_float_to_float8e4m3fnuz",
       "Cast",
       19,
       Int("to", onnx::TensorProto::FLOAT8E4M3FNUZ),
       {F({4}, {240, -0.0f, kNaN, 300})},
       {Codes(DType::kFloat8E4M3FNUZ, {4}, {0x7F, 0x00, 0x80, 0x7F})}},
      // 0x08: exponent 1, mantissa 0 -> 2^(1-7); 0x38: exponent 7 -> 1; 0xC0: -2^(8-7).
      {"Cast_float8e4m3fn_to_float",
       "Cast",
       19,
       Int("to", onnx::TensorProto::FLOAT),
       {Codes(DType::kFloat8E4M3FN, {6}, {0x7E, 0xFE, 0x7F, 0x01, 0x08, 0xC0})},
       {F({6}, {448, -448, kNaN, 0.001953125f, 0.015625f, -2})}},
      // float -> int4 truncates toward zero and wraps: 9 = 0b1001 -> -7.
      {"Cast_float_to_int4_wraps",
       "Cast",
       21,
       Int("to", onnx::TensorProto::INT4),
       {F({4}, {7.9f, -8.5f, 9, -1.5f})},
       {Codes(DType::kInt4, {4}, {7, 0xF8, 0xF9, 0xFF})}},
      // E2M1 values 0, 0.5, 1, 1.5, 2, 3, 4, 6: ties go to the even mantissa (0.25 -> 0,
      // 0.75 -> 1, 2.5 -> 2, 5 -> 4) and overflow saturates (7 -> 6).
      {"Cast_float_to_float4e2m1",
       "Cast",
       23,
       Int("to", onnx::TensorProto::FLOAT4E2M1),
       {F({6}, {0.25f, 0.75f, 5, 7, -6, 2.5f})},
       {Codes(DType::kFloat4E2M1, {6}, {0x0, 0x2, 0x6, 0x7, 0xF, 0x4})}},
      // float6 E2M3 (sign bit 5, bias 1, max 7.5 = 0x1F) has no inf and no NaN: it saturates
      // even with saturate=0 (7.75 rounds up past max; -100, inf), NaN becomes -0 (0x20), and
      // ties go to the even code (3/16 -> 2/8 = 0x02, 2.375 -> 2.5 = 0x12).
      {"Cast_float_to_float6e2m3_saturates_always",
       "Cast",
       28,
       All({Int("to", onnx::TensorProto::FLOAT6E2M3), Int("saturate", 0)}),
       {F({6}, {7.75f, -100, kInf, kNaN, 0.1875f, 2.375f})},
       {Codes(DType::kFloat6E2M3, {6}, {0x1F, 0x3F, 0x1F, 0x20, 0x02, 0x12})}},
      // E3M2 (bias 3, max 28 = 0x1F): 30 is halfway 28/32 and rounds to the even 32, then
      // saturates; 26 is halfway 24/28: the even 24 (0x1E); 0.21875 is halfway between the
      // largest subnormal 3/16 and the smallest normal 0.25 (0x04).
      {"Cast_float_to_float6e3m2",
       "Cast",
       28,
       Int("to", onnx::TensorProto::FLOAT6E3M2),
       {F({5}, {30, 26, -kInf, 0.21875f, 1})},
       {Codes(DType::kFloat6E3M2, {5}, {0x1F, 0x1E, 0x3F, 0x04, 0x0C})}},
      {"Cast_float6e3m2_to_float",
       "Cast",
       28,
       Int("to", onnx::TensorProto::FLOAT),
       {Codes(DType::kFloat6E3M2, {5}, {0x1F, 0x3F, 0x01, 0x30, 0x20})},
       {F({5}, {28, -28, 0.0625f, -2, -0.0f})}},
      // E2M3 7.5 is halfway between E3M2 7 and 8: the even 8 (0x18); 1.875 halfway 1.75/2: 2.
      {"Cast_float6e2m3_to_float6e3m2",
       "Cast",
       28,
       Int("to", onnx::TensorProto::FLOAT6E3M2),
       {Codes(DType::kFloat6E2M3, {4}, {0x1F, 0x01, 0x0F, 0x3F})},
       {Codes(DType::kFloat6E3M2, {4}, {0x18, 0x02, 0x10, 0x38})}},
      // E8M0 keeps a power of two: 1.5 (guard bit set) rounds up to 2^1 = 128; 1.25 (guard 0)
      // stays 2^0 = 127; 0.75 = 1.5 * 2^-1 rounds to 2^0.
      {"Cast_float_to_float8e8m0_nearest",
       "Cast",
       24,
       All({Int("to", onnx::TensorProto::FLOAT8E8M0), Str("round_mode", "nearest")}),
       {F({3}, {1.5f, 1.25f, 0.75f})},
       {Codes(DType::kFloat8E8M0, {3}, {128, 127, 127})}},

      // float8 NaN codes (E4M3FN 0x7F/0xFF) and infinities (E5M2 0x7C/0xFC; 0x7B is the max).
      {"IsNaN_float8e4m3fn",
       "IsNaN",
       20,
       {},
       {Codes(DType::kFloat8E4M3FN, {3}, {0x7F, 0x38, 0xFF})},
       {B({3}, {true, false, true})}},
      {"IsInf_float8e5m2",
       "IsInf",
       20,
       Int("detect_negative", 0),
       {Codes(DType::kFloat8E5M2, {3}, {0x7C, 0x7B, 0xFC})},
       {B({3}, {true, false, false})}},
      // Inference-mode Dropout passes float8 through unchanged.
      {"Dropout_float8_passes_through",
       "Dropout",
       22,
       {},
       {Codes(DType::kFloat8E4M3FN, {2}, {0x38, 0xC0})},
       {Codes(DType::kFloat8E4M3FN, {2}, {0x38, 0xC0})}},

      // Quantization: y = saturate(round_half_even(x / scale) + zero_point).
      // x / 0.5 = 0, 0.5, 1.5, 2, 5, -2, 600 -> 0, 0, 2, 2, 5, -2, 600 -> +10 -> saturate.
      {"QuantizeLinear_uint8",
       "QuantizeLinear",
       13,
       {},
       {F({7}, {0, 0.25f, 0.75f, 1, 2.5f, -1, 300}), F({}, {0.5f}), U8({}, {10})},
       {U8({7}, {10, 10, 12, 12, 15, 8, 255})}},
      {"QuantizeLinear_int8_saturates",
       "QuantizeLinear",
       13,
       {},
       {F({2}, {-200, 1.5f}), F({}, {1}), I8({}, {0})},
       {I8({2}, {-128, 2})}},
      // (q - 10) * 0.5.
      {"DequantizeLinear_uint8",
       "DequantizeLinear",
       13,
       {},
       {U8({3}, {10, 12, 255}), F({}, {0.5f}), U8({}, {10})},
       {F({3}, {0, 1, 122.5f})}},
      // Blocked int4, block_size 2 along axis 1: row 0 uses scales (1, 0.5), zero points (0, 0);
      // row 1 scales (1, 2), zero points (1, -1): -4+1, -5+1, 20/2-1 = 9 -> 7, rint(3.5)-1 = 3.
      {"QuantizeLinear_int4_blocked",
       "QuantizeLinear",
       21,
       All({Int("axis", 1), Int("block_size", 2)}),
       {F({2, 4}, {0, 1, 2, 3, -4, -5, 20, 7}), F({2, 2}, {1, 0.5f, 1, 2}),
        Codes(DType::kInt4, {2, 2}, {0, 0, 1, 0xFF})},
       {Codes(DType::kInt4, {2, 4}, {0, 1, 4, 6, 0xFD, 0xFC, 7, 3})}},
      // float8: 1000 / 2 saturates to 448, -1 / 2 = -0.5 = 0xB0, NaN stays NaN.
      {"QuantizeLinear_float8e4m3fn_saturates",
       "QuantizeLinear",
       19,
       {},
       {F({3}, {1000, -1, kNaN}), F({}, {2}), Codes(DType::kFloat8E4M3FN, {}, {0})},
       {Codes(DType::kFloat8E4M3FN, {3}, {0x7E, 0xB0, 0x7F})}},
      {"QuantizeLinear_float8e4m3fn_no_saturate",
       "QuantizeLinear",
       19,
       Int("saturate", 0),
       {F({2}, {1000, -1}), F({}, {2}), Codes(DType::kFloat8E4M3FN, {}, {0})},
       {Codes(DType::kFloat8E4M3FN, {2}, {0x7F, 0xB0})}},
      // No zero point: output_dtype picks the type (uint4: 0..15).
      {"QuantizeLinear_output_dtype_uint4",
       "QuantizeLinear",
       21,
       Int("output_dtype", onnx::TensorProto::UINT4),
       {F({3}, {3, 40, -2}), F({}, {2})},
       {Codes(DType::kUInt4, {3}, {2, 15, 0})}},
      // 1, 448, -2 times 0.5.
      {"DequantizeLinear_float8e4m3fn",
       "DequantizeLinear",
       19,
       {},
       {Codes(DType::kFloat8E4M3FN, {3}, {0x38, 0x7E, 0xC0}), F({}, {0.5f})},
       {F({3}, {0.5f, 224, -1})}},
      // Per-axis uint4 along axis 0: (x - 8) * 1 and (x - 1) * 0.5.
      {"DequantizeLinear_uint4_axis",
       "DequantizeLinear",
       21,
       Int("axis", 0),
       {Codes(DType::kUInt4, {2, 2}, {0, 15, 8, 3}), F({2}, {1, 0.5f}),
        Codes(DType::kUInt4, {2}, {8, 1})},
       {F({2, 2}, {-8, 7, 3.5f, 1})}},

      // float6e2m3 with a zero point (added before rounding, saturate ignored): x / 2 + 1 =
      // 1, 2.25, 8.5 -> 7.5, -1.5 + 1 = -0.5 (0x24); NaN + 1 is NaN -> -0 (0x20).
      {"QuantizeLinear_float6e2m3_zero_point",
       "QuantizeLinear",
       28,
       Int("saturate", 0),
       {F({5}, {0, 2.5f, 15, -3, kNaN}), F({}, {2}), Codes(DType::kFloat6E2M3, {}, {0x08})},
       {Codes(DType::kFloat6E2M3, {5}, {0x08, 0x11, 0x1F, 0x24, 0x20})}},
      // Blocked float6e3m2, block_size 2 along axis 1, scales (1, 4) and (0.5, 100):
      // 1, 2, 40/4 = 10 (0x19), 100/4 = 25 -> halfway 24/28: 24 (0x1E); 3/0.5 = 6 (0x16),
      // -0.1/0.5 = -0.2 -> -0.1875 (0x23), 1000/100 = 10, -1e4/100 = -100 -> -28 (0x3F).
      {"QuantizeLinear_float6e3m2_blocked",
       "QuantizeLinear",
       28,
       All({Int("axis", 1), Int("block_size", 2),
            Int("output_dtype", onnx::TensorProto::FLOAT6E3M2)}),
       {F({2, 4}, {1, 2, 40, 100, 3, -0.1f, 1000, -1e4f}), F({2, 2}, {1, 4, 0.5f, 100})},
       {Codes(DType::kFloat6E3M2, {2, 4}, {0x0C, 0x10, 0x19, 0x1E, 0x16, 0x23, 0x19, 0x3F})}},
      // float6's zero point is subtracted (unlike float4's): (7.5 - 1) * 0.5, (-0.5 - 1) * 0.5,
      // per axis 0 then (1 - 0.125) * 4 and (0 - 0.125) * 4.
      {"DequantizeLinear_float6e2m3_axis_zero_point",
       "DequantizeLinear",
       28,
       Int("axis", 0),
       {Codes(DType::kFloat6E2M3, {2, 2}, {0x1F, 0x24, 0x08, 0x00}), F({2}, {0.5f, 4}),
        Codes(DType::kFloat6E2M3, {2}, {0x08, 0x01})},
       {F({2, 2}, {3.25f, -0.75f, 3.5f, -0.5f})}},

      // L2 over axis 0: column [3, 4] has norm 5; the zero column stays 0 (not 0/0).
      {"LpNormalization_zero_norm",
       "LpNormalization",
       22,
       All({Int("axis", 0), Int("p", 2)}),
       {F({2, 2}, {3, 0, 4, 0})},
       {F({2, 2}, {0.6f, 0, 0.8f, 0})}},
      // DFT-20 with the axis as input 2 (here 0, not the default -2): a length-2 DFT of rows
      // [1 2 3] and [4 5 6] is their sum and difference, imaginary parts 0.
      {"DFT_axis_input_opset20",
       "DFT",
       20,
       {},
       {Iota({2, 3, 1}, 1), std::nullopt, I64({}, {0})},
       {F({2, 3, 2}, {5, 0, 7, 0, 9, 0, -3, 0, -3, 0, -3, 0})},
       1e-6},
      // Inverse one-sided DFT (irfft): [1 2 3 4] has the spectrum [10, -2+2i, -2, -2-2i]; its
      // first 3 bins give back 4 real samples (default length 2 * (3 - 1)). The imaginary parts
      // of bins 0 and 2 (5 and 7 here) do not count.
      {"DFT_inverse_onesided_opset20",
       "DFT",
       20,
       All({Int("inverse", 1), Int("onesided", 1)}),
       {F({1, 3, 2}, {10, 5, -2, 2, -2, 7}), std::nullopt, I64({}, {1})},
       {F({1, 4, 1}, {1, 2, 3, 4})},
       1e-6},
      // Normalization: (x - mean) / sqrt(var + eps) * scale + bias, per channel:
      // (1 - 0) / 1 * 2 + 0.5 = 2.5 and (2 - 1) / 2 * 3 + 1 = 2.5 (eps 1e-5 within tol).
      {"BatchNormalization_inference",
       "BatchNormalization",
       15,
       {},
       {F({1, 2, 1, 1}, {1, 2}), F({2}, {2, 3}), F({2}, {0.5f, 1}), F({2}, {0, 1}), F({2}, {1, 4})},
       {F({1, 2, 1, 1}, {2.5f, 2.5f})},
       1e-4},
      // mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
      {"LayerNormalization_last_axis",
       "LayerNormalization",
       17,
       {},
       {F({1, 4}, {1, 2, 3, 4}), F({4}, {1, 1, 1, 1}), F({4}, {0, 0, 0, 0})},
       {F({1, 4}, {-1.5f / std::sqrt(1.25f + 1e-5f), -0.5f / std::sqrt(1.25f + 1e-5f),
                   0.5f / std::sqrt(1.25f + 1e-5f), 1.5f / std::sqrt(1.25f + 1e-5f)})},
       1e-5},
  };
}

// One-node model: inputs x0.. (omitted optionals become ""), outputs y0.. typed like `want`,
// without shapes, so that ref alone decides them.
Model OneNodeModel(const OpCase& c) {
  GraphBuilder b(c.name, c.opset);
  std::vector<std::string> ins, outs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i]) {
      ins.push_back("");
      continue;
    }
    ins.push_back("x" + std::to_string(i));
    b.Input(ins.back(), c.inputs[i]->dtype(), c.inputs[i]->shape());
  }
  for (size_t i = 0; i < c.want.size(); ++i) {
    outs.push_back("y" + std::to_string(i));
    b.Output(outs.back(), c.want[i].dtype(), {});
    // The output's rank is declared, its dims are left unknown: the kernel decides them.
    auto* shape = b.graph()
                      ->mutable_output(static_cast<int>(i))
                      ->mutable_type()
                      ->mutable_tensor_type()
                      ->mutable_shape();
    shape->clear_dim();
    for (size_t d = 0; d < c.want[i].shape().size(); ++d) shape->add_dim();
  }
  auto* n = b.Node(c.op, c.name, ins, outs);
  if (c.attrs) c.attrs(n);
  return b.Build();
}

class OpTable : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTable, Matches) {
  const OpCase& c = GetParam();
  Model model = OneNodeModel(c);
  std::map<std::string, Value> feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (c.inputs[i]) feeds["x" + std::to_string(i)] = *c.inputs[i];
  }
  std::vector<Value> got = Interpreter(model).Run(feeds);
  ASSERT_EQ(got.size(), c.want.size()) << c.op;
  for (size_t o = 0; o < c.want.size(); ++o) {
    const Tensor& w = c.want[o];
    const Tensor& g = got[o].tensor;
    ASSERT_EQ(g.dtype(), w.dtype()) << c.op << " output " << o;
    ASSERT_EQ(g.shape(), w.shape()) << c.op << " output " << o;
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (w.dtype() == DType::kString) {
        EXPECT_EQ(g.data<std::string>()[i], w.data<std::string>()[i])
            << c.op << " output " << o << " element " << i;
        continue;
      }
      double wv = w.GetDouble(i), gv = g.GetDouble(i);
      if (IsLowPrecision(w.dtype())) {
        EXPECT_EQ(static_cast<int>(g.codes()[i]), static_cast<int>(w.codes()[i]))
            << c.op << " output " << o << " element " << i;
      } else if (!IsFloating(w.dtype())) {
        EXPECT_EQ(gv, wv) << c.op << " output " << o << " element " << i;
      } else if (std::isnan(wv)) {
        EXPECT_TRUE(std::isnan(gv)) << c.op << " output " << o << " element " << i;
      } else if (std::isinf(wv)) {
        EXPECT_EQ(gv, wv) << c.op << " output " << o << " element " << i;
      } else {
        EXPECT_LE(std::fabs(gv - wv), c.tol * (1 + std::fabs(wv)))
            << c.op << " output " << o << " element " << i << ": want " << wv << ", got " << gv;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RefOps, OpTable, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           return info.param.name;
                         });

// The table keeps covering the 85 distinct ops it covers today (a case removed by accident
// shows up here).
TEST(OpTableCoverage, EightyFiveOps) {
  std::set<std::string> ops;
  for (const auto& c : Cases()) ops.insert(c.op);
  EXPECT_GE(ops.size(), 85u);
}

}  // namespace
}  // namespace concord::ref
