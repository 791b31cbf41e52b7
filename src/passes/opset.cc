// opset=N: ONNX's version converter (default domain). The converter round-trips through
// ONNX's IR, which keeps node names; nodes an adapter replaces are traced by the tensors they
// produce (passes.cc).
#include <onnx/version_converter/convert.h>

#include <cctype>
#include <regex>

#include "passes/pass_util.h"

namespace concord::passes {

namespace {

void CollectTypes(const onnx::GraphProto& g, std::map<std::string, onnx::TypeProto>* types) {
  for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
    for (const auto& vi : *list) {
      if (vi.has_type() && vi.type().value_case() != onnx::TypeProto::VALUE_NOT_SET)
        (*types)[vi.name()] = vi.type();
    }
  }
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectTypes(a.g(), types);
      for (const auto& sg : a.graphs()) CollectTypes(sg, types);
    }
  }
}

// ONNX's converter goes through its IR, which only keeps tensor types: sequence and
// optional types of graph inputs/outputs come back empty. Put the original types back; drop
// untyped value_info.
void RestoreTypes(onnx::GraphProto* g, const std::map<std::string, onnx::TypeProto>& types) {
  auto fix = [&](google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, bool drop) {
    for (int i = list->size() - 1; i >= 0; --i) {
      auto* vi = list->Mutable(i);
      if (vi->has_type() && vi->type().value_case() != onnx::TypeProto::VALUE_NOT_SET) continue;
      auto it = types.find(vi->name());
      if (it != types.end()) {
        *vi->mutable_type() = it->second;
      } else if (drop) {
        list->DeleteSubrange(i, 1);
      }
    }
  };
  fix(g->mutable_input(), false);
  fix(g->mutable_output(), false);
  fix(g->mutable_value_info(), true);
  for (auto& n : *g->mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) RestoreTypes(a.mutable_g(), types);
      for (auto& sg : *a.mutable_graphs()) RestoreTypes(&sg, types);
    }
  }
}

// The version converter reports through assertions ("./onnx/version_converter/BaseConverter.h:66:
// adapter_lookup: Assertion `false` failed: No Adapter From Version $13 for Softmax"): keep what
// it says, not where in ONNX's sources it said it.
std::string ConverterMessage(const std::string& raw) {
  std::string msg = raw;
  const std::string marker = " failed: ";
  if (size_t at = msg.find(marker); at != std::string::npos && msg.find("Assertion") < at) {
    msg = msg.substr(at + marker.size());
  }
  msg = std::regex_replace(msg, std::regex(R"(\$(\d+))"), "$1");
  if (!msg.empty()) msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
  return msg;
}

}  // namespace

void RunOpsetPass(PassRun& run) {
  const int64_t target = run.IntOpt("version");
  const int64_t from = run.input.Opset("");
  if (from < 0) Fail(ErrorKind::kUnsupported, "opset: the model imports no default-domain opset");
  if (target < 1) Fail(ErrorKind::kUsage, "opset={}: the version must be positive", target);
  const int64_t latest =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
  if (target > latest) {
    Fail(ErrorKind::kUnsupported, "opset={}: this ONNX build knows opsets up to {}", target,
         latest);
  }
  run.changes["opset_before"] = from;
  run.changes["opset_after"] = target;
  if (target == from) {
    run.Detail(fmt::format("already opset {}", from));
    return;
  }
  onnx::ModelProto converted;
  try {
    converted = onnx::version_conversion::ConvertVersion(run.proto, static_cast<int>(target));
  } catch (const std::exception& e) {
    // The converter names the op in its message ("No Adapter For Upsample", "... Softmax ...");
    // list the ops of the model that have a schema change between the versions too.
    std::set<std::string> changed;
    for (const auto& n : run.proto.graph().node()) {
      if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
      const auto* a = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(from));
      const auto* b = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(target));
      if (a != b) changed.insert(n.op_type());
    }
    Fail(ErrorKind::kUnsupported,
         "opset: ONNX's version converter cannot convert opset {} -> {}: {} (ops whose schema "
         "changes between these versions: {})",
         from, target, ConverterMessage(e.what()), fmt::join(changed, ", "));
  }
  // Keep what the converter does not carry over.
  std::map<std::string, onnx::TypeProto> types;
  CollectTypes(run.proto.graph(), &types);
  RestoreTypes(converted.mutable_graph(), types);
  *converted.mutable_metadata_props() = run.proto.metadata_props();
  if (converted.doc_string().empty()) converted.set_doc_string(run.proto.doc_string());
  std::map<std::string, int> before, after;
  for (const auto& n : run.proto.graph().node()) before[n.op_type()]++;
  for (const auto& n : converted.graph().node()) after[n.op_type()]++;
  int changed_nodes = 0;
  for (const auto& n : converted.graph().node()) {
    const auto* a = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(from));
    const auto* b = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(target));
    if (a != b) ++changed_nodes;
  }
  run.Count("nodes_with_new_schema", changed_nodes);
  for (const auto& [op, c] : after) {
    if (before[op] != c) run.Detail(fmt::format("{}: {} -> {} nodes", op, before[op], c));
  }
  for (const auto& [op, c] : before) {
    if (!after.count(op)) run.Detail(fmt::format("{}: {} -> 0 nodes", op, c));
  }
  run.proto = std::move(converted);
}

}  // namespace concord::passes
