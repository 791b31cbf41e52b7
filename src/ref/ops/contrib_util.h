// Shared pieces of the com.microsoft kernels (contrib.cc, contrib_qlinear.cc): running an ONNX
// op's kernel from inside a contrib kernel, and per-tensor quantization in exact arithmetic.
//
// Many contrib ops are an ONNX op plus a little (FusedConv is Conv, an optional sum and an
// activation; QLinearAveragePool is AveragePool between dequantization and quantization). They
// run the registered ONNX kernel through RunKernel instead of carrying a second copy of it, so
// padding, auto_pad and ceil_mode mean the same thing in both.
//
// Quantization is per tensor and exact, with v and the division in double. ONNX Runtime rounds at
// one of two points, and a .5 tie with an odd zero point tells them apart, so each op names its
// own: kRoundThenShift is QuantizeLinear's saturate(round_half_even(v / scale) + zero_point)
// (ONNX Runtime's lookup-table ops and QLinearGlobalAveragePool), kShiftThenRound is
// saturate(round_half_even(v / scale + zero_point)) (QLinearAdd, QLinearMul, QLinearAveragePool).
// Dequantization is scale * (q - zero_point), exact in double for 8- and 16-bit values.
#pragma once

#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "ref/ops/common.h"

namespace concord::ref {

// A node for `op_type` (ONNX domain) with the calling node's name and every attribute of it
// except those in `drop`; RunKernel names its inputs and its one output.
onnx::NodeProto OnnxNode(const KernelContext& ctx, const std::string& op_type,
                         const std::set<std::string>& drop = {});

// A node for `op_type` (ONNX domain) with the calling node's name and no attributes.
onnx::NodeProto PlainNode(const KernelContext& ctx, const std::string& op_type);

// Runs the registered kernel for `node` at `opset` of its domain on `inputs` (nullptr for an
// omitted optional input), on the calling kernel's threads; only the first output is asked for.
// Fails naming the op when no kernel exists; errors of the inner kernel name the calling node.
std::vector<Value> RunKernel(const KernelContext& ctx, const onnx::NodeProto& node, int64_t opset,
                             const std::vector<const Value*>& inputs);

// A per-tensor scale or zero point: input i (scalar or one element) as a double, or `def` when
// the optional input is omitted. Fails for more than one element.
double ScalarInput(const KernelContext& ctx, size_t i, double def);

// Calls f(TypeTag<T>) for the 8- and 16-bit integer types the QLinear ops take.
template <typename F>
decltype(auto) DispatchQuantized(const KernelContext& ctx, DType dt, F&& f) {
  switch (dt) {
    case DType::kUInt8:
      return f(TypeTag<uint8_t>{});
    case DType::kInt8:
      return f(TypeTag<int8_t>{});
    case DType::kUInt16:
      return f(TypeTag<uint16_t>{});
    case DType::kInt16:
      return f(TypeTag<int16_t>{});
    default:
      ctx.Unsupported("element type {} (uint8, int8, uint16, int16 only)", DTypeName(dt));
  }
}

enum class Rounding { kRoundThenShift, kShiftThenRound };

template <typename T>
T Quantize(double v, double scale, double zero_point, Rounding rounding) {
  // std::nearbyint in the default rounding mode: half to even.
  double q = rounding == Rounding::kRoundThenShift ? std::nearbyint(v / scale) + zero_point
                                                   : std::nearbyint(v / scale + zero_point);
  q = std::min<double>(std::max<double>(q, std::numeric_limits<T>::lowest()),
                       std::numeric_limits<T>::max());
  return static_cast<T>(q);
}

// Every element of quantized tensor x as scale * (x - zero_point).
std::vector<double> Dequantize(const KernelContext& ctx, const Tensor& x, double scale,
                               double zero_point);

// A float64 tensor from doubles.
Tensor DoubleTensor(const Shape& shape, std::vector<double> v);

}  // namespace concord::ref
