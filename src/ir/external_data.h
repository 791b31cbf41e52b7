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
