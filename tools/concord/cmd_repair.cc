// concord repair SOURCE TARGET --out FIXED.onnx: undo the fault(s) localize finds, verified on
// inputs the search did not use; writes the fixed model and a patch log.
#include <filesystem>
#include <iostream>

#include "ir/tensor_io.h"
#include "repair/repair.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct RepairArgs {
  std::string source, target, out, log;
  std::vector<std::string> inputs;
  std::string env = "ref", source_env = "ref";
  double rtol = 1e-4, atol = 1e-5;
  uint64_t seed = 0;
  int max_steps = 8;
  int holdout = 3;
  bool json = false;
};

int RepairMain(const RepairArgs& a) {
  Model source = Model::Load(a.source);
  Model target = Model::Load(a.target);
  fs::path out(a.out);
  std::error_code ec;
  if (out.has_parent_path() && !fs::is_directory(out.parent_path(), ec)) {
    Fail(ErrorKind::kUsage, "--out {}: folder {} does not exist", a.out, out.parent_path().string());
  }
  repair::RepairOptions opt;
  opt.localize.source_env = EnvSpec::Parse(a.source_env);
  opt.localize.target_env = EnvSpec::Parse(a.env);
  opt.localize.tol = {a.rtol, a.atol};
  opt.max_steps = a.max_steps;
  opt.holdout_sets = a.holdout;
  opt.seed = a.seed;
  std::string desc;
  std::vector<ValueMap> sets = LoadInputSets(source, a.inputs, a.seed, &desc);
  repair::RepairResult r = repair::Repair(source, target, sets, opt);
  WriteFileAtomic(a.out, r.fixed.SerializeAsString());
  std::string log_path = a.log.empty() ? (out.parent_path() / (out.stem().string() + ".patch.json")).string() : a.log;
  nlohmann::json j = r.ToJson();
  j["source"] = a.source;
  j["target"] = a.target;
  j["fixed"] = a.out;
  j["patch_log"] = log_path;
  j["inputs"] = desc;
  j["tolerance"] = {{"rtol", a.rtol}, {"atol", a.atol}};
  WriteFileAtomic(log_path, j.dump(2) + "\n");
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("source   {}\ntarget   {}\ninputs   {} ({} for search)\nholdout  {}\n", a.source, a.target,
                             desc, r.search_sets, r.holdout);
    std::cout << fmt::format("tol      rtol {:g}, atol {:g} per element\n", a.rtol, a.atol);
    std::cout << fmt::format("initial  first divergent node {}, kind {}\n",
                             r.initial.first_divergent.empty() ? "none" : "'" + r.initial.first_divergent + "'",
                             r.initial.kind.empty() ? "none" : r.initial.kind);
    for (const auto& p : r.patches) {
      std::cout << fmt::format("patch {}  node '{}' ({}): {}\n         before: {}\n         after:  {}\n"
                               "         agreement: {} -> {}\n",
                               p.step, p.node, p.kind, p.change, p.before, p.after, p.agreement_before.dump(),
                               p.agreement_after.dump());
    }
    std::cout << fmt::format("tried    {} candidate edit(s), accepted {}\n", r.candidates_tried, r.patches.size());
    std::cout << fmt::format("verdict  {} on the held-out inputs{}\n", r.repaired ? "REPAIRED: agrees" : "NOT REPAIRED: diverges",
                             r.repaired ? "" : fmt::format(" (first divergent node {})",
                                                           r.final_holdout.first_divergent.empty()
                                                               ? "none" : "'" + r.final_holdout.first_divergent + "'"));
    std::cout << fmt::format("wrote    {} and {}\n", a.out, log_path);
  }
  return r.repaired ? kExitOk : kExitDiverged;
}

}  // namespace

Command MakeRepairCommand(CLI::App& root) {
  auto args = std::make_shared<RepairArgs>();
  CLI::App* app = root.add_subcommand("repair", "Repair a converted TARGET until it agrees with its SOURCE");
  app->footer(
      "Loop: localize -> candidate edits at the first divergent node (copy the source's attributes,\n"
      "restore weights/biases/preprocessing constants, delete an inserted node, restore a replaced\n"
      "op, re-insert removed nodes) -> keep an edit only if agreement improves. Verification on\n"
      "held-out inputs: the later half of several input sets, or seeded random sets when one set is\n"
      "given. Writes FIXED.onnx and a patch log (FIXED.patch.json unless --log).\n"
      "Exit codes: 0 repaired (agrees on held-out inputs), 1 not repaired, 2 usage or input error.");
  app->add_option("source", args->source, "Source ONNX model (the reference)")->required();
  app->add_option("target", args->target, "Target ONNX model (the conversion)")->required();
  app->add_option("--out,-o", args->out, "Where to write the repaired model")->required();
  app->add_option("--log", args->log, "Where to write the patch log (JSON)");
  AddLocalizeOptions(app, &args->inputs, &args->env, &args->source_env, &args->rtol, &args->atol, &args->seed);
  app->add_option("--max-steps", args->max_steps, "Most edits accepted")->capture_default_str()->check(CLI::Range(1, 100));
  app->add_option("--holdout", args->holdout, "Random held-out sets when one input set is given")
      ->capture_default_str()->check(CLI::Range(1, 100));
  AddOutputOptions(app, &args->json);
  return {app, [args] {
            return RepairMain(*args);
          }};
}

}  // namespace concord::cli
