// Value: what flows along an edge of an ONNX graph — a tensor, a sequence of tensors, or an empty
// optional ("none"). A present optional is represented by its element itself, so
// OptionalGetElement is the identity. Value and ValueMap (values by graph-input or tensor name)
// are the currency every layer speaks: the interpreter, backends, the wire protocol, comparison.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace concord {

struct Value {
  enum class Kind { kNone, kTensor, kSequence };
  Kind kind = Kind::kNone;
  Tensor tensor;                        // kTensor
  std::vector<Tensor> sequence;         // kSequence
  DType elem_type = DType::kUndefined;  // kSequence: element dtype, kept for empty sequences

  Value() = default;
  Value(Tensor t) : kind(Kind::kTensor), tensor(std::move(t)) {}  // NOLINT: implicit on purpose
  static Value Sequence(std::vector<Tensor> items, DType elem_type) {
    Value v;
    v.kind = Kind::kSequence;
    v.sequence = std::move(items);
    v.elem_type = elem_type;
    return v;
  }
  static Value None() { return Value(); }

  bool is_tensor() const { return kind == Kind::kTensor; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_none() const { return kind == Kind::kNone; }
  std::string Describe() const;
};

// Values by name: graph inputs for a run, or every tapped intermediate tensor.
using ValueMap = std::map<std::string, Value>;

}  // namespace concord
