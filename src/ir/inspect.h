// What a model file holds, without running it (Polygraphy's `inspect model`): format, IR
// version and opsets, producer, inputs and outputs with their dynamic dims, an op histogram
// (subgraphs included), weights (count, parameters, bytes; which live in external files) and
// metadata keys.
//
// ONNX models are loaded with the checker; a model the checker rejects is still described,
// with "checker" holding the checker's message (a file that does not parse at all is
// Error(kInput)). Framework formats (TorchScript, Keras, SavedModel, TFLite, OpenVINO) are
// identified with their files and sizes; their graphs are described by their framework envs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace concord {

// {"path", "format", "files", "bytes", "evidence", and for ONNX: "ir_version", "producer",
//  "opsets": [{"domain", "version"}], "inputs"/"outputs": [{"name", "type", "dtype", "shape",
//  "dynamic": [names or "?"]}], "nodes", "ops": {"Conv": 12, "com.microsoft::FusedConv": 1},
//  "initializers", "parameters", "weight_bytes", "external_data": [{"location", "bytes",
//  "tensors"}], "functions", "metadata": {key: value}, "checker": "ok" | message}
nlohmann::json InspectModel(const std::string& path);

}  // namespace concord
