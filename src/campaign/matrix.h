// The experiment matrix (`concord matrix CONFIG`): every (model, env, input, repeat) cell of a
// configuration, run through the backends and recorded in the results store, resumable.
//
// Configuration (JSON, or TOML with the same keys; relative paths are relative to the file):
//   {
//     "name": "demo",                                   // optional, shown in reports
//     "models": [{
//        "name": "efficientnet_lite0",                  // optional, default: file stem
//        "path": "model.onnx",
//        "preprocess": {...PreprocessSpec JSON...},     // image datasets: how to make inputs
//        "label_space": {"num_classes": 1000, "offset": 0},   // optional (data/dataset.h)
//        "class_names": "imagenet_classes.txt"          // optional: one name per canonical id
//     }],
//     "envs": ["ref", "ort@cpu,opt=0..3", "tvm@cpu,opt=0|3", "opencv@cpu|opencl"],
//         // an env runs the file of the format it lists first (the source, the ONNX twin, or
//         // the first conversion of that format); "tflite@cpu,twin=tflite-int8" runs the
//         // conversion with that label instead (MatrixConversion::Label), and only for the
//         // models that have it (the others are counted as not applicable, not run)
//         // sweeps: an option value "A..B" (integers) or "a|b|c", and a device "a|b", expand
//         // to every combination, in order; duplicates after expansion are an error
//     "hosts": ["", "10.0.0.7:7070"],   // optional: every env on each host ("" = here; a
//                                       // host runs `concord serve`), i.e. env + ",host=H"
//     "dataset": {"images": "photos/", "labels": "photos/labels.csv", "recursive": false}
//              | {"tensors": ["test_data_set_0", "x.npz", "y.npy", "z.pb"]}
//              | {"random": 4, "seed": 0},                 // seeded random inputs
//     "repeats": 1,           // runs of every (model, env, input); repeat r is its own cell
//     "top_k": 5,             // top-k labels recorded for classifier-like outputs
//     "store_tensors": "auto",  // true | false | "auto" (outputs up to 1 MiB): full tensors as
//                               // .npy bytes in outputs.tensor, needed for numeric comparison
//     "isolate": true,        // run in-process backends (ref, opencv) in a worker process too,
//                             // so a crash or hang fails cells, not the campaign
//     "timeout_s": 0,         // > 0: per prepare/run timeout of isolated workers
//     "sample_ms": 50         // CPU/RAM sampling period of the process running a session
//   }
// Unknown keys, wrong types and missing files are Error(kUsage) / Error(kInput) naming the
// config file and the key, before anything runs.
//
// Running: cells are visited model by model, env by env (one prepared session per (model, env)
// serves all its inputs and repeats), input by input, repeat by repeat. A cell already in the
// store is skipped (resume after a kill; unless the file the env runs for that model changed since
// its last session, e.g. a direction added to the config or one that failed to convert before:
// then the stale cells, ok or failed, are retired and run again: each cell is one transaction, so
// nothing is lost or duplicated). A failed Prepare records every missing cell of that (model, env)
// as an error with the message; a failed run records that cell as an error and re-prepares the
// session for the next one. The campaign only stops early on store errors. Single-threaded.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backends/env.h"
#include "campaign/shard.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "store/store.h"

namespace concord {

// One conversion direction of a matrix model (`concord convert SRC --to TO --via ... --quantize`):
// the converted model becomes one of the model's twins, run by the envs of its format.
struct MatrixConversion {
  std::string to;  // torch|tf|keras|tflite|openvino
  std::vector<std::string> via;
  std::string quantize = "none";
  // to == "torch": a TorchScript archive (.pt, traced) instead of a torch.export program (.pt2),
  // for modules torch.export cannot trace (onnx2torch's Squeeze with axes from an initializer).
  bool torchscript = false;
  // quantize == "int8": a folder of images, preprocessed like the dataset, that calibrates the
  // converter (written as .npy input sets beside the converted model); required for int8.
  std::filesystem::path calibration;
  std::string Label() const;      // "tflite", "tflite-via-onnx2tf", "tflite-fp16", "torchscript"
  std::string Extension() const;  // ".pt2" (".pt"), ".savedmodel", ".keras", ".tflite", ".xml"
};

struct MatrixModel {
  std::string name;
  // The ONNX model the runtimes run and the inputs are planned on. A config may name a framework
  // model instead (.pt, .pt2, .keras, .tflite, .xml): it becomes `source`, and `path` its ONNX
  // twin, converted before the run (campaign value "conversion/SHA/onnx") with the source as the
  // first twin, so its framework's env runs the source itself.
  std::filesystem::path path;
  std::filesystem::path source;  // empty when the config named an ONNX model
  // The source's ONNX twin given in the config ("onnx"), used as the hub instead of converting.
  std::filesystem::path onnx;
  std::optional<PreprocessSpec> preprocess;
  std::optional<LabelSpace> label_space;
  std::vector<std::string> class_names;  // loaded from the class_names file
  // The same network in other formats (a converter's output: TorchScript, .keras, .tflite...),
  // run by the envs that cannot run ONNX (torch@cuda runs the .pt twin). Inputs and outputs
  // must match the ONNX model's, in order; outputs are recorded under the ONNX model's names.
  std::vector<std::filesystem::path> twins;
  // Directions converted before the run (into conversions/ beside the store, reused while the
  // source is unchanged); each success is appended to twins, each failure recorded.
  std::vector<MatrixConversion> conversions;
  // Filled by the run: each direction's label -> its converted file, or -> why it failed.
  std::map<std::string, std::filesystem::path> converted;
  std::map<std::string, std::string> failed;
};

struct MatrixDataset {
  std::string kind;  // "images" | "tensors" | "random"
  std::filesystem::path images;
  std::optional<std::filesystem::path> labels;
  bool recursive = false;
  std::vector<std::filesystem::path> tensors;
  int random_count = 0;
  uint64_t seed = 0;
};

struct MatrixConfig {
  std::filesystem::path file;
  std::string name;
  std::vector<MatrixModel> models;
  std::vector<std::string> envs;  // expanded, each parseable by EnvSpec::Parse
  MatrixDataset dataset;
  int repeats = 1;
  int top_k = 5;
  std::string store_tensors = "auto";
  bool isolate = true;
  double timeout_s = 0;
  double sample_ms = 50;
  nlohmann::json raw;  // the configuration as read (TOML converted to JSON)
};

// Reads and checks a configuration (campaign/matrix_config.cc).
MatrixConfig LoadMatrixConfig(const std::filesystem::path& file);

struct MatrixProgress {
  int64_t done = 0;  // cells finished in this invocation (ran or failed)
  int64_t todo = 0;  // cells this invocation has to run (total - already stored)
  int64_t failed = 0;
  std::string model, env, input;
  std::string phase;  // "prepare" | "run"
  double elapsed_s = 0;
};
using MatrixProgressFn = std::function<void(const MatrixProgress&)>;

struct MatrixRunOptions {
  // Failed cells of this configuration are moved to the store's retried_runs history and run
  // again (Store::RetireFailedRun); without it a stored cell, failed or not, is skipped.
  bool retry_failed = false;
  // Only the (model, env) sessions this shard owns run (see campaign/shard.h); the others'
  // cells are neither counted nor run.
  Shard shard;
  // Only the inputs of each session whose dataset index k has k % count == index (a cluster
  // driver splits a large session into input chunks, each prepared on its own node).
  Shard input_chunk;
};

struct MatrixSummary {
  int64_t total = 0;           // cells in the configuration
  int64_t retried = 0;         // failed cells retired for a retry (MatrixRunOptions::retry_failed)
  int64_t existing = 0;        // already in the store when this invocation started (after retiring)
  int64_t ran = 0;             // recorded ok now
  int64_t failed = 0;          // recorded as errors now
  int64_t sessions = 0;        // sessions prepared now
  int64_t stale = 0;           // stored cells retired because their env now runs another file
  int64_t not_applicable = 0;  // (model, env) pairs skipped: twin=LABEL the model lacks
  double seconds = 0;
};

// Every env of the configuration is validated (ValidateEnvs) before anything is written to the
// store; an invalid one is Error(kUsage) listing them all.
MatrixSummary RunMatrix(const MatrixConfig& config, Store& store,
                        const MatrixProgressFn& progress = nullptr,
                        const MatrixRunOptions& options = {});

// A (model, env) session of a configuration (numbered model-major in config order, the order
// --shard partitions) and how many of its cells the store already holds, on any machine (no
// cells for an env whose twin= the model lacks).
struct MatrixSession {
  int64_t index = 0;
  std::string model, env;  // env: canonical env string
  int64_t cells = 0, stored = 0;
  std::vector<int> stored_per_input;  // stored repeats of each input, in dataset order
  int repeats = 1;
};
// What a cluster driver needs before dispatching sessions: loads every model and its inputs and
// records them and the campaign's name and config in the store (as RunMatrix does), then counts
// each session's stored cells. Records no environment (the nodes that run the sessions do), and
// validates none: the caller checks the envs against what the nodes can run.
std::vector<MatrixSession> PlanMatrixSessions(const MatrixConfig& config, Store& store);

// The failed cells of a store grouped by (model, env, error message), largest group first.
struct MatrixFailure {
  std::string model, env, error;
  int64_t cells = 0;
};
std::vector<MatrixFailure> SummarizeFailures(Store& store);

}  // namespace concord
