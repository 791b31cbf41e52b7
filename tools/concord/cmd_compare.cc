// concord compare: one model on N environments with the same inputs, every pair compared
// output by output (Polygraphy `run --compare`, DeltaNN's N×N label comparison).
#include <chrono>
#include <cmath>
#include <iostream>

#include "backends/env.h"
#include "backends/outcome.h"
#include "backends/worker_backend.h"
#include "compare/nxn.h"
#include "ir/clock.h"
#include "ir/json_number.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

struct CompareArgs {
  std::string model;
  std::vector<std::string> envs;
  InputRequest inputs;
  std::string save_inputs;
  double atol = 1e-5;
  double rtol = 1e-5;
  int top_k = 5;
  int64_t label_offset = 0;
  bool json = false;
};

// One env's run. A failure is recorded, never thrown: the other envs are still compared.
struct EnvOutcome : Outcome {
  EnvSpec spec;
  std::string effective_env;
  std::string device;  // as the runtime reported it ("" for CPU envs)
  double prepare_ms = 0, run_ms = 0, wall_ms = 0;
  std::vector<std::vector<Value>> outputs;  // per input set
  std::vector<Value> all_outputs;           // every set's outputs, one after another
};

// Prepares once (or takes the session `prepared` in `prepared_ms`) and runs every set; timings
// are the sum over sets.
EnvOutcome RunEnv(const Model& model, const EnvSpec& spec, const std::vector<InputSet>& sets,
                  std::unique_ptr<Session> prepared = nullptr, double prepared_ms = 0) {
  EnvOutcome o;
  o.spec = spec;
  o.effective_env = spec.ToString();
  static_cast<Outcome&>(o) = Capture([&] {
    auto t0 = Clock::now();
    auto session = prepared ? std::move(prepared) : PrepareSession(model, spec);
    auto t1 = Clock::now();
    o.effective_env = session->effective_env();
    o.device = ReportedDevice(*session);
    for (const auto& set : sets) {
      RunTiming timing;
      o.outputs.push_back(session->Run(set.inputs, &timing));
      o.run_ms += timing.run_ms;
      for (const auto& v : o.outputs.back()) o.all_outputs.push_back(v);
    }
    o.wall_ms = Ms(t1, Clock::now());
    o.prepare_ms = Ms(t0, t1) + prepared_ms;
  });
  return o;
}

nlohmann::json OutputJson(const OutputAgreement& o) {
  const TensorDiff& d = o.diff;
  nlohmann::json j = {{"name", o.name},
                      {"ok", o.ok},
                      {"max_abs", JsonNumber(d.max_abs)},
                      {"max_rel", JsonNumber(d.max_rel)},
                      {"cosine", JsonNumber(d.cosine)},
                      {"count", d.count},
                      {"mismatches", d.mismatches},
                      {"nan_agree", d.nan_mismatches == 0},
                      {"inf_agree", d.inf_mismatches == 0},
                      {"dtype_mismatch", d.dtype_mismatch},
                      {"shape_mismatch", d.shape_mismatch},
                      {"needed_rtol", JsonNumber(d.needed_rtol)},
                      {"needed_atol", JsonNumber(d.needed_atol)},
                      {"top1_agree", nullptr},
                      {"topk_jaccard", nullptr},
                      {"kendall_tau", nullptr},
                      {"message", o.message}};
  if (o.labels) {
    j["top1_agree"] = o.top1_agree;
    j["topk_jaccard"] = o.topk_jaccard;
    j["kendall_tau"] = o.kendall_tau;
    j["rows"] = o.rows;
    j["label_offset_applied"] = o.offset_applied;
  }
  return j;
}

std::string Sci(double v) { return v == 0 ? "0" : fmt::format("{:.2e}", v); }

// Worst max_abs over a pair's outputs (the matrix cell shows it).
double WorstAbs(const PairAgreement& p) {
  double w = 0;
  for (const auto& o : p.outputs) {
    w = std::max(w, o.diff.max_abs);
  }
  return w;
}

std::string Cell(const PairAgreement& p) {
  if (!p.skipped.empty()) {
    return "n/a";
  }
  // A structural mismatch has no error magnitude to show; say which kind it is.
  for (const auto& o : p.outputs) {
    if (o.diff.dtype_mismatch) {
      return "FAIL dtype";
    }
    if (o.diff.shape_mismatch) {
      return "FAIL shape";
    }
    if (!o.ok && o.diff.count == 0 && o.message.find("is missing") != std::string::npos) {
      return "FAIL missing";
    }
    if (!o.ok && o.diff.count == 0 && !o.message.empty()) {
      return "FAIL structure";
    }
  }
  return fmt::format("{} {}", p.ok ? "PASS" : "FAIL", Sci(WorstAbs(p)));
}

// "from --inputs (test_data_set_0)" / "2 random (seed 0)" and the dims defaulted to 1.
std::string InputsLine(const CompareArgs& a, const std::vector<InputSet>& sets) {
  const InputSet& first = sets[0];
  std::string line =
      first.generated.empty()
          ? fmt::format("from --inputs ({})", DescribeInputSets(sets))
          : fmt::format("{} random (seed {})", first.generated.size(), a.inputs.seed);
  for (const auto& d : first.defaulted) {
    line += fmt::format("\n        {} (use --input-shapes)", d);
  }
  return line;
}

void PrintExpected(const CompareArgs& a, const std::vector<EnvOutcome>& envs,
                   const std::vector<std::vector<ExpectedCheck>>& checks) {
  bool any = false;
  for (const auto& per_env : checks) {
    for (const auto& c : per_env) any |= c.checked;
  }
  if (!any) return;
  std::cout << fmt::format("\nexpected outputs (output_K.pb; atol {:g}, rtol {:g})\n", a.atol,
                           a.rtol);
  for (size_t e = 0; e < checks.size(); ++e) {
    for (const auto& c : checks[e]) {
      for (const auto& line : c.lines) {
        std::cout << fmt::format("  [{}] {:<16} {}\n", e, c.json["set"].get<std::string>(), line);
      }
    }
    if (!envs[e].ok) std::cout << fmt::format("  [{}] not run\n", e);
  }
}

void PrintText(const CompareArgs& a, const std::vector<EnvOutcome>& envs,
               const std::vector<PairAgreement>& pairs, const std::vector<InputSet>& sets,
               const std::vector<std::vector<ExpectedCheck>>& checks) {
  std::cout << fmt::format("model   {}\n", a.model);
  std::cout << fmt::format("inputs  {}\n", InputsLine(a, sets));
  std::cout << fmt::format(
      "tol     atol {:g}, rtol {:g} (pass: |b - a| <= atol + rtol * |a|, a = the earlier env)\n",
      a.atol, a.rtol);
  std::cout << "\nenvs\n";
  for (size_t i = 0; i < envs.size(); ++i) {
    const auto& e = envs[i];
    if (e.ok) {
      std::cout << fmt::format("  [{}] {:<32} ok      prepare {}, run {}\n", i, e.effective_env,
                               FormatMs(e.prepare_ms), FormatMs(e.run_ms));
    } else {
      std::cout << fmt::format("  [{}] {:<32} FAILED  {}\n", i, e.effective_env, e.error);
    }
  }
  // N×N matrix, mirrored: verdicts are per unordered pair.
  size_t n = envs.size();
  std::vector<std::vector<std::string>> cells(n, std::vector<std::string>(n, "-"));
  for (const auto& p : pairs) {
    cells[p.a][p.b] = cells[p.b][p.a] = Cell(p);
  }
  size_t width = 6;
  for (const auto& row : cells) {
    for (const auto& c : row) {
      width = std::max(width, c.size() + 2);
    }
  }
  std::cout << "\nagreement (cell: verdict and worst max abs error over outputs)\n      ";
  for (size_t j = 0; j < n; ++j) {
    std::cout << fmt::format("{:<{}}", fmt::format("[{}]", j), width);
  }
  std::cout << "\n";
  for (size_t i = 0; i < n; ++i) {
    std::cout << fmt::format("  {:<4}", fmt::format("[{}]", i));
    for (size_t j = 0; j < n; ++j) {
      std::cout << fmt::format("{:<{}}", cells[i][j], width);
    }
    std::cout << "\n";
  }
  std::cout << fmt::format(
      "\n{:<9} {:<16} {:<7} {:>9} {:>9} {:>10} {:>12} {:>4} {:>4} {:>9} {:>9} {:>5} {:>6} {:>6}\n",
      "pair", "output", "verdict", "max_abs", "max_rel", "cosine", "mismatches", "NaN", "Inf",
      "need_rtol", "need_atol", "top1", fmt::format("top{}J", a.top_k), "tau");
  std::vector<std::string> notes;
  for (const auto& p : pairs) {
    std::string pair = fmt::format("[{}]-[{}]", p.a, p.b);
    if (!p.skipped.empty()) {
      std::cout << fmt::format("{:<9} {:<16} skipped: {}\n", pair, "-", p.skipped);
      continue;
    }
    for (const auto& o : p.outputs) {
      const TensorDiff& d = o.diff;
      std::string label_cols = o.labels ? fmt::format("{:>5.2f} {:>6.2f} {:>6.2f}", o.top1_agree,
                                                      o.topk_jaccard, o.kendall_tau)
                                        : fmt::format("{:>5} {:>6} {:>6}", "-", "-", "-");
      std::cout << fmt::format(
          "{:<9} {:<16} {:<7} {:>9} {:>9} {:>10.7f} {:>12} {:>4} {:>4} {:>9} {:>9} {}\n", pair,
          o.name.size() > 16 ? o.name.substr(0, 15) + "~" : o.name, o.ok ? "PASS" : "FAIL",
          Sci(d.max_abs), Sci(d.max_rel), d.cosine, fmt::format("{}/{}", d.mismatches, d.count),
          d.nan_mismatches ? "DIFF" : "ok", d.inf_mismatches ? "DIFF" : "ok", Sci(d.needed_rtol),
          Sci(d.needed_atol), label_cols);
      if (!o.ok && !o.message.empty()) {
        notes.push_back(fmt::format("{} {}: {}", pair, o.name, o.message));
      }
      if (o.offset_applied != 0) {
        notes.push_back(fmt::format("{} {}: label offset {} applied to [{}]", pair, o.name,
                                    std::abs(o.offset_applied), o.offset_applied > 0 ? p.b : p.a));
      }
    }
  }
  for (const auto& line : notes) {
    std::cout << "  " << line << "\n";
  }
  size_t failed_envs = 0, failed_pairs = 0, compared = 0;
  for (const auto& e : envs) {
    failed_envs += !e.ok;
  }
  for (const auto& p : pairs) {
    if (p.skipped.empty()) {
      ++compared;
    }
    if (p.skipped.empty() && !p.ok) {
      ++failed_pairs;
    }
  }
  PrintExpected(a, envs, checks);
  std::cout << fmt::format("\n{} of {} compared pairs agree; {} of {} envs failed\n",
                           compared - failed_pairs, compared, failed_envs, envs.size());
}

int CompareMain(const CompareArgs& a) {
  std::vector<EnvSpec> specs = ParseEnvList(a.envs);
  ValidateEnvs(specs);  // every env checked before the first one runs
  if (specs.size() < 2) {
    Fail(ErrorKind::kUsage, "compare needs at least two environments in --envs (got {})",
         specs.size());
  }
  // A framework model is loaded by the first env's worker (which reports its signature); that
  // session runs the first env.
  auto t_open = Clock::now();
  OpenedModel opened = OpenModel(a.model, specs);
  double open_ms = opened.session ? Ms(t_open, Clock::now()) : 0;
  const Model& model = opened.model;
  std::vector<InputSet> sets = LoadInputSets(model, a.inputs);
  if (a.save_inputs == kSaveToOut) {
    Fail(ErrorKind::kUsage, "compare has no --out: give --save-inputs a folder");
  }
  if (!a.save_inputs.empty()) SaveInputSets(model, sets, a.save_inputs);
  // With several sets every output is compared once per set, named SET/OUTPUT.
  std::vector<std::string> names;
  for (const auto& set : sets) {
    for (const auto& o : model.Outputs()) {
      names.push_back(sets.size() == 1 ? o.name : set.origin + "/" + o.name);
    }
  }

  std::vector<EnvOutcome> envs;
  envs.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    envs.push_back(i == 0 ? RunEnv(model, specs[i], sets, std::move(opened.session), open_ms)
                          : RunEnv(model, specs[i], sets));
  }
  std::vector<const std::vector<Value>*> runs;
  runs.reserve(envs.size());
  std::vector<std::vector<ExpectedCheck>> checks(envs.size());
  bool expected_ok = true;
  for (size_t e = 0; e < envs.size(); ++e) {
    runs.push_back(envs[e].ok ? &envs[e].all_outputs : nullptr);
    for (size_t s = 0; envs[e].ok && s < sets.size(); ++s) {
      checks[e].push_back(
          CheckExpectedOutputs(model, sets[s], envs[e].outputs[s], {a.rtol, a.atol}));
      expected_ok &= checks[e].back().ok;
    }
  }
  PairOptions options;
  options.tol = {a.rtol, a.atol};
  options.top_k = a.top_k;
  options.label_offset = a.label_offset;
  std::vector<PairAgreement> pairs = CompareAllPairs(runs, names, options);

  bool diverged = !expected_ok;
  for (const auto& p : pairs) {
    diverged |= p.skipped.empty() && !p.ok;
  }
  int code = ExitCodeFor(envs, diverged);

  if (!a.json) {
    PrintText(a, envs, pairs, sets, checks);
    return code;
  }
  nlohmann::json rec;
  rec["model"] = a.model;
  rec["seed"] = a.inputs.seed;
  rec["generated_inputs"] = sets[0].generated;
  rec["input_sets"] = InputSetsJson(sets);
  if (!a.save_inputs.empty()) rec["saved_inputs"] = a.save_inputs;
  rec["tolerance"] = {{"atol", a.atol}, {"rtol", a.rtol}};
  rec["top_k"] = a.top_k;
  rec["label_offset"] = a.label_offset;
  rec["envs"] = nlohmann::json::array();
  for (const auto& e : envs) {
    nlohmann::json j = {{"env", e.spec.ToString()},
                        {"effective_env", e.effective_env},
                        {"device", e.device.empty() ? nlohmann::json() : nlohmann::json(e.device)},
                        {"ok", e.ok},
                        {"error", e.ok ? nlohmann::json() : nlohmann::json(e.error)}};
    if (!e.ok) {
      j["error_kind"] = ErrorKindName(e.error_kind);
    }
    j["timing_ms"] =
        e.ok ? nlohmann::json{{"prepare", e.prepare_ms}, {"run", e.run_ms}, {"run_wall", e.wall_ms}}
             : nlohmann::json();
    rec["envs"].push_back(j);
  }
  rec["expected_outputs"] = nlohmann::json::array();
  for (size_t e = 0; e < checks.size(); ++e) {
    for (const auto& c : checks[e]) {
      if (!c.checked) continue;
      nlohmann::json j = c.json;
      j["env"] = e;
      rec["expected_outputs"].push_back(j);
    }
  }
  rec["pairs"] = nlohmann::json::array();
  nlohmann::json matrix = nlohmann::json::array();
  for (size_t i = 0; i < envs.size(); ++i) {
    matrix.push_back(std::vector<nlohmann::json>(envs.size(), nullptr));
  }
  for (const auto& p : pairs) {
    nlohmann::json j = {{"a", p.a},
                        {"b", p.b},
                        {"a_env", envs[p.a].spec.ToString()},
                        {"b_env", envs[p.b].spec.ToString()},
                        {"ok", p.ok},
                        {"outputs", nlohmann::json::array()}};
    if (!p.skipped.empty()) {
      j["skipped"] = p.skipped;
    }
    for (const auto& o : p.outputs) {
      j["outputs"].push_back(OutputJson(o));
    }
    rec["pairs"].push_back(j);
    nlohmann::json cell =
        p.skipped.empty() ? nlohmann::json(p.ok ? "pass" : "fail") : nlohmann::json("n/a");
    matrix[p.a][p.b] = matrix[p.b][p.a] = cell;
  }
  rec["matrix"] = matrix;
  rec["ok"] = code == kExitOk;
  std::cout << rec.dump(2) << "\n";
  return code;
}

}  // namespace

Command MakeCompareCommand(CLI::App& root) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* app = root.add_subcommand(
      "compare", "Run one model on several environments and compare every pair");
  app->footer(
      "Every env gets the same inputs (--inputs, else seeded random data as in `concord run`);\n"
      "with several input sets every set runs and each output is compared per set (SET/OUTPUT);\n"
      "sets with output_K.pb are also checked against them (exit 1 on a mismatch).\n"
      "For each unordered pair (a = earlier env, b = later) and each output: max abs / rel error,\n"
      "cosine, NaN/Inf agreement, mismatching elements, PASS/FAIL under |b-a| <= atol + rtol*|a|,\n"
      "and the rtol/atol that would have passed. Classifier-like outputs (float [N,C], C >= 2) "
      "add\n"
      "top-1 agreement, top-k Jaccard overlap and Kendall tau of the top-k lists. --label-offset "
      "1\n"
      "aligns 1001-class outputs (class 0 = background) with 1000-class ones.\n"
      "A failed env is reported and the others are still compared.\n"
      "Exit: 0 all pairs agree, 1 a divergence or a failed env, 2 usage/input error (incl. an env\n"
      "option or backend the env does not know).\n"
      "Example: concord compare model.onnx --envs \"ref;ort@cpu,opt=3;tvm@cpu,opt=3\" --atol 1e-4");
  app->add_option("model", args->model,
                  "Model file: ONNX, or a framework model (.pt, .pt2, .tflite, .xml, .keras, "
                  "SavedModel) when every env runs its format")
      ->required();
  AddEnvListOption(app, &args->envs, "Environments to compare pairwise")->required();
  AddInputOptions(app, &args->inputs);
  AddSaveInputsOption(app, &args->save_inputs);
  AddToleranceOptions(app, &args->rtol, &args->atol, "per element");
  app->add_option("--top-k,-k", args->top_k,
                  "k for top-k label agreement on classifier-like outputs (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app->add_option("--label-offset", args->label_offset,
                  "Class-index offset between envs whose class counts differ by it (e.g. 1 for "
                  "1001 vs 1000)")
      ->capture_default_str()
      ->check(CLI::Range(-1000, 1000));
  AddOutputOptions(app, &args->json);
  return {app, [args] { return CompareMain(*args); }};
}

}  // namespace concord::cli
