// concord reduce: shrink a model to the few nodes behind a divergence between two envs, or
// behind one env's failure (campaign/reduce_envs.h), and write a standalone repro.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "backends/env.h"
#include "campaign/reduce_envs.h"
#include "ir/display_path.h"
#include "ir/error.h"
#include "ir/value_io.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct ReduceArgs {
  std::string model;
  std::vector<std::string> envs;
  InputRequest inputs;
  double atol = 1e-7, rtol = 1e-3;
  double timeout_s = 60;
  int max_tests = 300;
  std::string out;
  bool json = false;
  bool quiet = false;
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string SelfBinary() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.filename() != "concord") return "concord";
  return exe.string();
}

// DIR/model.onnx, DIR/test_data_set_0/{input,output}_K.pb (outputs from the expected env),
// DIR/reduce.json and DIR/repro.sh.
void WriteRepro(const fs::path& dir, const EnvReduceResult& r, const EnvReduceOptions& o,
                const json& summary) {
  fs::create_directories(dir / "test_data_set_0");
  const Model& m = r.reduced.model;
  m.Save((dir / "model.onnx").string());
  int k = 0;
  for (const auto& in : m.Inputs()) {
    auto it = r.reduced.inputs.find(in.name);
    if (it != r.reduced.inputs.end()) {
      WriteValuePb((dir / "test_data_set_0" / fmt::format("input_{}.pb", k)).string(), it->second,
                   in.name);
    }
    ++k;
  }
  std::vector<ValueInfo> outs = m.Outputs();
  for (size_t i = 0; i < r.expected.size() && i < outs.size(); ++i) {
    WriteValuePb((dir / "test_data_set_0" / fmt::format("output_{}.pb", i)).string(), r.expected[i],
                 outs[i].name);
  }
  std::ofstream(dir / "reduce.json") << summary.dump(2) << "\n";
  {
    std::ofstream sh(dir / "repro.sh");
    sh << "#!/bin/sh\n# Reduced by `concord reduce`: " << summary["symptom"].get<std::string>()
       << (r.failing_env.empty() ? "" : " on " + r.failing_env) << " — see reduce.json.\n"
       << "# test_data_set_0/output_*.pb are " << r.expected_env << "'s outputs.\n"
       << "CONCORD=" << ShellQuote(SelfBinary()) << "\n"
       << "[ -x \"$CONCORD\" ] || CONCORD=concord\n"
       << "here=\"$(dirname \"$0\")\"\n";
    if (r.failing_env.empty()) {
      sh << "# Exits 1 while the envs still diverge.\n"
         << "\"$CONCORD\" compare \"$here/model.onnx\" --envs "
         << ShellQuote(o.env_a + ";" + o.env_b) << " --inputs \"$here/test_data_set_0\" --atol "
         << o.tol.atol << " --rtol " << o.tol.rtol << " \"$@\"\n";
    } else {
      sh << "# Fails while " << r.failing_env << " still has the bug.\n"
         << "\"$CONCORD\" run \"$here/model.onnx\" --env " << ShellQuote(r.failing_env)
         << " --inputs \"$here/test_data_set_0\" \"$@\"\n";
    }
  }
  fs::permissions(dir / "repro.sh",
                  fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
}

int ReduceMain(const ReduceArgs& a) {
  if (a.out.empty()) Fail(ErrorKind::kUsage, "reduce: --out DIR is required");
  std::vector<EnvSpec> envs = ParseEnvList(a.envs);
  ValidateEnvs(envs);
  if (envs.size() != 2) {
    Fail(ErrorKind::kUsage, "reduce needs exactly two envs (--envs \"A;B\"), got {}", envs.size());
  }
  if (!fs::is_regular_file(a.model)) Fail(ErrorKind::kInput, "{}: no such model file", a.model);
  Model model = Model::Load(a.model);
  std::vector<InputSet> sets = LoadInputSets(model, a.inputs);
  if (sets.size() > 1) {
    Fail(ErrorKind::kUsage, "reduce works on one input set; --inputs gives {}",
         DescribeInputSets(sets));
  }
  const ValueMap& inputs = sets[0].inputs;
  const std::vector<std::string>& generated = sets[0].generated;
  EnvReduceOptions o;
  o.env_a = envs[0].ToString();
  o.env_b = envs[1].ToString();
  o.tol = Tolerance{a.rtol, a.atol};
  o.timeout_s = a.timeout_s;
  o.max_tests = a.max_tests;
  auto log = [&](const std::string& line) {
    if (!a.quiet && !a.json) std::cerr << line << "\n";
  };
  EnvReduceResult r;
  try {
    r = ReduceBetweenEnvs(model, inputs, o, log);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kInput) throw;
    Fail(ErrorKind::kInput,
         "reduce needs `ref` to run the model (sub-models are fed with its "
         "values): {}",
         e.what());
  }
  json summary = {{"model", a.model},
                  {"envs", {o.env_a, o.env_b}},
                  {"reproduced", r.reproduced},
                  {"symptom", r.symptom},
                  {"failing_env", r.failing_env},
                  {"message", r.message},
                  {"generated_inputs", generated},
                  {"tolerance", {{"atol", o.tol.atol}, {"rtol", o.tol.rtol}}}};
  if (r.reproduced) {
    std::vector<std::string> ops;
    for (const auto& n : r.reduced.model.graph().node()) ops.push_back(n.op_type());
    summary["original_nodes"] = r.reduced.original_nodes;
    summary["reduced_nodes"] = r.reduced.reduced_nodes;
    summary["reduced_ops"] = ops;
    summary["frozen_inputs"] = r.reduced.frozen_inputs;
    summary["tests"] = r.reduced.tests;
    summary["reduced_message"] = r.reduced_message;
    summary["expected_env"] = r.expected_env;
    summary["out"] = fs::absolute(a.out).string();
    WriteRepro(a.out, r, o, summary);
  }
  if (a.json) {
    std::cout << summary.dump(2) << "\n";
  } else if (!r.reproduced) {
    std::cout << fmt::format("no symptom to reduce: {} (rtol {:g}, atol {:g})\n",
                             r.message.empty() ? o.env_a + " and " + o.env_b + " agree" : r.message,
                             o.tol.rtol, o.tol.atol);
  } else {
    std::cout << fmt::format(
        "{}{}: {} -> {} nodes ({}), {} input(s) frozen, {} candidate runs\n  {}\nrepro: {}\n"
        "tol: rtol {:g}, atol {:g}\n",
        r.symptom, r.failing_env.empty() ? "" : " on " + r.failing_env, r.reduced.original_nodes,
        r.reduced.reduced_nodes,
        fmt::join(summary["reduced_ops"].get<std::vector<std::string>>(), ","),
        r.reduced.frozen_inputs, r.reduced.tests,
        (r.reduced_message.empty() ? r.message : r.reduced_message).substr(0, 300),
        DisplayPath(fs::path(a.out) / "repro.sh"), o.tol.rtol, o.tol.atol);
  }
  return r.reproduced ? kExitOk : kExitDiverged;
}

}  // namespace

Command MakeReduceCommand(CLI::App& root) {
  auto args = std::make_shared<ReduceArgs>();
  CLI::App* app = root.add_subcommand(
      "reduce", "Shrink a model to the nodes behind a divergence or failure between two envs");
  app->footer(
      "Runs MODEL on env A and env B (worker processes). The symptom: B's outputs differ from\n"
      "A's beyond --atol/--rtol, or one env fails (crash, timeout, error) while the other runs.\n"
      "Delta debugging over nodes, then freezing inputs into initializers, keeps the smallest\n"
      "model that still shows the same symptom (for a failure: the same normalised message).\n"
      "Writes OUT/model.onnx, OUT/test_data_set_0 (inputs, and the outputs of A, or of B when A\n"
      "fails), OUT/reduce.json and OUT/repro.sh. Exit 0 when reduced, 1 when the symptom does\n"
      "not reproduce, 2 on usage/input errors.\n"
      "Example: concord reduce model.onnx --envs 'ref;opencv@cpu' --out small");
  app->add_option("model", args->model, "ONNX model file")->required();
  AddEnvListOption(app, &args->envs, "The two environments, 'A;B'")->required();
  AddInputOptions(app, &args->inputs);
  AddToleranceOptions(app, &args->rtol, &args->atol, "per element");
  app->add_option("--timeout", args->timeout_s, "Seconds per prepare/run before a hang")
      ->capture_default_str();
  app->add_option("--max-tests", args->max_tests, "Candidate models to try at most")
      ->capture_default_str();
  app->add_option("--out,-o", args->out, "Folder for the reduced repro")->required();
  AddOutputOptions(app, &args->json, &args->quiet, "No progress lines");
  return {app, [args] { return ReduceMain(*args); }};
}

}  // namespace concord::cli
