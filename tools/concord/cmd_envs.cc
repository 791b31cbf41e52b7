// concord envs: what this machine can run, with library versions.
#include <iostream>

#include "tools/concord/common.h"

namespace concord::cli {

namespace {

int EnvsMain(bool json) {
  nlohmann::json list = nlohmann::json::array();
  for (const BackendInfo& i : DescribeBackends(AllBackends())) {
    nlohmann::json options = nlohmann::json::array();
    for (const auto& o : i.options) {
      options.push_back({{"name", o.name},
                         {"type", o.type},
                         {"allowed", o.allowed},
                         {"default", o.default_value},
                         {"help", o.help}});
    }
    list.push_back({{"name", i.name},
                    {"description", i.description},
                    {"version", i.version},
                    {"devices", i.devices},
                    {"unavailable_devices", i.unavailable_devices},
                    {"available", i.available},
                    {"unavailable_reason", i.unavailable_reason},
                    {"opt_mapping", i.opt_mapping},
                    {"formats", i.formats},
                    {"options", options}});
  }
  if (json) {
    std::cout << nlohmann::json{{"envs", list}}.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& e : list) {
    std::cout << fmt::format("{:<8} {:<10} {}\n", e["name"].get<std::string>(),
                             e["available"].get<bool>() ? "available" : "missing",
                             e["description"].get<std::string>());
    std::cout << fmt::format("         devices: {}\n",
                             fmt::join(e["devices"].get<std::vector<std::string>>(), ", "));
    for (const auto& [device, why] : e["unavailable_devices"].items()) {
      std::cout << fmt::format("         not here: {} ({})\n", device, why.get<std::string>());
    }
    std::cout << fmt::format("         version: {}\n", e["version"].get<std::string>());
    std::cout << fmt::format("         formats: {}\n",
                             fmt::join(e["formats"].get<std::vector<std::string>>(), ", "));
    std::cout << fmt::format("         opt:     {}\n", e["opt_mapping"].get<std::string>());
    for (const auto& o : e["options"]) {
      std::string allowed = o["allowed"].get<std::string>();
      std::string def = o["default"].get<std::string>();
      std::cout << fmt::format("         option:  {} ({}{}{}) {}\n", o["name"].get<std::string>(),
                               allowed.empty() ? o["type"].get<std::string>() : allowed,
                               def.empty() ? "" : ", default ", def, o["help"].get<std::string>());
    }
    if (!e["available"].get<bool>()) {
      std::cout << fmt::format("         why not: {}\n",
                               e["unavailable_reason"].get<std::string>());
    }
  }
  return kExitOk;
}

}  // namespace

Command MakeEnvsCommand(CLI::App& root) {
  auto json = std::make_shared<bool>(false);
  CLI::App* app =
      root.add_subcommand("envs", "List the environments this machine can run, with versions");
  app->footer(
      "Environment strings: BACKEND[@DEVICE][,KEY=VALUE]..., e.g. ref, ort@cpu,opt=3,threads=1\n"
      "Exit: 0 listed, 2 usage error.");
  AddOutputOptions(app, json.get());
  return {app, [json] { return EnvsMain(*json); }};
}

}  // namespace concord::cli
