// Option groups that mean the same thing in every subcommand, registered once here so that one
// meaning has one spelling (plus its documented alias) across the CLI:
//   --envs (alias --env)  a ';'-separated list of envs (backends/env.h ParseEnvList)
//   --env  (alias --envs) one env; given as a list it must name exactly one
//   --rtol/--atol         tolerances with per-command defaults (the caller's initial values)
//   --json, --quiet       output mode
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace concord::cli {

// --envs and --env on a list; the option may repeat and each value may hold several
// ';'-separated envs. Malformed items are rejected at parse time (usage error).
CLI::Option* AddEnvListOption(CLI::App* app, std::vector<std::string>* envs,
                              const std::string& help);

// --env (-e) and --envs on one env (or the option names given); *env keeps its initial value
// as the default. A value that names more than one env is a usage error naming the count.
CLI::Option* AddEnvOption(CLI::App* app, std::string* env, const std::string& help = "",
                          const std::string& names = "--env,-e,--envs");

// --rtol and --atol (non-negative); the initial values of *rtol/*atol are the command's
// defaults and are shown in --help. `what` says what is compared ("per element vs ref").
void AddToleranceOptions(CLI::App* app, double* rtol, double* atol, const std::string& what = "");

// --json (one JSON document on stdout, also on error) and, when `quiet` is given, --quiet/-q.
void AddOutputOptions(CLI::App* app, bool* json, bool* quiet = nullptr,
                      const std::string& quiet_help = "No progress output");

// --mode random|patterns|opencv: how `gen` / `fuzz` grow models (gen::GenOptions::mode).
void AddGenModeOption(CLI::App* app, std::string* mode);
// --value-search N (GenOptions::value_search_steps).
void AddValueSearchOption(CLI::App* app, int* steps);

// --shard I/N: this process runs shard I of N of the campaign (`what` names the unit of work).
void AddShardOption(CLI::App* app, std::string* shard, const std::string& what);

}  // namespace concord::cli
