#include "ir/value_io.h"

#include <onnx/onnx-data.pb.h>

#include <cstring>
#include <filesystem>

#include "ir/tensor_io.h"

namespace concord {

namespace {

bool IsMapKeyType(DType dt) { return IsInteger(dt) || dt == DType::kString; }

// One 1-D tensor of the one-element tensors `items` (a MapProto's values), all of one dtype.
Tensor JoinScalars(const std::vector<Tensor>& items, DType dt, const std::string& what) {
  Tensor out(dt, {static_cast<int64_t>(items.size())});
  for (size_t i = 0; i < items.size(); ++i) {
    const Tensor& t = items[i];
    if (t.dtype() != dt || t.numel() != 1)
      Fail(ErrorKind::kInput, "{}: map value {} is {}, expected one {} element", what, i,
           t.Describe(), DTypeName(dt));
    if (dt == DType::kString) {
      out.data<std::string>()[i] = t.data<std::string>()[0];
    } else {
      std::memcpy(static_cast<uint8_t*>(out.raw()) + i * t.nbytes(), t.raw(), t.nbytes());
    }
  }
  return out;
}

// Element i of a 1-D tensor as a rank-0 tensor (how numpy_helper.from_dict writes map values).
Tensor ScalarAt(const Tensor& t, int64_t i) {
  Tensor out(t.dtype(), {});
  if (t.dtype() == DType::kString) {
    out.data<std::string>()[0] = t.data<std::string>()[i];
  } else {
    std::memcpy(out.raw(), static_cast<const uint8_t*>(t.raw()) + i * out.nbytes(), out.nbytes());
  }
  return out;
}

// `empty_value_type`: the value dtype an empty map gets (it has no value to tell).
MapValue FromMapProto(const onnx::MapProto& map, DType empty_value_type, const std::string& dir,
                      const std::string& what) {
  DType key_type = static_cast<DType>(map.key_type());
  if (!IsValidDType(map.key_type()) || !IsMapKeyType(key_type))
    Fail(ErrorKind::kInput, "{}: map key type {} is not an integer type or string", what,
         map.key_type());
  MapValue m;
  if (key_type == DType::kString) {
    std::vector<std::string> keys(map.string_keys().begin(), map.string_keys().end());
    m.keys = Tensor::FromVector<std::string>({static_cast<int64_t>(keys.size())}, keys);
  } else {
    std::vector<int64_t> keys(map.keys().begin(), map.keys().end());
    m.keys =
        Tensor::FromVector<int64_t>({static_cast<int64_t>(keys.size())}, keys).CastTo(key_type);
  }
  const onnx::SequenceProto& values = map.values();
  if (values.map_values_size() > 0 || values.sequence_values_size() > 0 ||
      values.optional_values_size() > 0 || values.sparse_tensor_values_size() > 0) {
    Fail(ErrorKind::kUnsupported, "{}: only maps with tensor values are supported", what);
  }
  std::vector<Tensor> items;
  for (const auto& t : values.tensor_values()) items.push_back(TensorFromProto(t, dir, what));
  if (static_cast<int64_t>(items.size()) != m.keys.numel())
    Fail(ErrorKind::kInput, "{}: map has {} keys but {} values", what, m.keys.numel(),
         items.size());
  DType value_type = items.empty() ? empty_value_type : items[0].dtype();
  m.values = JoinScalars(items, value_type, what);
  return m;
}

void ToMapProto(const MapValue& m, onnx::MapProto* out) {
  out->set_key_type(static_cast<int32_t>(m.keys.dtype()));
  if (m.keys.dtype() == DType::kString) {
    for (int64_t i = 0; i < m.keys.numel(); ++i)
      out->add_string_keys(m.keys.data<std::string>()[i]);
  } else {
    Tensor k64 = m.keys.CastTo(DType::kInt64);
    for (int64_t i = 0; i < k64.numel(); ++i) out->add_keys(k64.data<int64_t>()[i]);
  }
  onnx::SequenceProto* values = out->mutable_values();
  values->set_elem_type(onnx::SequenceProto::TENSOR);
  for (int64_t i = 0; i < m.values.numel(); ++i)
    TensorToProto(ScalarAt(m.values, i), "", values->add_tensor_values());
}

Value FromOptionalProto(const onnx::OptionalProto& opt, const std::string& dir,
                        const std::string& what) {
  switch (opt.elem_type()) {
    case onnx::OptionalProto::UNDEFINED:
      return Value::None();
    case onnx::OptionalProto::TENSOR:
      if (!opt.has_tensor_value()) return Value::None();
      return Value(TensorFromProto(opt.tensor_value(), dir, what));
    case onnx::OptionalProto::SEQUENCE:
      if (!opt.has_sequence_value()) return Value::None();
      return SequenceFromProto(opt.sequence_value(), dir, what);
    default:
      Fail(ErrorKind::kUnsupported, "{}: unsupported optional element kind", what);
  }
}

// Element dtypes an empty sequence cannot tell, taken from the declared type.
void FillDeclaredTypes(const onnx::TypeProto& type, Value* v) {
  const onnx::TypeProto& elem = type.sequence_type().elem_type();
  if (v->elem_type == DType::kUndefined && elem.has_tensor_type())
    v->elem_type = static_cast<DType>(elem.tensor_type().elem_type());
  if (v->is_map_sequence() && elem.has_map_type()) {
    if (v->key_type == DType::kUndefined)
      v->key_type = static_cast<DType>(elem.map_type().key_type());
    if (v->maps.empty() && elem.map_type().value_type().has_tensor_type())
      v->elem_type = static_cast<DType>(elem.map_type().value_type().tensor_type().elem_type());
  }
}

}  // namespace

Value SequenceFromProto(const onnx::SequenceProto& seq, const std::string& dir,
                        const std::string& what) {
  if (seq.elem_type() == onnx::SequenceProto::MAP) {
    DType value = DType::kFloat32;  // what ZipMap makes; used only when no map has a value
    for (const auto& m : seq.map_values()) {
      if (m.values().tensor_values_size() == 0) continue;
      int32_t code = m.values().tensor_values(0).data_type();
      if (IsValidDType(code)) value = static_cast<DType>(code);
      break;
    }
    std::vector<MapValue> maps;
    for (const auto& m : seq.map_values()) maps.push_back(FromMapProto(m, value, dir, what));
    DType key = maps.empty() ? DType::kUndefined : maps[0].keys.dtype();
    if (maps.empty()) value = DType::kUndefined;
    for (size_t i = 0; i < maps.size(); ++i) {
      if (maps[i].keys.dtype() != key || maps[i].values.dtype() != value)
        Fail(ErrorKind::kInput, "{}: map {} is map<{},{}>, map 0 map<{},{}>", what, i,
             DTypeName(maps[i].keys.dtype()), DTypeName(maps[i].values.dtype()), DTypeName(key),
             DTypeName(value));
    }
    return Value::MapSequence(std::move(maps), key, value);
  }
  if (seq.elem_type() != onnx::SequenceProto::TENSOR && seq.tensor_values_size() == 0 &&
      seq.elem_type() != onnx::SequenceProto::UNDEFINED) {
    Fail(ErrorKind::kUnsupported, "{}: only sequences of tensors or maps are supported", what);
  }
  std::vector<Tensor> items;
  DType elem = DType::kUndefined;
  for (const auto& t : seq.tensor_values()) {
    items.push_back(TensorFromProto(t, dir, what));
    elem = items.back().dtype();
  }
  return Value::Sequence(std::move(items), elem);
}

void SequenceToProto(const Value& value, const std::string& name, onnx::SequenceProto* out) {
  CONCORD_CHECK(value.is_sequence() || value.is_map_sequence(), "SequenceToProto of {}",
                value.Describe());
  out->set_name(name);
  if (value.is_map_sequence()) {
    out->set_elem_type(onnx::SequenceProto::MAP);
    for (const auto& m : value.maps) ToMapProto(m, out->add_map_values());
    return;
  }
  out->set_elem_type(onnx::SequenceProto::TENSOR);
  for (const auto& t : value.sequence) TensorToProto(t, "", out->add_tensor_values());
}

onnx::TypeProto TypeOfValue(const Value& value, TypeDetail detail) {
  onnx::TypeProto t;
  if (value.is_tensor()) {
    auto* tt = t.mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(value.tensor.dtype()));
    auto* shape = tt->mutable_shape();
    for (int64_t d : value.tensor.shape()) {
      auto* dim = shape->add_dim();
      if (detail == TypeDetail::kFullShape) dim->set_dim_value(d);
    }
  } else if (value.is_sequence()) {
    t.mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(
        static_cast<int32_t>(value.elem_type));
  } else if (value.is_map_sequence()) {
    auto* map = t.mutable_sequence_type()->mutable_elem_type()->mutable_map_type();
    map->set_key_type(static_cast<int32_t>(value.key_type));
    map->mutable_value_type()->mutable_tensor_type()->set_elem_type(
        static_cast<int32_t>(value.elem_type));
  }
  return t;
}

Value ReadValuePb(const std::string& path, const onnx::TypeProto* type) {
  std::string bytes = ReadFileBytes(path, kMaxTensorBytes + (1u << 20));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (type != nullptr && type->has_sequence_type()) {
    onnx::SequenceProto seq;
    if (!seq.ParseFromString(bytes))
      Fail(ErrorKind::kInput, "{}: not a valid ONNX SequenceProto", path);
    Value v = SequenceFromProto(seq, dir, path);
    FillDeclaredTypes(*type, &v);
    return v;
  }
  if (type != nullptr && type->has_optional_type()) {
    onnx::OptionalProto opt;
    if (!opt.ParseFromString(bytes))
      Fail(ErrorKind::kInput, "{}: not a valid ONNX OptionalProto", path);
    return FromOptionalProto(opt, dir, path);
  }
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    Fail(ErrorKind::kInput, "{}: not a valid ONNX TensorProto (protobuf parse failed)", path);
  }
  return Value(TensorFromProto(proto, dir, path));
}

void WriteValuePb(const std::string& path, const Value& value, const std::string& name) {
  std::string bytes;
  if (value.is_tensor()) {
    onnx::TensorProto p;
    TensorToProto(value.tensor, name, &p);
    bytes = p.SerializeAsString();
  } else if (value.is_sequence() || value.is_map_sequence()) {
    onnx::SequenceProto s;
    SequenceToProto(value, name, &s);
    bytes = s.SerializeAsString();
  } else {
    onnx::OptionalProto o;
    o.set_name(name);
    o.set_elem_type(onnx::OptionalProto::UNDEFINED);
    bytes = o.SerializeAsString();
  }
  WriteFileAtomic(path, bytes);
}

}  // namespace concord
