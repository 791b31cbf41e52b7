// Conversion passes: model-to-model rewrites (opset conversion, folding, fp16, int8 QDQ
// quantization, NHWC layout) that keep every node traceable to the original model.
//
// Owned by the passes layer (src/passes/); used by `concord convert` and by localize/repair,
// which read the name map back from the converted model. RunPasses() never modifies its input.
// Failure contract: an unknown pass or option is Error(kUsage) listing the passes; a model a
// pass cannot handle (converter has no adapter, fp16 with subgraphs, quantization without
// calibration data) is Error(kUnsupported) or Error(kUsage) naming the pass and the node; a pass
// whose output fails ONNX's checker or shape inference is Error(kInternal) naming the pass (a
// bug in the pass, never a crash). Model::FromProto validates the model after every pass.
//
// Pass specs: NAME[=VALUE][:KEY=VALUE]...  VALUE sets the pass's primary option, so "opset=17"
// is "opset:version=17" and "fp16=graph" is "fp16:mode=graph". Options are also read from
// PassContext::options as "NAME.KEY" (the spec wins).
//
//   pass            what it does                                         agreement with the input
//                                                                        on ref (tests, relative
//                                                                        to max|reference|)
//   opset=N         ONNX's version converter to opset N (default         1e-5
//                   domain); no adapter -> kUnsupported naming the op
//   fold_constants  nodes whose inputs are all initializers/Constants,   1e-5
//                   and Shape of statically shaped values, are run on
//                   ref and become initializers; random ops, subgraph
//                   ops and outputs > 64 MiB (max_bytes) are kept
//   fold_bn         Conv(+bias) -> BatchNormalization (inference, the    1e-5
//                   Conv's only consumer, constant parameters) becomes
//                   one Conv with scaled weights and bias (float/double)
//   fp16            mode=weights: float32 initializers stored as         weights 1e-2,
//                   float16 + Cast to float32 (compute stays fp32);      graph 3e-2 (ResNet-18
//                   mode=graph: everything computes in float16, Casts    shape), see tests
//                   at float32 inputs/outputs; ops whose schema has no
//                   float16 stay float32 with Casts around them
//   quantize_int8   static QDQ: min/max of each Conv/MatMul/Gemm         0.1 of max|ref| on the
//                   activation input over the calibration sets ->        test models (top-1
//                   Quantize/DequantizeLinear (uint8 asymmetric, or      agrees on the CNNs)
//                   activations=int8); weights symmetric int8 per output
//                   channel (per_channel=0: per tensor) as int8
//                   initializers + DequantizeLinear; biases stay float
//   nhwc            4-D float graph inputs become NHWC with a            1e-6 (data movement only)
//                   Transpose(perm 0,3,1,2) to the NCHW graph (ONNX Conv
//                   is NCHW only); transposes are then pushed down
//                   through elementwise/unary ops (and binary ops with a
//                   constant, which is permuted), merged, and cancelled
//                   when they compose to the identity (outputs=nhwc
//                   also makes 4-D outputs NHWC)
//
// Measured (passes_models_test, worst output): fp16 weights 2.3e-3 and graph 3.4e-3 (MobileNetV2
// shape), int8 5.6e-2 (MobileNetV2 shape; top-1 unchanged), everything else exact. Known limits:
// ONNX's converter lacks many down-adapters (13 -> 11 fails on Relu) and its Scan 8 -> 9
// adapter changes the model's interface; fp16=graph overflows where values exceed float16's
// range (ONNX node tests *_large_number, reduce_prod); quantize_int8 leaves float16 models alone.
//
// Name map: NameMap::nodes maps every node name of the result to the names of the original
// nodes it came from: identity for untouched nodes, all originals for fused nodes, and the
// served node for inserted nodes (casts, transposes, Q/DQ). NameMap::tensors maps tensors that
// were renamed or inserted to the original tensor whose value they carry (possibly in another
// dtype or layout). Unnamed nodes of the input are first named "<OpType>_<index>"; duplicate
// names get "__<k>" suffixes (both logged). Maps compose across a pipeline, and with a map
// already stored in the input (a model converted twice still maps to the first original). The
// result stores it in metadata_props["concord.name_map"] as
// {"nodes": {new: [orig...]}, "tensors": {new: orig}, "passes": [spec...]}.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace concord {

namespace passes {

inline constexpr const char* kNameMapKey = "concord.name_map";

struct PassContext {
  std::vector<ValueMap> calibration;           // input sets for calibrating passes
  std::map<std::string, std::string> options;  // "PASS.KEY" -> value, defaults for every spec
};

struct NameMap {
  std::map<std::string, std::vector<std::string>> nodes;  // new node -> original nodes
  std::map<std::string, std::string> tensors;             // new tensor -> original tensor

  // this ∘ earlier: names of `this` refer to the output of `earlier`; the result maps to the
  // originals of `earlier`. Unknown intermediate names map to themselves.
  NameMap ComposeAfter(const NameMap& earlier) const;
  nlohmann::json ToJson() const;
  static NameMap FromJson(const nlohmann::json& j);  // Error(kInput) on a malformed document
};

struct PassResult {
  Model model;
  NameMap names;
  // {"passes": [{"pass", "spec", "options", "nodes_before", "nodes_after", "changes": {...},
  //   "details": [...]}, ...]}
  nlohmann::json log;
};

struct PassOption {
  std::string key;
  std::string default_value;
  std::string help;
};

struct PassInfo {
  std::string name;
  std::string description;  // one line
  std::vector<PassOption> options;
  std::string primary;  // key that NAME=VALUE sets ("" when none)
};

// Runs the passes in order. The input must be a validated Model (Model::Load/FromProto).
PassResult RunPasses(const Model& in, const std::vector<std::string>& pass_specs,
                     const PassContext& ctx = {});
std::vector<PassInfo> ListPasses();
// "  opset=N  ..." lines for usage errors and --list.
std::string FormatPassList();
// The name map stored in a model's metadata (empty map when none).
NameMap ReadNameMap(const onnx::ModelProto& model);

}  // namespace passes
}  // namespace concord
