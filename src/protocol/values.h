// Values on the wire: each tensor is one blob of ONNX TensorProto bytes, each sequence one
// blob of SequenceProto bytes, an empty optional an empty blob; meta["names"] and
// meta["kinds"] ("tensor" | "sequence" | "none") say which is which, in blob order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/value.h"
#include "protocol/message.h"

namespace concord::protocol {

// Appends values to m (names/kinds in meta, one blob each).
void PutValues(Message* m, const std::vector<std::string>& names, const std::vector<Value>& values);
// Decodes them back; a blob that does not parse is a protocol error naming the value.
std::vector<std::pair<std::string, Value>> GetValues(const Message& m);

}  // namespace concord::protocol
