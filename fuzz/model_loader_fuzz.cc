// libFuzzer harness for the model loader: any byte string must either load or be rejected
// with concord::Error. Any other exception, a crash, a leak or UB is a finding.
#include <cstdint>
#include <string>

#include "ir/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    concord::Model m = concord::Model::FromBytes(bytes, "/nonexistent-fuzz-dir", "fuzz.onnx");
    (void)m.Inputs();
    (void)m.Outputs();
  } catch (const concord::Error&) {
  }
  return 0;
}
