// concord gen: one random, valid-by-construction ONNX model from a seed (src/gen), optionally
// with its inputs and ref outputs in ONNX's test-data layout.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "backends/ref_backend.h"
#include "gen/generator.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct GenArgs {
  uint64_t seed = 0;
  int max_nodes = 10;
  std::vector<std::string> ops;
  std::vector<std::string> dtypes;
  std::vector<std::string> exclude;
  std::string mode = "random";
  int value_search = gen::GenOptions{}.value_search_steps;
  std::string out;
  std::string inputs_out;
  bool json = false;
  bool list_ops = false;
};

int GenMain(const GenArgs& a) {
  if (a.list_ops) {
    auto ops = gen::KnownOps();
    if (a.json) {
      std::cout << nlohmann::json(ops).dump(2) << "\n";
    } else {
      for (const auto& op : ops) std::cout << op << "\n";
    }
    return kExitOk;
  }
  if (a.out.empty()) Fail(ErrorKind::kUsage, "gen: --out MODEL.onnx is required (or --list-ops)");
  gen::GenOptions opt;
  opt.seed = a.seed;
  opt.max_nodes = a.max_nodes;
  opt.ops = a.ops;
  opt.dtypes = a.dtypes;
  opt.mode = a.mode;
  opt.value_search_steps = a.value_search;
  const std::vector<std::string>& known_dtypes = gen::KnownDtypes();
  for (const auto& d : a.dtypes) {
    if (std::find(known_dtypes.begin(), known_dtypes.end(), d) == known_dtypes.end()) {
      Fail(ErrorKind::kUsage, "gen: unknown dtype '{}' in --dtypes; use {}", d,
           fmt::join(known_dtypes, ","));
    }
  }
  auto known = gen::KnownOps();
  for (const auto& op : a.ops) {
    if (std::find(known.begin(), known.end(), op) == known.end()) {
      Fail(ErrorKind::kUsage, "gen: unknown op '{}' in --ops; `concord gen --list-ops` lists them",
           op);
    }
  }
  for (const auto& e : a.exclude) {
    auto colon = e.find(':');
    if (colon == std::string::npos)
      Fail(ErrorKind::kUsage, "gen: --exclude wants OP:DTYPE, got '{}'", e);
    opt.exclude.insert({e.substr(0, colon), e.substr(colon + 1)});
  }
  auto t0 = std::chrono::steady_clock::now();
  gen::GeneratedModel g = gen::Generate(opt);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (fs::path(a.out).has_parent_path()) fs::create_directories(fs::path(a.out).parent_path());
  g.model.Save(a.out);

  nlohmann::json rec;
  rec["seed"] = a.seed;
  rec["out"] = a.out;
  rec["nodes"] = g.op_types.size();
  rec["op_types"] = g.op_types;
  rec["attempts"] = g.attempts;
  rec["rejected"] = g.rejected;
  rec["value_steps"] = g.value_steps;
  rec["rescued_by_value_search"] = g.rescued;
  rec["gen_ms"] = ms;
  rec["inputs"] = nlohmann::json::array();
  for (const auto& [name, v] : g.inputs) {
    nlohmann::json j = ValueSummaryJson(v);
    j["name"] = name;
    rec["inputs"].push_back(j);
  }
  rec["outputs"] = nlohmann::json::array();
  for (const auto& o : g.model.Outputs()) {
    rec["outputs"].push_back({{"name", o.name}, {"type", TypeToString(o.type)}});
  }
  if (!a.inputs_out.empty()) {
    fs::path dir = fs::path(a.inputs_out) / "test_data_set_0";
    fs::create_directories(dir);
    std::map<std::string, Value> feeds;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      WriteValuePb((dir / fmt::format("input_{}.pb", i)).string(), g.inputs[i].second,
                   g.inputs[i].first);
      feeds[g.inputs[i].first] = g.inputs[i].second;
    }
    std::vector<Value> outs = RunReference(g.model, feeds);
    auto infos = g.model.Outputs();
    for (size_t i = 0; i < outs.size(); ++i) {
      WriteValuePb((dir / fmt::format("output_{}.pb", i)).string(), outs[i], infos[i].name);
    }
    rec["inputs_out"] = dir.string();
  }
  if (a.json) {
    std::cout << rec.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format(
      "wrote   {}  (seed {}, {} nodes, {} inputs, {} outputs, {:.1f} ms, {} attempt{})\n", a.out,
      a.seed, g.op_types.size(), g.inputs.size(), rec["outputs"].size(), ms, g.attempts,
      g.attempts == 1 ? "" : "s");
  if (g.value_steps > 0) {
    std::cout << fmt::format("values  {} value-search step{}{}\n", g.value_steps,
                             g.value_steps == 1 ? "" : "s",
                             g.rescued ? " (the graph kept, its values searched)" : "");
  }
  std::cout << fmt::format("ops     {}\n", fmt::join(g.op_types, " "));
  if (!a.inputs_out.empty()) {
    std::cout << fmt::format("data    {}/input_*.pb and ref output_*.pb\n",
                             rec["inputs_out"].get<std::string>());
  }
  return kExitOk;
}

}  // namespace

Command MakeGenCommand(CLI::App& root) {
  auto args = std::make_shared<GenArgs>();
  CLI::App* app =
      root.add_subcommand("gen", "Generate a random valid ONNX model from a seed (NNSmith-style)");
  app->footer(
      "The model passes the ONNX checker and shape inference and runs on `ref` without error or\n"
      "NaN/Inf; the same options give the same bytes. --inputs-out CASE writes\n"
      "CASE/test_data_set_0/{input,output}_K.pb, so with --out CASE/model.onnx a folder of such\n"
      "cases is a suite for `concord conformance --suite`.\n"
      "Exit: 0 generated, 1 no valid model within the attempts, 2 usage error.\n"
      "Example: concord gen --seed 7 --max-nodes 20 --out cases/s7/model.onnx --inputs-out "
      "cases/s7");
  app->add_option("--seed", args->seed, "Seed (same seed, same model)")->capture_default_str();
  app->add_option("--max-nodes", args->max_nodes,
                  "Operator nodes to insert (guard nodes may add a few)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app->add_option("--ops", args->ops, "Allowed op types (comma-separated); default all")
      ->delimiter(',');
  app->add_option("--dtypes", args->dtypes,
                  "Allowed tensor dtypes: float32,float16,int32,int64,bool")
      ->delimiter(',');
  app->add_option("--exclude", args->exclude, "OP:DTYPE pairs to avoid (comma-separated)")
      ->delimiter(',');
  AddGenModeOption(app, &args->mode);
  AddValueSearchOption(app, &args->value_search);
  app->add_option("--out,-o", args->out, "Model file to write");
  app->add_option("--inputs-out", args->inputs_out,
                  "Folder for test_data_set_0/input_K.pb and the ref outputs output_K.pb");
  app->add_flag("--list-ops", args->list_ops, "List the op types the generator knows and exit");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return GenMain(*args); }};
}

}  // namespace concord::cli
