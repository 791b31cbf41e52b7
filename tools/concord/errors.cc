#include "tools/concord/errors.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

namespace concord::cli {

namespace {

std::vector<std::string> SubcommandNames(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

// The innermost subcommand that was selected on the command line, or the root.
CLI::App* SelectedApp(CLI::App& root) {
  CLI::App* app = &root;
  for (bool descended = true; descended;) {
    descended = false;
    for (CLI::App* sub : app->get_subcommands()) {
      app = sub;
      descended = true;
      break;
    }
  }
  return app;
}

std::vector<std::string> OptionNames(CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app->get_options()) {
    for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
  }
  return names;
}

// The first "--name" token that `app` does not know, with its suggestion, or "".
std::string ExplainUnknownOption(CLI::App* app, int argc, char** argv) {
  std::vector<std::string> known = OptionNames(app);
  for (int i = 1; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok == "--") break;
    if (tok.rfind("--", 0) != 0) continue;
    std::string name = tok.substr(0, tok.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string near = NearestName(name, known);
    std::string cmd = app->get_parent() != nullptr ? app->get_name() + ": " : "";
    return fmt::format("{}unknown option '{}'{}", cmd, name,
                       near.empty() ? "" : fmt::format("; did you mean {}?", near));
  }
  return "";
}

}  // namespace

int ExitCodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRuntime:
    case ErrorKind::kUnsupported:
      return 1;
    case ErrorKind::kUsage:
    case ErrorKind::kInput:
    case ErrorKind::kInternal:
      return 2;
  }
  return 2;
}

int ReportError(ErrorKind kind, const std::string& message, bool json) {
  int code = ExitCodeFor(kind);
  const char* prefix = kind == ErrorKind::kInternal ? "internal error" : "error";
  std::cerr << "concord: " << prefix << ": " << message << "\n";
  if (json) {
    nlohmann::json doc = {{"error", {{"kind", ErrorKindName(kind)}, {"message", message}}},
                          {"exit_code", code}};
    std::cout << doc.dump(2) << "\n";
  }
  return code;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string NearestName(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 1 + word.size() / 4;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d <= best_d && d < word.size() && (best.empty() || d < EditDistance(word, best))) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

bool JsonRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok == "--") return false;
    if (tok == "--json") return true;
  }
  return false;
}

std::string ExplainParseError(CLI::App& root, const CLI::ParseError& e, int argc, char** argv) {
  std::vector<std::string> commands = SubcommandNames(root);
  if (argc > 1 && argv[1][0] != '-' &&
      std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    std::string near = NearestName(argv[1], commands);
    return fmt::format("unknown command '{}'{}", argv[1],
                       near.empty() ? "; run `concord --help` for the list"
                                    : fmt::format("; did you mean '{}'?", near));
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    std::string unknown = ExplainUnknownOption(SelectedApp(root), argc, argv);
    if (!unknown.empty()) return unknown;
  }
  CLI::App* app = SelectedApp(root);
  std::string where = app != &root ? app->get_name() + ": " : "";
  return where + e.what();
}

}  // namespace concord::cli
