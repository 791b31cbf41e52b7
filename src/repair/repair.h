// Repair: edit a divergent target model until it agrees with its source again, guided by
// localize (src/localize/localize.h), and verify the result on inputs the search never saw.
//
// Loop: localize on the search inputs -> candidate edits at the first divergent node, in an
// order that depends on the fault kind:
//   hyperparameter  copy the source node's attributes;
//   parameter/input restore every differing static input (weights, biases, preprocessing
//                   constants) from the source (this undoes transposes, permutations, precision
//                   round trips, dropped or scaled biases), one input at a time, then all; a
//                   target constant in the NHWC layout of the source's 4-D one (the nhwc pass
//                   permutes constants with their operand) is restored permuted; a Conv
//                   whose source counterpart feeds a BatchNormalization gets the source's
//                   weights with that BatchNorm folded in (a target that fused the two);
//   graph           delete an inserted node (its consumers read its activation input), restore
//                   a replaced node's op type, attributes and parameters, re-insert the source
//                   nodes that were removed between two aligned tensors.
// A candidate is accepted only when it is a valid model that runs and agreement improves: the
// outputs agree, or the first divergent node moves later (its source counterpart lies later in
// the source graph). The loop ends when the outputs agree, after max_steps accepted edits, or
// when no candidate helps. Verification: with two or more input sets the later half is held
// out; with one set, `holdout_sets` random sets are drawn (seeded) uniformly within the value
// range of the given inputs. Status: "repaired" when at least one edit was accepted and the
// edited model agrees with the source on every held-out set; "nothing_to_repair" when no edit
// was needed (the target agrees on the search sets and on the held-out sets as it is);
// "not_repaired" otherwise (no edit helped, or the edits leave a divergence). Errors are those of
// Localize(); a candidate that fails to validate or run is skipped, never thrown.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "localize/localize.h"

namespace concord::repair {

struct RepairOptions {
  localize::LocalizeOptions localize;
  int max_steps = 8;
  int holdout_sets = 3;
  uint64_t seed = 0;
};

struct PatchEntry {
  int step = 0;
  std::string node;
  std::string kind;    // kind of the fault the edit addresses
  std::string change;  // what the edit does
  std::string before;
  std::string after;
  nlohmann::json agreement_before;  // {agree, first_divergent_node, output_max_abs}
  nlohmann::json agreement_after;
};

struct RepairResult {
  onnx::ModelProto fixed;
  std::string status = "not_repaired";  // repaired | nothing_to_repair | not_repaired
  bool repaired = false;      // status == "repaired": edited, and agrees on the held-out sets
  bool search_agree = false;  // agrees on the search sets
  std::vector<PatchEntry> patches;
  std::string holdout;  // how the held-out sets were made
  size_t search_sets = 0;
  size_t holdout_count = 0;
  localize::LocalizeResult initial;
  localize::LocalizeResult final_holdout;
  // The held-out input sets verified on (source input names): the later half of the given
  // sets, or the random ones.
  std::vector<ValueMap> holdout_sets;
  // FetaFix's label metric on the held-out sets, target vs source before the repair and after:
  // {top1_agree, kendall_tau_top5, sets}; null when the first output is not classifier scores.
  nlohmann::json labels_before, labels_after;
  int candidates_tried = 0;
  // Edits tried and not kept, and why: {"step", "node", "change", "reason", "agreement_after"}
  // (agreement_after absent when the edited model could not be built or run).
  nlohmann::json rejected = nlohmann::json::array();
  nlohmann::json ToJson() const;
};

RepairResult Repair(const Model& source, const Model& target,
                    const std::vector<ValueMap>& source_sets, const RepairOptions& options);

}  // namespace concord::repair
