#include "data/inputs.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "ir/error.h"
#include "ir/random.h"
#include "ir/tensor_io.h"
#include "ir/test_data.h"
#include "ir/value_io.h"

namespace concord {

namespace fs = std::filesystem;

namespace {

const char* const kSourcesHint =
    "--inputs takes .pb/.npy/.npz files, a test_data_set_N folder (input_K.pb files) or a folder "
    "of test_data_set_N folders";

// "holds 3 .jpg files, 1 folder" / "is empty": what a folder without tensors contains.
std::string DescribeFolder(const std::string& dir) {
  std::map<std::string, int> files;
  int folders = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) {
      ++folders;
    } else {
      std::string ext = e.path().extension().string();
      ++files[ext.empty() ? "extension-less" : ext];
    }
  }
  std::vector<std::string> parts;
  for (const auto& [ext, n] : files) parts.push_back(fmt::format("{} {} file(s)", n, ext));
  if (folders) parts.push_back(fmt::format("{} folder(s) not named test_data_set_N", folders));
  if (parts.empty()) return "is empty";
  return fmt::format("holds {}", fmt::join(parts, ", "));
}

// Binds tensors from files to model inputs: by name, else the next unbound input by position.
class Binder {
 public:
  explicit Binder(const Model& model) : inputs_(model.Inputs()) {}

  // The declared input a .pb file will bind to (its TensorProto name, else the next position),
  // so sequence/optional inputs are parsed with the right type.
  const ValueInfo* Peek(const std::string& name) {
    for (const auto& in : inputs_) {
      if (in.name == name) return &in;
    }
    size_t pos = NextPosition();
    return pos < inputs_.size() ? &inputs_[pos] : nullptr;
  }

  void Bind(const std::string& name, Value v, const std::string& source) {
    std::string target = name;
    bool named = std::any_of(inputs_.begin(), inputs_.end(),
                             [&](const ValueInfo& in) { return in.name == name; });
    if (!named) {
      size_t pos = NextPosition();
      if (pos >= inputs_.size()) {
        Fail(ErrorKind::kInput, "{}: more input tensors than the model has inputs ({})", source,
             inputs_.size());
      }
      target = inputs_[pos].name;
    }
    if (values_.count(target)) {
      Fail(ErrorKind::kInput, "{}: input '{}' given twice", source, target);
    }
    values_[target] = std::move(v);
  }

  ValueMap Take() { return std::move(values_); }

 private:
  size_t NextPosition() const {
    size_t pos = 0;
    while (pos < inputs_.size() && values_.count(inputs_[pos].name)) ++pos;
    return pos;
  }
  std::vector<ValueInfo> inputs_;
  ValueMap values_;
};

void BindFile(Binder& binder, const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".npy") {
    binder.Bind(fs::path(path).stem().string(), ReadNpy(path), path);
  } else if (ext == ".npz") {
    for (auto& nt : ReadNpz(path)) binder.Bind(nt.name, std::move(nt.tensor), path);
  } else if (ext == ".pb") {
    onnx::TensorProto probe;
    std::string bytes = ReadFileBytes(path, kMaxTensorBytes + (1u << 20));
    std::string name = probe.ParseFromString(bytes) ? probe.name() : "";
    const ValueInfo* info = binder.Peek(name);
    Value v = ReadValuePb(path, info ? &info->type : nullptr);
    binder.Bind(info ? info->name : name, std::move(v), path);
  } else {
    Fail(ErrorKind::kInput, "{}: unknown input file type; {}", path, kSourcesHint);
  }
}

InputSet LoadFileSet(const Model& model, const std::vector<std::string>& files) {
  Binder binder(model);
  for (const auto& f : files) BindFile(binder, f);
  InputSet set;
  set.inputs = binder.Take();
  set.origin = files.size() == 1 ? files[0] : fmt::format("{} file(s)", files.size());
  return set;
}

InputSet LoadTestDataSet(const Model& model, const std::string& dir) {
  if (NumberedFiles(dir, "input").empty()) {
    Fail(ErrorKind::kInput, "{}: no input_K.pb files: the folder {}; {}", dir, DescribeFolder(dir),
         kSourcesHint);
  }
  InputSet set;
  set.inputs = LoadInputSet(model, dir);
  set.origin = fs::path(dir).filename().string();
  if (!NumberedFiles(dir, "output").empty()) {
    std::vector<Value> expected = LoadExpectedOutputs(model, dir);
    auto outputs = model.Outputs();
    for (size_t i = 0; i < expected.size(); ++i) set.expected[outputs[i].name] = expected[i];
  }
  return set;
}

// A folder: its test_data_set_* folders, or itself when it holds input_K.pb files.
void LoadFolder(const Model& model, const std::string& dir, std::vector<InputSet>* sets) {
  std::vector<std::string> sub = TestDataSets(dir);
  if (sub.empty() && NumberedFiles(dir, "input").empty()) {
    Fail(ErrorKind::kInput, "{}: no input tensors in this folder: it {}; {}", dir,
         DescribeFolder(dir), kSourcesHint);
  }
  if (sub.empty()) sub.push_back(dir);
  for (const auto& s : sub) sets->push_back(LoadTestDataSet(model, s));
}

// Checks a --input-shapes entry against the declared rank and static dims.
void CheckShapeSpec(const ValueInfo& in, const std::vector<int64_t>& dims) {
  bool ok = !in.has_shape || in.shape.size() == dims.size();
  for (size_t i = 0; ok && in.has_shape && i < dims.size(); ++i) {
    ok = in.shape[i] < 0 || in.shape[i] == dims[i];
  }
  if (!ok) {
    Fail(ErrorKind::kUsage, "--input-shapes {}:[{}] does not fit the model's input {}", in.name,
         fmt::join(dims, ","), DeclaredTypeString(in));
  }
}

// Fills the inputs `set` lacks with seeded random data.
void Generate(const Model& model, const InputRequest& req, InputSet* set) {
  uint64_t k = 0;
  for (const auto& in : model.Inputs()) {
    ++k;
    if (set->inputs.count(in.name)) continue;
    if (!in.is_tensor) {
      Fail(ErrorKind::kInput,
           "input '{}' has type {}: random data can only be made for tensors; pass it with "
           "--inputs",
           in.name, TypeToString(in.type));
    }
    Shape shape = in.shape;
    auto spec = req.shapes.find(in.name);
    if (spec != req.shapes.end()) {
      shape = spec->second;
    } else if (!in.has_shape) {
      Fail(ErrorKind::kInput,
           "input '{}' has no declared shape; pass it with --inputs or --input-shapes {}:DIMS",
           in.name, in.name);
    }
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] >= 0) continue;
      shape[i] = 1;
      std::string sym = i < in.dim_params.size() && !in.dim_params[i].empty()
                            ? fmt::format(" ('{}')", in.dim_params[i])
                            : "";
      set->defaulted.push_back(fmt::format("{}: dim {}{} = 1", in.name, i, sym));
    }
    set->inputs[in.name] = RandomTensor(in.dtype, shape, req.seed * 1000003u + k);
    set->generated.push_back(in.name);
  }
}

}  // namespace

std::vector<InputSet> LoadInputSets(const Model& model, const InputRequest& request) {
  auto declared = model.Inputs();
  for (const auto& [name, dims] : request.shapes) {
    auto it = std::find_if(declared.begin(), declared.end(),
                           [&](const ValueInfo& in) { return in.name == name; });
    if (it == declared.end()) {
      std::vector<std::string> names;
      for (const auto& in : declared) names.push_back(in.name);
      Fail(ErrorKind::kUsage, "--input-shapes names '{}', which is not a model input (inputs: {})",
           name, fmt::join(names, ", "));
    }
    CheckShapeSpec(*it, dims);
  }
  std::vector<InputSet> sets;
  std::vector<std::string> files;
  for (const auto& p : request.paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) Fail(ErrorKind::kInput, "{}: no such file or folder (--inputs)", p);
    if (fs::is_directory(p, ec)) {
      LoadFolder(model, p, &sets);
    } else {
      files.push_back(p);
    }
  }
  if (!files.empty()) sets.push_back(LoadFileSet(model, files));
  if (sets.empty()) {
    sets.emplace_back();
    sets.back().origin = fmt::format("random (seed {})", request.seed);
  }
  for (auto& set : sets) {
    Generate(model, request, &set);
    try {
      CheckInputs(model, set.inputs, request.shapes);
    } catch (const Error& e) {
      if (request.paths.empty()) throw;
      Fail(e.kind(), "{}: {}", set.origin, e.what());
    }
  }
  return sets;
}

std::string DescribeInputSets(const std::vector<InputSet>& sets) {
  if (sets.size() == 1) return sets[0].origin;
  return fmt::format("{} input sets ({} .. {})", sets.size(), sets.front().origin,
                     sets.back().origin);
}

void SaveInputSet(const Model& model, const InputSet& set, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail(ErrorKind::kInput, "{}: cannot create folder: {}", dir, ec.message());
  int k = 0;
  for (const auto& in : model.Inputs()) {
    WriteValuePb((fs::path(dir) / fmt::format("input_{}.pb", k++)).string(), set.inputs.at(in.name),
                 in.name);
  }
}

}  // namespace concord
