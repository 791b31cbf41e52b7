// ONNX test-data layout: CASE/model.onnx + CASE/test_data_set_N/{input,output}_K.pb.
//
// input_K.pb binds to the K-th non-initializer graph input (ONNX's convention); the file's
// own TensorProto name is ignored for binding. Sequence/optional inputs are read according to
// the declared input type. Missing or extra files are Error(kInput) naming the folder.
#pragma once

#include <string>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace concord {

// Files named PREFIX_K.pb in `dir`, sorted by K.
std::vector<std::string> NumberedFiles(const std::string& dir, const std::string& prefix);
// test_data_set_* folders of a case, sorted by N.
std::vector<std::string> TestDataSets(const std::string& case_dir);

ValueMap LoadInputSet(const Model& model, const std::string& dir);
std::vector<Value> LoadExpectedOutputs(const Model& model, const std::string& dir);

}  // namespace concord
