// Model: an ONNX ModelProto loaded, validated and shape-inferred through the official ONNX
// library (parser, checker, shape inference).
//
// A Model owns its ModelProto and remembers the folder it came from (external data is resolved
// there). Load() guarantees, before returning, that: the file parsed as a ModelProto within the
// size limit; the IR version and every imported opset are ones this ONNX build knows; every
// tensor (initializers, Constant attributes, subgraphs) has a known dtype, sane dims and a
// payload that matches its shape; external data stays inside the model's folder; and the ONNX
// checker accepted the model. Any violation throws Error(kInput) whose message starts with the
// file path. Shape inference runs in non-strict mode; its findings are added as value_info.
//
// A framework model (TorchScript, torch.export, Keras, SavedModel, TFLite, OpenVINO IR) is a
// Model too, made by Framework(): it holds the file's path, its format and the signature its
// framework reported (inputs and outputs), as a graph with those inputs and outputs and no
// nodes. Its format() is not kOnnx; the framework itself reads the file (the worker backend sends
// the path), so only backends that declare the format run it (backends/backend.h).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "ir/model_format.h"
#include "ir/tensor.h"

namespace concord {

struct ValueInfo {
  std::string name;
  bool is_tensor = true;  // false for sequence/optional/map types
  DType dtype = DType::kUndefined;
  Shape shape;                          // -1 for unknown or symbolic dims
  bool has_shape = false;               // false when the rank itself is unknown
  std::vector<std::string> dim_params;  // symbolic names, "" where the dim is fixed or unknown
  onnx::TypeProto type;
};

ValueInfo ValueInfoFromProto(const onnx::ValueInfoProto& vi);
std::string TypeToString(const onnx::TypeProto& type);  // "float[1,3,224,224]", "seq(float[?])"

struct LoadOptions {
  bool run_checker = true;
  bool infer_shapes = true;
};

// Largest model file we accept (protobuf's own hard limit).
inline constexpr uint64_t kMaxModelBytes = (2ull << 30) - 1;

class Model {
 public:
  static Model Load(const std::string& path, const LoadOptions& options = {});
  // Validates an in-memory model as Load() does; `base_dir` resolves external data.
  static Model FromProto(onnx::ModelProto proto, const std::string& base_dir,
                         const std::string& what = "<memory>", const LoadOptions& options = {});
  static Model FromBytes(const std::string& bytes, const std::string& base_dir,
                         const std::string& what, const LoadOptions& options = {});
  // A framework model at `path` (format detected by DetectModelFormat) with the signature its
  // framework reported; names must be unique and non-empty (else Error(kInput)).
  static Model Framework(const std::string& path, ModelFormat format,
                         const std::vector<ValueInfo>& inputs,
                         const std::vector<ValueInfo>& outputs);

  // kOnnx for models parsed as ONNX; the framework's format for Framework() models.
  ModelFormat format() const { return format_; }
  bool is_framework() const { return format_ != ModelFormat::kOnnx; }

  const onnx::ModelProto& proto() const { return proto_; }
  onnx::ModelProto* mutable_proto() { return &proto_; }
  const onnx::GraphProto& graph() const { return proto_.graph(); }
  const std::string& path() const { return path_; }
  const std::string& base_dir() const { return base_dir_; }

  // Opset imported for `domain` ("" and "ai.onnx" are the same); -1 when not imported.
  int64_t Opset(const std::string& domain = "") const;
  // Graph inputs that are not initializers, and graph outputs, in declaration order.
  std::vector<ValueInfo> Inputs() const;
  std::vector<ValueInfo> Outputs() const;
  // Type of any named value (input, output, value_info after shape inference), if known.
  const onnx::TypeProto* FindType(const std::string& name) const;

  void Save(const std::string& path) const;

 private:
  onnx::ModelProto proto_;
  std::string path_;
  std::string base_dir_;
  ModelFormat format_ = ModelFormat::kOnnx;
};

// A tensor ValueInfo: `shape` with -1 for unknown dims; has_shape false when the rank is unknown.
ValueInfo TensorValueInfo(const std::string& name, DType dtype, const Shape& shape, bool has_shape);

// Canonical domain name: "" -> "ai.onnx".
std::string CanonicalDomain(const std::string& domain);

}  // namespace concord
