#include "data/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <vector>

#include "ir/error.h"

namespace concord {
namespace {

using nlohmann::json;

void CheckKeys(const json& j, const std::string& where, const std::set<std::string>& allowed) {
  if (!j.is_object()) Fail(ErrorKind::kUsage, "preprocess spec: {} must be a JSON object", where);
  for (const auto& [key, value] : j.items()) {
    if (!allowed.count(key)) {
      Fail(ErrorKind::kUsage, "preprocess spec: unknown field '{}{}' (allowed: {})",
           where == "spec" ? "" : where + ".", key, fmt::join(allowed, ", "));
    }
  }
}

std::string GetChoice(const json& j, const std::string& field,
                      const std::set<std::string>& choices) {
  if (!j.is_string()) Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be a string", field);
  std::string v = j.get<std::string>();
  if (!choices.count(v)) {
    Fail(ErrorKind::kUsage, "preprocess spec: '{}' is \"{}\"; expected one of: {}", field, v,
         fmt::join(choices, ", "));
  }
  return v;
}

double GetNumber(const json& j, const std::string& field) {
  if (!j.is_number()) Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be a number", field);
  double v = j.get<double>();
  if (!std::isfinite(v)) Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be finite", field);
  return v;
}

int GetPositiveInt(const json& j, const std::string& field) {
  if (!j.is_number_integer() || j.get<int64_t>() <= 0 || j.get<int64_t>() > 65536) {
    Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be an integer in [1, 65536], got {}", field,
         j.dump());
  }
  return j.get<int>();
}

std::array<int, 2> GetHW(const json& j, const std::string& field) {
  if (!j.is_array() || j.size() != 2) {
    Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be [h, w], got {}", field, j.dump());
  }
  return {GetPositiveInt(j[0], field + "[0]"), GetPositiveInt(j[1], field + "[1]")};
}

std::array<double, 3> GetTriple(const json& j, const std::string& field) {
  if (!j.is_array() || j.size() != 3) {
    Fail(ErrorKind::kUsage, "preprocess spec: '{}' must be an array of 3 numbers, got {}", field,
         j.dump());
  }
  return {GetNumber(j[0], field + "[0]"), GetNumber(j[1], field + "[1]"),
          GetNumber(j[2], field + "[2]")};
}

int Interpolation(const std::string& name) {
  if (name == "bicubic") return cv::INTER_CUBIC;
  if (name == "area") return cv::INTER_AREA;
  return cv::INTER_LINEAR;
}

// PIL / torchvision "nearest-exact": destination pixel d takes source floor((d + 0.5) * src / dst).
// Written out because OpenCV 4.6's INTER_NEAREST_EXACT picks the lower pixel at exact halves.
cv::Mat ResizeNearest(const cv::Mat& src, int oh, int ow) {
  cv::Mat dst(oh, ow, src.type());
  std::vector<int> cols(static_cast<size_t>(ow));
  for (int x = 0; x < ow; ++x) {
    cols[x] = std::min(src.cols - 1, static_cast<int>((x + 0.5) * src.cols / ow));
  }
  for (int y = 0; y < oh; ++y) {
    const int sy = std::min(src.rows - 1, static_cast<int>((y + 0.5) * src.rows / oh));
    const cv::Vec3b* in = src.ptr<cv::Vec3b>(sy);
    cv::Vec3b* out = dst.ptr<cv::Vec3b>(y);
    for (int x = 0; x < ow; ++x) out[x] = in[cols[x]];
  }
  return dst;
}

}  // namespace

json PreprocessSpec::ToJson() const {
  json r = {{"mode", resize.mode}, {"interpolation", resize.interpolation}};
  if (resize.mode == "shorter_side") r["size"] = resize.height;
  if (resize.mode == "exact") r["size"] = {resize.height, resize.width};
  json j = {{"resize", r},
            {"scale", scale},
            {"mean", mean},
            {"std", std},
            {"channel_order", channel_order},
            {"layout", layout},
            {"dtype", dtype}};
  if (center_crop) j["center_crop"] = {(*center_crop)[0], (*center_crop)[1]};
  return j;
}

PreprocessSpec PreprocessSpec::FromJson(const json& j) {
  PreprocessSpec s;
  CheckKeys(j, "spec",
            {"resize", "center_crop", "scale", "mean", "std", "channel_order", "layout", "dtype"});
  if (j.contains("resize")) {
    const json& r = j["resize"];
    CheckKeys(r, "resize", {"mode", "size", "interpolation"});
    if (r.contains("mode")) {
      s.resize.mode = GetChoice(r["mode"], "resize.mode", {"none", "exact", "shorter_side"});
    }
    if (r.contains("interpolation")) {
      s.resize.interpolation = GetChoice(r["interpolation"], "resize.interpolation",
                                         {"bilinear", "bicubic", "nearest", "area"});
    }
    if (s.resize.mode == "none") {
      if (r.contains("size")) {
        Fail(ErrorKind::kUsage, "preprocess spec: 'resize.size' given but resize.mode is \"none\"");
      }
    } else {
      if (!r.contains("size")) {
        Fail(ErrorKind::kUsage, "preprocess spec: 'resize.size' is required for resize.mode \"{}\"",
             s.resize.mode);
      }
      const json& size = r["size"];
      if (size.is_array()) {
        if (s.resize.mode == "shorter_side") {
          Fail(ErrorKind::kUsage,
               "preprocess spec: 'resize.size' must be one integer for mode \"shorter_side\" "
               "(use mode \"exact\" for [h, w])");
        }
        auto hw = GetHW(size, "resize.size");
        s.resize.height = hw[0];
        s.resize.width = hw[1];
      } else {
        s.resize.height = s.resize.width = GetPositiveInt(size, "resize.size");
      }
    }
  }
  if (j.contains("center_crop") && !j["center_crop"].is_null()) {
    s.center_crop = GetHW(j["center_crop"], "center_crop");
  }
  if (j.contains("scale")) {
    s.scale = GetNumber(j["scale"], "scale");
    if (s.scale == 0) Fail(ErrorKind::kUsage, "preprocess spec: 'scale' must not be 0");
  }
  if (j.contains("mean")) s.mean = GetTriple(j["mean"], "mean");
  if (j.contains("std")) {
    s.std = GetTriple(j["std"], "std");
    for (int c = 0; c < 3; ++c) {
      if (s.std[c] <= 0) {
        Fail(ErrorKind::kUsage, "preprocess spec: 'std[{}]' must be > 0, got {}", c, s.std[c]);
      }
    }
  }
  if (j.contains("channel_order")) {
    s.channel_order = GetChoice(j["channel_order"], "channel_order", {"RGB", "BGR"});
  }
  if (j.contains("layout")) s.layout = GetChoice(j["layout"], "layout", {"NCHW", "NHWC"});
  if (j.contains("dtype")) s.dtype = GetChoice(j["dtype"], "dtype", {"float32", "uint8"});
  if (s.dtype == "uint8" && (s.scale != 1 || s.mean != std::array<double, 3>{0, 0, 0} ||
                             s.std != std::array<double, 3>{1, 1, 1})) {
    Fail(ErrorKind::kUsage,
         "preprocess spec: 'dtype' \"uint8\" needs scale 1, mean [0,0,0] and std [1,1,1] "
         "(normalization only applies to float32)");
  }
  return s;
}

Tensor Preprocess(const cv::Mat& bgr_image, const PreprocessSpec& spec) {
  if (bgr_image.empty()) Fail(ErrorKind::kInput, "preprocess: the image is empty");
  if (bgr_image.type() != CV_8UC3) {
    Fail(ErrorKind::kInput,
         "preprocess: expected an 8-bit 3-channel BGR image, got {} channels "
         "of depth {}",
         bgr_image.channels(), bgr_image.depth());
  }
  cv::Mat img;
  try {
    if (spec.channel_order == "RGB") {
      cv::cvtColor(bgr_image, img, cv::COLOR_BGR2RGB);
    } else {
      img = bgr_image;
    }
    if (spec.resize.mode != "none") {
      int oh = spec.resize.height;
      int ow = spec.resize.width;
      if (spec.resize.mode == "shorter_side") {
        const int64_t size = spec.resize.height;
        const int64_t h = img.rows;
        const int64_t w = img.cols;
        if (w <= h) {
          ow = static_cast<int>(size);
          oh = static_cast<int>(size * h / w);
        } else {
          oh = static_cast<int>(size);
          ow = static_cast<int>(size * w / h);
        }
      }
      if (oh != img.rows || ow != img.cols) {
        if (spec.resize.interpolation == "nearest") {
          img = ResizeNearest(img, oh, ow);
        } else {
          cv::Mat out;
          cv::resize(img, out, cv::Size(ow, oh), 0, 0, Interpolation(spec.resize.interpolation));
          img = out;
        }
      }
    }
    if (spec.center_crop) {
      const int ch = (*spec.center_crop)[0];
      const int cw = (*spec.center_crop)[1];
      if (ch > img.rows || cw > img.cols) {
        Fail(ErrorKind::kInput,
             "preprocess: center_crop [{}, {}] is larger than the resized image [{}, {}]; "
             "resize to at least the crop size first",
             ch, cw, img.rows, img.cols);
      }
      const int top = static_cast<int>(std::nearbyint((img.rows - ch) / 2.0));
      const int left = static_cast<int>(std::nearbyint((img.cols - cw) / 2.0));
      img = img(cv::Rect(left, top, cw, ch));
    }
  } catch (const cv::Exception& e) {
    Fail(ErrorKind::kInput, "preprocess: OpenCV failed: {}", e.what());
  }

  const int64_t h = img.rows;
  const int64_t w = img.cols;
  const bool nchw = spec.layout == "NCHW";
  Shape shape = nchw ? Shape{1, 3, h, w} : Shape{1, h, w, 3};
  // Element index of (y, x, c) in the output layout.
  auto index = [&](int64_t y, int64_t x, int64_t c) {
    return nchw ? (c * h + y) * w + x : (y * w + x) * 3 + c;
  };
  if (spec.dtype == "uint8") {
    Tensor t(DType::kUInt8, shape);
    uint8_t* out = t.data<uint8_t>();
    for (int64_t y = 0; y < h; ++y) {
      const cv::Vec3b* row = img.ptr<cv::Vec3b>(static_cast<int>(y));
      for (int64_t x = 0; x < w; ++x) {
        for (int c = 0; c < 3; ++c) out[index(y, x, c)] = row[x][c];
      }
    }
    return t;
  }
  Tensor t(DType::kFloat32, shape);
  float* out = t.data<float>();
  for (int64_t y = 0; y < h; ++y) {
    const cv::Vec3b* row = img.ptr<cv::Vec3b>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        const double v = static_cast<double>(row[x][c]) * spec.scale;
        out[index(y, x, c)] = static_cast<float>((v - spec.mean[c]) / spec.std[c]);
      }
    }
  }
  return t;
}

Tensor LoadImage(const std::filesystem::path& path, const PreprocessSpec& spec) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    Fail(ErrorKind::kInput, "image file '{}' does not exist or is not a regular file",
         path.string());
  }
  cv::Mat img;
  try {
    img = cv::imread(path.string(), cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    Fail(ErrorKind::kInput, "image file '{}' could not be decoded by OpenCV: {}", path.string(),
         e.what());
  }
  if (img.empty()) {
    Fail(ErrorKind::kInput,
         "image file '{}' could not be decoded (corrupt, truncated or not an image format "
         "OpenCV reads)",
         path.string());
  }
  try {
    return Preprocess(img, spec);
  } catch (const Error& e) {
    Fail(e.kind(), "image file '{}': {}", path.string(), e.what());
  }
}

}  // namespace concord
