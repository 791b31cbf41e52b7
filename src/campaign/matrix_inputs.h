// The inputs of a matrix campaign for one model: image files through the model's preprocessing,
// tensor files or ONNX test_data_set folders bound to the model's inputs, or seeded random
// tensors. Each input set carries a description (recorded in the store) and a digest of its
// names, dtypes, shapes and bytes. Used by campaign/matrix.cc only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "campaign/matrix.h"
#include "ir/model.h"
#include "ir/value.h"

namespace concord {

struct MatrixInput {
  std::string name;
  nlohmann::json description;
  ValueMap values;
  std::string digest;
};

// Every input set of the configuration's dataset for model `m`. Error(kInput) when the model's
// inputs do not fit the dataset (count, names, shapes); Error(kUsage) on an unknown file type.
std::vector<MatrixInput> LoadMatrixInputs(const MatrixConfig& c, const MatrixModel& m,
                                          const Model& model);

}  // namespace concord
