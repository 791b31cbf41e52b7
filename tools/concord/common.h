// Shared pieces of the concord subcommands: option groups that mean the same thing in every
// subcommand (--json, --env, --inputs, tolerances), input loading, and exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "tools/concord/options.h"

namespace concord::cli {

// Exit codes (DESIGN.md): 0 ran and agreed, 1 ran and found a divergence/failure/findings, 2
// usage or input error (errors.h maps error kinds to them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitDiverged = 1;
inline constexpr int kExitUsage = 2;

// A registered subcommand: `run` is called after parsing when the subcommand was chosen.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};


// Loads inputs for `model` from paths: .pb / .npy / .npz files or test_data_set_N folders.
// Files bind by tensor/array name when it matches a model input, otherwise by position.
// Inputs not given are filled with seeded random data of the declared type and shape
// (unknown dims become 1); `generated` lists their names.
ValueMap LoadInputs(const Model& model, const std::vector<std::string>& paths, uint64_t seed,
                    std::vector<std::string>* generated);

nlohmann::json ValueSummaryJson(const Value& v);
std::string FormatMs(double ms);

// Subcommand factories (one file each).
Command MakeRunCommand(CLI::App& root);
Command MakeConformanceCommand(CLI::App& root);
Command MakeEnvsCommand(CLI::App& root);
Command MakeCompareCommand(CLI::App& root);
Command MakeBenchCommand(CLI::App& root);
Command MakeServeCommand(CLI::App& root);
Command MakeWorkerCommand(CLI::App& root);
Command MakeMergeCommand(CLI::App& root);
Command MakeMatrixCommand(CLI::App& root);
Command MakeReportCommand(CLI::App& root);
Command MakeGenCommand(CLI::App& root);
Command MakeFuzzCommand(CLI::App& root);
Command MakeFuzzReportCommand(CLI::App& root);
Command MakeReduceCommand(CLI::App& root);
Command MakeLocalizeCommand(CLI::App& root);
Command MakeRepairCommand(CLI::App& root);
Command MakeInspectCommand(CLI::App& root);

// localize/repair (cmd_localize.cc): input sets from --inputs (files = one set; a
// test_data_set_N folder = one set; a folder of test_data_set_* folders = one set each; none =
// one random set); `description` says which. Options shared by both subcommands.
std::vector<ValueMap> LoadInputSets(const Model& model, const std::vector<std::string>& paths, uint64_t seed,
                                    std::string* description);
void AddLocalizeOptions(CLI::App* app, std::vector<std::string>* inputs, std::string* env, std::string* source_env,
                        double* rtol, double* atol, uint64_t* seed);
Command MakeConvertCommand(CLI::App& root);

// The console summary of an analysis document (report/analysis.h): per model, per env
// accuracy, latency and top-1 agreement with the first env; disagreeing inputs; failed cells.
void PrintAnalysisSummary(const nlohmann::json& analysis, std::ostream& os);

}  // namespace concord::cli
