// Value: what flows along an edge of an ONNX graph — a tensor, a sequence of tensors, a sequence
// of maps, or an empty optional ("none"). A present optional is represented by its element
// itself, so OptionalGetElement is the identity. Value and ValueMap (values by graph-input or
// tensor name) are the currency every layer speaks: the interpreter, backends, the wire protocol,
// comparison.
//
// A sequence of maps (ONNX seq(map(K, tensor(V))), what ai.onnx.ml ZipMap returns for every
// classifier) holds one MapValue per element: its keys and its values as two 1-D tensors of one
// length, entry i mapping keys[i] to values[i]. Keys are distinct; their order is kept as given
// but carries no meaning (two maps are equal when their key sets and values per key are).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace concord {

struct MapValue {
  Tensor keys;    // 1-D: int64 (or another integer type) or string
  Tensor values;  // 1-D, as long as keys
};

struct Value {
  enum class Kind { kNone, kTensor, kSequence, kMapSequence };
  Kind kind = Kind::kNone;
  Tensor tensor;                        // kTensor
  std::vector<Tensor> sequence;         // kSequence
  std::vector<MapValue> maps;           // kMapSequence
  DType elem_type = DType::kUndefined;  // kSequence: element dtype; kMapSequence: value dtype
  DType key_type = DType::kUndefined;   // kMapSequence: key dtype (both kept for empty sequences)

  Value() = default;
  Value(Tensor t) : kind(Kind::kTensor), tensor(std::move(t)) {}  // NOLINT: implicit on purpose
  static Value Sequence(std::vector<Tensor> items, DType elem_type) {
    Value v;
    v.kind = Kind::kSequence;
    v.sequence = std::move(items);
    v.elem_type = elem_type;
    return v;
  }
  static Value MapSequence(std::vector<MapValue> maps, DType key_type, DType value_type) {
    Value v;
    v.kind = Kind::kMapSequence;
    v.maps = std::move(maps);
    v.key_type = key_type;
    v.elem_type = value_type;
    return v;
  }
  static Value None() { return Value(); }

  bool is_tensor() const { return kind == Kind::kTensor; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_map_sequence() const { return kind == Kind::kMapSequence; }
  bool is_none() const { return kind == Kind::kNone; }
  // "float[2, 3]", "seq<float>[4]", "seq<map<string,float>>[2]", "none".
  std::string Describe() const;
};

// `map`'s values rearranged to follow `keys` (a 1-D tensor of the same key dtype): entry i is the
// value `map` holds for keys[i]. nullopt when the two key sets differ (or their dtypes do).
std::optional<Tensor> MapValuesInKeyOrder(const MapValue& map, const Tensor& keys);

// Values by name: graph inputs for a run, or every tapped intermediate tensor.
using ValueMap = std::map<std::string, Value>;

}  // namespace concord
