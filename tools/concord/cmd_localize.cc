// concord localize SOURCE TARGET: where and why a converted target disagrees with its source
// (or one model on two envs): per-node divergence, first divergent node, fault kind, evidence.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "backends/convert_tools.h"
#include "ir/tensor_io.h"
#include "ir/test_data.h"
#include "localize/localize.h"
#include "report/localize_render.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace fs = std::filesystem;

namespace {

struct LocalizeArgs {
  std::string source, target;
  InputRequest inputs;
  std::string env = "ref", source_env = "ref";
  double rtol = 1e-4, atol = 1e-5;
  bool json = false;
  std::string html, md;
  int window = 4;
};

std::string Fmt(const nlohmann::json& v) {
  if (v.is_number()) return fmt::format("{:.3g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return "-";
}

// Per quantized tensor: the error between its float value and its QDQ'd value.
void PrintQuantization(const nlohmann::json& j, std::ostream& os) {
  if (!j.contains("quantization")) return;
  const auto& q = j["quantization"];
  os << fmt::format(
      "quant    {} quantized tensor(s): max abs / relative error of the QDQ'd value\n", q.size());
  const size_t kShown = 16;
  for (size_t i = 0; i < q.size() && i < kShown; ++i) {
    const auto& t = q[i];
    std::string layers;
    for (const auto& c : t["consumers"])
      layers += (layers.empty() ? "" : ",") + c.get<std::string>();
    os << fmt::format("quant    {:<10} {:<28} max abs {:<10} rel {:<10} -> {}\n",
                      t["kind"].get<std::string>(), t["tensor"].get<std::string>(),
                      Fmt(t["max_abs"]), Fmt(t["rel_error"]), layers);
  }
  if (q.size() > kShown) os << fmt::format("quant    ... {} more (--json)\n", q.size() - kShown);
}

void PrintText(const nlohmann::json& j, const LocalizeArgs& a, const std::string& inputs_desc,
               std::ostream& os) {
  os << fmt::format("source  {}  on {}\ntarget  {}  on {}\ninputs  {}\n", a.source,
                    j.value("source_env", a.source_env), a.target, j.value("target_env", a.env),
                    inputs_desc);
  for (const char* side : {"source_onnx", "target_onnx"}) {
    if (j.contains(side)) os << fmt::format("onnx    {}\n", j[side]["how"].get<std::string>());
  }
  os << fmt::format("tol     rtol {:g}, atol {:g} per element\n", a.rtol, a.atol);
  for (const auto& o : j["outputs"]) {
    os << fmt::format("output  {:<20} max abs {:<10} cosine {:<10} {}\n",
                      o["name"].get<std::string>(), Fmt(o["max_abs"]), Fmt(o["cosine"]),
                      o["agree"].get<bool>() ? "agree" : "DIVERGE");
  }
  const auto& nodes = j["nodes"];
  int first = -1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].value("first_divergent", false)) first = static_cast<int>(i);
  }
  int lo = 0, hi = static_cast<int>(nodes.size());
  if (first >= 0 && nodes.size() > 24) {
    lo = std::max(0, first - a.window);
    hi = std::min(hi, first + a.window + 1);
  } else if (first < 0 && nodes.size() > 24) {
    hi = 24;
  }
  os << fmt::format("\n  {:>4}  {:<28} {:<18} {:<10} {:<10} {:<10} {}\n", "#", "node", "op",
                    "max abs", "cosine", "align", "status");
  if (lo > 0) os << fmt::format("  {:>4}  ... {} nodes before\n", "", lo);
  for (int i = lo; i < hi; ++i) {
    const auto& n = nodes[static_cast<size_t>(i)];
    std::string name = n["node"].get<std::string>();
    if (name.size() > 28) name = name.substr(0, 25) + "...";
    os << fmt::format("{} {:>4}  {:<28} {:<18} {:<10} {:<10} {:<10} {}\n", i == first ? ">" : " ",
                      i, name, n["op_type"].get<std::string>(),
                      Fmt(n.value("max_abs", nlohmann::json())),
                      Fmt(n.value("cosine", nlohmann::json())), n["alignment"].get<std::string>(),
                      n["status"].get<std::string>());
  }
  if (hi < static_cast<int>(nodes.size()))
    os << fmt::format("  {:>4}  ... {} nodes after\n", "", nodes.size() - hi);
  os << "\n";
  if (j["first_divergent_node"].is_null()) {
    if (j["agree"].get<bool>()) {
      os << "verdict  AGREE: source and target agree on every input set (first divergent node: "
            "none)\n";
    } else {
      os << "verdict  DIVERGE (not localized)\n";
    }
    if (j.contains("note")) os << "note     " << j["note"].get<std::string>() << "\n";
    PrintQuantization(j, os);
    return;
  }
  const auto& ev = j["evidence"];
  os << fmt::format("verdict  DIVERGE: first divergent node '{}' ({})\nkind     {}\nreason   {}\n",
                    j["first_divergent_node"].get<std::string>(), ev["op_type"].get<std::string>(),
                    j["kind"].get<std::string>(), ev["reason"].get<std::string>());
  if (!j["fault_type"].is_null()) {
    os << fmt::format("type     {} (FetaFix's fault type)\n", j["fault_type"].get<std::string>());
  }
  for (const char* side : {"target_layer", "source_layer"}) {
    if (j[side].is_null()) continue;
    os << fmt::format("layer    {}: {} ({})\n",
                      side == std::string("target_layer") ? "target" : "source",
                      j[side]["name"].get<std::string>(), j[side]["scheme"].get<std::string>());
  }
  if (j.contains("note")) os << "note     " << j["note"].get<std::string>() << "\n";
  if (ev.contains("source_node")) {
    os << fmt::format("source   counterpart '{}' ({}; {})\n", ev["source_node"].get<std::string>(),
                      ev["source_op_type"].get<std::string>(),
                      ev.value("counterpart", std::string()));
  } else {
    os << "source   no counterpart node\n";
  }
  if (ev.contains("mapped_from")) {
    os << fmt::format("map      '{}' came from source node(s) {} (concord.name_map)\n",
                      j["first_divergent_node"].get<std::string>(), ev["mapped_from"].dump());
  }
  for (const auto& in : ev["inputs"]) {
    os << fmt::format(
        "input    {} '{}' -> source '{}': {}\n", in["position"].get<int>(),
        in["tensor"].get<std::string>(), in.value("source_tensor", std::string("?")),
        in.contains("divergence") && in["divergence"]["agree"].get<bool>() ? "agrees" : "differs");
  }
  for (const auto& o : ev["outputs"]) {
    if (!o.contains("divergence")) {
      os << fmt::format("output   '{}': no source tensor holds its values\n",
                        o["tensor"].get<std::string>());
      continue;
    }
    const auto& d = o["divergence"];
    os << fmt::format(
        "output   '{}' vs source '{}': max abs {}, max rel {}, cosine {}, {:.1f}% beyond "
        "tolerance\n",
        o["tensor"].get<std::string>(), o["source_tensor"].get<std::string>(), Fmt(d["max_abs"]),
        Fmt(d["max_rel"]), Fmt(d["cosine"]), 100 * d["mismatch_fraction"].get<double>());
  }
  for (const auto& d : ev["attribute_diffs"]) {
    os << fmt::format("attr     {}: source {} / target {}\n", d["name"].get<std::string>(),
                      d["source"].get<std::string>(), d["target"].get<std::string>());
  }
  for (const auto& d : ev["parameter_diffs"]) {
    os << fmt::format("param    input {} '{}' vs source '{}': {}{}\n", d["position"].get<int>(),
                      d["target"].get<std::string>(), d["source"].get<std::string>(),
                      d.value("hint", std::string()),
                      d.contains("max_abs") ? " (max abs " + Fmt(d["max_abs"]) + ")" : "");
  }
  for (const auto& d : ev["wiring_diffs"]) {
    os << fmt::format("wiring   input {} reads '{}' (= source '{}'), the source node reads '{}'\n",
                      d["position"].get<int>(), d["target_input"].get<std::string>(),
                      d["aligned_to"].get<std::string>(), d["source_input"].get<std::string>());
  }
  PrintQuantization(j, os);
}

int LocalizeMain(const LocalizeArgs& a) {
  OnnxTwins twins(a.source, a.target);
  const std::string& source_how = twins.source_how;
  const std::string& target_how = twins.target_how;
  Model source = Model::Load(twins.source);
  Model target = Model::Load(twins.target);
  localize::LocalizeOptions opt;
  opt.source_env = EnvSpec::Parse(a.source_env);
  opt.target_env = EnvSpec::Parse(a.env);
  ValidateEnvs({opt.source_env, opt.target_env});  // both checked before either runs
  opt.tol = {a.rtol, a.atol};
  std::vector<InputSet> loaded = LoadInputSets(source, a.inputs);
  std::string desc = DescribeInputSets(loaded);
  std::vector<ValueMap> sets = InputMaps(std::move(loaded));
  localize::LocalizeResult r = localize::Localize(source, target, sets, opt);
  nlohmann::json j = r.ToJson();
  j["source"] = a.source;
  j["target"] = a.target;
  if (!source_how.empty()) j["source_onnx"] = {{"path", source.path()}, {"how", source_how}};
  if (!target_how.empty()) j["target_onnx"] = {{"path", target.path()}, {"how", target_how}};
  j["source_env"] = opt.source_env.ToString();
  j["target_env"] = opt.target_env.ToString();
  j["tolerance"] = {{"rtol", a.rtol}, {"atol", a.atol}};
  j["inputs"] = desc;
  if (!a.html.empty()) WriteFileAtomic(a.html, report::RenderLocalizeHtml(j));
  if (!a.md.empty()) WriteFileAtomic(a.md, report::RenderLocalizeMarkdown(j));
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    PrintText(j, a, desc, std::cout);
    if (r.input_sets == 0) {
      std::cout << "time     nothing ran: the target cannot take the source's inputs\n";
    } else {
      std::cout << fmt::format("time     one {} run per side and input set: source {}, target {}\n",
                               r.taps ? "tapped" : "run (no taps on one side)",
                               FormatMs(r.source_run_ms), FormatMs(r.target_run_ms));
    }
    if (!a.html.empty()) std::cout << "wrote    " << a.html << "\n";
    if (!a.md.empty()) std::cout << "wrote    " << a.md << "\n";
  }
  return r.agree ? kExitOk : kExitDiverged;
}

}  // namespace

OnnxTwins::OnnxTwins(const std::string& source_path, const std::string& target_path)
    : scratch((fs::temp_directory_path() / fmt::format("concord-twins-{}", ::getpid())).string()) {
  try {
    source = OnnxTwinFor(source_path, scratch + "/source", &source_how);
    target = OnnxTwinFor(target_path, scratch + "/target", &target_how);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(scratch, ec);
    throw;
  }
}

OnnxTwins::~OnnxTwins() {
  std::error_code ec;
  fs::remove_all(scratch, ec);
}

void AddLocalizeOptions(CLI::App* app, InputRequest* inputs, std::string* env,
                        std::string* source_env, double* rtol, double* atol) {
  AddInputOptions(app, inputs);
  AddEnvOption(app, env, "Env the TARGET runs on");
  AddEnvOption(app, source_env, "Env the SOURCE runs on", "--source-env");
  AddToleranceOptions(app, rtol, atol, "per element");
}

Command MakeLocalizeCommand(CLI::App& root) {
  auto args = std::make_shared<LocalizeArgs>();
  CLI::App* app = root.add_subcommand(
      "localize", "Find the first node where a converted TARGET diverges from its SOURCE, and why");
  app->footer(
      "Both models run once per input set with taps. Tensors are aligned by name, then by graph\n"
      "structure, then by value (renamed, fused or split nodes, NCHW<->NHWC layouts). The first\n"
      "divergent node is the earliest target node whose output diverges while its inputs agree.\n"
      "Kinds: input (preprocessing), parameter (weights/biases), hyperparameter (attributes),\n"
      "graph (inserted/removed/replaced node), quantization (int8 QDQ pairs or dequantized "
      "weights,\n"
      "with each quantized tensor's error), runtime (nothing differs: the env computes it\n"
      "differently). One model on two envs: concord localize M.onnx M.onnx --source-env ref --env "
      "ort@cpu\n"
      "A framework model is compared through its ONNX twin, as FetaFix does: the twin `concord\n"
      "convert` wrote beside it (M.twin.onnx), else one exported now (a torch.export program\n"
      "by torch.onnx dynamo without its optimizer, one node per op with its module scope;\n"
      "TorchScript by torch.onnx; Keras, SavedModel and TFLite by tf2onnx); `onnx` in the output\n"
      "and source_onnx/target_onnx in --json say which. Both divergent nodes are also named in\n"
      "their frameworks' terms (target_layer/source_layer: torch module path, Keras layer name),\n"
      "and fault_type gives FetaFix's type (preprocessing, tensor shape & structure, weights &\n"
      "biases, layer hyperparameters, computational graph).\n"
      "Exit codes: 0 agree, 1 divergence found, 2 usage or input error.");
  app->add_option("source", args->source,
                  "Source model (the reference): ONNX, or a framework model (.pt, .pt2, .keras, "
                  ".tflite, SavedModel, OpenVINO IR) compared through its ONNX twin")
      ->required();
  app->add_option("target", args->target, "Target model (the conversion), ONNX or framework")
      ->required();
  AddLocalizeOptions(app, &args->inputs, &args->env, &args->source_env, &args->rtol, &args->atol);
  app->add_option("--html", args->html,
                  "Write a self-contained HTML report (per-node divergence plot)");
  app->add_option("--md,--md-out", args->md, "Write a Markdown report to this path");
  app->add_option("--window", args->window, "Nodes shown on each side of the first divergence")
      ->capture_default_str();
  AddOutputOptions(app, &args->json);
  return {app, [args] { return LocalizeMain(*args); }};
}

}  // namespace concord::cli
