#include "ir/value.h"

#include <fmt/format.h>

namespace concord {

std::string Value::Describe() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kTensor:
      return tensor.Describe();
    case Kind::kSequence:
      return fmt::format("seq<{}>[{}]", DTypeName(elem_type), sequence.size());
  }
  return "?";
}

}  // namespace concord
