// The one input contract of every command that feeds a model: where input sets come from, how
// tensors bind to model inputs, how missing inputs are generated, and what a set must satisfy
// before any environment runs it.
//
// Sources (InputRequest::paths, in order):
//   .pb / .npy / .npz files        together one set
//   a test_data_set_N folder       one set; its output_K.pb files are the expected outputs
//   a folder of test_data_set_*    one set per folder, in numeric order
//   any other folder               Error(kInput) naming the folder and what it holds
//   no paths                       one generated set
// Binding: a tensor whose name is a model input binds to it, else to the next unbound input by
// position; more tensors than inputs is Error(kInput). Inputs a set does not give are generated
// (ir/random.h, seeded) with --input-shapes for dynamic dims; dims still unknown become 1 and
// are listed in InputSet::defaulted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace concord {

using InputShapes = std::map<std::string, std::vector<int64_t>>;

struct InputRequest {
  std::vector<std::string> paths;
  uint64_t seed = 0;
  InputShapes shapes;  // --input-shapes: concrete shapes by input name
};

struct InputSet {
  ValueMap inputs;
  ValueMap expected;                   // expected outputs by output name (output_K.pb)
  std::vector<std::string> generated;  // inputs filled with random data
  std::vector<std::string> defaulted;  // "x: dim 1 ('N') = 1" for dims nobody specified
  std::string origin;                  // "test_data_set_3", "2 file(s)", "random (seed 0)"
};

// Loads every set `request` names and checks each with CheckInputs (against request.shapes).
// Throws Error(kInput) for missing/unknown paths, folders without tensors, bad bindings and
// contract violations; Error(kUsage) when --input-shapes names no model input.
std::vector<InputSet> LoadInputSets(const Model& model, const InputRequest& request);

// The contract: every model input present; for tensor inputs the dtype equals the declared one,
// the rank equals the declared rank, every static dim is equal, and every dim agrees with
// `shapes` where it names the input. Error(kInput) names the input, the expected type/shape
// (dynamic dims as their symbol or ?) and the given one.
void CheckInputs(const Model& model, const ValueMap& inputs, const InputShapes& shapes = {});

// Parses --input-shapes arguments: entries NAME:DIMS, DIMS as 1x3x224x224 or [1,3,224,224]
// (empty for a scalar: NAME:[]), entries separated by spaces or by commas outside brackets,
// the name ending at the last ':'. Error(kUsage) on malformed entries or repeated names.
InputShapes ParseInputShapes(const std::vector<std::string>& args);

// "float32[1,N,?]" for a declared input (symbols for named dims, ? for unknown ones).
std::string DeclaredTypeString(const ValueInfo& info);

// One line for a list of sets: "test_data_set_0", "3 input sets (test_data_set_0 .. _2)".
std::string DescribeInputSets(const std::vector<InputSet>& sets);

// Writes `set.inputs` as DIR/input_K.pb in model-input order (ONNX's test layout).
void SaveInputSet(const Model& model, const InputSet& set, const std::string& dir);

}  // namespace concord
