#include "ir/test_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>

#include "ir/value_io.h"

namespace concord {

namespace fs = std::filesystem;

namespace {

// ONNX's test generator writes bfloat16 tensors as uint16 bit patterns (NumPy has no
// bfloat16). Reinterpret them when the declared type says bfloat16.
Value FixBFloat16(Value v, const onnx::TypeProto& type) {
  if (v.is_tensor() && v.tensor.dtype() == DType::kUInt16 && type.has_tensor_type() &&
      type.tensor_type().elem_type() == static_cast<int>(DType::kBFloat16)) {
    Tensor t(DType::kBFloat16, v.tensor.shape());
    if (t.nbytes()) std::memcpy(t.raw(), v.tensor.raw(), t.nbytes());
    return Value(std::move(t));
  }
  return v;
}

std::vector<std::string> SortedByNumber(const std::string& dir, const std::regex& re) {
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) Fail(ErrorKind::kInput, "{}: not a directory", dir);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) found.emplace_back(std::stol(m[1].str()), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [n, p] : found) out.push_back(p);
  return out;
}

}  // namespace

std::vector<std::string> NumberedFiles(const std::string& dir, const std::string& prefix) {
  return SortedByNumber(dir, std::regex(prefix + "_(\\d{1,6})\\.pb"));
}

std::vector<std::string> TestDataSets(const std::string& case_dir) {
  return SortedByNumber(case_dir, std::regex("test_data_set_(\\d{1,6})"));
}

ValueMap LoadInputSet(const Model& model, const std::string& dir) {
  auto files = NumberedFiles(dir, "input");
  auto inputs = model.Inputs();
  if (files.size() > inputs.size()) {
    Fail(ErrorKind::kInput, "{}: {} input files but the model has {} inputs", dir, files.size(),
         inputs.size());
  }
  ValueMap values;
  for (size_t i = 0; i < files.size(); ++i) {
    values[inputs[i].name] = FixBFloat16(ReadValuePb(files[i], &inputs[i].type), inputs[i].type);
  }
  return values;
}

std::vector<Value> LoadExpectedOutputs(const Model& model, const std::string& dir) {
  auto files = NumberedFiles(dir, "output");
  auto outputs = model.Outputs();
  if (files.size() != outputs.size()) {
    Fail(ErrorKind::kInput, "{}: {} output files but the model has {} outputs", dir, files.size(),
         outputs.size());
  }
  std::vector<Value> values;
  for (size_t i = 0; i < files.size(); ++i)
    values.push_back(FixBFloat16(ReadValuePb(files[i], &outputs[i].type), outputs[i].type));
  return values;
}

}  // namespace concord
