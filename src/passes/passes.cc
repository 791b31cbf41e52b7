// The pass table, spec parsing, the pipeline driver and the name map.
#include <algorithm>
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace concord::passes {

namespace {

struct PassDef {
  PassInfo info;
  void (*run)(PassRun&);
};

// The one table of passes. Keep entries in the order `--list` shows them.
const std::vector<PassDef>& Table() {
  static const std::vector<PassDef> table = {
      {{"opset",
        "convert to another opset with ONNX's version converter",
        {{"version", "", "target opset of the default domain (required)"}},
        "version"},
       RunOpsetPass},
      {{"fold_constants",
        "replace nodes computable from constants (and Shape of static shapes) by initializers",
        {{"max_bytes", "67108864", "largest folded output kept as an initializer"}},
        ""},
       RunFoldConstantsPass},
      {{"fold_bn",
        "fold BatchNormalization (inference) into the preceding Conv's weights and bias",
        {},
        ""},
       RunFoldBnPass},
      {{"fp16",
        "float16: weights only (Cast back to float32) or the whole graph (Casts at the interface)",
        {{"mode", "weights", "weights | graph"}},
        "mode"},
       RunFp16Pass},
      {{"quantize_int8",
        "static int8 QDQ quantization of Conv/MatMul/Gemm, calibrated on input sets",
        {{"activations", "uint8", "uint8 (asymmetric) | int8 (asymmetric)"},
         {"per_channel", "1", "1: weight scales per output channel, 0: per tensor"}},
        ""},
       RunQuantizeInt8Pass},
      {{"nhwc",
        "NHWC interface for 4-D inputs; transposes pushed through elementwise ops and cancelled",
        {{"outputs", "nchw", "nchw | nhwc (layout of 4-D graph outputs)"}},
        ""},
       RunNhwcPass},
  };
  return table;
}

struct ParsedSpec {
  const PassDef* def = nullptr;
  std::map<std::string, std::string> options;
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

ParsedSpec ParseSpec(const std::string& spec, const PassContext& ctx) {
  std::vector<std::string> parts = Split(spec, ':');
  std::string head = parts[0];
  std::string value;
  bool has_value = false;
  if (size_t eq = head.find('='); eq != std::string::npos) {
    value = head.substr(eq + 1);
    head = head.substr(0, eq);
    has_value = true;
  }
  ParsedSpec p;
  for (const auto& d : Table()) {
    if (d.info.name == head) p.def = &d;
  }
  if (p.def == nullptr) {
    Fail(ErrorKind::kUsage, "unknown pass '{}' in '{}'; passes:\n{}", head, spec, FormatPassList());
  }
  const PassInfo& info = p.def->info;
  auto known = [&](const std::string& key) {
    return std::any_of(info.options.begin(), info.options.end(),
                       [&](const PassOption& o) { return o.key == key; });
  };
  auto bad_option = [&](const std::string& what) {
    std::string opts;
    for (const auto& o : info.options)
      opts += fmt::format("\n  {}  {} (default '{}')", o.key, o.help, o.default_value);
    Fail(ErrorKind::kUsage, "pass '{}': {}; options of {}:{}\npasses:\n{}", spec, what, info.name,
         opts.empty() ? " none" : opts, FormatPassList());
  };
  for (const auto& o : info.options) p.options[o.key] = o.default_value;
  for (const auto& [k, v] : ctx.options) {
    if (k.rfind(info.name + ".", 0) != 0) continue;
    std::string key = k.substr(info.name.size() + 1);
    if (!known(key)) bad_option(fmt::format("unknown option '{}' (from the context)", key));
    p.options[key] = v;
  }
  if (has_value) {
    if (info.primary.empty())
      bad_option(fmt::format("{} takes no value (got '={}')", info.name, value));
    p.options[info.primary] = value;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    size_t eq = parts[i].find('=');
    if (eq == std::string::npos) bad_option(fmt::format("option '{}' is not KEY=VALUE", parts[i]));
    std::string key = parts[i].substr(0, eq);
    if (!known(key)) bad_option(fmt::format("unknown option '{}'", key));
    p.options[key] = parts[i].substr(eq + 1);
  }
  for (const auto& o : info.options) {
    if (o.default_value.empty() && p.options[o.key].empty()) {
      bad_option(fmt::format("option '{}' is required", o.key));
    }
  }
  return p;
}

// Gives unnamed nodes "<OpType>_<index>" and makes duplicate names unique ("<name>__<k>").
NameMap NormalizeNodeNames(onnx::ModelProto* proto, nlohmann::json* log) {
  NameMap map;
  auto* g = proto->mutable_graph();
  Namer namer(*g);
  std::set<std::string> seen;
  for (int i = 0; i < g->node_size(); ++i) {
    auto* n = g->mutable_node(i);
    std::string original = n->name();
    if (original.empty()) {
      n->set_name(namer.Fresh(fmt::format("{}_{}", n->op_type(), i)));
      log->push_back(fmt::format("unnamed node {} ({}) named '{}'", i, n->op_type(), n->name()));
      map.nodes[n->name()] = {n->name()};
    } else if (seen.count(original)) {
      n->set_name(namer.Fresh(original + "__2"));
      log->push_back(
          fmt::format("duplicate node name '{}' (node {}) renamed '{}'", original, i, n->name()));
      map.nodes[n->name()] = {original};
    }
    seen.insert(n->name());
  }
  return map;
}

// The per-pass node map: explicit origins, identity for kept names, else the producers (in
// the input) of the tensors the node writes, else the consumers of what it reads.
NameMap PassNameMap(const PassRun& run) {
  NameMap map;
  std::set<std::string> input_nodes;
  std::map<std::string, std::string> input_producer;
  std::map<std::string, std::vector<std::string>> input_consumers;
  for (const auto& n : run.input.graph().node()) {
    input_nodes.insert(n.name());
    for (const auto& o : n.output()) input_producer[o] = n.name();
    for (const auto& i : n.input()) input_consumers[i].push_back(n.name());
  }
  for (const auto& n : run.proto.graph().node()) {
    auto it = run.node_origin.find(n.name());
    if (it != run.node_origin.end()) {
      map.nodes[n.name()] = it->second;
      continue;
    }
    if (input_nodes.count(n.name())) {
      map.nodes[n.name()] = {n.name()};
      continue;
    }
    std::vector<std::string> from;
    auto add = [&](const std::string& s) {
      if (std::find(from.begin(), from.end(), s) == from.end()) from.push_back(s);
    };
    for (const auto& o : n.output()) {
      auto p = input_producer.find(o);
      if (p != input_producer.end()) add(p->second);
      auto t = run.tensor_origin.find(o);
      if (t != run.tensor_origin.end() && input_producer.count(t->second))
        add(input_producer[t->second]);
    }
    if (from.empty()) {
      for (const auto& i : n.input()) {
        auto c = input_consumers.find(i);
        if (c != input_consumers.end()) {
          for (const auto& s : c->second) add(s);
        }
      }
    }
    map.nodes[n.name()] = from;
  }
  map.tensors = run.tensor_origin;
  return map;
}

}  // namespace

NameMap NameMap::ComposeAfter(const NameMap& earlier) const {
  NameMap out;
  for (const auto& [name, srcs] : nodes) {
    std::vector<std::string> all;
    for (const auto& s : srcs) {
      auto it = earlier.nodes.find(s);
      const std::vector<std::string> self = {s};
      for (const auto& o : it == earlier.nodes.end() ? self : it->second) {
        if (std::find(all.begin(), all.end(), o) == all.end()) all.push_back(o);
      }
    }
    out.nodes[name] = all;
  }
  out.tensors = earlier.tensors;
  for (const auto& [name, src] : tensors) {
    auto it = earlier.tensors.find(src);
    out.tensors[name] = it == earlier.tensors.end() ? src : it->second;
  }
  return out;
}

nlohmann::json NameMap::ToJson() const { return {{"nodes", nodes}, {"tensors", tensors}}; }

NameMap NameMap::FromJson(const nlohmann::json& j) {
  NameMap m;
  try {
    if (j.contains("nodes"))
      m.nodes = j.at("nodes").get<std::map<std::string, std::vector<std::string>>>();
    if (j.contains("tensors"))
      m.tensors = j.at("tensors").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    Fail(ErrorKind::kInput, "name map ({}): malformed: {}", kNameMapKey, e.what());
  }
  return m;
}

NameMap ReadNameMap(const onnx::ModelProto& model) {
  for (const auto& p : model.metadata_props()) {
    if (p.key() != kNameMapKey) continue;
    nlohmann::json j = nlohmann::json::parse(p.value(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      Fail(ErrorKind::kInput, "metadata '{}' of the model is not a JSON object", kNameMapKey);
    }
    return NameMap::FromJson(j);
  }
  return {};
}

std::vector<PassInfo> ListPasses() {
  std::vector<PassInfo> out;
  for (const auto& d : Table()) out.push_back(d.info);
  return out;
}

std::string FormatPassList() {
  std::string s;
  for (const auto& d : Table()) {
    std::string head = d.info.name;
    if (!d.info.primary.empty()) {
      std::string upper = d.info.primary;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      head += "=" + upper;
    }
    s += fmt::format("  {:<22} {}\n", head, d.info.description);
    for (const auto& o : d.info.options) {
      s +=
          fmt::format("  {:<22}   :{}=  {}{}\n", "", o.key, o.help,
                      o.default_value.empty() ? "" : fmt::format(" (default {})", o.default_value));
    }
  }
  return s;
}

PassResult RunPasses(const Model& in, const std::vector<std::string>& pass_specs,
                     const PassContext& ctx) {
  // Parse everything first: a typo in the last spec must not cost a long pipeline.
  std::vector<ParsedSpec> parsed;
  for (const auto& spec : pass_specs) parsed.push_back(ParseSpec(spec, ctx));
  if (parsed.empty()) Fail(ErrorKind::kUsage, "no pass given; passes:\n{}", FormatPassList());

  NameMap total = ReadNameMap(in.proto());
  nlohmann::json log = {{"passes", nlohmann::json::array()}};
  std::vector<std::string> history;
  for (const auto& p : in.proto().metadata_props()) {
    if (p.key() != kNameMapKey) continue;
    auto j = nlohmann::json::parse(p.value(), nullptr, false);
    if (j.is_object() && j.contains("passes") && j["passes"].is_array()) {
      for (const auto& s : j["passes"]) {
        if (s.is_string()) history.push_back(s.get<std::string>());
      }
    }
  }

  Model cur = in;
  {
    onnx::ModelProto proto = in.proto();
    nlohmann::json notes = nlohmann::json::array();
    NameMap names = NormalizeNodeNames(&proto, &notes);
    if (!notes.empty()) {
      log["renamed"] = notes;
      cur = Model::FromProto(std::move(proto), in.base_dir(),
                             in.path().empty() ? "<memory>" : in.path());
      total = names.ComposeAfter(total);
    }
  }
  for (size_t k = 0; k < parsed.size(); ++k) {
    const PassDef& def = *parsed[k].def;
    const std::string& spec = pass_specs[k];
    PassRun run{cur, cur.proto(), parsed[k].options,        ctx,
                {},  {},          nlohmann::json::object(), nlohmann::json::array()};
    const int nodes_before = cur.graph().node_size();
    const int inits_before = cur.graph().initializer_size();
    def.run(run);
    // Types and layouts may have changed: value_info is recomputed by shape inference.
    run.graph()->clear_value_info();
    {
      Namer namer(run.proto.graph());
      std::set<std::string> seen;
      for (auto& n : *run.graph()->mutable_node()) {
        if (n.name().empty()) n.set_name(namer.Fresh(n.op_type() + "_" + def.info.name));
        if (!seen.insert(n.name()).second) {
          Fail(ErrorKind::kInternal, "pass '{}' produced two nodes named '{}'", spec, n.name());
        }
      }
    }
    NameMap step = PassNameMap(run);
    Model next = [&] {
      try {
        return Model::FromProto(std::move(run.proto), in.base_dir(),
                                fmt::format("output of pass '{}'", spec));
      } catch (const Error& e) {
        Fail(ErrorKind::kInternal, "pass '{}' produced an invalid model (a bug in the pass): {}",
             spec, e.what());
      }
    }();
    total = step.ComposeAfter(total);
    nlohmann::json entry = {{"pass", def.info.name},
                            {"spec", spec},
                            {"options", run.options},
                            {"nodes_before", nodes_before},
                            {"nodes_after", next.graph().node_size()},
                            {"initializers_before", inits_before},
                            {"initializers_after", next.graph().initializer_size()},
                            {"changes", run.changes}};
    const size_t kMaxDetails = 200;
    if (run.details.size() > kMaxDetails) {
      size_t more = run.details.size() - kMaxDetails;
      run.details.erase(run.details.begin() + kMaxDetails, run.details.end());
      run.details.push_back(fmt::format("... {} more", more));
    }
    entry["details"] = run.details;
    log["passes"].push_back(entry);
    history.push_back(spec);
    cur = std::move(next);
  }

  // Keep only tensor entries naming values of the result.
  std::set<std::string> names;
  for (const auto& n : cur.graph().node()) {
    names.insert(n.output().begin(), n.output().end());
    names.insert(n.input().begin(), n.input().end());
  }
  for (const auto& i : cur.graph().initializer()) names.insert(i.name());
  for (const auto& i : cur.graph().input()) names.insert(i.name());
  for (auto it = total.tensors.begin(); it != total.tensors.end();) {
    it =
        names.count(it->first) && it->first != it->second ? std::next(it) : total.tensors.erase(it);
  }

  nlohmann::json stored = total.ToJson();
  stored["passes"] = history;
  auto* props = cur.mutable_proto()->mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i) {
    if (props->Get(i).key() == kNameMapKey) props->DeleteSubrange(i, 1);
  }
  auto* prop = props->Add();
  prop->set_key(kNameMapKey);
  prop->set_value(stored.dump());
  return PassResult{std::move(cur), std::move(total), std::move(log)};
}

}  // namespace concord::passes
