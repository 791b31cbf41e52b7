// The static evidence behind a localize verdict: what differs between the first divergent
// target node N and its source counterpart M (same op type) — attributes, parameters, the
// wiring of activation inputs, graph outputs that stop early — used by Analyze() to name the
// fault kind (localize.h) and by repair to pick its edits. Internal to localize/.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "localize/align.h"

namespace concord::localize {

// Both sides of one analysis: indexes, tapped values, the tensor alignment, the tolerance.
struct Sides {
  const ModelIndex& si;
  const SideValues& sv;
  const ModelIndex& ti;
  const SideValues& tv;
  const std::map<std::string, Alignment>& align;
  const Tolerance& tol;
};

// Whether tensor t of model m (its values v) is a zero Pad of spatial axes only (constant mode,
// value 0, the first two axes unpadded, static pads), as converters fold into a Conv's pads or
// put before one: its data input and the spatial pads in Conv order (begins, then ends).
bool ZeroSpatialPad(const ModelIndex& m, const SideValues& v, const std::string& t,
                    std::string* data, std::vector<int64_t>* spatial);

// A weight fingerprint up to layout and BatchNorm folding: how a rank-4 target weight relates
// to the source's OIHW one — "transposed in the last two axes", "source values in OHWI / HWIO
// layout", "source values scaled per output channel (a BatchNorm folded in)" (with its layout)
// — or "" when it is none of those (also for equal tensors and uniform scaling).
std::string WeightRelation(const Tensor& source, const Tensor& target);

// Attributes of tn and sn that differ, schema defaults (and the implied defaults of pads,
// strides, dilations) filled in: [{"name", "source", "target"}], "(absent)" for a missing one.
nlohmann::json AttributeDiffs(const Sides& s, const onnx::NodeProto& sn, const onnx::NodeProto& tn);

struct InputDiffs {
  // Static inputs (weights, biases) that differ or exist on one side only:
  // [{"position", "target", "source", "hint", "source_shape", "target_shape", "max_abs"}].
  nlohmann::json parameters = nlohmann::json::array();
  // Activation inputs not aligned to (nor value-equal to) the source node's input at the same
  // position: [{"position", "target_input", "aligned_to", "source_input"}].
  nlohmann::json wiring = nlohmann::json::array();
};
InputDiffs CompareInputs(const Sides& s, const onnx::NodeProto& sn, const onnx::NodeProto& tn);

// Graph outputs written by tn whose values are an earlier source tensor than the source's output
// at the same position (trailing nodes removed):
// [{"output_index", "target_output", "aligned_to", "source_output"}].
nlohmann::json OutputDiffs(const Sides& s, const onnx::NodeProto& tn);

}  // namespace concord::localize
