// Which format a model file (or folder) is in, decided from its content, not its name.
//
// ONNX is Concord's hub; the other formats are what users bring from frameworks: TorchScript
// archives (torch.jit.save), torch.export programs (.pt2), Keras 3 archives (.keras), TensorFlow
// SavedModel folders, TFLite flatbuffers and OpenVINO IR (.xml beside its .bin). Detection reads
// a few bytes (flatbuffer identifier, XML root, zip member names, protobuf fields); it never
// imports a framework. A path that does not exist is Error(kInput); content that matches no
// format gives kUnknown (the caller says what was expected).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace concord {

enum class ModelFormat {
  kUnknown,
  kOnnx,
  kTorchScript,
  kTorchExport,
  kKeras,
  kSavedModel,
  kTflite,
  kOpenVino,
};

// Short names used in records and options: "onnx", "torchscript", "torch.export", "keras",
// "savedmodel", "tflite", "openvino", "unknown".
const char* ModelFormatName(ModelFormat format);

struct ModelFormatInfo {
  ModelFormat format = ModelFormat::kUnknown;
  std::vector<std::string> files;  // the files that make up the model (OpenVINO: .xml and .bin)
  uint64_t bytes = 0;              // their total size
  std::string evidence;            // what identified it, e.g. "zip member model/data.pkl"
};

ModelFormatInfo DetectModelFormat(const std::string& path);

}  // namespace concord
