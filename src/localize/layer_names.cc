#include "localize/layer_names.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace concord::localize {

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

void AddUnique(std::vector<std::string>* list, const std::string& v) {
  if (!v.empty() && std::find(list->begin(), list->end(), v) == list->end()) list->push_back(v);
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " + ") + p;
  return out;
}

// "['', 'layer1', 'layer1.0', 'layer1.0.bn1', '_native_batch_norm']" -> the last module path
// (the entry before the fx node's own name); an op of the root module's forward itself:
// "forward:<op>".
std::string ModuleFromNameScopes(const std::string& repr) {
  static const std::regex kItem("'([^']*)'");
  std::vector<std::string> items;
  for (auto it = std::sregex_iterator(repr.begin(), repr.end(), kItem);
       it != std::sregex_iterator(); ++it) {
    items.push_back((*it)[1].str());
  }
  if (items.size() < 2) return "";
  if (items[items.size() - 2].empty()) return "forward:" + items.back();  // an op of the root
  return items[items.size() - 2];
}

// A state-dict key's module: "layer1.0.conv1.weight" -> "layer1.0.conv1".
std::string ModuleOfParameter(const std::string& name) {
  static const std::regex kKey(
      R"(^((?:[A-Za-z_][A-Za-z0-9_]*|\d+)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))*)\.)"
      R"((weight|bias|running_mean|running_var|in_proj_weight|in_proj_bias)$)");
  std::smatch m;
  return std::regex_match(name, m, kKey) ? m[1].str() : "";
}

// TorchScript export scopes: "/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1".
std::string ModuleFromTorchScriptName(const std::string& name) {
  if (name.empty() || name[0] != '/') return "";
  std::vector<std::string> seg = Split(name.substr(1), '/');
  if (seg.size() < 2) return "";
  // a child of a Sequential repeats its parent's name ("layer2" then "layer2.1")
  std::vector<std::string> parts;
  for (size_t i = 0; i + 1 < seg.size(); ++i) {
    if (!parts.empty() && seg[i].rfind(seg[i - 1] + ".", 0) == 0) {
      parts.back() = seg[i];
    } else {
      parts.push_back(seg[i]);
    }
  }
  std::string path;
  for (const auto& p : parts) path += (path.empty() ? "" : ".") + p;
  return path;
}

// One ';'-part of a tensor name written by litert-torch: "Class.Path_attr" segments.
std::string ModuleFromLiteRtName(const std::string& part) {
  std::string p = part.substr(0, part.find(';'));
  std::vector<std::string> seg = Split(p, '/');
  std::string path;
  bool any = false;
  for (const auto& s : seg) {
    size_t dot = s.rfind('.');
    if (dot == std::string::npos) return "";  // not a class path: another exporter
    size_t us = s.find('_', dot);
    if (us == std::string::npos) continue;  // the root module (no attribute name)
    any = true;
    path += (path.empty() ? "" : ".") + s.substr(us + 1);
  }
  return any ? path : "";
}

// One ';'-part of a tf2onnx name: "StatefulPartitionedCall/resnet50_1/conv1_conv_1/convolution"
// -> "conv1_conv" (the model's scope and Keras 3's call suffix "_1" dropped).
std::string KerasLayerFromName(const std::string& part) {
  std::vector<std::string> seg = Split(part, '/');
  if (!seg.empty() && seg[0] == "StatefulPartitionedCall") seg.erase(seg.begin());
  if (seg.size() < 2) return "";
  std::string layer = seg.size() >= 3 ? seg[1] : seg[0];
  static const std::regex kSuffix("_\\d+$");
  return std::regex_replace(layer, kSuffix, "");
}

}  // namespace

std::vector<std::string> LayersInName(const std::string& name, std::string* scheme) {
  std::vector<std::string> out;
  if (std::string m = ModuleOfParameter(name); !m.empty()) {
    *scheme = "torch module";
    return {m};
  }
  if (std::string m = ModuleFromTorchScriptName(name); !m.empty()) {
    *scheme = "torch module";
    return {m};
  }
  std::string base = name.substr(0, name.rfind(':'));  // tensor "x/y:0" -> "x/y"
  for (const auto& part : Split(base, ';')) {
    if (part.empty() || part.find('/') == std::string::npos) continue;
    if (std::string m = ModuleFromLiteRtName(part); !m.empty()) {
      *scheme = "torch module";
      AddUnique(&out, m);
    } else if (std::string k = KerasLayerFromName(part); !k.empty()) {
      *scheme = "keras layer";
      AddUnique(&out, k);
    }
  }
  // a fused TFLite op lists its layers last-applied first (relu;bn;conv): report in data order
  std::reverse(out.begin(), out.end());
  return out;
}

LayerName LayerOf(const onnx::GraphProto& graph, int index) {
  const auto& node = graph.node(index);
  for (const auto& prop : node.metadata_props()) {
    if (prop.key() == "pkg.torch.onnx.name_scopes") {
      std::string m = ModuleFromNameScopes(prop.value());
      if (!m.empty()) return {m, "torch module"};
    }
  }
  std::string scheme;
  std::vector<std::string> layers = LayersInName(node.name(), &scheme);
  if (layers.empty()) {  // "Conv__223": the layers its parameters and outputs name
    std::vector<std::string> names;
    for (const auto& init : graph.initializer()) {
      if (std::find(node.input().begin(), node.input().end(), init.name()) != node.input().end())
        names.push_back(init.name());
    }
    names.insert(names.end(), node.output().begin(), node.output().end());
    for (const auto& n : names) {
      for (const auto& l : LayersInName(n, &scheme)) AddUnique(&layers, l);
    }
  }
  if (layers.empty()) return {node.name().empty() ? node.op_type() : node.name(), "onnx node"};
  return {Join(layers), scheme};
}

}  // namespace concord::localize
