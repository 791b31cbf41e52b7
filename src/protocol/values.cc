#include "protocol/values.h"

#include <onnx/onnx_pb.h>
// onnx_pb.h must come first: it defines ONNX_API for the generated headers.
#include <onnx/onnx-data.pb.h>

#include <cstring>

#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "protocol/shared_region.h"

namespace concord::protocol {

bool TravelsShared(DType dt) {
  switch (dt) {
    case DType::kUndefined:
    case DType::kString:
    case DType::kUInt4:
    case DType::kInt4:
    case DType::kFloat4E2M1:
    case DType::kFloat6E2M3:
    case DType::kFloat6E3M2:
    case DType::kFloat8E8M0:
    case DType::kUInt2:
    case DType::kInt2:
      return false;
    default:
      return DTypeSize(dt) > 0;
  }
}

void PutValues(Message* m, const std::vector<std::string>& names,
               const std::vector<Value>& values) {
  std::vector<const Value*> pointers;
  for (const Value& v : values) pointers.push_back(&v);
  PutValues(m, names, pointers, nullptr, 0);
}

uint64_t PutValues(Message* m, const std::vector<std::string>& names,
                   const std::vector<const Value*>& values, SharedRegion* region, uint64_t start) {
  CONCORD_CHECK(names.size() == values.size(), "PutValues: {} names, {} values", names.size(),
                values.size());
  nlohmann::json jn = nlohmann::json::array(), jk = nlohmann::json::array();
  nlohmann::json js = nlohmann::json::array();
  uint64_t end = start;
  bool any_shared = false;
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = *values[i];
    jn.push_back(names[i]);
    uint64_t offset = AlignShared(end);
    if (region != nullptr && v.is_tensor() && TravelsShared(v.tensor.dtype()) &&
        offset + v.tensor.nbytes() <= SharedRegion::kMaxBytes) {
      uint64_t n = v.tensor.nbytes();
      region->Grow(offset + n);
      if (n > 0) std::memcpy(region->At(offset, n, names[i]), v.tensor.raw(), n);
      js.push_back({{"offset", offset},
                    {"dtype", static_cast<int32_t>(v.tensor.dtype())},
                    {"shape", v.tensor.shape()}});
      m->blobs.emplace_back();
      jk.push_back("shm");
      end = offset + n;
      any_shared = true;
      continue;
    }
    js.push_back(nullptr);
    if (v.is_tensor()) {
      onnx::TensorProto p;
      TensorToProto(v.tensor, names[i], &p);
      m->blobs.push_back(p.SerializeAsString());
      jk.push_back("tensor");
    } else if (v.is_sequence() || v.is_map_sequence()) {
      onnx::SequenceProto s;
      SequenceToProto(v, names[i], &s);
      m->blobs.push_back(s.SerializeAsString());
      jk.push_back("sequence");
    } else {
      m->blobs.emplace_back();
      jk.push_back("none");
    }
  }
  m->meta["names"] = jn;
  m->meta["kinds"] = jk;
  if (any_shared) {
    m->meta["shm"] = js;
    m->meta["shm_size"] = region->size();
  }
  return end;
}

namespace {

bool UsesExternalData(const onnx::SequenceProto& s) {
  for (const auto& t : s.tensor_values())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) return true;
  for (const auto& m : s.map_values())
    if (UsesExternalData(m.values())) return true;
  return false;
}

// The tensor a "shm" descriptor names, copied out of `region`.
Tensor SharedTensor(const nlohmann::json& d, SharedRegion* region, const std::string& what) {
  if (region == nullptr) ProtocolFail(what + " is in shared memory, but this connection has none");
  if (!d.is_object() || !d.contains("offset") || !d["offset"].is_number_unsigned() ||
      !d.contains("dtype") || !d["dtype"].is_number_integer() || !d.contains("shape") ||
      !d["shape"].is_array()) {
    ProtocolFail(what + ": its shared-memory descriptor is not {offset, dtype, shape}");
  }
  int64_t code = d["dtype"].get<int64_t>();
  if (code < 0 || code > INT32_MAX || !IsValidDType(static_cast<int32_t>(code)) ||
      !TravelsShared(static_cast<DType>(code))) {
    ProtocolFail(fmt::format("{}: element type {} cannot travel in shared memory", what, code));
  }
  Shape shape;
  for (const auto& dim : d["shape"]) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0)
      ProtocolFail(what + ": shape must be a list of non-negative integers");
    shape.push_back(dim.get<int64_t>());
  }
  DType dt = static_cast<DType>(code);
  int64_t numel = 0;
  try {
    numel = NumElements(shape);
  } catch (const Error& e) {
    ProtocolFail(fmt::format("{}: {}", what, e.what()));
  }
  uint64_t n = static_cast<uint64_t>(numel) * DTypeSize(dt);
  const uint8_t* src = region->At(d["offset"].get<uint64_t>(), n, what);
  Tensor t(dt, std::move(shape));
  if (n > 0) std::memcpy(t.raw(), src, n);
  return t;
}

}  // namespace

std::vector<std::pair<std::string, Value>> GetValues(const Message& m, SharedRegion* region) {
  const auto& names = m.meta.contains("names") ? m.meta["names"] : nlohmann::json::array();
  const auto& kinds = m.meta.contains("kinds") ? m.meta["kinds"] : nlohmann::json::array();
  if (!names.is_array() || !kinds.is_array() || names.size() != m.blobs.size() ||
      kinds.size() != m.blobs.size()) {
    ProtocolFail(fmt::format("{} carries {} blobs but names/kinds do not match",
                             MessageTypeName(m.type), m.blobs.size()));
  }
  const nlohmann::json& shared = m.meta.contains("shm") ? m.meta["shm"] : nlohmann::json();
  if (!shared.is_null() && (!shared.is_array() || shared.size() != m.blobs.size()))
    ProtocolFail(fmt::format("{}: shm must list one entry per value", MessageTypeName(m.type)));
  if (region != nullptr && m.meta.contains("shm_size")) {
    if (!m.meta["shm_size"].is_number_unsigned()) ProtocolFail("shm_size must be a byte count");
    region->Refresh(m.meta["shm_size"].get<uint64_t>());
  }
  std::vector<std::pair<std::string, Value>> out;
  for (size_t i = 0; i < m.blobs.size(); ++i) {
    if (!names[i].is_string() || !kinds[i].is_string()) ProtocolFail("names/kinds must be strings");
    std::string name = names[i].get<std::string>();
    std::string kind = kinds[i].get<std::string>();
    std::string what = fmt::format("{} value '{}'", MessageTypeName(m.type), name);
    if (kind == "shm") {
      if (shared.is_null() || !m.blobs[i].empty())
        ProtocolFail(what + " is in shared memory, but shm is missing or its blob is not empty");
      out.emplace_back(name, Value(SharedTensor(shared[i], region, what)));
    } else if (kind == "tensor") {
      onnx::TensorProto p;
      if (!p.ParseFromString(m.blobs[i])) ProtocolFail(what + " is not a TensorProto");
      if (p.data_location() == onnx::TensorProto::EXTERNAL)
        ProtocolFail(what + " uses external data");
      out.emplace_back(name, Value(TensorFromProto(p, "", what)));
    } else if (kind == "sequence") {
      onnx::SequenceProto s;
      if (!s.ParseFromString(m.blobs[i])) ProtocolFail(what + " is not a SequenceProto");
      if (UsesExternalData(s)) ProtocolFail(what + " uses external data");
      out.emplace_back(name, SequenceFromProto(s, "", what));
    } else if (kind == "none") {
      out.emplace_back(name, Value::None());
    } else {
      ProtocolFail(what + " has unknown kind '" + kind + "'");
    }
  }
  return out;
}

}  // namespace concord::protocol
