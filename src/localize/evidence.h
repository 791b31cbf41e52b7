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

// A zero Pad of spatial axes only (constant mode, value 0, the batch and channel axes unpadded,
// static pads), as converters fold into a Conv's pads or put before one, read from the tensor the
// Conv reads: the Pad itself, or a Transpose NHWC<->NCHW of it (TFLite pads in NHWC, then
// transposes for the Conv), Identity nodes looked through.
struct PadRead {
  std::string data;              // the Pad's data input
  std::vector<int64_t> spatial;  // the spatial pads in the Conv's layout (begins, then ends)
  bool transposed = false;       // a Transpose NHWC<->NCHW lies between the Pad and the Conv
};
bool ZeroSpatialPad(const ModelIndex& m, const SideValues& v, const std::string& t, PadRead* pad);
// Whether t is such a padded tensor (ZeroSpatialPad) or the first half of a transposed chain
// (the output of a zero Pad whose every reader is a Transpose ZeroSpatialPad reads through):
// either has no source counterpart when the source folded the Pad into its Conv.
bool PaddedBeforeConv(const ModelIndex& m, const SideValues& v, const std::string& t, PadRead* pad);
// Whether a target Pad's data, in the layout the Conv reads it, holds source tensor s's values
// within tol on every input set (a transposed chain: only when the layouts differ).
bool PadDataHolds(const SideValues& tv, const PadRead& pad, const SideValues& sv,
                  const std::string& s, const Tolerance& tol);

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
