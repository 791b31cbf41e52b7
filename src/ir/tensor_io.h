// Reading and writing tensors: ONNX TensorProto (.pb), NumPy .npy and .npz.
//
// Every reader validates before it allocates: dtype known, dims non-negative, element count
// under kMaxTensorBytes, payload size equal to what the shape needs. A bad file throws
// Error(kInput) naming the file and the problem; nothing is ever partially returned.
// Writers write to a temporary file and rename it, so a crash never leaves a half-written file.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace onnx {
class TensorProto;
}

namespace concord {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// TensorProto <-> Tensor. `base_dir` resolves external data (confined to base_dir; see
// model.h). `what` names the source in error messages ("initializer 'w' in model.onnx").
Tensor TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir,
                       const std::string& what);
void TensorToProto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

// Single .pb file holding one TensorProto.
NamedTensor ReadTensorPb(const std::string& path);
void WriteTensorPb(const std::string& path, const Tensor& tensor, const std::string& name);

// NumPy formats (v1/v2/v3 headers, little-endian, C order; bool, ints, floats, float16).
Tensor ReadNpy(const std::string& path);
Tensor ParseNpy(const std::string& bytes, const std::string& what);
std::string SerializeNpy(const Tensor& tensor);
void WriteNpy(const std::string& path, const Tensor& tensor);
// .npz: every array in the archive (stored or deflated), names without the ".npy" suffix,
// in archive order.
std::vector<NamedTensor> ReadNpz(const std::string& path);
void WriteNpz(const std::string& path, const std::vector<NamedTensor>& tensors);

// Whole file into memory with a size cap (Error(kInput) when missing, unreadable, too large).
std::string ReadFileBytes(const std::string& path, uint64_t max_bytes);
// Writes path atomically (temp file in the same folder + rename).
void WriteFileAtomic(const std::string& path, const std::string& bytes);

}  // namespace concord
