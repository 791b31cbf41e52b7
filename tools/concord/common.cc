#include "tools/concord/common.h"

#include <filesystem>
#include <random>

#include "ir/test_data.h"
#include "ir/tensor_io.h"
#include "ir/random.h"
#include "ir/value_io.h"

namespace concord::cli {

namespace fs = std::filesystem;

ValueMap LoadInputs(const Model& model, const std::vector<std::string>& paths, uint64_t seed,
                    std::vector<std::string>* generated) {
  auto inputs = model.Inputs();
  ValueMap values;
  size_t next_position = 0;
  auto bind = [&](const std::string& name, Value v, const std::string& source) {
    std::string target = name;
    bool named = false;
    for (const auto& in : inputs) named |= in.name == name;
    if (!named) {
      while (next_position < inputs.size() && values.count(inputs[next_position].name)) ++next_position;
      if (next_position >= inputs.size()) {
        Fail(ErrorKind::kInput, "{}: more input tensors than the model has inputs ({})", source, inputs.size());
      }
      target = inputs[next_position].name;
    }
    if (values.count(target)) Fail(ErrorKind::kInput, "{}: input '{}' given twice", source, target);
    values[target] = std::move(v);
  };
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      ValueMap set = LoadInputSet(model, path);
      for (auto& [name, v] : set) bind(name, std::move(v), path);
      continue;
    }
    std::string ext = fs::path(path).extension().string();
    if (ext == ".npy") {
      bind(fs::path(path).stem().string(), ReadNpy(path), path);
    } else if (ext == ".npz") {
      for (auto& nt : ReadNpz(path)) bind(nt.name, std::move(nt.tensor), path);
    } else if (ext == ".pb") {
      // Bind by name first so sequence/optional inputs are parsed with the right proto type.
      NamedTensor nt;
      const ValueInfo* info = nullptr;
      onnx::TensorProto probe;
      std::string bytes = ReadFileBytes(path, kMaxTensorBytes + (1u << 20));
      if (probe.ParseFromString(bytes)) {
        for (const auto& in : inputs) {
          if (in.name == probe.name()) info = &in;
        }
      }
      if (info == nullptr) {
        size_t pos = next_position;
        while (pos < inputs.size() && values.count(inputs[pos].name)) ++pos;
        if (pos < inputs.size()) info = &inputs[pos];
      }
      Value v = ReadValuePb(path, info ? &info->type : nullptr);
      bind(info ? info->name : probe.name(), std::move(v), path);
    } else {
      Fail(ErrorKind::kUsage, "{}: unknown input file type (use .pb, .npy, .npz or a test_data_set_N folder)", path);
    }
  }
  uint64_t k = 0;
  for (const auto& in : inputs) {
    ++k;
    if (values.count(in.name)) continue;
    if (!in.is_tensor) {
      Fail(ErrorKind::kInput, "input '{}' has type {}: random data can only be made for tensors; pass it with --inputs",
           in.name, TypeToString(in.type));
    }
    if (!in.has_shape) {
      Fail(ErrorKind::kInput, "input '{}' has no declared shape; pass it with --inputs", in.name);
    }
    Shape shape = in.shape;
    for (auto& d : shape) {
      if (d < 0) d = 1;
    }
    values[in.name] = RandomTensor(in.dtype, shape, seed * 1000003u + k);
    if (generated) generated->push_back(in.name);
  }
  return values;
}

nlohmann::json ValueSummaryJson(const Value& v) {
  nlohmann::json j;
  if (v.is_tensor()) {
    j["dtype"] = DTypeName(v.tensor.dtype());
    j["shape"] = v.tensor.shape();
  } else if (v.is_sequence()) {
    j["sequence_length"] = v.sequence.size();
    j["dtype"] = DTypeName(v.elem_type);
  } else {
    j["none"] = true;
  }
  return j;
}

std::string FormatMs(double ms) {
  if (ms < 1) return fmt::format("{:.3f} ms", ms);
  if (ms < 1000) return fmt::format("{:.2f} ms", ms);
  return fmt::format("{:.2f} s", ms / 1000);
}

}  // namespace concord::cli
