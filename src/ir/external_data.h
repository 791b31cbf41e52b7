// External tensor data (TensorProto.data_location == EXTERNAL), loaded safely.
//
// The `location` must be a relative path that stays inside the model's folder after every
// symlink is resolved: absolute paths, `..` components and links pointing outside are rejected
// with Error(kInput). Offset and length are checked against the file size and the tensor's
// expected byte count before anything is read.
#pragma once

#include <cstdint>
#include <string>

namespace onnx {
class TensorProto;
}

namespace concord {

// Returns exactly `expected_bytes` bytes of external data for `proto`.
std::string ReadExternalData(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& what, uint64_t expected_bytes);

// Validates the location without reading (used by the model loader before the ONNX checker).
std::string ResolveExternalLocation(const std::string& location, const std::string& base_dir,
                                    const std::string& what);

}  // namespace concord

namespace onnx {
class ModelProto;
}

namespace concord {

// Tensors stored as external data anywhere in `proto` (initializers, tensor attributes,
// subgraphs).
int CountExternalTensors(const onnx::ModelProto& proto);

// Reads every external tensor (from `base_dir`, with ReadExternalData's checks) into the proto
// as raw_data, so the model no longer depends on the folder or the working directory; returns
// how many were inlined. Error(kUnsupported) naming `what` when the inlined model would exceed
// protobuf's 2 GiB message limit (nothing is read then).
int InlineExternalData(onnx::ModelProto* proto, const std::string& base_dir,
                       const std::string& what);

}  // namespace concord
