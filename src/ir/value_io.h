// Reading and writing Values (tensor, sequence, optional) as ONNX protobuf files.
//
// ONNX's test layout stores a tensor as TensorProto, a sequence as SequenceProto and an
// optional as OptionalProto; which one a file holds is decided by the declared type of the
// graph input/output it belongs to (`type` may be null: then TensorProto is assumed).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "ir/value.h"

namespace concord {

Value ReadValuePb(const std::string& path, const onnx::TypeProto* type);
void WriteValuePb(const std::string& path, const Value& value, const std::string& name);

}  // namespace concord
