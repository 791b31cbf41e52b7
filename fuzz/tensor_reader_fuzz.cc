// libFuzzer harness for the tensor readers: TensorProto (.pb) and NumPy (.npy) bytes must
// decode or be rejected with concord::Error — never crash or allocate unboundedly.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>

#include "ir/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] & 1) {
      concord::Tensor t = concord::ParseNpy(bytes, "fuzz.npy");
      (void)concord::SerializeNpy(t);
    } else {
      onnx::TensorProto proto;
      if (proto.ParseFromString(bytes)) {
        concord::Tensor t = concord::TensorFromProto(proto, "/nonexistent-fuzz-dir", "fuzz.pb");
        if (t.dtype() != concord::DType::kString) (void)t.CastTo(concord::DType::kFloat32);
      }
    }
  } catch (const concord::Error&) {
  }
  return 0;
}
