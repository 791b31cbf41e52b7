#include "tools/concord/options.h"

#include <fmt/format.h>

#include "backends/env.h"
#include "ir/error.h"

namespace concord::cli {

namespace {

// Checks one option value with ParseEnvList; returns CLI11's "" for valid, else the message.
std::string CheckEnvList(const std::string& value, bool single) {
  try {
    size_t n = ParseEnvList({value}).size();
    if (single && n != 1) {
      return fmt::format(
          "takes exactly one environment, got {} in '{}' (compare or bench "
          "take several)",
          n, value);
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

CLI::Option* AddEnvListOption(CLI::App* app, std::vector<std::string>* envs,
                              const std::string& help) {
  return app->add_option("--envs,--env", *envs, help + " (';'-separated; option may repeat)")
      ->check(CLI::Validator([](std::string& v) { return CheckEnvList(v, false); }, "ENVS"));
}

CLI::Option* AddEnvOption(CLI::App* app, std::string* env, const std::string& help,
                          const std::string& names) {
  std::string text =
      help.empty() ? "Environment BACKEND[@DEVICE][,KEY=VALUE]... (see `concord envs`)" : help;
  return app->add_option(names, *env, text)
      ->capture_default_str()
      ->check(CLI::Validator([](std::string& v) { return CheckEnvList(v, true); }, "ENV"));
}

void AddToleranceOptions(CLI::App* app, double* rtol, double* atol, const std::string& what) {
  std::string suffix = what.empty() ? "" : " " + what;
  app->add_option("--rtol", *rtol, "Relative tolerance" + suffix)
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--atol", *atol, "Absolute tolerance" + suffix)
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

void AddOutputOptions(CLI::App* app, bool* json, bool* quiet, const std::string& quiet_help) {
  app->add_flag("--json", *json,
                "Print one JSON document on stdout instead of text (on error too: "
                "{\"error\": {\"kind\", \"message\"}, \"exit_code\"})");
  if (quiet != nullptr) app->add_flag("--quiet,-q", *quiet, quiet_help);
}

void AddGenModeOption(CLI::App* app, std::string* mode) {
  app->add_option("--mode", *mode,
                  "How models grow: random (one op at a time, operands from the graph so far) "
                  "or patterns (chains compilers fuse and rewrite: conv+bn+activation, residual "
                  "adds, transposes around matmuls, reshape/transpose sandwiches, attention, "
                  "norm+activation, classifier heads, broadcasting, dtype round trips) or opencv "
                  "(what OpenCV's ONNX importer takes: float32, one graph input, mostly NCHW, "
                  "rank <= 4, each op's data computed from the input, other operands constant "
                  "weights, its shape rules, half the time the chains it fuses)")
      ->capture_default_str()
      ->check(CLI::IsMember({"random", "patterns", "opencv"}));
}

void AddValueSearchOption(CLI::App* app, int* steps) {
  app->add_option("--value-search", *steps,
                  "Value-search steps for a candidate whose values overflow to NaN/Inf: the "
                  "inputs and weights feeding the first non-finite node get their ranges halved "
                  "and redrawn, keeping the graph (NNSmith's input search without gradients); "
                  "0 discards such a graph at once")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
}

void AddShardOption(CLI::App* app, std::string* shard, const std::string& what) {
  app->add_option("--shard", *shard,
                  fmt::format("Run shard I/N only: the {} whose index k has k mod N == I "
                              "(0 <= I < N); merge the shards' stores with `concord merge` "
                              "(docs/cluster.md)",
                              what));
}

}  // namespace concord::cli
