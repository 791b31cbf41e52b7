#include "ir/model.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "ir/external_data.h"
#include "ir/model_format.h"
#include "ir/tensor_io.h"

namespace concord {

namespace fs = std::filesystem;

std::string CanonicalDomain(const std::string& domain) {
  return domain.empty() ? "ai.onnx" : domain;
}

namespace {

// Largest single dimension we accept in a declared input/output shape.
constexpr int64_t kMaxDeclaredDim = int64_t{1} << 40;

void ValidateTensorProto(const onnx::TensorProto& t, const std::string& base_dir,
                         const std::string& what) {
  if (!IsValidDType(t.data_type())) {
    Fail(ErrorKind::kInput, "{}: unknown element type {}", what, t.data_type());
  }
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
    uint64_t need = static_cast<uint64_t>(NumElements(shape)) * DTypeSize(dt);
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
        Fail(ErrorKind::kInput, "{}: unknown element type {}", what, tt.elem_type());
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

// ---- lowering models written by newer exporters --------------------------------------------
// onnx >= 1.13 writes IR 9/10 and opset 18..21 by default, while this build's ONNX library (1.12)
// knows IR 8 and opset 17. Most ops did not change in 18..21 (or only gained types); those that
// did are lowered only where the opset-17 form means exactly the same, otherwise the model is
// rejected with the op named. Nothing is approximated.

bool UsesPost8Types(const onnx::GraphProto& g);

bool IsPost8Type(int32_t t) {
  // FLOAT8E4M3FN..FLOAT8E5M2FNUZ (IR 9), UINT4/INT4 (IR 10).
  return t >= 17 && t <= 22;
}

bool TypeUsesPost8(const onnx::TypeProto& t) {
  if (t.has_tensor_type()) return IsPost8Type(t.tensor_type().elem_type());
  if (t.has_sequence_type()) return TypeUsesPost8(t.sequence_type().elem_type());
  if (t.has_optional_type()) return TypeUsesPost8(t.optional_type().elem_type());
  if (t.has_map_type()) return TypeUsesPost8(t.map_type().value_type());
  return false;
}

bool UsesPost8Types(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer()) {
    if (IsPost8Type(t.data_type())) return true;
  }
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
    for (const auto& vi : *list) {
      if (TypeUsesPost8(vi.type())) return true;
    }
  }
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_t() && IsPost8Type(a.t().data_type())) return true;
      if (a.name() == "to" && a.type() == onnx::AttributeProto::INT &&
          IsPost8Type(static_cast<int32_t>(a.i())))
        return true;
      if (a.has_g() && UsesPost8Types(a.g())) return true;
      for (const auto& sg : a.graphs()) {
        if (UsesPost8Types(sg)) return true;
      }
    }
  }
  return false;
}

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// Reduce*-18 takes axes as an input; the opset-13 forms take an attribute. A constant axes
// input becomes the attribute.
void LowerReduceAxes(onnx::NodeProto* n, const onnx::GraphProto& g, const std::string& what) {
  const auto* noop = FindAttr(*n, "noop_with_empty_axes");
  if (noop != nullptr && noop->i() != 0) {
    Fail(ErrorKind::kInput,
         "{}: node '{}' ({}-18) sets noop_with_empty_axes, which opset 17 "
         "lacks for this op; this build's ONNX library (1.12) reads opsets <= 17",
         what, n->name(), n->op_type());
  }
  if (n->input_size() < 2 || n->input(1).empty()) {
    if (n->input_size() == 2) n->mutable_input()->RemoveLast();
    return;
  }
  const onnx::TensorProto* axes = nullptr;
  for (const auto& t : g.initializer()) {
    if (t.name() == n->input(1)) axes = &t;
  }
  if (axes == nullptr || axes->data_type() != onnx::TensorProto::INT64 ||
      axes->data_location() == onnx::TensorProto::EXTERNAL) {
    Fail(ErrorKind::kInput,
         "{}: node '{}' ({}-18) takes its axes from '{}', which is not a "
         "constant int64 initializer; opset 17 needs them as an attribute",
         what, n->name(), n->op_type(), n->input(1));
  }
  onnx::AttributeProto attr;
  attr.set_name("axes");
  attr.set_type(onnx::AttributeProto::INTS);
  if (axes->int64_data_size() > 0) {
    for (int64_t v : axes->int64_data()) attr.add_ints(v);
  } else {
    const std::string& raw = axes->raw_data();
    for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
      int64_t v;
      std::memcpy(&v, raw.data() + i, 8);
      attr.add_ints(v);
    }
  }
  n->mutable_input()->RemoveLast();
  *n->add_attribute() = attr;
}

void LowerGraphTo17(onnx::GraphProto* g, const std::string& what, int64_t from) {
  static const std::set<std::string> kReduce18 = {
      "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",     "ReduceL1",
      "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  // Ops new in 18..21 or whose 18..21 semantics have no opset-17 spelling.
  static const std::set<std::string> kNoEquivalent = {"BitwiseAnd",
                                                      "BitwiseOr",
                                                      "BitwiseXor",
                                                      "BitwiseNot",
                                                      "CenterCropPad",
                                                      "Col2Im",
                                                      "GroupNormalization",
                                                      "Mish",
                                                      "DeformConv",
                                                      "AffineGrid",
                                                      "DFT",
                                                      "Gelu",
                                                      "ImageDecoder",
                                                      "RegexFullMatch",
                                                      "StringConcat",
                                                      "StringSplit",
                                                      "GridSample"};
  auto reject = [&](const onnx::NodeProto& n, const std::string& why) {
    Fail(ErrorKind::kInput,
         "{}: node '{}' ({}, opset {}) {}; this build's ONNX library (1.12) "
         "reads opsets <= 17: re-export with opset 17",
         what, n.name(), n.op_type(), from, why);
  };
  for (auto& n : *g->mutable_node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
    const std::string& op = n.op_type();
    if (kNoEquivalent.count(op)) reject(n, "has no opset-17 equivalent");
    if (kReduce18.count(op)) LowerReduceAxes(&n, *g, what);
    if ((op == "Cast" || op == "CastLike" || op == "QuantizeLinear" || op == "DequantizeLinear") &&
        FindAttr(n, "saturate") != nullptr) {
      reject(n, "sets 'saturate' (float8)");
    }
    if ((op == "QuantizeLinear" || op == "DequantizeLinear") &&
        (FindAttr(n, "block_size") != nullptr || FindAttr(n, "output_dtype") != nullptr)) {
      reject(n, "uses blocked quantization or output_dtype");
    }
    if (op == "AveragePool" && FindAttr(n, "dilations") != nullptr) reject(n, "sets dilations");
    if (op == "Pad") {
      if (n.input_size() > 3 && !n.input(3).empty()) reject(n, "pads only some axes");
      const auto* mode = FindAttr(n, "mode");
      if (mode != nullptr && mode->s() == "wrap") reject(n, "uses mode 'wrap'");
    }
    if (op == "Resize") {
      const auto* aa = FindAttr(n, "antialias");
      const auto* policy = FindAttr(n, "keep_aspect_ratio_policy");
      const auto* mode = FindAttr(n, "coordinate_transformation_mode");
      if ((aa != nullptr && aa->i() != 0) || FindAttr(n, "axes") != nullptr ||
          (policy != nullptr && policy->s() != "stretch") ||
          (mode != nullptr && mode->s() == "half_pixel_symmetric")) {
        reject(n, "uses antialias, axes, keep_aspect_ratio_policy or half_pixel_symmetric");
      }
    }
    if (op == "Split" && FindAttr(n, "num_outputs") != nullptr) reject(n, "sets num_outputs");
    if (op == "ScatterElements" || op == "ScatterND") {
      const auto* r = FindAttr(n, "reduction");
      if (r != nullptr && (r->s() == "max" || r->s() == "min")) reject(n, "reduces with max/min");
    }
    if (op == "LpPool" && FindAttr(n, "ceil_mode") != nullptr) reject(n, "sets ceil_mode");
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) LowerGraphTo17(a.mutable_g(), what, from);
      for (auto& sg : *a.mutable_graphs()) LowerGraphTo17(&sg, what, from);
    }
  }
}

// Lowers IR 9/10 and opset 18..21 models in place when exactly representable (see above).
void LowerNewerModel(onnx::ModelProto* m, const std::string& what) {
  bool lowered = false;
  std::string from;
  int64_t max_ir = onnx::Version::IR_VERSION;
  if (m->ir_version() > max_ir && m->ir_version() <= 10) {
    if (UsesPost8Types(m->graph())) {
      Fail(ErrorKind::kInput,
           "{}: IR version {} with float8/int4 tensors, which this build's "
           "ONNX library (1.12, IR {}) cannot represent",
           what, m->ir_version(), max_ir);
    }
    from = fmt::format("IR {}", m->ir_version());
    m->set_ir_version(max_ir);
    lowered = true;
  }
  auto ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  int64_t max_opset = ranges[""].second;
  for (auto& op : *m->mutable_opset_import()) {
    bool onnx_domain = op.domain().empty() || op.domain() == "ai.onnx";
    if (!onnx_domain || op.version() <= max_opset || op.version() > 21) continue;
    if (!m->functions().empty()) {
      Fail(ErrorKind::kInput,
           "{}: opset {} with model-local functions cannot be lowered to opset "
           "{}; re-export with opset {}",
           what, op.version(), max_opset, max_opset);
    }
    LowerGraphTo17(m->mutable_graph(), what, op.version());
    from += fmt::format("{}opset {}", from.empty() ? "" : ", ", op.version());
    op.set_version(max_opset);
    lowered = true;
  }
  if (lowered) {
    auto* prop = m->add_metadata_props();
    prop->set_key("concord.lowered_from");
    prop->set_value(from);
  }
}

void ValidateHeader(const onnx::ModelProto& m, const std::string& what) {
  if (!m.has_graph()) Fail(ErrorKind::kInput, "{}: model has no graph", what);
  if (m.ir_version() <= 0) Fail(ErrorKind::kInput, "{}: model has no IR version", what);
  if (m.ir_version() > onnx::Version::IR_VERSION) {
    Fail(ErrorKind::kInput,
         "{}: IR version {} is newer than this build's ONNX library supports ({}); re-export with "
         "an "
         "older opset or upgrade ONNX",
         what, m.ir_version(), static_cast<int>(onnx::Version::IR_VERSION));
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

void AbsolutizeTensor(onnx::TensorProto* t, const std::string& base_dir, const std::string& what) {
  if (t->data_location() != onnx::TensorProto::EXTERNAL) return;
  for (auto& kv : *t->mutable_external_data()) {
    if (kv.key() == "location") kv.set_value(ResolveExternalLocation(kv.value(), base_dir, what));
  }
}

void AbsolutizeExternalData(onnx::GraphProto* g, const std::string& base_dir,
                            const std::string& what) {
  for (auto& t : *g->mutable_initializer()) AbsolutizeTensor(&t, base_dir, what);
  for (auto& n : *g->mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) AbsolutizeTensor(a.mutable_t(), base_dir, what);
      if (a.has_g()) AbsolutizeExternalData(a.mutable_g(), base_dir, what);
      for (auto& sg : *a.mutable_graphs()) AbsolutizeExternalData(&sg, base_dir, what);
    }
  }
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
  LowerNewerModel(&proto, what);
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
      // The checker resolves external data against the working directory; point it at the
      // (already validated) absolute paths in a copy. Only models with external data pay this.
      if (HasExternalData(proto.graph())) {
        onnx::ModelProto copy = proto;
        AbsolutizeExternalData(copy.mutable_graph(), base_dir, what);
        onnx::checker::check_model(copy);
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
