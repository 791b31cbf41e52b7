// concord run: one model, one environment, one set of inputs -> outputs, timings, summary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "backends/worker_backend.h"
#include "compare/scores.h"
#include "ir/clock.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct RunArgs {
  std::string model;
  std::string env = "ref";
  InputRequest inputs;
  std::string out;
  std::string save_inputs;
  int top_k = 5;
  double atol = 1e-5, rtol = 1e-5;
  bool json = false;
  bool taps = false;
};

nlohmann::json TopK(const Tensor& t, int k) {
  ScoresLayout layout = ScoresShape(t);
  nlohmann::json all = nlohmann::json::array();
  for (int64_t r = 0; r < layout.rows; ++r) {
    std::vector<double> scores = ScoresRow(t, r);
    nlohmann::json row = nlohmann::json::array();
    for (int64_t idx : TopKIndices(scores, k)) {
      row.push_back({{"index", idx}, {"score", scores[static_cast<size_t>(idx)]}});
    }
    all.push_back(row);
  }
  return all;
}

nlohmann::json Stats(const Tensor& t) {
  nlohmann::json j;
  if (t.dtype() == DType::kString || t.numel() == 0) return j;
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  int64_t nan = 0, inf = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.GetDouble(i);
    if (std::isnan(v)) {
      ++nan;
      continue;
    }
    if (std::isinf(v)) ++inf;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    sum += v;
  }
  j["min"] = mn;
  j["max"] = mx;
  j["mean"] = sum / static_cast<double>(t.numel() - nan);
  j["nan"] = nan;
  j["inf"] = inf;
  return j;
}

nlohmann::json OutputsJson(const Model& model, const std::vector<Value>& outputs, int top_k) {
  auto infos = model.Outputs();
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < outputs.size(); ++i) {
    nlohmann::json j = ValueSummaryJson(outputs[i]);
    j["name"] = infos[i].name;
    if (outputs[i].is_tensor()) {
      j["stats"] = Stats(outputs[i].tensor);
      if (top_k > 0 && LooksLikeScores(outputs[i].tensor))
        j["top_k"] = TopK(outputs[i].tensor, top_k);
    }
    all.push_back(j);
  }
  return all;
}

nlohmann::json InputsJson(const Model& model, const InputSet& set) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& in : model.Inputs()) {
    nlohmann::json j = ValueSummaryJson(set.inputs.at(in.name));
    j["name"] = in.name;
    j["generated"] =
        std::find(set.generated.begin(), set.generated.end(), in.name) != set.generated.end();
    all.push_back(j);
  }
  return all;
}

// A framework model's taps have no ONNX node: one file each, in name order, named by the
// framework's own key (module path, layer or tensor name).
nlohmann::json WriteFrameworkTaps(const std::string& out, const ValueMap& taps) {
  nlohmann::json index = nlohmann::json::array();
  int k = 0;
  for (const auto& [name, value] : taps) {
    std::string file = fmt::format("taps/tap_{}.pb", k++);
    WriteValuePb((fs::path(out) / file).string(), value, name);
    nlohmann::json j = ValueSummaryJson(value);
    j["name"] = name;
    j["file"] = file;
    index.push_back(j);
  }
  return index;
}

// Writes OUT/run.json, the outputs (OUT/output_K.pb, or OUT/set_S/output_K.pb for several sets)
// and the taps of the first set.
void WriteOut(const RunArgs& a, const Model& model, const std::vector<std::vector<Value>>& outputs,
              const ValueMap& taps, nlohmann::json* rec) {
  fs::create_directories(a.out);
  auto infos = model.Outputs();
  for (size_t s = 0; s < outputs.size(); ++s) {
    fs::path dir =
        outputs.size() == 1 ? fs::path(a.out) : fs::path(a.out) / fmt::format("set_{}", s);
    fs::create_directories(dir);
    for (size_t i = 0; i < outputs[s].size(); ++i) {
      WriteValuePb((dir / fmt::format("output_{}.pb", i)).string(), outputs[s][i], infos[i].name);
    }
  }
  if (a.taps && model.is_framework()) {
    (*rec)["taps"] = WriteFrameworkTaps(a.out, taps);
  } else if (a.taps) {
    // One file per tapped value, named by position; run.json maps names to files.
    nlohmann::json index = nlohmann::json::array();
    int k = 0;
    for (const auto& node : model.graph().node()) {
      for (const auto& name : node.output()) {
        auto it = taps.find(name);
        if (name.empty() || it == taps.end()) continue;
        std::string file = fmt::format("taps/tap_{}.pb", k++);
        WriteValuePb((fs::path(a.out) / file).string(), it->second, name);
        nlohmann::json j = ValueSummaryJson(it->second);
        j["name"] = name;
        j["node"] = node.name();
        j["op_type"] = node.op_type();
        j["file"] = file;
        index.push_back(j);
      }
    }
    (*rec)["taps"] = index;
  }
  (*rec)["out_dir"] = a.out;
  WriteFileAtomic((fs::path(a.out) / "run.json").string(), rec->dump(2) + "\n");
}

void PrintSet(const RunArgs& a, const nlohmann::json& set) {
  for (const auto& in : set["inputs"]) {
    std::cout << fmt::format(
        "input   {:<20} {}{}{}\n", in["name"].get<std::string>(),
        in.value("dtype", std::string("?")),
        in.contains("shape") ? in["shape"].dump() : std::string(""),
        in["generated"].get<bool>() ? fmt::format("  (random, seed {})", a.inputs.seed) : "");
  }
  for (const auto& o : set["outputs"]) {
    std::string line = fmt::format("output  {:<20} {}{}", o["name"].get<std::string>(),
                                   o.value("dtype", std::string("?")),
                                   o.contains("shape") ? o["shape"].dump() : std::string(""));
    if (o.contains("stats") && !o["stats"].empty()) {
      const auto& s = o["stats"];
      line += fmt::format("  min {:.4g} max {:.4g} mean {:.4g}", s["min"].get<double>(),
                          s["max"].get<double>(), s["mean"].get<double>());
      if (s["nan"].get<int64_t>() || s["inf"].get<int64_t>()) {
        line += fmt::format("  NaN {} Inf {}", s["nan"].get<int64_t>(), s["inf"].get<int64_t>());
      }
    }
    std::cout << line << "\n";
    if (o.contains("top_k")) {
      int row = 0;
      for (const auto& r : o["top_k"]) {
        if (row == 4) {
          std::cout << fmt::format("        ... {} more rows\n", o["top_k"].size() - 4);
          break;
        }
        std::string items;
        for (const auto& e : r)
          items += fmt::format("  #{} {:.4g}", e["index"].get<int64_t>(), e["score"].get<double>());
        std::cout << fmt::format("        top-{} row {}:{}\n", a.top_k, row++, items);
      }
    }
  }
}

// The directory --save-inputs writes to ("" when not asked).
std::string SaveDir(const std::string& save, const std::string& out) {
  if (save != kSaveToOut) return save;
  if (out.empty()) Fail(ErrorKind::kUsage, "--save-inputs without a folder needs --out DIR");
  return out;
}

int RunMain(const RunArgs& a) {
  auto t0 = Clock::now();
  EnvSpec env = EnvSpec::Parse(a.env);
  ValidateEnv(env);
  // A framework model is loaded by its env's worker, which reports its signature: that
  // session is the one that runs (load time includes preparing it).
  OpenedModel opened = OpenModel(a.model, {env});
  const Model& model = opened.model;
  auto t1 = Clock::now();
  std::vector<InputSet> sets = LoadInputSets(model, a.inputs);
  std::string save_dir = SaveDir(a.save_inputs, a.out);
  if (!save_dir.empty()) SaveInputSets(model, sets, save_dir);
  auto t2 = Clock::now();
  if (a.taps && a.out.empty())
    Fail(ErrorKind::kUsage, "--taps needs --out DIR to write the intermediate tensors to");
  if (a.taps && sets.size() > 1) {
    Fail(ErrorKind::kUsage, "--taps takes one input set; --inputs gives {}", sets.size());
  }
  auto session = opened.session ? std::move(opened.session) : PrepareSession(model, env);
  auto t3 = Clock::now();
  if (a.taps && !session->supports_taps()) {
    Fail(ErrorKind::kUsage, "{} cannot return intermediate tensors (--taps)",
         session->effective_env());
  }
  RunTiming timing;
  ValueMap taps;
  std::vector<std::vector<Value>> outputs;
  for (const auto& set : sets) {
    outputs.push_back(a.taps ? session->RunWithTaps(set.inputs, &taps, &timing)
                             : session->Run(set.inputs, &timing));
  }
  auto t4 = Clock::now();

  nlohmann::json rec;
  rec["model"] = a.model;
  rec["format"] = ModelFormatName(model.format());
  rec["env"] = env.ToString();
  rec["effective_env"] = session->effective_env();
  std::string device = ReportedDevice(*session);
  rec["device"] = device.empty() ? nlohmann::json() : nlohmann::json(device);
  // A worker's MODEL reply: what the runtime did to prepare (tvm: passes, schedules, tuning).
  if (const auto* w = dynamic_cast<const WorkerSession*>(session.get())) {
    rec["prepare_info"] = w->prepare_info();
  }
  rec["seed"] = a.inputs.seed;
  rec["input_sets"] = InputSetsJson(sets);
  rec["sets"] = nlohmann::json::array();
  rec["expected_outputs"] = nlohmann::json::array();
  std::vector<ExpectedCheck> checks;
  bool ok = true;
  for (size_t s = 0; s < sets.size(); ++s) {
    rec["sets"].push_back({{"origin", sets[s].origin},
                           {"inputs", InputsJson(model, sets[s])},
                           {"outputs", OutputsJson(model, outputs[s], a.top_k)}});
    checks.push_back(CheckExpectedOutputs(model, sets[s], outputs[s], {a.rtol, a.atol}));
    if (checks.back().checked) rec["expected_outputs"].push_back(checks.back().json);
    ok &= checks.back().ok;
  }
  rec["inputs"] = rec["sets"][0]["inputs"];
  rec["outputs"] = rec["sets"][0]["outputs"];
  rec["tolerance"] = {{"atol", a.atol}, {"rtol", a.rtol}};
  rec["ok"] = ok;
  rec["timings_ms"] = {{"load", Ms(t0, t1)},
                       {"inputs", Ms(t1, t2)},
                       {"prepare", Ms(t2, t3)},
                       {"run", timing.run_ms},
                       {"run_wall", Ms(t3, t4)}};
  if (!save_dir.empty()) rec["saved_inputs"] = save_dir;
  if (!a.out.empty()) WriteOut(a, model, outputs, taps, &rec);
  int code = ok ? kExitOk : kExitDiverged;
  if (a.json) {
    std::cout << rec.dump(2) << "\n";
    return code;
  }
  if (model.is_framework()) {
    std::cout << fmt::format("model   {}  ({}, {} inputs, {} outputs)\n", a.model,
                             ModelFormatName(model.format()), model.Inputs().size(),
                             model.Outputs().size());
  } else {
    std::cout << fmt::format("model   {}  (opset {}, {} nodes)\n", a.model, model.Opset(""),
                             model.graph().node_size());
  }
  std::cout << fmt::format("env     {}\n", session->effective_env());
  if (!device.empty()) std::cout << fmt::format("device  {}\n", device);
  for (size_t s = 0; s < sets.size(); ++s) {
    if (sets.size() > 1) std::cout << fmt::format("set     {}\n", sets[s].origin);
    for (const auto& d : sets[s].defaulted) {
      std::cout << fmt::format("note    {} (use --input-shapes)\n", d);
    }
    PrintSet(a, rec["sets"][s]);
  }
  if (!rec["expected_outputs"].empty()) {
    std::cout << fmt::format("expected outputs (atol {:g}, rtol {:g})\n", a.atol, a.rtol);
    for (const auto& c : checks) {
      for (const auto& line : c.lines)
        std::cout << fmt::format("  {:<16} {}\n", c.json["set"].get<std::string>(), line);
    }
  }
  if (model.is_framework()) {  // its worker loaded and prepared it while opening
    std::cout << fmt::format("time    load and prepare {} (worker start included), run {}\n",
                             FormatMs(Ms(t0, t1)), FormatMs(timing.run_ms));
  } else {
    std::cout << fmt::format("time    load {}, prepare {}, run {}\n", FormatMs(Ms(t0, t1)),
                             FormatMs(Ms(t2, t3)), FormatMs(timing.run_ms));
  }
  if (!save_dir.empty())
    std::cout << fmt::format("saved   inputs in {}/test_data_set_*\n", save_dir);
  if (!a.out.empty()) {
    std::cout << fmt::format("wrote   {}/{}output_*.pb{} and run.json\n", a.out,
                             sets.size() > 1 ? "set_*/" : "",
                             a.taps ? fmt::format(", {} taps in taps/", taps.size()) : "");
  }
  if (!ok) std::cout << "FAIL    outputs differ from the expected outputs\n";
  return code;
}

}  // namespace

Command MakeRunCommand(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* app =
      root.add_subcommand("run", "Run one model on one environment and summarize the outputs");
  app->footer(
      "Inputs: .pb (ONNX TensorProto), .npy, .npz files (one set), a test_data_set_N folder, or a\n"
      "folder of test_data_set_* folders (one set each; every set runs). Tensors bind to model\n"
      "inputs by name when the name matches, else by position. Inputs not given get seeded random\n"
      "data (floats uniform in [-1,1), integers in [0,10)); --input-shapes sets dynamic dims.\n"
      "Every set must match the declared input types and static dims (else exit 2). A set with\n"
      "output_K.pb files is checked against them (--atol/--rtol; exit 1 on a mismatch).\n"
      "Exit: 0 ran (and matched any expected outputs), 1 the run failed or an output differs\n"
      "from output_K.pb, 2 usage/input error.\n"
      "Example: concord run model.onnx --env ref --inputs test_data_set_0 --out out/");
  app->add_option("model", args->model,
                  "Model file: ONNX, or a framework model its env runs (.pt/.pt2 on torch, "
                  ".tflite on tflite, .xml on openvino, .keras/SavedModel on tf or keras)")
      ->required();
  AddEnvOption(app, &args->env);
  AddInputOptions(app, &args->inputs);
  app->add_option("--out,-o", args->out, "Write output_K.pb and run.json to this folder");
  app->add_option("--top-k,-k", args->top_k,
                  "Top-k classes shown for classifier-like outputs (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  AddSaveInputsOption(app, &args->save_inputs);
  AddToleranceOptions(app, &args->rtol, &args->atol, "against expected outputs (output_K.pb)");
  app->add_flag(
      "--taps", args->taps,
      "Also write every intermediate tensor (by node output name; framework models: by module "
      "path, layer or tensor name) to OUT/taps/ (needs --out)");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return RunMain(*args); }};
}

}  // namespace concord::cli
