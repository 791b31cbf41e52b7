// Analysis of an experiment store: turns the runs of `concord matrix` into one JSON document
// (the "analysis") that every report format renders: HTML (report/html.h), Markdown
// (report/markdown.h) and DeltaNN's file layout (report/deltann_export.h). Renderers read ONLY
// this document, never the store, so a report can be rebuilt from a saved analysis.json.
//
// Schema "concord.analysis/1" (all keys always present unless marked optional; numbers that
// cannot be computed are null, never NaN):
// {
//   "schema": "concord.analysis/1",
//   "store": "/abs/path/concord.db", "generated_at": "2026-11-22T03:04:05Z",
//   "campaign": {"name": "demo", "config": {...the matrix config as run...}} | {},
//   "machine": {...host fingerprint of the first environment...},
//   "envs": [{"env": "ort@cpu,opt=3", "env_string": "ort@cpu,opt=3", "machines": ["node-a"],
//             "backend": "ort", "library": "ort", "device": "cpu",
//             "opt": "3" | null, "threads": "1" | null, "versions": {...}, "machine": {...}}],
//       // library == backend; "opt"/"threads" are the env keys as written (null when absent).
//       // An environment is an env string on one machine: "env" is the env string, or
//       // "ort@cpu,opt=3 [node-a]" when the store holds that env string from several machines
//       // (every "<env>" below uses this name). With group_by_env they are one environment
//       // whose "machines" lists them all, its repeats numbered machine after machine.
//   "models": [{
//     "name": "efficientnet_lite0", "sha256": "...", "path": "...",
//     "label_space": {"num_classes": 1000, "offset": 0},
//     "class_names": ["tench", ...] | [],          // canonical ids index this list
//     "top_k": 5,
//     "preprocess": {...PreprocessSpec JSON...} | null,
//     "inputs": [{"id": 3, "name": "chelsea.png", "label": 281 | null,
//                 "thumbnail": "data:image/jpeg;base64,..." | null}],   // in dataset order
//     "cells": {"total": 42, "ok": 40, "error": 2},
//     "errors": [{"env": "...", "input": "chelsea.png", "repeat": 0, "error": "..."}],
//     "predictions": {"<env>": [{"input": "chelsea.png", "top": [281, 285, ...],
//                                 "scores": [9.1, 8.7, ...], "ms": 5.2} | null]},
//         // repeat 0, one entry per input in `inputs` order (null: that cell failed);
//         // "top" holds canonical class ids (label offset applied), best first, top_k long
//     "pairs": [{"a": "<env>", "b": "<env>", "kind": "library" | "device" | "opt" | "other",
//                "inputs": 7,                  // inputs where both cells ran
//                "top1_agree": 0.857, "topk_jaccard": 0.9, "kendall_tau": 0.8,
//                "max_abs": 1.2e-5, "max_rel": 3e-4, "min_cosine": 0.99999,
//                "identical_outputs": 3,       // inputs with bit-identical outputs
//                "disagreeing_inputs": ["coffee.png"]}],   // top-1 differs
//         // every unordered pair of envs (a before b in `envs` order); kind: "library" when
//         // device and opt agree and the library differs, "device" when library and opt agree,
//         // "opt" when library and device agree, else "other" (DeltaNN's evaluations); other
//         // options (threads, target) must be equal, and an env without opt (ref) matches any
//     "repeats": [{"env": "...", "repeats": 3, "identical": true, "max_abs": 0.0}],
//         // repeat r vs repeat 0 of the same env (determinism)
//     "disagreements": [{"input": "coffee.png", "label": 967 | null,
//                        "thumbnail": "data:..." | null,
//                        "top": {"<env>": [{"class": 967, "name": "espresso",
//                                           "score": 9.1}, ...]}}],
//         // inputs whose top-1 differs between any two envs that ran them
//     "quality": [{"env": "...", "n": 8, "top1_accuracy": 0.75, "topk_accuracy": 1.0,
//                  "gmean": 0.7, "classes": [281, ...], "class_names": ["tabby", ...],
//                  "confusion": [[1, 0], [0, 1]],
//                  "per_class": [{"class": 281, "name": "tabby", "support": 1,
//                                 "predicted": 1, "precision": 1.0, "sensitivity": 1.0}]}],
//         // empty when no input has a label
//     "performance": [{"env": "...", "latency_ms": {"n", "mean", "std", "median", "p90",
//                       "p99", "min", "max"} | null, "latencies_ms": [...all run_ms...],
//                      "first_inference_ms": 12.0 | null, "prepare_ms": 300.0 | null,
//                      "overhead_ms": 0.05 | null, "overhead_pct": 1.0 | null,
//                        (median of wall_ms - run_ms per run; % of the median run_ms)
//                      "transport": "shared memory" | "pipe" | "network" | "in process" | null,
//                      "resources": {"t_s": [...], "cpu_percent": [...], "rss_mb": [...]},
//                      "mean_cpu_percent": 95.0 | null, "peak_rss_mb": 120.0 | null}],
//     "time_change": {"baseline": "<env>", "inputs": [{"input": "chelsea.png",
//                      "ms": {"<env>": 5.2 | null}, "change_pct": {"<env>": -3.1 | null}}]}
//         // median run_ms over repeats per (input, env), relative to the baseline env
//   }]
// }
//
// Side effect: with write_comparisons, every compared (run pair, output) is written to the
// store's comparisons table (one transaction, replacing the previous analysis's rows).
// Failures: a store that cannot be read -> the store's Error; a model whose class names file
// is missing -> Error(kInput) naming it. Cells that failed are reported, never thrown.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "store/store.h"

namespace concord::report {

inline constexpr const char* kAnalysisSchema = "concord.analysis/1";

struct AnalysisOptions {
  int top_k = 5;
  bool thumbnails = true;         // embed small JPEG thumbnails of image inputs
  bool write_comparisons = true;  // replace the store's comparisons table with this analysis's
  bool group_by_env = false;      // one environment per env string, over all machines
};

nlohmann::json Analyze(Store& store, const AnalysisOptions& options);

}  // namespace concord::report
