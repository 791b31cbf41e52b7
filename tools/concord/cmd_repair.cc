// concord repair SOURCE TARGET --out FIXED.onnx: undo the fault(s) localize finds, verified on
// inputs the search did not use; writes the fixed model and a patch log.
#include <filesystem>
#include <iostream>
#include <optional>

#include "backends/convert_tools.h"
#include "backends/worker_backend.h"
#include "ir/model_format.h"
#include "ir/tensor_io.h"
#include "repair/repair.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct RepairArgs {
  std::string source, target, out, log;
  InputRequest inputs;
  std::string env = "ref", source_env = "ref";
  double rtol = 1e-4, atol = 1e-5;
  int max_steps = 8;
  int holdout = 3;
  bool json = false;
  bool reconvert = true;
};

// `concord convert --to` of each framework format, and the file the re-converted target gets.
struct Reconversion {
  const char* to;
  const char* ext;
};
std::optional<Reconversion> ReconversionOf(ModelFormat f) {
  switch (f) {
    case ModelFormat::kTflite:
      return Reconversion{"tflite", ".tflite"};
    case ModelFormat::kOpenVino:
      return Reconversion{"openvino", ".xml"};
    case ModelFormat::kSavedModel:
      return Reconversion{"tf", ".savedmodel"};
    case ModelFormat::kTorchScript:
      return Reconversion{"torch", ".pt"};
    case ModelFormat::kTorchExport:
      return Reconversion{"torch", ".pt2"};
    case ModelFormat::kKeras:  // no installed converter writes Keras 3
    case ModelFormat::kOnnx:
    case ModelFormat::kUnknown:
      break;
  }
  return std::nullopt;
}

// A target whose repair changed only weight values, in a format whose weights can be written
// in place: a TFLite file's buffers (adapters/tflite_patch.py) or a TorchScript / torch.export
// module's state dict (adapters/torch_patch.py, in the torch venv), keeping the converter's own
// graph; {"path", "how", "patched"} or, when the target cannot be patched that way,
// {"patch_refused"} with the helper's report (the caller then re-converts). Other formats: {}.
nlohmann::json PatchTarget(const RepairArgs& a, ModelFormat format, const std::string& twin,
                           const fs::path& out) {
  std::string script, python, how;
  if (format == ModelFormat::kTflite) {
    script = "tflite_patch.py";
    python = WorkerPythonPath();
    how = "weights written into the target file in place (adapters/tflite_patch.py)";
  } else if (format == ModelFormat::kTorchScript || format == ModelFormat::kTorchExport) {
    script = "torch_patch.py";
    python = WorkerPythonFor("torch");
    how = "weights written into the target's state dict (adapters/torch_patch.py)";
  } else {
    return nlohmann::json::object();
  }
  nlohmann::json r =
      RunPythonJson(fmt::format("{} {} {} {} {} {}", ShellQuote(python),
                                ShellQuote((fs::path(WorkerAdaptersDir()) / script).string()),
                                ShellQuote(a.target), ShellQuote(twin), ShellQuote(a.out),
                                ShellQuote(out.string())),
                    "error");
  auto none = [&](const char* key) { return !r.contains(key) || r[key].empty(); };
  bool ok = !none("patched") && none("unpatched") && none("edits_outside_initializers");
  if (!ok) return {{"patch_refused", r}};
  return {{"path", out.string()}, {"how", how}, {"patched", r["patched"]}};
}

// The repaired twin brought back to the target's format: a TFLite file or a PyTorch state dict
// patched in place when the repair only changed weights, else the twin converted back (`concord
// convert FIXED --to FORMAT`); then run on that format's native env against the source on its env
// over `sets` (the held-out ones): {"path", "how", "env", "agree", "max_abs", "sets"} or {"error"}.
nlohmann::json ReconvertTarget(const RepairArgs& a, const Model& source, const std::string& twin,
                               const std::vector<ValueMap>& sets) {
  ModelFormat format = DetectModelFormat(a.target).format;
  std::optional<Reconversion> how = ReconversionOf(format);
  if (!how) {
    return {{"error",
             fmt::format("no installed converter writes a {} model", ModelFormatName(format))}};
  }
  fs::path out = fs::path(a.out).replace_extension(how->ext);
  nlohmann::json j = PatchTarget(a, format, twin, out);
  if (!j.contains("path")) {
    std::string output;
    ConvertRequest r{a.out, how->to, out.string(), {}, "none", {}, "", false};
    int rc = RunConvertTools(r, &output);
    if (rc != 0) {
      if (output.size() > 600) output = "..." + output.substr(output.size() - 600);
      j["path"] = out.string();
      j["error"] = fmt::format("convert exit {}: {}", rc, output);
      return j;
    }
    j["path"] = out.string();
    j["how"] = fmt::format("the repaired twin converted back (concord convert --to {})", how->to);
  }
  j["env"] = NativeEnvOf(format);
  Outcome o = Capture([&] {
    EnvSpec env = EnvSpec::Parse(NativeEnvOf(format));
    OpenedModel target = OpenModel(out.string(), {env});
    std::unique_ptr<Session> src = PrepareSession(source, EnvSpec::Parse(a.source_env));
    localize::Divergence acc;
    // by position (converters rename inputs), permuted where the target takes NHWC
    std::vector<ValueMap> mapped = localize::MapInputs(source, target.model, sets);
    for (size_t i = 0; i < sets.size(); ++i) {
      const ValueMap& set = sets[i];
      const ValueMap& renamed = mapped[i];
      std::vector<Value> want = src->Run(set, nullptr);
      std::vector<Value> got = target.session->Run(renamed, nullptr);
      for (size_t k = 0; k < want.size() && k < got.size(); ++k) {
        localize::Accumulate(&acc, localize::Measure(want[k], got[k], {a.rtol, a.atol}));
      }
    }
    j["agree"] = acc.agree;
    j["max_abs"] = acc.max_abs;
    j["sets"] = sets.size();
  });
  if (!o.ok) j["error"] = o.error;
  return j;
}

std::string NodeOrNone(const std::string& node) { return node.empty() ? "none" : "'" + node + "'"; }

// The verdict line and what was written: REPAIRED only for an applied and verified edit.
void PrintVerdict(const RepairArgs& a, const repair::RepairResult& r, const std::string& log_path) {
  if (r.status == "nothing_to_repair") {
    std::cout
        << "verdict  nothing to repair: the target agrees with the source on the search and the "
           "held-out inputs\n";
    std::cout << fmt::format("wrote    nothing ({} was not written; the target needs no edit)\n",
                             a.out);
    return;
  }
  if (r.repaired) {
    std::cout << fmt::format(
        "verdict  REPAIRED: {} edit(s) applied; the edited model agrees on the held-out "
        "inputs\nwrote    {} (repaired model) and {} (patch log)\n",
        r.patches.size(), a.out, log_path);
    return;
  }
  std::cout << fmt::format(
      "verdict  NOT REPAIRED: diverges on the held-out inputs (first divergent node {})\n",
      NodeOrNone(r.final_holdout.first_divergent));
  if (r.patches.empty()) {
    std::cout << fmt::format(
        "wrote    no model (no edit was accepted; {} was not written); patch log {}\n", a.out,
        log_path);
  } else {
    std::cout << fmt::format(
        "wrote    {} (partly edited by {} accepted edit(s); it still diverges) and {} "
        "(patch log)\n",
        a.out, r.patches.size(), log_path);
  }
}

void PrintText(const RepairArgs& a, const std::string& desc, const repair::RepairResult& r,
               const std::string& log_path) {
  std::cout << fmt::format("source   {}\ntarget   {}\ninputs   {} ({} for search)\nholdout  {}\n",
                           a.source, a.target, desc, r.search_sets, r.holdout);
  std::cout << fmt::format("tol      rtol {:g}, atol {:g} per element\n", a.rtol, a.atol);
  std::cout << fmt::format("initial  first divergent node {}, kind {}\n",
                           NodeOrNone(r.initial.first_divergent),
                           r.initial.kind.empty() ? "none" : r.initial.kind);
  for (const auto& p : r.patches) {
    std::cout << fmt::format(
        "patch {}  node '{}' ({}): {}\n         before: {}\n         after:  {}\n"
        "         agreement: {} -> {}\n",
        p.step, p.node, p.kind, p.change, p.before, p.after, p.agreement_before.dump(),
        p.agreement_after.dump());
  }
  std::cout << fmt::format("tried    {} candidate edit(s), accepted {}\n", r.candidates_tried,
                           r.patches.size());
  for (const auto& j : r.rejected) {
    std::cout << fmt::format("  not kept (step {}): {}\n    {}\n", j["step"].get<int>(),
                             j["change"].get<std::string>(), j["reason"].get<std::string>());
  }
  PrintVerdict(a, r, log_path);
}

int RepairMain(const RepairArgs& a) {
  OnnxTwins twins(a.source, a.target);
  Model source = Model::Load(twins.source);
  Model target = Model::Load(twins.target);
  fs::path out(a.out);
  std::error_code ec;
  if (out.has_parent_path() && !fs::is_directory(out.parent_path(), ec)) {
    Fail(ErrorKind::kUsage, "--out {}: folder {} does not exist", a.out,
         out.parent_path().string());
  }
  repair::RepairOptions opt;
  opt.localize.source_env = EnvSpec::Parse(a.source_env);
  opt.localize.target_env = EnvSpec::Parse(a.env);
  ValidateEnvs({opt.localize.source_env, opt.localize.target_env});
  opt.localize.tol = {a.rtol, a.atol};
  opt.max_steps = a.max_steps;
  opt.holdout_sets = a.holdout;
  opt.seed = a.inputs.seed;
  std::vector<InputSet> loaded = LoadInputSets(source, a.inputs);
  std::string desc = DescribeInputSets(loaded);
  std::vector<ValueMap> sets = InputMaps(std::move(loaded));
  repair::RepairResult r = repair::Repair(source, target, sets, opt);
  std::string log_path =
      a.log.empty() ? (out.parent_path() / (out.stem().string() + ".patch.json")).string() : a.log;
  // The model is written only when an edit was accepted: a repaired model, or a partly edited
  // one that still diverges (said so). With nothing to repair nothing is written at all.
  const bool write_model = !r.patches.empty();
  const bool write_log = r.status != "nothing_to_repair";
  nlohmann::json j = r.ToJson();
  j["source"] = a.source;
  j["target"] = a.target;
  j["inputs"] = desc;
  if (!twins.source_how.empty())
    j["source_onnx"] = {{"path", twins.source}, {"how", twins.source_how}};
  if (!twins.target_how.empty()) {
    j["target_onnx"] = {{"path", twins.target}, {"how", twins.target_how}};
    j["note"] = fmt::format(
        "{} is a {} model: the repair edits its ONNX twin (written to {}), then converts that "
        "back to the target's format (fixed_target, unless --no-reconvert)",
        a.target, ModelFormatName(DetectModelFormat(a.target).format), a.out);
  }
  j["tolerance"] = {{"rtol", a.rtol}, {"atol", a.atol}};
  j["fixed"] = write_model ? nlohmann::json(a.out) : nlohmann::json(nullptr);
  j["patch_log"] = write_log ? nlohmann::json(log_path) : nlohmann::json(nullptr);
  if (write_model) WriteFileAtomic(a.out, r.fixed.SerializeAsString());
  if (r.status == "repaired" && !twins.target_how.empty() && a.reconvert) {
    j["fixed_target"] = ReconvertTarget(a, source, twins.target, r.holdout_sets);
  }
  if (write_log) WriteFileAtomic(log_path, j.dump(2) + "\n");
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    PrintText(a, desc, r, log_path);
    if (r.labels_before.is_object() && r.labels_after.is_object()) {
      std::cout << fmt::format(
          "labels   held-out top-1 agreement {:.0f}% -> {:.0f}%, Kendall tau of the top-5 "
          "{:.3f} -> {:.3f} (FetaFix's label metric)\n",
          100 * r.labels_before["top1_agree"].get<double>(),
          100 * r.labels_after["top1_agree"].get<double>(),
          r.labels_before["kendall_tau_top5"].get<double>(),
          r.labels_after["kendall_tau_top5"].get<double>());
    }
    if (j.contains("fixed_target")) {
      const auto& f = j["fixed_target"];
      std::cout << (f.contains("error")
                        ? fmt::format("target   not re-converted: {}\n",
                                      f["error"].get<std::string>())
                        : fmt::format("target   {} ({}) on {}: "
                                      "{} on {} held-out set(s), max abs {:.3g}\n",
                                      f["path"].get<std::string>(), f.value("how", ""),
                                      f["env"].get<std::string>(),
                                      f["agree"].get<bool>() ? "agrees" : "DIVERGES",
                                      f["sets"].get<size_t>(), f["max_abs"].get<double>()));
    }
  }
  return r.status == "not_repaired" ? kExitDiverged : kExitOk;
}

}  // namespace

Command MakeRepairCommand(CLI::App& root) {
  auto args = std::make_shared<RepairArgs>();
  CLI::App* app =
      root.add_subcommand("repair", "Repair a converted TARGET until it agrees with its SOURCE");
  app->footer(
      "Loop: localize -> candidate edits at the first divergent node (copy the source's "
      "attributes,\n"
      "restore weights/biases/preprocessing constants, delete an inserted node, restore a "
      "replaced\n"
      "op, re-insert removed nodes) -> keep an edit only if agreement improves. Verification on\n"
      "held-out inputs: the later half of several input sets, or seeded random sets when one set "
      "is\n"
      "given. Writes FIXED.onnx when an edit was accepted (a partly edited model is said to still\n"
      "diverge) and a patch log (FIXED.patch.json unless --log); writes nothing when the target\n"
      "already agrees (status nothing_to_repair). Framework models (.pt, .pt2, .keras, .tflite,\n"
      "SavedModel, OpenVINO IR) are repaired through their ONNX twins, as localize compares them:\n"
      "FIXED is the repaired twin (ONNX), then brought back to the target's format (FIXED with\n"
      "that format's extension: a .tflite whose repair only changed weights gets them written\n"
      "into a copy of the file in place, a .pt/.pt2 into a copy of its state dict, anything\n"
      "else is converted back) and run on its native\n"
      "env against the source on the held-out sets (fixed_target in --json, with how;\n"
      "--no-reconvert skips it). A target whose input dims differ\n"
      "from the source's first gets the source's dims (FetaFix's input-dimensions fault).\n"
      "Held-out agreement is also reported as FetaFix's label metric (top-1, Kendall tau top-5).\n"
      "Exit codes: 0 repaired or nothing to repair, 1 not repaired, 2 usage or input error.");
  app->add_option("source", args->source,
                  "Source model (the reference): ONNX, or a framework model through its ONNX twin")
      ->required();
  app->add_option("target", args->target,
                  "Target model (the conversion): ONNX, or a framework model through its ONNX twin")
      ->required();
  app->add_option("--out,-o", args->out, "Where to write the repaired model")->required();
  app->add_option("--log", args->log, "Where to write the patch log (JSON)");
  AddLocalizeOptions(app, &args->inputs, &args->env, &args->source_env, &args->rtol, &args->atol);
  app->add_option("--max-steps", args->max_steps, "Most edits accepted")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app->add_option("--holdout", args->holdout, "Random held-out sets when one input set is given")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app->add_flag(
      "--no-reconvert", [args](int64_t) { args->reconvert = false; },
      "A framework TARGET: write the repaired ONNX twin only (by default it is also "
      "converted back to the target's format and checked on its native env)");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return RepairMain(*args); }};
}

}  // namespace concord::cli
