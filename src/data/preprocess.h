// Image preprocessing: a declarative, JSON-serializable PreprocessSpec and the function that
// turns one decoded image into a batch-1 model input tensor.
//
// A spec is recorded with every experiment run, so ToJson/FromJson round-trip exactly and
// FromJson rejects anything it does not understand (unknown keys included) with
// Error(kUsage) naming the field. Preprocess is pure and thread-safe; it throws Error(kInput)
// for an image it cannot handle (empty, not 8-bit 3-channel, smaller than the crop).
// LoadImage decodes a file with OpenCV and converts every cv::Exception to Error(kInput)
// naming the file.
//
// Pipeline, in this exact order (Preprocess):
//   1. input: an 8-bit, 3-channel image in OpenCV's BGR order (what cv::imread returns);
//   2. channel order: "RGB" swaps to R,G,B; "BGR" keeps B,G,R;
//   3. resize (on 8-bit pixels, like torchvision on PIL images):
//        "none"          keep the size;
//        "exact"         to [h, w] (an int size means [size, size]);
//        "shorter_side"  torchvision Resize(int): the shorter side becomes `size`, the longer
//                        becomes int(size * long / short) (truncated), aspect ratio kept;
//      interpolation: "nearest" = PIL / torchvision "nearest-exact" (destination pixel d takes
//      source pixel floor((d + 0.5) * src / dst); implemented here, since OpenCV 4.6's
//      INTER_NEAREST_EXACT differs at exact halves), "bilinear" = INTER_LINEAR, "bicubic" =
//      INTER_CUBIC, "area" = INTER_AREA. OpenCV's bilinear/bicubic do not antialias when
//      downscaling, unlike PIL; expect small differences from torchvision there.
//   4. center crop [h, w] (optional): top = round((H - h) / 2), left = round((W - w) / 2) with
//      round-half-to-even, as torchvision's int(round(...)); a crop larger than the image is
//      Error(kInput) (torchvision would pad);
//   5. to float, 6. multiply by `scale`, 7. (x - mean[c]) / std[c], where c indexes channels in
//      the OUTPUT channel order (mean[0] is R's mean for "RGB");
//   8. layout: "NCHW" -> [1, 3, H, W], "NHWC" -> [1, H, W, 3].
// dtype "uint8" skips steps 5-7 and requires scale 1, mean 0 and std 1 (FromJson checks).
#pragma once

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>

#include "ir/tensor.h"

namespace concord {

struct PreprocessSpec {
  struct Resize {
    std::string mode = "none";               // "none" | "exact" | "shorter_side"
    int height = 0;                          // exact: target [height, width];
    int width = 0;                           // shorter_side: height == width == size
    std::string interpolation = "bilinear";  // "bilinear" | "bicubic" | "nearest" | "area"
  };
  Resize resize;
  std::optional<std::array<int, 2>> center_crop;  // [h, w]
  double scale = 1.0;                             // e.g. 1/255
  std::array<double, 3> mean = {0, 0, 0};
  std::array<double, 3> std = {1, 1, 1};
  std::string channel_order = "RGB";  // "RGB" | "BGR"
  std::string layout = "NCHW";        // "NCHW" | "NHWC"
  std::string dtype = "float32";      // "float32" | "uint8"

  // JSON form, e.g.
  //   {"resize": {"mode": "shorter_side", "size": 256, "interpolation": "bilinear"},
  //    "center_crop": [224, 224], "scale": 0.00392156862745098,
  //    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
  //    "channel_order": "RGB", "layout": "NCHW", "dtype": "float32"}
  // Every key is optional (defaults above); "size" is an int or [h, w] ("exact" only).
  nlohmann::json ToJson() const;
  // Error(kUsage) naming the field on any wrong type, value or unknown key.
  static PreprocessSpec FromJson(const nlohmann::json& j);
};

// Batch-1 tensor from an 8-bit BGR image; see the pipeline above.
Tensor Preprocess(const cv::Mat& bgr_image, const PreprocessSpec& spec);

// cv::imread (color) + Preprocess. Error(kInput) naming the file when it is missing,
// unreadable or not a decodable image.
Tensor LoadImage(const std::filesystem::path& path, const PreprocessSpec& spec);

}  // namespace concord
