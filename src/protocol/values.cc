#include "protocol/values.h"

#include <onnx/onnx_pb.h>
// onnx_pb.h must come first: it defines ONNX_API for the generated headers.
#include <onnx/onnx-data.pb.h>

#include "ir/tensor_io.h"

namespace concord::protocol {

void PutValues(Message* m, const std::vector<std::string>& names,
               const std::vector<Value>& values) {
  CONCORD_CHECK(names.size() == values.size(), "PutValues: {} names, {} values", names.size(),
                values.size());
  nlohmann::json jn = nlohmann::json::array(), jk = nlohmann::json::array();
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    jn.push_back(names[i]);
    if (v.is_tensor()) {
      onnx::TensorProto p;
      TensorToProto(v.tensor, names[i], &p);
      m->blobs.push_back(p.SerializeAsString());
      jk.push_back("tensor");
    } else if (v.is_sequence()) {
      onnx::SequenceProto s;
      s.set_name(names[i]);
      s.set_elem_type(onnx::SequenceProto::TENSOR);
      for (const auto& t : v.sequence) TensorToProto(t, "", s.add_tensor_values());
      m->blobs.push_back(s.SerializeAsString());
      jk.push_back("sequence");
    } else {
      m->blobs.emplace_back();
      jk.push_back("none");
    }
  }
  m->meta["names"] = jn;
  m->meta["kinds"] = jk;
}

std::vector<std::pair<std::string, Value>> GetValues(const Message& m) {
  const auto& names = m.meta.contains("names") ? m.meta["names"] : nlohmann::json::array();
  const auto& kinds = m.meta.contains("kinds") ? m.meta["kinds"] : nlohmann::json::array();
  if (!names.is_array() || !kinds.is_array() || names.size() != m.blobs.size() ||
      kinds.size() != m.blobs.size()) {
    ProtocolFail(fmt::format("{} carries {} blobs but names/kinds do not match",
                             MessageTypeName(m.type), m.blobs.size()));
  }
  std::vector<std::pair<std::string, Value>> out;
  for (size_t i = 0; i < m.blobs.size(); ++i) {
    if (!names[i].is_string() || !kinds[i].is_string()) ProtocolFail("names/kinds must be strings");
    std::string name = names[i].get<std::string>();
    std::string kind = kinds[i].get<std::string>();
    std::string what = fmt::format("{} value '{}'", MessageTypeName(m.type), name);
    if (kind == "tensor") {
      onnx::TensorProto p;
      if (!p.ParseFromString(m.blobs[i])) ProtocolFail(what + " is not a TensorProto");
      if (p.data_location() == onnx::TensorProto::EXTERNAL)
        ProtocolFail(what + " uses external data");
      out.emplace_back(name, Value(TensorFromProto(p, "", what)));
    } else if (kind == "sequence") {
      onnx::SequenceProto s;
      if (!s.ParseFromString(m.blobs[i])) ProtocolFail(what + " is not a SequenceProto");
      std::vector<Tensor> items;
      DType elem = DType::kUndefined;
      for (const auto& t : s.tensor_values()) {
        if (t.data_location() == onnx::TensorProto::EXTERNAL)
          ProtocolFail(what + " uses external data");
        items.push_back(TensorFromProto(t, "", what));
        elem = items.back().dtype();
      }
      out.emplace_back(name, Value::Sequence(std::move(items), elem));
    } else if (kind == "none") {
      out.emplace_back(name, Value::None());
    } else {
      ProtocolFail(what + " has unknown kind '" + kind + "'");
    }
  }
  return out;
}

}  // namespace concord::protocol
