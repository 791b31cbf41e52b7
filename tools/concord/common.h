// Shared pieces of the concord subcommands: option groups that mean the same thing in every
// subcommand (--json, --env, --inputs, tolerances), expected-output checks, and exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/outcome.h"
#include "compare/compare.h"
#include "data/inputs.h"
#include "tools/concord/options.h"

namespace concord::cli {

// Exit codes (DESIGN.md, README's table): 0 ran and agreed, 1 ran and found a divergence/
// failure/findings, 2 usage or input error (errors.h maps error kinds to them). The values are
// backends/outcome.h's, the one exit-code rule.
inline constexpr int kExitOk = kExitCodeOk;
inline constexpr int kExitDiverged = kExitCodeDiverged;
inline constexpr int kExitUsage = kExitCodeUsage;

// A registered subcommand: `run` is called after parsing when the subcommand was chosen.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// --inputs, --seed and --input-shapes: the input request (data/inputs.h) of every command that
// feeds a model. AddInputShapesOption alone serves commands whose inputs come from elsewhere.
void AddInputOptions(CLI::App* app, InputRequest* request,
                     const std::string& seed_help = "Seed for random inputs");
void AddInputShapesOption(CLI::App* app, InputShapes* shapes);

// --save-inputs [DIR]: `dir` is set to DIR, or to kSaveToOut when given without a value.
inline constexpr const char* kSaveToOut = "<out>";
void AddSaveInputsOption(CLI::App* app, std::string* dir);
// Writes every set as DIR/test_data_set_K/input_*.pb (a folder --inputs reads back).
void SaveInputSets(const Model& model, const std::vector<InputSet>& sets, const std::string& dir);

// The input maps of `sets`, in order.
std::vector<ValueMap> InputMaps(std::vector<InputSet> sets);

// Per-set JSON: origin, generated inputs, dims defaulted to 1.
nlohmann::json InputSetsJson(const std::vector<InputSet>& sets);

// One env's outputs checked against a set's expected outputs (output_K.pb), by output name.
struct ExpectedCheck {
  bool checked = false;  // the set has expected outputs
  bool ok = true;
  nlohmann::json json;             // {"set", "ok", "outputs": [{name, ok, max_abs, ...}]}
  std::vector<std::string> lines;  // text lines, one per output
};
ExpectedCheck CheckExpectedOutputs(const Model& model, const InputSet& set,
                                   const std::vector<Value>& outputs, const Tolerance& tol);

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

// Options shared by localize and repair (cmd_localize.cc).
void AddLocalizeOptions(CLI::App* app, InputRequest* inputs, std::string* env,
                        std::string* source_env, double* rtol, double* atol);

// The ONNX twins localize and repair compare for SOURCE and TARGET (OnnxTwinFor: the file itself
// for ONNX), exported into a scratch folder removed with this object; `how` says where each
// came from ("" for an ONNX file).
struct OnnxTwins {
  OnnxTwins(const std::string& source, const std::string& target);
  ~OnnxTwins();
  OnnxTwins(const OnnxTwins&) = delete;
  OnnxTwins& operator=(const OnnxTwins&) = delete;
  std::string scratch, source, target, source_how, target_how;
};
Command MakeConvertCommand(CLI::App& root);

// The console summary of an analysis document (report/analysis.h): per model, per env
// accuracy, latency and top-1 agreement with the first env; disagreeing inputs; failed cells.
void PrintAnalysisSummary(const nlohmann::json& analysis, std::ostream& os);

}  // namespace concord::cli
