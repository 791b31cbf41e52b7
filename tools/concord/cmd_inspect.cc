// concord inspect: what a model file holds, without running it (ir/inspect.h).
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "ir/inspect.h"
#include "tools/concord/common.h"
#include "tools/concord/options.h"

namespace concord::cli {

namespace {

using nlohmann::json;

struct InspectArgs {
  std::string model;
  bool json = false;
};

// "[1,3,224,224]" with dynamic axes by name: "[N,3,224,224]".
std::string ShapeText(const json& v) {
  if (!v.contains("shape")) return "?";
  std::vector<std::string> dims;
  for (const auto& d : v["shape"]) dims.push_back(std::to_string(d.get<int64_t>()));
  for (const auto& dyn : v.value("dynamic", json::array())) {
    dims[dyn["axis"].get<size_t>()] = dyn["name"].get<std::string>();
  }
  return fmt::format("[{}]", fmt::join(dims, ","));
}

void PrintValues(const char* title, const json& values) {
  std::cout << title << "\n";
  for (const auto& v : values) {
    std::cout << fmt::format("  {:<28} {:<8} {}\n", v["name"].get<std::string>(),
                             v.value("dtype", v["type"].get<std::string>()), ShapeText(v));
  }
}

void PrintOnnx(const json& d) {
  std::vector<std::string> opsets;
  for (const auto& o : d["opsets"]) {
    opsets.push_back(
        fmt::format("{}:{}", o["domain"].get<std::string>(), o["version"].get<int64_t>()));
  }
  std::cout << fmt::format("ir       {} (opsets {})\n", d["ir_version"].get<int64_t>(),
                           fmt::join(opsets, ", "));
  std::cout << fmt::format("producer {} {}\n", d["producer"]["name"].get<std::string>(),
                           d["producer"]["version"].get<std::string>());
  std::cout << fmt::format("checker  {}\n", d["checker"].get<std::string>());
  PrintValues("inputs", d["inputs"]);
  PrintValues("outputs", d["outputs"]);
  std::cout << fmt::format("nodes    {} ({} op types)\n", d["nodes"].get<int64_t>(),
                           d["ops"].size());
  std::vector<std::pair<int64_t, std::string>> ops;
  for (const auto& [op, n] : d["ops"].items()) ops.emplace_back(-n.get<int64_t>(), op);
  std::sort(ops.begin(), ops.end());
  for (const auto& [n, op] : ops) std::cout << fmt::format("  {:<28} {}\n", op, -n);
  std::cout << fmt::format("weights  {} initializers, {} parameters, {} bytes\n",
                           d["initializers"].get<int64_t>(), d["parameters"].get<int64_t>(),
                           d["weight_bytes"].get<int64_t>());
  for (const auto& e : d["external_data"]) {
    std::cout << fmt::format("  external file {} ({} tensors, {} bytes)\n",
                             e["location"].get<std::string>(), e["tensors"].get<int64_t>(),
                             e["bytes"].get<int64_t>());
  }
  for (const auto& [k, v] : d["metadata"].items()) {
    std::cout << fmt::format("meta     {} = {}\n", k, v.get<std::string>().substr(0, 60));
  }
}

int InspectMain(const InspectArgs& a) {
  json d = InspectModel(a.model);
  if (a.json) {
    std::cout << d.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("model    {}\nformat   {} ({} file(s), {} bytes)\n", a.model,
                           d["format"].get<std::string>(), d["files"].size(),
                           d["bytes"].get<int64_t>());
  if (d.contains("ir_version")) PrintOnnx(d);
  return kExitOk;
}

}  // namespace

Command MakeInspectCommand(CLI::App& root) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* app = root.add_subcommand("inspect", "Describe a model file without running it");
  app->footer(
      "Shows format, IR version and opsets, producer, inputs and outputs (dynamic dims by name),\n"
      "an op histogram (subgraphs included), weights (which live in external files), metadata\n"
      "and the ONNX checker's verdict. Exit: 0 described, 2 missing or unreadable file.\n"
      "Example: concord inspect model.onnx --json");
  app->add_option("model", args->model, "Model file (ONNX or a framework format)")->required();
  AddOutputOptions(app, &args->json);
  return {app, [args] { return InspectMain(*args); }};
}

}  // namespace concord::cli
