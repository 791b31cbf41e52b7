// Schemas for ops that ONNX Runtime writes into the ONNX domain although ONNX does not define them
// there: LayerNormalization below opset 17 (ONNX added it at 17; ONNX Runtime has registered it
// since opset 1) and SimplifiedLayerNormalization (RMS normalization). ONNX Runtime's transformer
// optimizer and graph fusions save models with them; without their schemas ONNX's checker rejects
// such models ("No Op registered for LayerNormalization with domain_version of 16").
//
// RegisterRuntimeSchemas adds them to ONNX's global schema registry, once per process (thread-safe;
// Model::FromProto calls it before the checker). ONNX's own schemas are untouched: at opset 17
// and later, LayerNormalization is still ONNX's.
#pragma once

namespace concord {

void RegisterRuntimeSchemas();

}  // namespace concord
