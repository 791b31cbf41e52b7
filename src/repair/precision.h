// Parameters a conversion stored at lower precision, and the source's float32 values for them.
//
// A deployment conversion (TFLite float16 or dynamic-range int8, OpenVINO's compress_to_fp16)
// rounds every weight of the model, so the target diverges a little at every layer; repairing
// it one layer at a time stalls where each restored layer still reads its rounded upstream.
// This finds, for every weight-carrying target node, the one source node whose weight (and
// bias), as is or with the per-channel affine that follows it folded in (a BatchNorm the
// converter fused), rounds to the target's: to float16, or to a symmetric int8 grid (per tensor
// or per output channel) the target reads through DequantizeLinear; and every element-wise
// constant that is the float16 or int8 rounding of one source constant (a BatchNorm no converter
// could fold). Repair restores them all in one edit. Nothing here compares against the target's
// outputs: the values alone decide.
#pragma once

#include <string>
#include <vector>

#include "localize/align.h"

namespace concord::repair {

// The per-channel affine map y = x * scale + shift the source applies to the output of Conv node
// `conv`: a BatchNormalization, or a Mul by a static per-channel tensor followed by an Add of one
// (a BatchNorm tf2onnx decomposed). `what` names it. False when neither follows.
bool SourceAffine(const Model& source, const localize::SideValues& sv,
                  const localize::ModelIndex& si, const onnx::NodeProto& conv, int64_t channels,
                  std::vector<double>* scale, std::vector<double>* shift, std::string* what);

// Source weight w (output channels first) and bias (empty: none) with scale/shift folded in.
void FoldAffine(const Tensor& w, const Tensor* bias, const std::vector<double>& scale,
                const std::vector<double>& shift, Tensor* folded_w, Tensor* folded_b);

struct RoundedParams {
  int target_node = -1;
  int source_node = -1;
  std::string rounding;  // "float16" or "int8"
  std::string how;       // "as is" / "with <affine> folded in", plus " permuted to NHWC"
  Tensor weight;         // the float32 values to restore, in the target's layout
  bool has_bias = false;
  Tensor bias;  // when has_bias: for the target's input 2 (added when absent)
};

// Every Conv/ConvTranspose/Gemm/MatMul of the target whose weight (input 1; `tv`: the target's
// tapped values, for weights computed by DequantizeLinear or Cast) is a rounding of exactly one
// source candidate's, with at least one element changed by that rounding.
std::vector<RoundedParams> RoundedParameters(const Model& source, const localize::SideValues& sv,
                                             const localize::ModelIndex& si, const Model& target,
                                             const localize::SideValues& tv);

// A static float operand (two or more elements) of a target Mul/Add/Sub/Div that is the float16
// rounding or the int8 quantization (per tensor or per element's axis 0, read through
// DequantizeLinear: TFLite's full-int8 conversion quantizes constants too) of exactly one source
// Mul/Add/Sub/Div operand (same element count, compared in flat order: per-channel vectors of
// any shape): a BatchNorm the converter kept as Mul + Add (one that comes before its conv, as in
// DenseNet), a classifier's bias. `value`: the source's float32 values in the target operand's
// shape.
struct RoundedConstant {
  int target_node = -1;
  int input = -1;
  int source_node = -1;
  std::string rounding;  // "float16" or "int8"
  Tensor value;
};
std::vector<RoundedConstant> RoundedConstants(const Model& source, const localize::SideValues& sv,
                                              const localize::ModelIndex& si, const Model& target,
                                              const localize::SideValues& tv);

// Removes quantize-dequantize round trips from g. A region of quantized tensors is written by
// QuantizeLinear or DynamicQuantizeLinear nodes and read by DequantizeLinear nodes, directly or
// through ops that move or select values (Transpose, Reshape, Squeeze, Unsqueeze, Flatten,
// Identity: tf2onnx moves layouts of quantized tensors; MaxPool and Concat: TFLite's int8 ones
// keep their input's scale, so a DenseNet block's Concats chain quantized tensors). A region
// whose tensors nothing else touches goes: its quantizers are dropped, the ops in it read the
// float tensors, each dequantizer becomes an Identity (its output name kept). only_q >= 0: just
// the region of node only_q. Returns the number of dequantizers removed.
int RemoveQdqPairs(onnx::GraphProto* g, int only_q);

}  // namespace concord::repair
