#include "ir/value_io.h"

#include <onnx/onnx-data.pb.h>

#include <filesystem>

#include "ir/tensor_io.h"

namespace concord {

namespace {

Value FromSequenceProto(const onnx::SequenceProto& seq, const std::string& dir,
                        const std::string& what) {
  if (seq.elem_type() != onnx::SequenceProto::TENSOR && seq.tensor_values_size() == 0 &&
      seq.elem_type() != onnx::SequenceProto::UNDEFINED) {
    Fail(ErrorKind::kUnsupported, "{}: only sequences of tensors are supported", what);
  }
  std::vector<Tensor> items;
  DType elem = DType::kUndefined;
  for (const auto& t : seq.tensor_values()) {
    items.push_back(TensorFromProto(t, dir, what));
    elem = items.back().dtype();
  }
  return Value::Sequence(std::move(items), elem);
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
      return FromSequenceProto(opt.sequence_value(), dir, what);
    default:
      Fail(ErrorKind::kUnsupported, "{}: unsupported optional element kind", what);
  }
}

}  // namespace

Value ReadValuePb(const std::string& path, const onnx::TypeProto* type) {
  std::string bytes = ReadFileBytes(path, kMaxTensorBytes + (1u << 20));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (type != nullptr && type->has_sequence_type()) {
    onnx::SequenceProto seq;
    if (!seq.ParseFromString(bytes))
      Fail(ErrorKind::kInput, "{}: not a valid ONNX SequenceProto", path);
    Value v = FromSequenceProto(seq, dir, path);
    if (v.elem_type == DType::kUndefined && type->sequence_type().elem_type().has_tensor_type()) {
      v.elem_type = static_cast<DType>(type->sequence_type().elem_type().tensor_type().elem_type());
    }
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
  } else if (value.is_sequence()) {
    onnx::SequenceProto s;
    s.set_name(name);
    s.set_elem_type(onnx::SequenceProto::TENSOR);
    for (const auto& t : value.sequence) TensorToProto(t, "", s.add_tensor_values());
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
