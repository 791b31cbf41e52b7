// concord run: one model, one environment, one set of inputs -> outputs, timings, summary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

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
  std::vector<std::string> inputs;
  std::string out;
  int top_k = 5;
  uint64_t seed = 0;
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
    if (std::isnan(v)) { ++nan; continue; }
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

int RunMain(const RunArgs& a) {
  auto t0 = Clock::now();
  Model model = Model::Load(a.model);
  auto t1 = Clock::now();
  EnvSpec env = EnvSpec::Parse(a.env);
  std::vector<std::string> generated;
  ValueMap inputs = LoadInputs(model, a.inputs, a.seed, &generated);
  auto t2 = Clock::now();
  auto session = PrepareSession(model, env);
  auto t3 = Clock::now();
  RunTiming timing;
  ValueMap taps;
  if (a.taps && a.out.empty()) Fail(ErrorKind::kUsage, "--taps needs --out DIR to write the intermediate tensors to");
  if (a.taps && !session->supports_taps()) {
    Fail(ErrorKind::kUsage, "{} cannot return intermediate tensors (--taps)", session->effective_env());
  }
  std::vector<Value> outputs =
      a.taps ? session->RunWithTaps(inputs, &taps, &timing) : session->Run(inputs, &timing);
  auto t4 = Clock::now();
  auto infos = model.Outputs();

  nlohmann::json rec;
  rec["model"] = a.model;
  rec["env"] = env.ToString();
  rec["effective_env"] = session->effective_env();
  rec["seed"] = a.seed;
  rec["inputs"] = nlohmann::json::array();
  for (const auto& in : model.Inputs()) {
    nlohmann::json j = ValueSummaryJson(inputs.at(in.name));
    j["name"] = in.name;
    j["generated"] = std::find(generated.begin(), generated.end(), in.name) != generated.end();
    rec["inputs"].push_back(j);
  }
  rec["outputs"] = nlohmann::json::array();
  for (size_t i = 0; i < outputs.size(); ++i) {
    nlohmann::json j = ValueSummaryJson(outputs[i]);
    j["name"] = infos[i].name;
    if (outputs[i].is_tensor()) {
      j["stats"] = Stats(outputs[i].tensor);
      if (a.top_k > 0 && LooksLikeScores(outputs[i].tensor)) j["top_k"] = TopK(outputs[i].tensor, a.top_k);
    }
    rec["outputs"].push_back(j);
  }
  rec["timings_ms"] = {{"load", Ms(t0, t1)}, {"inputs", Ms(t1, t2)}, {"prepare", Ms(t2, t3)},
                       {"run", timing.run_ms}, {"run_wall", Ms(t3, t4)}};
  if (!a.out.empty()) {
    fs::create_directories(a.out);
    for (size_t i = 0; i < outputs.size(); ++i) {
      WriteValuePb((fs::path(a.out) / fmt::format("output_{}.pb", i)).string(), outputs[i], infos[i].name);
    }
    if (a.taps) {
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
      rec["taps"] = index;
    }
    rec["out_dir"] = a.out;
    std::string text = rec.dump(2) + "\n";
    WriteFileAtomic((fs::path(a.out) / "run.json").string(), text);
  }
  if (a.json) {
    std::cout << rec.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("model   {}  (opset {}, {} nodes)\n", a.model, model.Opset(""), model.graph().node_size());
  std::cout << fmt::format("env     {}\n", session->effective_env());
  for (const auto& in : rec["inputs"]) {
    std::cout << fmt::format("input   {:<20} {}{}{}\n", in["name"].get<std::string>(),
                             in.value("dtype", std::string("?")),
                             in.contains("shape") ? in["shape"].dump() : std::string(""),
                             in["generated"].get<bool>() ? fmt::format("  (random, seed {})", a.seed) : "");
  }
  for (const auto& o : rec["outputs"]) {
    std::string line = fmt::format("output  {:<20} {}{}", o["name"].get<std::string>(),
                                   o.value("dtype", std::string("?")),
                                   o.contains("shape") ? o["shape"].dump() : std::string(""));
    if (o.contains("stats") && !o["stats"].empty()) {
      const auto& s = o["stats"];
      line += fmt::format("  min {:.4g} max {:.4g} mean {:.4g}", s["min"].get<double>(), s["max"].get<double>(),
                          s["mean"].get<double>());
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
        for (const auto& e : r) items += fmt::format("  #{} {:.4g}", e["index"].get<int64_t>(), e["score"].get<double>());
        std::cout << fmt::format("        top-{} row {}:{}\n", a.top_k, row++, items);
      }
    }
  }
  std::cout << fmt::format("time    load {}, prepare {}, run {}\n", FormatMs(Ms(t0, t1)), FormatMs(Ms(t2, t3)),
                           FormatMs(timing.run_ms));
  if (!a.out.empty()) {
    std::cout << fmt::format("wrote   {}/output_*.pb{} and run.json\n", a.out,
                             a.taps ? fmt::format(", {} taps in taps/", taps.size()) : "");
  }
  return kExitOk;
}

}  // namespace

Command MakeRunCommand(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* app = root.add_subcommand("run", "Run one model on one environment and summarize the outputs");
  app->footer(
      "Inputs: .pb (ONNX TensorProto), .npy, .npz, or a test_data_set_N folder. Tensors bind to\n"
      "model inputs by name when the name matches, else by position. Inputs not given get seeded\n"
      "random data (floats uniform in [-1,1), integers in [0,10)).\n"
      "Exit: 0 ran, 1 the run failed (runtime error), 2 usage/input error.\n"
      "Example: concord run model.onnx --env ref --inputs test_data_set_0 --out out/");
  app->add_option("model", args->model, "ONNX model file")->required();
  AddEnvOption(app, &args->env);
  app->add_option("--inputs,-i", args->inputs, "Input files or test_data_set folders");
  app->add_option("--out,-o", args->out, "Write output_K.pb and run.json to this folder");
  app->add_option("--top-k,-k", args->top_k, "Top-k classes shown for classifier-like outputs (0 = off)")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  app->add_option("--seed", args->seed, "Seed for random inputs")->capture_default_str();
  app->add_flag("--taps", args->taps,
                "Also write every intermediate tensor (by node output name) to OUT/taps/ (needs --out)");
  AddOutputOptions(app, &args->json);
  return {app, [args] {
            return RunMain(*args);
          }};
}

}  // namespace concord::cli
