#include "ir/runtime_schemas.h"

#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <mutex>

namespace concord {
namespace {

const std::vector<std::string> kFloatTensors = {"tensor(float16)", "tensor(float)",
                                                "tensor(double)", "tensor(bfloat16)"};

// Attributes and type constraints both normalizations share (ONNX Runtime's contrib schemas).
onnx::OpSchema Normalization(const char* name, const char* doc) {
  onnx::OpSchema s(name, __FILE__, __LINE__);
  s.SetDomain("")
      .SinceVersion(1)
      .SetDoc(doc)
      .Attr("axis", "First normalization dimension: normalize over [axis, rank).",
            onnx::AttributeProto::INT, static_cast<int64_t>(-1))
      .Attr("epsilon", "Added to the variance.", onnx::AttributeProto::FLOAT, 1e-5f)
      .Attr("stash_type", "Element type of the statistics outputs.", onnx::AttributeProto::INT,
            static_cast<int64_t>(1))
      .TypeConstraint("T", kFloatTensors, "Input type.")
      .TypeConstraint("U", kFloatTensors, "Statistics type.")
      .TypeConstraint("V", kFloatTensors, "Scale, bias and output type.")
      .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
  return s;
}

void Register() {
  onnx::OpSchema layer_norm = Normalization(
      "LayerNormalization",
      "ONNX Runtime's LayerNormalization for opsets before 17 (the same op ONNX adopted at 17).");
  layer_norm.Input(0, "X", "Input.", "T")
      .Input(1, "Scale", "Scale.", "V")
      .Input(2, "B", "Bias.", "V", onnx::OpSchema::Optional)
      .Output(0, "Y", "Normalized output.", "V")
      .Output(1, "Mean", "Mean per normalized row.", "U", onnx::OpSchema::Optional)
      .Output(2, "InvStdDev", "1 / sqrt(variance + epsilon) per row.", "U",
              onnx::OpSchema::Optional);
  onnx::RegisterSchema(std::move(layer_norm), 0, /*fail_duplicate_schema=*/false);

  onnx::OpSchema rms_norm =
      Normalization("SimplifiedLayerNormalization",
                    "ONNX Runtime's RMS normalization: X / sqrt(mean(X^2) + epsilon) * scale.");
  rms_norm.Input(0, "X", "Input.", "T")
      .Input(1, "scale", "Scale.", "V")
      .Output(0, "Y", "Normalized output.", "V")
      .Output(1, "inv_std_var", "1 / sqrt(mean square + epsilon) per row.", "U",
              onnx::OpSchema::Optional);
  onnx::RegisterSchema(std::move(rms_norm), 0, /*fail_duplicate_schema=*/false);
}

}  // namespace

void RegisterRuntimeSchemas() {
  static std::once_flag once;
  std::call_once(once, Register);
}

}  // namespace concord
