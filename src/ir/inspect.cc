#include "ir/inspect.h"

#include <map>

#include "ir/error.h"
#include "ir/model.h"
#include "ir/model_format.h"

namespace concord {

namespace {

using json = nlohmann::json;

void CountOps(const onnx::GraphProto& g, std::map<std::string, int64_t>* ops, int64_t* nodes) {
  for (const auto& n : g.node()) {
    ++*nodes;
    std::string domain = n.domain().empty() || n.domain() == "ai.onnx" ? "" : n.domain() + "::";
    ++(*ops)[domain + n.op_type()];
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CountOps(a.g(), ops, nodes);
      for (const auto& sub : a.graphs()) CountOps(sub, ops, nodes);
    }
  }
}

json ValuesJson(const std::vector<ValueInfo>& values) {
  json out = json::array();
  for (const auto& v : values) {
    json j = {{"name", v.name}, {"type", TypeToString(v.type)}};
    if (v.is_tensor) {
      j["dtype"] = DTypeName(v.dtype);
      if (v.has_shape) {
        j["shape"] = v.shape;
        json dynamic = json::array();
        for (size_t i = 0; i < v.shape.size(); ++i) {
          if (v.shape[i] >= 0) continue;
          const std::string& param = i < v.dim_params.size() ? v.dim_params[i] : "";
          dynamic.push_back({{"axis", i}, {"name", param.empty() ? "?" : param}});
        }
        j["dynamic"] = dynamic;
      }
    }
    out.push_back(j);
  }
  return out;
}

int64_t Numel(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n;
}

void DescribeWeights(const onnx::GraphProto& g, json* doc) {
  int64_t params = 0, bytes = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> external;  // location -> bytes, tensors
  for (const auto& t : g.initializer()) {
    const int64_t n = Numel(t);
    const auto dt = static_cast<DType>(t.data_type());
    const int64_t b = static_cast<int64_t>(StoredBytes(dt, static_cast<uint64_t>(n)));
    params += n;
    bytes += b;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      for (const auto& kv : t.external_data()) {
        if (kv.key() != "location") continue;
        external[kv.value()].first += b;
        ++external[kv.value()].second;
      }
    }
  }
  (*doc)["initializers"] = g.initializer_size();
  (*doc)["parameters"] = params;
  (*doc)["weight_bytes"] = bytes;
  json ext = json::array();
  for (const auto& [loc, v] : external) {
    ext.push_back({{"location", loc}, {"bytes", v.first}, {"tensors", v.second}});
  }
  (*doc)["external_data"] = ext;
}

void DescribeOnnx(const Model& model, json* doc) {
  const onnx::ModelProto& p = model.proto();
  (*doc)["ir_version"] = p.ir_version();
  (*doc)["producer"] = {{"name", p.producer_name()}, {"version", p.producer_version()}};
  json opsets = json::array();
  for (const auto& o : p.opset_import()) {
    opsets.push_back({{"domain", CanonicalDomain(o.domain())}, {"version", o.version()}});
  }
  (*doc)["opsets"] = opsets;
  (*doc)["inputs"] = ValuesJson(model.Inputs());
  (*doc)["outputs"] = ValuesJson(model.Outputs());
  std::map<std::string, int64_t> ops;
  int64_t nodes = 0;
  CountOps(p.graph(), &ops, &nodes);
  (*doc)["nodes"] = nodes;
  (*doc)["ops"] = ops;
  DescribeWeights(p.graph(), doc);
  (*doc)["functions"] = p.functions_size();
  json meta = json::object();
  for (const auto& kv : p.metadata_props()) meta[kv.key()] = kv.value();
  (*doc)["metadata"] = meta;
}

}  // namespace

json InspectModel(const std::string& path) {
  ModelFormatInfo info = DetectModelFormat(path);
  json doc = {{"path", path},
              {"format", ModelFormatName(info.format)},
              {"files", info.files},
              {"bytes", info.bytes},
              {"evidence", info.evidence}};
  if (info.format == ModelFormat::kUnknown) {
    Fail(ErrorKind::kInput,
         "{}: not a model Concord recognises (expected ONNX, TorchScript, torch.export .pt2, "
         "Keras .keras, a SavedModel folder, TFLite or OpenVINO .xml)",
         path);
  }
  if (info.format != ModelFormat::kOnnx) return doc;
  try {
    DescribeOnnx(Model::Load(path), &doc);
    doc["checker"] = "ok";
  } catch (const Error& e) {
    // Describe what can be read; the checker's verdict is part of the description.
    LoadOptions lenient;
    lenient.run_checker = false;
    lenient.infer_shapes = false;
    DescribeOnnx(Model::Load(path, lenient), &doc);
    doc["checker"] = e.what();
  }
  return doc;
}

}  // namespace concord
