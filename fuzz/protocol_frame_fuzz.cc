// libFuzzer harness for the runtime protocol's decoder: arbitrary bytes go to
// protocol::DecodeFrame (with a small frame limit, as a server with --max-frame-mb would use)
// and every decoded message to GetValues. Contract (protocol/message.h): decode, or throw
// concord::Error — never crash, never allocate past the limit. A decoded message must also
// survive a re-encode/decode round trip unchanged (type and blobs) and its values a
// PutValues/GetValues round trip. The same message is also decoded against a small shared-memory
// region (values of kind "shm"): a descriptor or shm_size outside it must be an Error, never a
// read past the mapping.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "protocol/message.h"
#include "protocol/shared_region.h"
#include "protocol/values.h"

namespace {

constexpr uint64_t kFuzzFrameLimit = 1 << 16;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckSharedValues(const concord::protocol::Message& m) {
  using namespace concord::protocol;
  static std::unique_ptr<SharedRegion> region = SharedRegion::Create(1 << 16, "concord-fuzz");
  try {
    auto values = GetValues(m, region.get());
    std::vector<std::string> names;
    std::vector<const concord::Value*> vals;
    for (const auto& [n, v] : values) {
      names.push_back(n);
      vals.push_back(&v);
    }
    Message re;
    re.type = m.type;
    PutValues(&re, names, vals, region.get(), 0);
    auto back = GetValues(re, region.get());
    Check(back.size() == values.size());
    for (size_t i = 0; i < back.size(); ++i) {
      if (values[i].second.is_tensor()) {
        Check(back[i].second.tensor.BitwiseEqual(values[i].second.tensor));
      }
    }
  } catch (const concord::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace concord::protocol;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_frame_bytes = kFuzzFrameLimit;
  try {
    Message m = DecodeFrame(bytes, limits);
    Check(bytes.size() <= kFuzzFrameLimit);
    Message again = DecodeFrame(EncodeFrame(m), Limits{});
    Check(again.type == m.type && again.blobs == m.blobs);
    CheckSharedValues(m);
    auto values = GetValues(m);
    Message re;
    re.type = m.type;
    std::vector<std::string> names;
    std::vector<concord::Value> vals;
    for (auto& [n, v] : values) {
      names.push_back(n);
      vals.push_back(std::move(v));
    }
    PutValues(&re, names, vals);
    auto back = GetValues(DecodeFrame(EncodeFrame(re), Limits{}));
    Check(back.size() == values.size());
    for (size_t i = 0; i < back.size(); ++i) {
      Check(back[i].first == names[i] && back[i].second.kind == vals[i].kind);
      if (vals[i].is_tensor()) Check(back[i].second.tensor.BitwiseEqual(vals[i].tensor));
    }
  } catch (const concord::Error&) {
  }
  return 0;
}
