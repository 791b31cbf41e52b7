// ImageDecoder (20): an encoded image (1-D uint8: BMP, JPEG, JPEG 2000, PNG, PNM, TIFF, WebP,
// whatever this OpenCV's imgcodecs reads) to an (H, W, 3) RGB/BGR or (H, W, 1) Grayscale uint8
// tensor.
//
// ONNX's reference decodes with Pillow: no EXIF rotation, alpha dropped by the 3-channel output,
// and Grayscale as Pillow's convert("L") of the decoded RGB, the ITU-R 601-2 luma in 16-bit fixed
// point, (19595 R + 38470 G + 7471 B + 0x8000) >> 16. We decode with OpenCV to BGR (ignoring the
// orientation tag) and convert to gray with that same formula, rather than letting the codec
// decode straight to gray (libjpeg would return its Y plane, which differs by rounding).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// Pillow's RGB -> L.
uint8_t Luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

cv::Mat DecodeBgr(const KernelContext& ctx, const Tensor& encoded) {
  if (encoded.dtype() != DType::kUInt8 || encoded.rank() != 1)
    ctx.Fail("encoded_stream must be a 1-D uint8 tensor, got {}", encoded.Describe());
  if (encoded.numel() == 0) ctx.Fail("encoded_stream is empty");
  // imdecode only reads the buffer; the Mat header just points at it.
  cv::Mat buf(1, static_cast<int>(encoded.numel()), CV_8U,
              const_cast<uint8_t*>(encoded.data<uint8_t>()));
  cv::Mat img;
  try {
    img = cv::imdecode(buf, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    ctx.Fail("OpenCV could not decode the image ({} bytes): {}", encoded.numel(), e.what());
  }
  if (img.empty()) {
    ctx.Fail("OpenCV could not decode the image ({} bytes): not a format its imgcodecs reads",
             encoded.numel());
  }
  if (img.type() != CV_8UC3) ctx.Fail("decoded image has unexpected OpenCV type {}", img.type());
  return img;
}

std::vector<Value> ImageDecoder(KernelContext& ctx) {
  std::string format = ctx.GetString("pixel_format", "RGB");
  if (format != "RGB" && format != "BGR" && format != "Grayscale")
    ctx.Fail("unknown pixel_format '{}' (RGB, BGR or Grayscale)", format);
  cv::Mat img = DecodeBgr(ctx, ctx.input(0));
  const int64_t h = img.rows, w = img.cols;
  const int64_t channels = format == "Grayscale" ? 1 : 3;
  Tensor out(DType::kUInt8, {h, w, channels});
  uint8_t* po = out.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = img.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t b = row[3 * x], g = row[3 * x + 1], r = row[3 * x + 2];
      uint8_t* p = po + (y * w + x) * channels;
      if (format == "Grayscale") {
        p[0] = Luma(r, g, b);
      } else if (format == "RGB") {
        p[0] = r, p[1] = g, p[2] = b;
      } else {
        p[0] = b, p[1] = g, p[2] = r;
      }
    }
  }
  return Out(std::move(out));
}

}  // namespace

void RegisterImageOps(Registry& r) { r.Add("", "ImageDecoder", 20, ImageDecoder); }

}  // namespace concord::ref
