// Fault localization: where and why a target model (a conversion of a source model, or the
// same model on another env) stops agreeing with the source.
//
// Localize() runs both sides once per input set with taps (Session::RunWithTaps), aligns
// tensors (align.h) and measures every aligned pair; evidence.h gathers what differs statically
// at the first divergent node. Verdict:
//   * agree: every graph output agrees (tolerance) on every input set -> first divergent
//     node null, kind null. Intermediate differences that do not reach an output (a
//     restructured graph) are reported per node but do not make a divergence.
//   * the outputs may agree within tolerance while a fault still shows (a saturating Softmax, a
//     weight precision change): then a divergent aligned tensor from which a chain of differing
//     tensors reaches a graph-output node is a divergence too. "Differing" is relative L2 error
//     above the noise of the mode: 1e-5 on one env (unchanged regions compute bit-identically,
//     restructured ones within ~1e-7), 1e-3 across envs (runtimes round differently); on one env
//     any tolerance failure counts as well, and unaligned tensors always do.
//   * otherwise the first divergent node is the earliest target node (graph order) whose
//     activation inputs all agree with the source (graph inputs, aligned tensors that agree;
//     parameters are not activations) and one of whose outputs diverges — is aligned and
//     differs, or is unaligned and reaches a divergent tensor through unaligned/divergent
//     tensors only.
// Kind of the fault at that node N, against its source counterpart M (the producer of the
// source tensor N's output is aligned to, else a source node reading the same aligned
// activation inputs, preferring the same op type):
//   input           N is a preprocessing node: an elementwise/layout op (Sub, Div, Mul, Add,
//                   Cast, Transpose, Gather, Slice, Concat, Split, Identity, Reshape, ...) fed
//                   only by graph inputs and other preprocessing nodes;
//   graph           no counterpart M (inserted node), M has another op type (replaced node),
//                   or N's activation inputs are not aligned to M's (a node removed upstream);
//   hyperparameter  an attribute differs (defaults from the ONNX schema filled in);
//   parameter       a static input (weight, bias, their precision or layout) differs or is
//                   missing;
//   quantization    N is a QuantizeLinear/DequantizeLinear of a QDQ pair inserted on an edge or
//                   of an integer weight, or reads a dequantized value (quantization.h); the
//                   result then lists every quantized tensor with its max abs and relative error
//                   (ToJson "quantization", also when the outputs agree);
//   runtime         nothing differs statically: the target env computes N differently (the
//                   env-vs-env mode on one model).
// FetaFix's fault type (fault_type): input -> preprocessing; parameter and quantization ->
// weights & biases; hyperparameter -> layer hyperparameters; graph -> computational graph; a
// shape mismatch at N's output -> tensor shape & structure, whatever the kind; runtime -> none.
// N and M are also named as layers of the models they were exported from (layer_names.h).
// The result names N (first_divergent_node) and M (source_node); when the target carries a
// concord.name_map (passes/pass.h) the evidence's "mapped_from" lists the source nodes the map
// records for N. A target converted by the nhwc pass takes its 4-D inputs NHWC: they are fed
// the source's input sets permuted (MapInputs), and NHWC tensors compare to NCHW ones permuted.
// Envs without taps: only graph outputs are compared; the result says so (localized=false) and
// names no node. Errors: Error(kInput) when the two models' inputs do not match (count, dtype,
// fixed dims), Error(kUsage)/Error(kUnsupported) from the backends as documented there.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "localize/align.h"
#include "localize/layer_names.h"

namespace concord::localize {

struct LocalizeOptions {
  EnvSpec source_env = EnvSpec::Parse("ref");
  EnvSpec target_env = EnvSpec::Parse("ref");
  Tolerance tol{1e-4, 1e-5};
};

struct NodeReport {
  int index = 0;
  std::string node;
  std::string op_type;
  std::string output;         // first output
  std::string source_tensor;  // aligned source tensor, "" if none
  std::string source_node;
  std::string alignment;  // input/name/map/layer/output/structure/value/none
  std::string status;     // agree, diverge, unaligned, static, missing
  Divergence div;
};

struct LocalizeResult {
  bool taps = false;            // both sides ran with taps
  bool localized = false;       // false: outputs only (no taps)
  bool agree = false;           // all graph outputs agree on all input sets
  std::string first_divergent;  // "" = null
  int first_index = -1;         // its target node index
  std::string kind;             // "" = null
  std::string source_node;      // counterpart of the first divergent node
  int source_index = -1;        // its source node index (-1: none)
  // Both nodes in their frameworks' own terms (layer_names.h): module path, Keras layer, node.
  LayerName target_layer, source_layer;
  // FetaFix's fault type of the kind: preprocessing, tensor shape & structure, weights &
  // biases, layer hyperparameters, computational graph; "" when none (agree, runtime).
  std::string fault_type;
  nlohmann::json evidence = nlohmann::json::object();
  std::vector<NodeReport> nodes;
  nlohmann::json outputs = nlohmann::json::array();
  std::string note;
  nlohmann::json quantization = nlohmann::json::array();  // per quantized tensor (see above)
  size_t input_sets = 0;
  double source_run_ms = 0;
  double target_run_ms = 0;
  nlohmann::json ToJson() const;
};

// Runs `model` on env over every input set (keyed by this model's input names), with taps when
// the session supports them and want_taps; the graph inputs are added to each tap map.
SideValues RunSide(const Model& model, const EnvSpec& env, const std::vector<ValueMap>& sets,
                   bool want_taps, double* run_ms = nullptr, std::string* effective_env = nullptr);

// Source input sets re-keyed for the target by input position, and permuted NCHW -> NHWC where
// the target takes a 4-D float input in NHWC (its shape says so, or its name map lists the nhwc
// pass). Error(kInput) when the models' inputs differ otherwise in count, dtype or fixed dims.
std::vector<ValueMap> MapInputs(const Model& source, const Model& target,
                                const std::vector<ValueMap>& source_sets);

// The analysis on already-run sides.
// `align_out`, when given, receives the tensor alignment (target tensor -> source).
LocalizeResult Analyze(const Model& source, const SideValues& sv, const Model& target,
                       const SideValues& tv, const Tolerance& tol,
                       std::map<std::string, Alignment>* align_out = nullptr, bool same_env = true);

// FetaFix's "input dimensions" fault: graph input `index` of the target has fixed dims other
// than the source's (and not their NHWC layout).
struct InputDimensions {
  size_t index = 0;
  std::string source_input, target_input;
  Shape source_shape, target_shape;
};
std::optional<InputDimensions> FindInputDimensionsFault(const Model& source, const Model& target);

// Both runs + Analyze. `source_sets` are keyed by the source's input names. A target whose input
// dims differ from the source's is not run: the verdict is kind input, fault type "input
// dimensions", naming the first node that reads that input on each side. `sides`, when given,
// receives both sides' values (empty when nothing ran), for callers that need the outputs too.
struct LocalizeSides {
  SideValues source, target;
};
LocalizeResult Localize(const Model& source, const Model& target,
                        const std::vector<ValueMap>& source_sets, const LocalizeOptions& options,
                        LocalizeSides* sides = nullptr);

}  // namespace concord::localize
