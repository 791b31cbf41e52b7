// CheckInputs, --input-shapes parsing and the type strings of the input contract (inputs.h).
#include <algorithm>
#include <cctype>

#include "data/inputs.h"
#include "ir/error.h"

namespace concord {

namespace {

std::string GivenTypeString(const Value& v) {
  if (v.is_tensor()) {
    return fmt::format("{}[{}]", DTypeName(v.tensor.dtype()), fmt::join(v.tensor.shape(), ","));
  }
  if (v.is_sequence()) return fmt::format("a sequence of {}", DTypeName(v.elem_type));
  if (v.is_map_sequence()) {
    return fmt::format("a sequence of map({}, {})", DTypeName(v.key_type), DTypeName(v.elem_type));
  }
  return "an empty optional";
}

// Error(kInput) for `in` given as `v`, with the reason.
[[noreturn]] void Mismatch(const ValueInfo& in, const Value& v, const std::string& why) {
  Fail(ErrorKind::kInput, "input '{}': expected {}, given {} ({})", in.name, DeclaredTypeString(in),
       GivenTypeString(v), why);
}

void CheckTensor(const ValueInfo& in, const Value& v, const InputShapes& shapes) {
  if (!v.is_tensor()) Mismatch(in, v, "not a tensor");
  const Tensor& t = v.tensor;
  if (in.dtype != DType::kUndefined && t.dtype() != in.dtype) {
    Mismatch(
        in, v,
        fmt::format("element type {} instead of {}", DTypeName(t.dtype()), DTypeName(in.dtype)));
  }
  const Shape& given = t.shape();
  if (in.has_shape && given.size() != in.shape.size()) {
    Mismatch(in, v, fmt::format("rank {} instead of {}", given.size(), in.shape.size()));
  }
  for (size_t i = 0; in.has_shape && i < given.size(); ++i) {
    if (in.shape[i] >= 0 && given[i] != in.shape[i]) {
      Mismatch(in, v,
               fmt::format("dim {} is {}, the model fixes it at {}", i, given[i], in.shape[i]));
    }
  }
  auto spec = shapes.find(in.name);
  if (spec != shapes.end() && spec->second != given) {
    Mismatch(in, v, fmt::format("--input-shapes says [{}]", fmt::join(spec->second, ",")));
  }
}

// Dims of one entry: "1x3x224x224", "[1,3,224,224]", "[]" or "" (a scalar).
std::vector<int64_t> ParseDims(const std::string& text, const std::string& entry) {
  std::string body = text;
  char sep = 'x';
  if (!body.empty() && body.front() == '[') {
    if (body.back() != ']') Fail(ErrorKind::kUsage, "--input-shapes '{}': missing ']'", entry);
    body = body.substr(1, body.size() - 2);
    sep = ',';
  }
  std::vector<int64_t> dims;
  if (body.empty()) return dims;
  size_t start = 0;
  while (true) {
    size_t end = body.find(sep, start);
    std::string d = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
    bool digits = !d.empty() && d.size() <= 12 &&
                  std::all_of(d.begin(), d.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits) {
      Fail(ErrorKind::kUsage,
           "--input-shapes '{}': '{}' is not a dimension (use NAME:1x3x224x224 or "
           "NAME:[1,3,224,224])",
           entry, d);
    }
    dims.push_back(std::stoll(d));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return dims;
}

// Splits one argument at spaces and at commas outside brackets.
std::vector<std::string> SplitEntries(const std::string& arg) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : arg) {
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    if (c == ' ' && depth > 0) continue;
    if ((c == ' ' || c == ',') && depth == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::string DeclaredTypeString(const ValueInfo& info) {
  if (!info.is_tensor) return TypeToString(info.type);
  std::string dtype = info.dtype == DType::kUndefined ? "?" : DTypeName(info.dtype);
  if (!info.has_shape) return dtype + "[shape unknown]";
  std::vector<std::string> dims;
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (info.shape[i] >= 0) {
      dims.push_back(std::to_string(info.shape[i]));
    } else if (i < info.dim_params.size() && !info.dim_params[i].empty()) {
      dims.push_back(info.dim_params[i]);
    } else {
      dims.push_back("?");
    }
  }
  return fmt::format("{}[{}]", dtype, fmt::join(dims, ","));
}

void CheckInputs(const Model& model, const ValueMap& inputs, const InputShapes& shapes) {
  for (const auto& in : model.Inputs()) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) {
      Fail(ErrorKind::kInput, "input '{}' ({}) is missing", in.name, DeclaredTypeString(in));
    }
    if (in.is_tensor) CheckTensor(in, it->second, shapes);
  }
}

InputShapes ParseInputShapes(const std::vector<std::string>& args) {
  InputShapes shapes;
  for (const auto& arg : args) {
    for (const auto& entry : SplitEntries(arg)) {
      size_t colon = entry.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        Fail(ErrorKind::kUsage,
             "--input-shapes '{}': expected NAME:DIMS (e.g. x:1x3x224x224 or x:[1,3,224,224])",
             entry);
      }
      std::string name = entry.substr(0, colon);
      if (shapes.count(name)) Fail(ErrorKind::kUsage, "--input-shapes gives '{}' twice", name);
      shapes[name] = ParseDims(entry.substr(colon + 1), entry);
    }
  }
  return shapes;
}

}  // namespace concord
