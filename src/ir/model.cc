#include "ir/model.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/checker.h>
#include <onnx/common/version.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <unordered_map>

#include "ir/external_data.h"
#include "ir/model_format.h"
#include "ir/runtime_schemas.h"
#include "ir/tensor_io.h"

namespace concord {

namespace fs = std::filesystem;

std::string CanonicalDomain(const std::string& domain) {
  return domain.empty() ? "ai.onnx" : domain;
}

namespace {

// Largest single dimension we accept in a declared input/output shape.
constexpr int64_t kMaxDeclaredDim = int64_t{1} << 40;

// Why a tensor element type cannot be read: a type a newer ONNX defines that Concord's tensors
// do not hold yet (none in ONNX 1.23: every type up to float6e3m2 is held), or no ONNX type.
std::string UnsupportedElemType(int32_t type) {
  if (onnx::TensorProto::DataType_IsValid(type)) {
    return fmt::format("element type {} ({}) is not supported by Concord's tensors",
                       onnx::TensorProto::DataType_Name(type), type);
  }
  return fmt::format("unknown element type {}", type);
}

void ValidateTensorProto(const onnx::TensorProto& t, const std::string& base_dir,
                         const std::string& what) {
  if (!IsValidDType(t.data_type()))
    Fail(ErrorKind::kInput, "{}: {}", what, UnsupportedElemType(t.data_type()));
  Shape shape(t.dims().begin(), t.dims().end());
  for (int64_t d : shape) {
    if (d < 0) Fail(ErrorKind::kInput, "{}: negative dimension in {}", what, ShapeToString(shape));
  }
  NumElements(shape);
  DType dt = static_cast<DType>(t.data_type());
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    for (const auto& kv : t.external_data()) {
      if (kv.key() == "location") location = kv.value();
    }
    ResolveExternalLocation(location, base_dir, what);
    return;
  }
  if (t.has_raw_data() && dt != DType::kString) {
    uint64_t need = StoredBytes(dt, static_cast<uint64_t>(NumElements(shape)));
    if (t.raw_data().size() != need) {
      Fail(ErrorKind::kInput, "{}: raw data is {} bytes, {} {} needs {}", what, t.raw_data().size(),
           DTypeName(dt), ShapeToString(shape), need);
    }
  }
}

void ValidateType(const onnx::TypeProto& type, const std::string& what, int depth = 0) {
  if (depth > 16) Fail(ErrorKind::kInput, "{}: type nesting is too deep", what);
  switch (type.value_case()) {
    case onnx::TypeProto::kTensorType: {
      const auto& tt = type.tensor_type();
      if (tt.has_elem_type() && tt.elem_type() != 0 && !IsValidDType(tt.elem_type())) {
        Fail(ErrorKind::kInput, "{}: {}", what, UnsupportedElemType(tt.elem_type()));
      }
      if (tt.has_shape()) {
        for (const auto& d : tt.shape().dim()) {
          if (d.has_dim_value() && (d.dim_value() < 0 || d.dim_value() > kMaxDeclaredDim)) {
            Fail(ErrorKind::kInput, "{}: absurd dimension {} in declared shape", what,
                 d.dim_value());
          }
        }
      }
      break;
    }
    case onnx::TypeProto::kSequenceType:
      ValidateType(type.sequence_type().elem_type(), what, depth + 1);
      break;
    case onnx::TypeProto::kOptionalType:
      ValidateType(type.optional_type().elem_type(), what, depth + 1);
      break;
    default:
      break;
  }
}

void ValidateGraph(const onnx::GraphProto& g, const std::string& base_dir, const std::string& file,
                   int depth) {
  if (depth > 64) Fail(ErrorKind::kInput, "{}: subgraphs nested more than 64 deep", file);
  for (const auto& t : g.initializer()) {
    ValidateTensorProto(t, base_dir, fmt::format("{}: initializer '{}'", file, t.name()));
  }
  for (const auto& st : g.sparse_initializer()) {
    ValidateTensorProto(st.values(), base_dir, fmt::format("{}: sparse initializer values", file));
    ValidateTensorProto(st.indices(), base_dir,
                        fmt::format("{}: sparse initializer indices", file));
  }
  for (const auto& vi : g.input())
    ValidateType(vi.type(), fmt::format("{}: input '{}'", file, vi.name()));
  for (const auto& vi : g.output())
    ValidateType(vi.type(), fmt::format("{}: output '{}'", file, vi.name()));
  for (const auto& vi : g.value_info())
    ValidateType(vi.type(), fmt::format("{}: value '{}'", file, vi.name()));
  for (const auto& node : g.node()) {
    for (const auto& attr : node.attribute()) {
      std::string what = fmt::format("{}: node '{}' ({}) attribute '{}'", file, node.name(),
                                     node.op_type(), attr.name());
      if (attr.has_t()) ValidateTensorProto(attr.t(), base_dir, what);
      for (const auto& t : attr.tensors()) ValidateTensorProto(t, base_dir, what);
      if (attr.has_g()) ValidateGraph(attr.g(), base_dir, file, depth + 1);
      for (const auto& sg : attr.graphs()) ValidateGraph(sg, base_dir, file, depth + 1);
      if (attr.has_sparse_tensor()) {
        ValidateTensorProto(attr.sparse_tensor().values(), base_dir, what);
        ValidateTensorProto(attr.sparse_tensor().indices(), base_dir, what);
      }
    }
  }
}

void ValidateHeader(const onnx::ModelProto& m, const std::string& what) {
  if (!m.has_graph()) Fail(ErrorKind::kInput, "{}: model has no graph", what);
  if (m.ir_version() <= 0) Fail(ErrorKind::kInput, "{}: model has no IR version", what);
  if (m.ir_version() > onnx::Version::IR_VERSION) {
    Fail(ErrorKind::kInput,
         "{}: IR version {} is newer than this build's ONNX library ({}, IR <= {}) reads; "
         "re-export with an older IR version",
         what, m.ir_version(), onnx::LAST_RELEASE_VERSION,
         static_cast<int>(onnx::Version::IR_VERSION));
  }
  auto ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& op : m.opset_import()) {
    std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    auto it = ranges.find(domain);
    if (it == ranges.end()) continue;  // custom domain: kernels decide
    if (op.version() < 1 || op.version() > it->second.second) {
      Fail(ErrorKind::kInput,
           "{}: opset {} for domain '{}' is not supported (this ONNX knows {}..{})", what,
           op.version(), CanonicalDomain(op.domain()), it->second.first, it->second.second);
    }
  }
}

bool HasExternalData(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer()) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL) return true;
  }
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_t() && a.t().data_location() == onnx::TensorProto::EXTERNAL) return true;
      if (a.has_g() && HasExternalData(a.g())) return true;
      for (const auto& sg : a.graphs()) {
        if (HasExternalData(sg)) return true;
      }
    }
  }
  return false;
}

// onnx::checker::check_model(ModelProto) resolves external data against an empty model folder
// and refuses absolute locations (ONNX 1.23 does); the folder-aware form behind
// check_model(path) is private to ONNX. This is that form, given the model's folder: the same
// model-level checks, then ONNX's graph and function checkers with the folder set.
void CheckModelInFolder(const onnx::ModelProto& m, const std::string& base_dir) {
  std::set<std::string> keys;
  for (const auto& p : m.metadata_props()) {
    if (!keys.insert(p.key()).second) {
      throw onnx::checker::ValidationError("Your model has duplicate keys in metadata_props.");
    }
  }
  onnx::checker::CheckerContext ctx;
  ctx.set_model_dir(base_dir + "/");
  ctx.set_ir_version(static_cast<int>(m.ir_version()));
  std::unordered_map<std::string, int> opsets;
  for (const auto& op : m.opset_import()) {
    if (op.version() < 0 || op.version() > std::numeric_limits<int>::max()) {
      throw onnx::checker::ValidationError("opset version out of range");
    }
    opsets[op.domain()] = static_cast<int>(op.version());
  }
  if (opsets.empty()) {
    throw onnx::checker::ValidationError(
        "model with IR version >= 3 must specify opset_import for ONNX");
  }
  ctx.set_opset_imports(opsets);
  onnx::checker::LexicalScopeContext lex;
  onnx::checker::check_graph(m.graph(), ctx, lex);
  if (m.ir_version() >= 8) onnx::checker::check_model_local_functions(m, ctx, lex);
}

}  // namespace

ValueInfo ValueInfoFromProto(const onnx::ValueInfoProto& vi) {
  ValueInfo info;
  info.name = vi.name();
  info.type = vi.type();
  if (vi.type().has_tensor_type()) {
    const auto& tt = vi.type().tensor_type();
    info.dtype = static_cast<DType>(tt.elem_type());
    if (tt.has_shape()) {
      info.has_shape = true;
      for (const auto& d : tt.shape().dim()) {
        info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
        info.dim_params.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
  } else {
    info.is_tensor = false;
  }
  return info;
}

std::string TypeToString(const onnx::TypeProto& type) {
  switch (type.value_case()) {
    case onnx::TypeProto::kTensorType: {
      std::string s = DTypeName(static_cast<DType>(type.tensor_type().elem_type()));
      if (!type.tensor_type().has_shape()) return s + "[?]";
      s += "[";
      bool first = true;
      for (const auto& d : type.tensor_type().shape().dim()) {
        if (!first) s += ",";
        first = false;
        s += d.has_dim_value() ? std::to_string(d.dim_value())
                               : (d.has_dim_param() ? d.dim_param() : "?");
      }
      return s + "]";
    }
    case onnx::TypeProto::kSequenceType:
      return "seq(" + TypeToString(type.sequence_type().elem_type()) + ")";
    case onnx::TypeProto::kOptionalType:
      return "optional(" + TypeToString(type.optional_type().elem_type()) + ")";
    case onnx::TypeProto::kMapType:
      return "map";
    default:
      return "?";
  }
}

Model Model::FromProto(onnx::ModelProto proto, const std::string& base_dir, const std::string& what,
                       const LoadOptions& options) {
  RegisterRuntimeSchemas();  // before the checker and shape inference look schemas up
  ValidateHeader(proto, what);
  ValidateGraph(proto.graph(), base_dir, what, 0);
  for (const auto& f : proto.functions()) {
    for (const auto& node : f.node()) {
      for (const auto& attr : node.attribute()) {
        if (attr.has_t()) ValidateTensorProto(attr.t(), base_dir, what + ": function " + f.name());
      }
    }
  }
  if (options.run_checker) {
    try {
      // External data is checked against the model's folder (see CheckModelInFolder).
      if (HasExternalData(proto.graph())) {
        CheckModelInFolder(proto, base_dir);
      } else {
        onnx::checker::check_model(proto);
      }
    } catch (const std::exception& e) {
      Fail(ErrorKind::kInput, "{}: ONNX checker rejected the model: {}", what, e.what());
    }
  }
  if (options.infer_shapes) {
    try {
      onnx::ShapeInferenceOptions sio(/*check_type=*/false, /*strict_mode=*/0, /*data_prop=*/false);
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), sio);
    } catch (const std::exception& e) {
      // Non-strict inference only throws on contradictions between declared and inferred
      // types: that is a broken model.
      Fail(ErrorKind::kInput, "{}: shape inference failed: {}", what, e.what());
    }
  }
  Model m;
  m.proto_ = std::move(proto);
  m.path_ = what;
  m.base_dir_ = base_dir;
  return m;
}

Model Model::FromBytes(const std::string& bytes, const std::string& base_dir,
                       const std::string& what, const LoadOptions& options) {
  onnx::ModelProto proto;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(static_cast<int>(kMaxModelBytes));
  if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    Fail(ErrorKind::kInput,
         "{}: not a valid ONNX model (protobuf parse failed: truncated or corrupt file)", what);
  }
  return FromProto(std::move(proto), base_dir, what, options);
}

Model Model::Load(const std::string& path, const LoadOptions& options) {
  ModelFormatInfo format = DetectModelFormat(path);
  if (format.format != ModelFormat::kOnnx && format.format != ModelFormat::kUnknown) {
    Fail(ErrorKind::kInput,
         "{}: a {} model ({}); this command takes ONNX models (`concord run`, `compare` and "
         "`bench` run framework models on their own envs, see `concord envs`)",
         path, ModelFormatName(format.format), format.evidence);
  }
  std::string bytes = ReadFileBytes(path, kMaxModelBytes);
  if (bytes.empty()) Fail(ErrorKind::kInput, "{}: file is empty, not an ONNX model", path);
  std::string base = fs::path(path).parent_path().string();
  if (base.empty()) base = ".";
  return FromBytes(bytes, base, path, options);
}

ValueInfo TensorValueInfo(const std::string& name, DType dtype, const Shape& shape,
                          bool has_shape) {
  onnx::ValueInfoProto vi;
  vi.set_name(name);
  auto* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(dtype));
  if (has_shape) {
    auto* sp = tt->mutable_shape();
    for (int64_t d : shape) {
      auto* dim = sp->add_dim();
      if (d >= 0) dim->set_dim_value(d);
    }
  }
  return ValueInfoFromProto(vi);
}

Model Model::Framework(const std::string& path, ModelFormat format,
                       const std::vector<ValueInfo>& inputs,
                       const std::vector<ValueInfo>& outputs) {
  CONCORD_CHECK(format != ModelFormat::kOnnx && format != ModelFormat::kUnknown);
  Model m;
  m.format_ = format;
  m.path_ = path;
  m.base_dir_ = fs::path(path).parent_path().string();
  if (m.base_dir_.empty()) m.base_dir_ = ".";
  m.proto_.set_ir_version(onnx::IR_VERSION);
  m.proto_.set_producer_name(ModelFormatName(format));
  auto* graph = m.proto_.mutable_graph();
  graph->set_name(fs::path(path).filename().string());
  std::set<std::string> seen;
  auto add = [&](const ValueInfo& info,
                 google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list) {
    if (info.name.empty() || !seen.insert(info.name).second) {
      Fail(ErrorKind::kInput, "{}: the {} signature has an empty or repeated name '{}'", path,
           ModelFormatName(format), info.name);
    }
    auto* vi = list->Add();
    vi->set_name(info.name);
    *vi->mutable_type() = info.type;
  };
  for (const auto& in : inputs) add(in, graph->mutable_input());
  for (const auto& out : outputs) add(out, graph->mutable_output());
  return m;
}

int64_t Model::Opset(const std::string& domain) const {
  std::string want = CanonicalDomain(domain);
  for (const auto& op : proto_.opset_import()) {
    if (CanonicalDomain(op.domain()) == want) return op.version();
  }
  return -1;
}

std::vector<ValueInfo> Model::Inputs() const {
  std::set<std::string> inits;
  for (const auto& t : graph().initializer()) inits.insert(t.name());
  std::vector<ValueInfo> out;
  for (const auto& vi : graph().input()) {
    if (!inits.count(vi.name())) out.push_back(ValueInfoFromProto(vi));
  }
  return out;
}

std::vector<ValueInfo> Model::Outputs() const {
  std::vector<ValueInfo> out;
  for (const auto& vi : graph().output()) out.push_back(ValueInfoFromProto(vi));
  return out;
}

const onnx::TypeProto* Model::FindType(const std::string& name) const {
  for (const auto* list : {&graph().input(), &graph().output(), &graph().value_info()}) {
    for (const auto& vi : *list) {
      if (vi.name() == name) return &vi.type();
    }
  }
  return nullptr;
}

void Model::Save(const std::string& path) const {
  std::string bytes;
  if (!proto_.SerializeToString(&bytes))
    Fail(ErrorKind::kInternal, "{}: cannot serialize model", path);
  WriteFileAtomic(path, bytes);
}

}  // namespace concord
