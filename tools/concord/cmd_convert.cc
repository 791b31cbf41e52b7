// concord convert: run conversion passes (src/passes) over a model and write the result.
#include <filesystem>
#include <iostream>

#include "backends/convert_tools.h"
#include "ir/external_data.h"
#include "ir/tensor_io.h"
#include "passes/pass.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::vector<std::string> passes;
  int opset = 0;  // --opset N: the opset pass first
  std::vector<std::string> calibration;
  int random_calibration = 0;
  uint64_t seed = 0;
  InputShapes shapes;
  bool json = false;
  bool list = false;
  // Real converters (--to): adapters/convert_plan.py plans and runs them.
  std::string to;
  std::vector<std::string> via;
  std::string quantize = "none";
  std::vector<std::string> examples;
};

// One input set per path (data/inputs.h: files, a test_data_set_N folder, or one set per
// test_data_set_* folder); every set must hold every input. Then the random sets.
std::vector<ValueMap> LoadCalibration(const Model& model, const ConvertArgs& a) {
  std::vector<ValueMap> sets;
  for (const auto& path : a.calibration) {
    InputRequest req;
    req.paths = {path};
    req.shapes = a.shapes;
    for (auto& set : LoadInputSets(model, req)) {
      if (!set.generated.empty()) {
        Fail(ErrorKind::kInput,
             "calibration set {} has no data for input(s) {} (each path must hold every input)",
             set.origin, fmt::join(set.generated, ", "));
      }
      sets.push_back(std::move(set.inputs));
    }
  }
  for (int i = 0; i < a.random_calibration; ++i) {
    InputRequest req;
    req.seed = a.seed + static_cast<uint64_t>(i) + 1;
    req.shapes = a.shapes;
    sets.push_back(std::move(LoadInputSets(model, req)[0].inputs));
  }
  return sets;
}

// Error(kUsage) when OUT names the same file as IN (also through links or "./"): a conversion
// must never destroy its source.
void RefuseOverwritingInput(const std::string& in, const std::string& out) {
  std::error_code ec;
  bool same = std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec);
  same |= std::filesystem::weakly_canonical(in, ec) == std::filesystem::weakly_canonical(out, ec);
  if (same) {
    Fail(ErrorKind::kUsage, "convert: OUT '{}' is the input model '{}'; write to another path", out,
         in);
  }
}

// `convert SRC --to FORMAT -o OUT`: runs adapters/convert_plan.py in the worker Python, its
// stdout and stderr passed through; its exit status is ours (0, 2 usage, 3 converter failed).
int ConvertWithTools(const ConvertArgs& a) {
  if (a.in.empty() || a.out.empty()) {
    Fail(ErrorKind::kUsage, "convert --to needs SRC and an output path (-o OUT)");
  }
  if (!a.passes.empty()) {
    Fail(ErrorKind::kUsage,
         "convert: --pass runs Concord's ONNX passes, --to the real "
         "converters; convert in two steps");
  }
  RefuseOverwritingInput(a.in, a.out);
  if (a.calibration.size() > 1) {
    Fail(ErrorKind::kUsage, "convert --to takes one --calibration DIR (a folder of .npy sets)");
  }
  ConvertRequest r{a.in,
                   a.to,
                   a.out,
                   a.via,
                   a.quantize,
                   a.examples,
                   a.calibration.empty() ? "" : a.calibration.front(),
                   a.json};
  return RunConvertTools(r);
}

int ConvertMain(const ConvertArgs& a) {
  if (a.list) {
    if (a.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& p : passes::ListPasses()) {
        nlohmann::json opts = nlohmann::json::array();
        for (const auto& o : p.options)
          opts.push_back({{"key", o.key}, {"default", o.default_value}, {"help", o.help}});
        j.push_back({{"name", p.name},
                     {"description", p.description},
                     {"primary", p.primary},
                     {"options", opts}});
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "Passes (--pass NAME[=VALUE][:KEY=VALUE]...[,NAME...]):\n"
                << passes::FormatPassList();
    }
    return kExitOk;
  }
  if (!a.to.empty()) return ConvertWithTools(a);
  if (a.in.empty() || a.out.empty()) {
    Fail(ErrorKind::kUsage, "convert needs IN and OUT model paths (or --list)");
  }
  std::vector<std::string> specs = a.passes;
  if (a.opset > 0) specs.insert(specs.begin(), fmt::format("opset={}", a.opset));
  if (specs.empty()) {
    Fail(ErrorKind::kUsage, "convert needs --opset N or --pass NAME[,NAME...]; passes:\n{}",
         passes::FormatPassList());
  }
  RefuseOverwritingInput(a.in, a.out);
  Model model = Model::Load(a.in);
  passes::PassContext ctx;
  ctx.calibration = LoadCalibration(model, a);
  passes::PassResult r = passes::RunPasses(model, specs, ctx);
  // External data is stored inline (the output may live elsewhere).
  int inlined = InlineExternalData(r.model.mutable_proto(), r.model.base_dir(), r.model.path());
  std::string bytes;
  if (!r.model.proto().SerializeToString(&bytes)) {
    Fail(ErrorKind::kUnsupported, "{}: the converted model cannot be serialized (over 2 GiB?)",
         a.out);
  }
  WriteFileAtomic(a.out, bytes);
  if (a.json) {
    nlohmann::json j = {{"input", a.in},
                        {"output", a.out},
                        {"calibration_sets", ctx.calibration.size()},
                        {"log", r.log},
                        {"name_map", r.names.ToJson()}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("input   {}  (opset {}, {} nodes, {} initializers)\n", a.in,
                           model.Opset(""), model.graph().node_size(),
                           model.graph().initializer_size());
  if (!ctx.calibration.empty())
    std::cout << fmt::format("calib   {} input sets\n", ctx.calibration.size());
  if (r.log.contains("renamed")) {
    std::cout << fmt::format("names   {} unnamed/duplicate node names fixed first\n",
                             r.log["renamed"].size());
  }
  for (const auto& p : r.log["passes"]) {
    std::string changes;
    for (const auto& [k, v] : p["changes"].items())
      changes += fmt::format("{}{} {}", changes.empty() ? "" : ", ", k, v.dump());
    std::cout << fmt::format("pass    {:<24} nodes {} -> {}, initializers {} -> {}{}{}\n",
                             p["spec"].get<std::string>(), p["nodes_before"].get<int>(),
                             p["nodes_after"].get<int>(), p["initializers_before"].get<int>(),
                             p["initializers_after"].get<int>(), changes.empty() ? "" : "; ",
                             changes);
    const auto& details = p["details"];
    const size_t kShown = 6;
    for (size_t i = 0; i < details.size() && i < kShown; ++i) {
      std::cout << "          " << details[i].get<std::string>() << "\n";
    }
    if (details.size() > kShown)
      std::cout << fmt::format("          ... {} more (--json)\n", details.size() - kShown);
  }
  if (inlined)
    std::cout << fmt::format("note    {} external-data initializers stored inline\n", inlined);
  std::cout << fmt::format("output  {}  (opset {}, {} nodes; name map in metadata '{}')\n", a.out,
                           r.model.Opset(""), r.model.graph().node_size(), passes::kNameMapKey);
  return kExitOk;
}

}  // namespace

Command MakeConvertCommand(CLI::App& root) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* app = root.add_subcommand(
      "convert",
      "Convert a model with passes (opset, folding, fp16, int8, NHWC) or real converters (--to)");
  app->footer(
      "Pass specs: NAME[=VALUE][:KEY=VALUE]...; several with commas or repeated --pass, run in "
      "order.\n"
      "Calibration (quantize_int8): each --calibration PATH is one input set (.pb/.npy/.npz or a\n"
      "test_data_set_N folder); a folder of test_data_set_* folders gives one set per folder.\n"
      "The output's metadata 'concord.name_map' maps its node names to the input's.\n"
      "Exit: 0 converted, 1 a pass failed at run time, 2 usage/input error (also when OUT is IN).\n"
      "--opset N converts the default-domain opset up or down with ONNX's version converter\n"
      "(the opset pass, run before any --pass); where the converter has no adapter for an op,\n"
      "the message names it and the exit code is 1.\n"
      "Examples: concord convert model.onnx out.onnx --pass fold_bn,quantize_int8 --calibration "
      "data/\n"
      "          concord convert model.onnx model17.onnx --opset 17\n\n"
      "Real converters: concord convert SRC --to onnx|torch|tf|keras|tflite|openvino[,...] -o OUT\n"
      "[--via TOOL] [--quantize none|dynamic|fp16|int8 --calibration DIR] [--example X.npy]\n"
      "A --to list names each format of the chain (torch -> onnx,tf,tflite); one format lets the\n"
      "planner pick the shortest chain of installed tools (adapters/convert_plan.py lists them).\n"
      "Writes OUT, OUT.concord.json (chain, tool versions, options, input/output layout) and,\n"
      "where OUT is not ONNX, its ONNX twin OUT.twin.onnx. Exit 3: a converter failed.\n"
      "Example: concord convert net.pt2 --to onnx,tf,tflite -o net.tflite");
  app->add_option("in", args->in, "Input ONNX model");
  app->add_option("out", args->out, "Output ONNX model (written atomically)");
  app->add_option("--pass,-p", args->passes, "Passes to run, in order (see --list)")
      ->delimiter(',');
  app->add_option("--opset", args->opset,
                  "Convert to this default-domain opset first (ONNX's version converter)")
      ->check(CLI::Range(1, 1000));
  app->add_option("--calibration,-c", args->calibration, "Calibration input sets");
  app->add_option("--random-calibration", args->random_calibration,
                  "Add N seeded random input sets to the calibration (not representative data)")
      ->check(CLI::Range(0, 10000));
  app->add_option("--seed", args->seed, "Seed for --random-calibration")->capture_default_str();
  AddInputShapesOption(app, &args->shapes);
  app->add_flag("--list", args->list, "List the passes and their options");
  app->add_option("--to", args->to, "Target format(s) for the real converters, comma-separated");
  app->add_option("-o", args->out, "Output model (same as OUT)");
  app->add_option("--via", args->via, "Converter tool to use on the chain (repeatable)");
  app->add_option("--quantize", args->quantize, "Quantization of the last hop (with --to)")
      ->check(CLI::IsMember({"none", "dynamic", "fp16", "int8"}));
  app->add_option("--example", args->examples,
                  "Example input (.npy, one per input) where the source records no shapes");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return ConvertMain(*args); }};
}

}  // namespace concord::cli
