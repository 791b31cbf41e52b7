#include "ir/value.h"

#include <fmt/format.h>

#include <cstring>
#include <unordered_map>

namespace concord {

namespace {

// Map keys as strings, for lookup: string keys as they are, integer keys in decimal.
std::vector<std::string> KeyStrings(const Tensor& keys) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(keys.numel()));
  if (keys.dtype() == DType::kString) {
    const std::string* k = keys.data<std::string>();
    out.assign(k, k + keys.numel());
    return out;
  }
  Tensor k64 = keys.CastTo(DType::kInt64);
  for (int64_t i = 0; i < k64.numel(); ++i) out.push_back(std::to_string(k64.data<int64_t>()[i]));
  return out;
}

// 1-D tensor of t's elements at `index`.
Tensor Gather(const Tensor& t, const std::vector<int64_t>& index) {
  Tensor out(t.dtype(), {static_cast<int64_t>(index.size())});
  if (t.dtype() == DType::kString) {
    for (size_t i = 0; i < index.size(); ++i)
      out.data<std::string>()[i] = t.data<std::string>()[index[i]];
    return out;
  }
  size_t size = t.numel() > 0 ? t.nbytes() / static_cast<size_t>(t.numel()) : 0;
  auto* dst = static_cast<uint8_t*>(out.raw());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  for (size_t i = 0; i < index.size(); ++i)
    std::memcpy(dst + i * size, src + static_cast<size_t>(index[i]) * size, size);
  return out;
}

}  // namespace

std::string Value::Describe() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kTensor:
      return tensor.Describe();
    case Kind::kSequence:
      return fmt::format("seq<{}>[{}]", DTypeName(elem_type), sequence.size());
    case Kind::kMapSequence:
      return fmt::format("seq<map<{},{}>>[{}]", DTypeName(key_type), DTypeName(elem_type),
                         maps.size());
  }
  return "?";
}

std::optional<Tensor> MapValuesInKeyOrder(const MapValue& map, const Tensor& keys) {
  if (map.keys.dtype() != keys.dtype() || map.keys.numel() != keys.numel()) return std::nullopt;
  std::unordered_map<std::string, int64_t> position;
  std::vector<std::string> own = KeyStrings(map.keys);
  for (size_t i = 0; i < own.size(); ++i) position.emplace(own[i], static_cast<int64_t>(i));
  if (position.size() != own.size()) return std::nullopt;  // repeated keys: not a map
  std::vector<int64_t> index;
  std::vector<bool> used(own.size(), false);
  for (const std::string& k : KeyStrings(keys)) {
    auto it = position.find(k);
    if (it == position.end() || used[static_cast<size_t>(it->second)]) return std::nullopt;
    used[static_cast<size_t>(it->second)] = true;
    index.push_back(it->second);
  }
  return Gather(map.values, index);
}

}  // namespace concord
