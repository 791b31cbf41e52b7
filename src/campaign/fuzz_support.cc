#include "campaign/fuzz_support.h"

#include "ir/error.h"

namespace concord {

FuzzCase ToFuzzCase(gen::GeneratedModel generated, uint64_t seed) {
  FuzzCase c{std::move(generated.model), {}, std::move(generated.op_types), seed};
  for (auto& [name, v] : generated.inputs) c.inputs[name] = std::move(v);
  return c;
}

std::optional<FuzzCase> SingleOpProbe(const gen::GenOptions& base, const std::string& op,
                                      const std::string& dtype, int tries) {
  for (int k = 0; k < tries; ++k) {
    gen::GenOptions g = base;
    g.seed = base.seed + static_cast<uint64_t>(k);
    g.max_nodes = 1;
    g.ops = {op};
    g.dtypes = {dtype, "bool", "int64"};
    gen::GeneratedModel m;
    try {
      m = gen::Generate(g);
    } catch (const Error&) {
      continue;  // unsat for this seed: try the next one
    }
    const onnx::GraphProto& graph = m.model.graph();
    if (graph.node_size() != 1 || graph.node(0).op_type() != op) continue;
    const onnx::TypeProto* t = m.model.FindType(graph.node(0).input(0));
    DType in = t ? static_cast<DType>(t->tensor_type().elem_type()) : DType::kUndefined;
    if (DTypeName(in) != dtype && !(dtype == "float32" && in == DType::kFloat32)) continue;
    return ToFuzzCase(std::move(m), g.seed);
  }
  return std::nullopt;
}

std::map<std::string, OpDtypeSet> RecordedExclusions(Store& store,
                                                     const std::vector<std::string>& envs) {
  std::map<std::string, OpDtypeSet> known;
  for (const auto& r : store.OpSupport()) {
    auto& pairs = known[r.env];
    if (r.status != "ok") pairs.insert({r.op, r.dtype});
  }
  std::map<std::string, OpDtypeSet> out;
  for (const auto& e : envs) {
    auto it = known.find(e);
    if (it == known.end()) return {};
    out[e] = it->second;
  }
  return out;
}

const std::string& TurnEnv(const std::vector<std::string>& envs, uint64_t seed) {
  if (envs.empty()) Fail(ErrorKind::kUsage, "fuzz needs at least one env (--envs)");
  return envs[seed % envs.size()];
}

FuzzGenerator MakeFuzzGenerator(gen::GenOptions base, std::map<std::string, OpDtypeSet> excluded,
                                std::vector<std::string> envs) {
  return [base = std::move(base), excluded = std::move(excluded), envs = std::move(envs)](
             uint64_t seed, const OpWeights& weights) {
    gen::GenOptions g = base;
    g.seed = seed;
    g.op_weights = weights;
    if (!excluded.empty()) {
      auto it = excluded.find(TurnEnv(envs, seed));
      if (it != excluded.end()) g.exclude.insert(it->second.begin(), it->second.end());
    }
    return ToFuzzCase(gen::Generate(g), seed);
  };
}

}  // namespace concord
