// concord convert: run conversion passes (src/passes) over a model and write the result.
#include <filesystem>
#include <iostream>

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
  std::vector<std::string> calibration;
  int random_calibration = 0;
  uint64_t seed = 0;
  bool json = false;
  bool list = false;
};

// One input set per path; a folder holding test_data_set_* folders gives one set per folder.
std::vector<ValueMap> LoadCalibration(const Model& model, const ConvertArgs& a) {
  std::vector<ValueMap> sets;
  auto load_one = [&](const std::string& path) {
    std::vector<std::string> generated;
    ValueMap v = LoadInputs(model, {path}, a.seed, &generated);
    if (!generated.empty()) {
      Fail(ErrorKind::kInput, "calibration set {} has no data for input(s) {} (each path must hold every input)",
           path, fmt::join(generated, ", "));
    }
    sets.push_back(std::move(v));
  };
  for (const auto& path : a.calibration) {
    std::error_code ec;
    if (!fs::exists(path, ec)) Fail(ErrorKind::kInput, "calibration path {} does not exist", path);
    std::vector<std::string> subsets;
    if (fs::is_directory(path, ec)) {
      for (const auto& e : fs::directory_iterator(path)) {
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
          subsets.push_back(e.path().string());
        }
      }
    }
    std::sort(subsets.begin(), subsets.end());
    if (subsets.empty()) {
      load_one(path);
    } else {
      for (const auto& s : subsets) load_one(s);
    }
  }
  for (int i = 0; i < a.random_calibration; ++i) {
    std::vector<std::string> generated;
    sets.push_back(LoadInputs(model, {}, a.seed + static_cast<uint64_t>(i) + 1, &generated));
  }
  return sets;
}

// External-data initializers are read and stored inline (the output may live elsewhere).
int InlineExternalData(Model* model) {
  int n = 0;
  for (auto& t : *model->mutable_proto()->mutable_graph()->mutable_initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    Tensor x = TensorFromProto(t, model->base_dir(), "initializer '" + t.name() + "'");
    std::string name = t.name();
    t.Clear();
    TensorToProto(x, name, &t);
    ++n;
  }
  return n;
}

// Error(kUsage) when OUT names the same file as IN (also through links or "./"): a conversion
// must never destroy its source.
void RefuseOverwritingInput(const std::string& in, const std::string& out) {
  std::error_code ec;
  bool same = std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec);
  same |= std::filesystem::weakly_canonical(in, ec) == std::filesystem::weakly_canonical(out, ec);
  if (same) {
    Fail(ErrorKind::kUsage, "convert: OUT '{}' is the input model '{}'; write to another path",
         out, in);
  }
}

int ConvertMain(const ConvertArgs& a) {
  if (a.list) {
    if (a.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& p : passes::ListPasses()) {
        nlohmann::json opts = nlohmann::json::array();
        for (const auto& o : p.options) opts.push_back({{"key", o.key}, {"default", o.default_value}, {"help", o.help}});
        j.push_back({{"name", p.name}, {"description", p.description}, {"primary", p.primary}, {"options", opts}});
      }
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "Passes (--pass NAME[=VALUE][:KEY=VALUE]...[,NAME...]):\n" << passes::FormatPassList();
    }
    return kExitOk;
  }
  if (a.in.empty() || a.out.empty()) {
    Fail(ErrorKind::kUsage, "convert needs IN and OUT model paths (or --list)");
  }
  if (a.passes.empty()) {
    Fail(ErrorKind::kUsage, "convert needs --pass NAME[,NAME...]; passes:\n{}", passes::FormatPassList());
  }
  RefuseOverwritingInput(a.in, a.out);
  Model model = Model::Load(a.in);
  passes::PassContext ctx;
  ctx.calibration = LoadCalibration(model, a);
  passes::PassResult r = passes::RunPasses(model, a.passes, ctx);
  int inlined = InlineExternalData(&r.model);
  std::string bytes;
  if (!r.model.proto().SerializeToString(&bytes)) {
    Fail(ErrorKind::kUnsupported, "{}: the converted model cannot be serialized (over 2 GiB?)", a.out);
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
  std::cout << fmt::format("input   {}  (opset {}, {} nodes, {} initializers)\n", a.in, model.Opset(""),
                           model.graph().node_size(), model.graph().initializer_size());
  if (!ctx.calibration.empty()) std::cout << fmt::format("calib   {} input sets\n", ctx.calibration.size());
  if (r.log.contains("renamed")) {
    std::cout << fmt::format("names   {} unnamed/duplicate node names fixed first\n", r.log["renamed"].size());
  }
  for (const auto& p : r.log["passes"]) {
    std::string changes;
    for (const auto& [k, v] : p["changes"].items()) changes += fmt::format("{}{} {}", changes.empty() ? "" : ", ", k, v.dump());
    std::cout << fmt::format("pass    {:<24} nodes {} -> {}, initializers {} -> {}{}{}\n", p["spec"].get<std::string>(),
                             p["nodes_before"].get<int>(), p["nodes_after"].get<int>(),
                             p["initializers_before"].get<int>(), p["initializers_after"].get<int>(),
                             changes.empty() ? "" : "; ", changes);
    const auto& details = p["details"];
    const size_t kShown = 6;
    for (size_t i = 0; i < details.size() && i < kShown; ++i) {
      std::cout << "          " << details[i].get<std::string>() << "\n";
    }
    if (details.size() > kShown) std::cout << fmt::format("          ... {} more (--json)\n", details.size() - kShown);
  }
  if (inlined) std::cout << fmt::format("note    {} external-data initializers stored inline\n", inlined);
  std::cout << fmt::format("output  {}  (opset {}, {} nodes; name map in metadata '{}')\n", a.out,
                           r.model.Opset(""), r.model.graph().node_size(), passes::kNameMapKey);
  return kExitOk;
}

}  // namespace

Command MakeConvertCommand(CLI::App& root) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* app = root.add_subcommand("convert", "Convert a model with passes (opset, folding, fp16, int8, NHWC)");
  app->footer(
      "Pass specs: NAME[=VALUE][:KEY=VALUE]...; several with commas or repeated --pass, run in order.\n"
      "Calibration (quantize_int8): each --calibration PATH is one input set (.pb/.npy/.npz or a\n"
      "test_data_set_N folder); a folder of test_data_set_* folders gives one set per folder.\n"
      "The output's metadata 'concord.name_map' maps its node names to the input's.\n"
      "Exit: 0 converted, 1 a pass failed at run time, 2 usage/input error (also when OUT is IN).\n"
      "Example: concord convert model.onnx out.onnx --pass fold_bn,quantize_int8 --calibration data/");
  app->add_option("in", args->in, "Input ONNX model");
  app->add_option("out", args->out, "Output ONNX model (written atomically)");
  app->add_option("--pass,-p", args->passes, "Passes to run, in order (see --list)")->delimiter(',');
  app->add_option("--calibration,-c", args->calibration, "Calibration input sets");
  app->add_option("--random-calibration", args->random_calibration,
                  "Add N seeded random input sets to the calibration (not representative data)")
      ->check(CLI::Range(0, 10000));
  app->add_option("--seed", args->seed, "Seed for --random-calibration")->capture_default_str();
  app->add_flag("--list", args->list, "List the passes and their options");
  AddOutputOptions(app, &args->json);
  return {app, [args] {
            return ConvertMain(*args);
          }};
}

}  // namespace concord::cli
