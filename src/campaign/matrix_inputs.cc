#include "campaign/matrix_inputs.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/inputs.h"
#include "ir/error.h"
#include "ir/random.h"
#include "ir/tensor_io.h"
#include "ir/test_data.h"
#include "ir/value_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string ThumbnailDataUri(const fs::path& image) {
  cv::Mat img = cv::imread(image.string(), cv::IMREAD_COLOR);
  if (img.empty()) return "";
  double s = 96.0 / std::max(img.cols, img.rows);
  cv::Mat small;
  cv::resize(img, small, cv::Size(), std::min(1.0, s), std::min(1.0, s), cv::INTER_AREA);
  std::vector<uchar> jpg;
  cv::imencode(".jpg", small, jpg, {cv::IMWRITE_JPEG_QUALITY, 80});
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < jpg.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(jpg[i]) << 16;
    if (i + 1 < jpg.size()) n |= static_cast<uint32_t>(jpg[i + 1]) << 8;
    if (i + 2 < jpg.size()) n |= jpg[i + 2];
    b64 += k[(n >> 18) & 63];
    b64 += k[(n >> 12) & 63];
    b64 += i + 1 < jpg.size() ? k[(n >> 6) & 63] : '=';
    b64 += i + 2 < jpg.size() ? k[n & 63] : '=';
  }
  return "data:image/jpeg;base64," + b64;
}

// Digest of an input set: names, dtypes, shapes and bytes of every tensor, in name order.
std::string InputDigest(const ValueMap& values) {
  std::string acc;
  for (const auto& [name, v] : values) {
    acc += name + ";";
    if (v.is_tensor()) {
      acc += std::string(DTypeName(v.tensor.dtype())) + json(v.tensor.shape()).dump() + ";";
      acc += TensorDigest(v.tensor.raw(), v.tensor.nbytes());
    } else {
      acc += "seq" + std::to_string(v.sequence.size());
      for (const auto& t : v.sequence) acc += TensorDigest(t.raw(), t.nbytes());
      if (v.is_map_sequence()) acc += "maps" + std::to_string(v.maps.size());
      for (const auto& m : v.maps) acc += TensorDigest(m.values.raw(), m.values.nbytes());
    }
    acc += "|";
  }
  return TensorDigest(acc.data(), acc.size());
}

}  // namespace

std::vector<MatrixInput> LoadMatrixInputs(const MatrixConfig& c, const MatrixModel& m,
                                          const Model& model) {
  std::vector<ValueInfo> model_inputs = model.Inputs();
  if (model_inputs.empty()) {
    Fail(ErrorKind::kInput, "model {} has no inputs", m.path.string());
  }
  std::vector<MatrixInput> out;
  if (c.dataset.kind == "images") {
    if (model_inputs.size() != 1) {
      Fail(ErrorKind::kInput, "model {} has {} inputs; an image dataset feeds exactly one",
           m.path.string(), model_inputs.size());
    }
    ImageFolderOptions opts;
    opts.recursive = c.dataset.recursive;
    opts.labels_file = c.dataset.labels;
    opts.spec = *m.preprocess;
    ImageFolderDataset ds(c.dataset.images, opts);
    for (size_t i = 0; i < ds.size(); ++i) {
      DatasetItem item = ds.item(i);
      MatrixInput in;
      in.name = item.name;
      in.values[model_inputs[0].name] = Value(std::move(item.tensor));
      in.description = {{"name", item.name},
                        {"kind", "image"},
                        {"source", item.path.string()},
                        {"preprocess", m.preprocess->ToJson()}};
      in.description["label"] = item.label ? json(*item.label) : json(nullptr);
      std::string thumb = ThumbnailDataUri(item.path);
      in.description["thumbnail"] = thumb.empty() ? json(nullptr) : json(thumb);
      out.push_back(std::move(in));
    }
  } else if (c.dataset.kind == "tensors") {
    // data/inputs.h is the one loader: files, a test_data_set_N folder, or a folder of them (one
    // input each), bound by name then position and checked against the model's signature.
    for (const auto& p : c.dataset.tensors) {
      InputRequest request;
      request.paths = {p.string()};
      std::vector<InputSet> sets = LoadInputSets(model, request);
      for (auto& set : sets) {
        if (!set.generated.empty()) {
          Fail(ErrorKind::kInput, "{}: no tensor for input '{}' of model {}", p.string(),
               set.generated.front(), m.path.string());
        }
        MatrixInput in;
        in.name = sets.size() == 1 ? p.filename().string() : (p.filename() / set.origin).string();
        in.values = std::move(set.inputs);
        in.description = {{"name", in.name},
                          {"kind", "tensors"},
                          {"source", sets.size() == 1 ? p.string() : (p / set.origin).string()},
                          {"label", nullptr},
                          {"thumbnail", nullptr}};
        out.push_back(std::move(in));
      }
    }
  } else {
    for (int i = 0; i < c.dataset.random_count; ++i) {
      MatrixInput in;
      in.name = fmt::format("random_{}", i);
      uint64_t k = 0;
      for (const auto& mi : model_inputs) {
        ++k;
        if (!mi.is_tensor || !mi.has_shape) {
          Fail(ErrorKind::kInput,
               "model {}: input '{}' has no tensor shape; random data cannot "
               "be made for it (use a tensors dataset)",
               m.path.string(), mi.name);
        }
        Shape shape = mi.shape;
        for (auto& d : shape) d = d < 0 ? 1 : d;
        in.values[mi.name] =
            Value(RandomTensor(mi.dtype, shape, (c.dataset.seed + i) * 1000003u + k));
      }
      in.description = {{"name", in.name},
                        {"kind", "random"},
                        {"seed", c.dataset.seed + static_cast<uint64_t>(i)},
                        {"label", nullptr},
                        {"thumbnail", nullptr}};
      out.push_back(std::move(in));
    }
  }
  for (auto& in : out) {
    in.digest = InputDigest(in.values);
    in.description["model_input_digest"] = in.digest;
  }
  return out;
}

}  // namespace concord
