// Values on the wire: each tensor is one blob of ONNX TensorProto bytes, each sequence one
// blob of SequenceProto bytes (a sequence of maps: elem_type MAP, MapProtos as ir/value_io.h
// writes them), an empty optional an empty blob; meta["names"] and
// meta["kinds"] ("tensor" | "sequence" | "none" | "shm") say which is which, in blob order.
//
// Between Concord and a local worker that accepted shared memory in HELLO, tensors of the
// element types in TravelsShared() go through a SharedRegion instead: kind "shm", an empty
// blob, and meta["shm"][i] = {"offset": bytes, "dtype": ONNX data type number, "shape": [...]}
// (null for the values that are not in shared memory); meta["shm_size"] is the region's size
// when the frame was sent, so the receiver maps that much first. Strings, int4/uint4/int2/
// uint2/float4/e8m0, sequences and tensors that would grow the region past its limit keep
// travelling as blobs in the same message.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/value.h"
#include "protocol/message.h"

namespace concord::protocol {

class SharedRegion;

// Appends values to m (names/kinds in meta, one blob each).
void PutValues(Message* m, const std::vector<std::string>& names, const std::vector<Value>& values);
// The same with tensors placed in `region` (when not null) from offset `start` on, each at a
// multiple of SharedRegion::kAlignment; the region grows when they do not fit. Returns the end
// of the last tensor placed (`start` when none was).
uint64_t PutValues(Message* m, const std::vector<std::string>& names,
                   const std::vector<const Value*>& values, SharedRegion* region, uint64_t start);
// Decodes them back; a blob that does not parse, or a shared-memory descriptor that is malformed
// or points outside `region` (or names shared memory where `region` is null), is a protocol
// error naming the value. Tensors in shared memory are copied out.
std::vector<std::pair<std::string, Value>> GetValues(const Message& m,
                                                     SharedRegion* region = nullptr);

// Element types that travel in shared memory: those NumPy (or the worker's bit-pattern arrays,
// bfloat16 and float8) holds one element per fixed number of bytes.
bool TravelsShared(DType dt);

}  // namespace concord::protocol
