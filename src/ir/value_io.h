// Reading and writing Values (tensor, sequence, sequence of maps, optional) as ONNX protobuf.
//
// ONNX's test layout stores a tensor as TensorProto, a sequence as SequenceProto (of tensors, or
// elem_type MAP: of MapProtos, each with its keys and a SequenceProto of scalar tensors as
// values) and an optional as OptionalProto; which one a file holds is decided by the declared
// type of the graph input/output it belongs to (`type` may be null: then TensorProto is assumed).
// A malformed file is Error(kInput) naming it; a kind Value cannot hold is Error(kUnsupported).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "ir/value.h"

namespace onnx {
class SequenceProto;
}

namespace concord {

Value ReadValuePb(const std::string& path, const onnx::TypeProto* type);
void WriteValuePb(const std::string& path, const Value& value, const std::string& name);

// SequenceProto <-> Value (kSequence, or kMapSequence for elem_type MAP). `dir` resolves external
// tensor data; `what` names the source in errors. SequenceToProto takes either sequence kind.
Value SequenceFromProto(const onnx::SequenceProto& seq, const std::string& dir,
                        const std::string& what);
void SequenceToProto(const Value& value, const std::string& name, onnx::SequenceProto* out);

// The ONNX type of a value: tensor(T) with its shape (kFullShape) or only its rank as unknown
// dims (kRankOnly); seq(tensor(T)); seq(map(K, tensor(V))); an empty TypeProto for none.
enum class TypeDetail { kFullShape, kRankOnly };
onnx::TypeProto TypeOfValue(const Value& value, TypeDetail detail);

}  // namespace concord
