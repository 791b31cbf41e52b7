// Tests for src/data: preprocessing against hand-computed values on small synthetic images,
// spec validation, image loading failures, folder listing and labels files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "ir/error.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// 4 rows x 6 cols BGR image: B = 10y + x, G = 100 + 10y + x, R = 200 + 10y + x.
cv::Mat TestImage(int rows = 4, int cols = 6) {
  cv::Mat m(rows, cols, CV_8UC3);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      int v = (10 * y + x) % 50;
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(v, 100 + v, 200 + v);
    }
  }
  return m;
}
int B(int y, int x) { return 10 * y + x; }
int G(int y, int x) { return 100 + 10 * y + x; }
int R(int y, int x) { return 200 + 10 * y + x; }

// NCHW float element.
float At(const Tensor& t, int c, int y, int x) {
  return t.data<float>()[(c * t.dim(2) + y) * t.dim(3) + x];
}

PreprocessSpec Spec(const json& j) { return PreprocessSpec::FromJson(j); }

// The shared TempDir, plus PNG files for the image-folder tests.
class TempDir : public test::TempDir {
 public:
  TempDir() : test::TempDir("concord_data_test") {}
  void WritePng(const std::string& name, const cv::Mat& m) const {
    fs::create_directories((path() / name).parent_path());
    ASSERT_TRUE(cv::imwrite((path() / name).string(), m));
  }
};

template <typename F>
Error Catch(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected concord::Error";
  return Error(ErrorKind::kInternal, "");
}

TEST(PreprocessTest, ChannelOrderSwapsToRgbOrKeepsBgr) {
  cv::Mat img = TestImage();
  Tensor rgb = Preprocess(img, Spec(json::object()));
  ASSERT_EQ(rgb.shape(), (Shape{1, 3, 4, 6}));
  ASSERT_EQ(rgb.dtype(), DType::kFloat32);
  EXPECT_EQ(At(rgb, 0, 2, 3), R(2, 3));
  EXPECT_EQ(At(rgb, 1, 2, 3), G(2, 3));
  EXPECT_EQ(At(rgb, 2, 2, 3), B(2, 3));
  Tensor bgr = Preprocess(img, Spec({{"channel_order", "BGR"}}));
  EXPECT_EQ(At(bgr, 0, 3, 5), B(3, 5));
  EXPECT_EQ(At(bgr, 2, 3, 5), R(3, 5));
}

TEST(PreprocessTest, ExactNearestResizePicksPilSourcePixels) {
  // 4x6 -> 2x3: source row floor((y + 0.5) * 2) = 1, 3; column floor((x + 0.5) * 2) = 1, 3, 5.
  Tensor t = Preprocess(
      TestImage(),
      Spec({{"resize", {{"mode", "exact"}, {"size", {2, 3}}, {"interpolation", "nearest"}}},
            {"layout", "NHWC"},
            {"dtype", "uint8"}}));
  ASSERT_EQ(t.shape(), (Shape{1, 2, 3, 3}));
  const uint8_t* d = t.data<uint8_t>();
  const int rows[] = {1, 3};
  const int cols[] = {1, 3, 5};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      EXPECT_EQ(d[(y * 3 + x) * 3 + 0], R(rows[y], cols[x])) << y << "," << x;
      EXPECT_EQ(d[(y * 3 + x) * 3 + 2], B(rows[y], cols[x])) << y << "," << x;
    }
  }
}

TEST(PreprocessTest, ShorterSideResizeKeepsAspectLikeTorchvision) {
  auto shape = [](int rows, int cols, int size) {
    return Preprocess(cv::Mat(rows, cols, CV_8UC3, cv::Scalar(1, 2, 3)),
                      Spec({{"resize", {{"mode", "shorter_side"}, {"size", size}}}}))
        .shape();
  };
  EXPECT_EQ(shape(40, 60, 20), (Shape{1, 3, 20, 30}));
  EXPECT_EQ(shape(60, 40, 20), (Shape{1, 3, 30, 20}));
  EXPECT_EQ(shape(33, 50, 20), (Shape{1, 3, 20, 30}));  // int(20 * 50 / 33) = int(30.3)
  EXPECT_EQ(shape(50, 33, 20), (Shape{1, 3, 30, 20}));
  EXPECT_EQ(shape(375, 500, 256), (Shape{1, 3, 256, 341}));  // int(341.33)
}

TEST(PreprocessTest, CenterCropCoordinatesRoundHalfToEven) {
  // 4x6 crop [2, 3]: top = round(1) = 1, left = round(1.5) = 2.
  Tensor t = Preprocess(TestImage(), Spec({{"center_crop", {2, 3}}, {"channel_order", "BGR"}}));
  ASSERT_EQ(t.shape(), (Shape{1, 3, 2, 3}));
  EXPECT_EQ(At(t, 0, 0, 0), B(1, 2));
  EXPECT_EQ(At(t, 0, 1, 2), B(2, 4));
  // 4x6 crop [3, 5]: top = round(0.5) = 0, left = round(0.5) = 0.
  Tensor u = Preprocess(TestImage(), Spec({{"center_crop", {3, 5}}, {"channel_order", "BGR"}}));
  EXPECT_EQ(At(u, 0, 0, 0), B(0, 0));
  // 6x8 crop [3, 3]: top = round(1.5) = 2, left = round(2.5) = 2.
  Tensor v = Preprocess(TestImage(6, 8), Spec({{"center_crop", {3, 3}}, {"channel_order", "BGR"}}));
  EXPECT_EQ(At(v, 0, 0, 0), B(2, 2));
  Error e = Catch([] { Preprocess(TestImage(), Spec({{"center_crop", {5, 3}}})); });
  EXPECT_EQ(e.kind(), ErrorKind::kInput);
  EXPECT_NE(std::string(e.what()).find("center_crop"), std::string::npos);
}

TEST(PreprocessTest, ScaleMeanStdNormalization) {
  Tensor t = Preprocess(
      TestImage(),
      Spec({{"scale", 1.0 / 255}, {"mean", {0.5, 0.25, 0.0}}, {"std", {0.5, 0.25, 2.0}}}));
  // Pixel (1, 1): R = 211, G = 111, B = 11.
  EXPECT_NEAR(At(t, 0, 1, 1), (211 / 255.0 - 0.5) / 0.5, 1e-6);    // 0.654902
  EXPECT_NEAR(At(t, 1, 1, 1), (111 / 255.0 - 0.25) / 0.25, 1e-6);  // 0.741176
  EXPECT_NEAR(At(t, 2, 1, 1), (11 / 255.0) / 2.0, 1e-6);           // 0.021569
  EXPECT_NEAR(At(t, 0, 1, 1), 0.654902, 1e-6);
}

TEST(PreprocessTest, NchwAndNhwcElementPositions) {
  Tensor a = Preprocess(TestImage(), Spec({{"layout", "NCHW"}}));
  Tensor b = Preprocess(TestImage(), Spec({{"layout", "NHWC"}}));
  ASSERT_EQ(b.shape(), (Shape{1, 4, 6, 3}));
  EXPECT_EQ(a.data<float>()[(1 * 4 + 2) * 6 + 3], G(2, 3));  // NCHW (c=1, y=2, x=3) = 81
  EXPECT_EQ(b.data<float>()[(2 * 6 + 3) * 3 + 1], G(2, 3));  // NHWC (y=2, x=3, c=1) = 46
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 6; ++x) {
        EXPECT_EQ(a.data<float>()[(c * 4 + y) * 6 + x], b.data<float>()[(y * 6 + x) * 3 + c]);
      }
    }
  }
}

TEST(PreprocessSpecTest, JsonRoundTrip) {
  json j = {{"resize", {{"mode", "shorter_side"}, {"size", 256}, {"interpolation", "bicubic"}}},
            {"center_crop", {224, 224}},
            {"scale", 1.0 / 255},
            {"mean", {0.485, 0.456, 0.406}},
            {"std", {0.229, 0.224, 0.225}},
            {"channel_order", "RGB"},
            {"layout", "NHWC"},
            {"dtype", "float32"}};
  PreprocessSpec s = PreprocessSpec::FromJson(j);
  EXPECT_EQ(s.ToJson(), j);
  EXPECT_EQ(PreprocessSpec::FromJson(s.ToJson()).ToJson(), j);
  json e = {{"resize", {{"mode", "exact"}, {"size", {2, 3}}, {"interpolation", "area"}}}};
  EXPECT_EQ(PreprocessSpec::FromJson(PreprocessSpec::FromJson(e).ToJson()).ToJson()["resize"],
            e["resize"]);
}

TEST(PreprocessSpecTest, FromJsonRejectsBadFieldsNamingThem) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"colour", "RGB"}}, "colour"},
      {{{"resize", {{"mode", "longer_side"}, {"size", 3}}}}, "resize.mode"},
      {{{"resize", {{"mode", "shorter_side"}, {"size", {2, 3}}}}}, "resize.size"},
      {{{"resize", {{"mode", "exact"}}}}, "resize.size"},
      {{{"resize", {{"mode", "exact"}, {"size", -4}}}}, "resize.size"},
      {{{"resize", {{"mode", "none"}, {"size", 4}}}}, "resize.size"},
      {{{"resize", {{"mode", "exact"}, {"size", 4}, {"interpolation", "lanczos"}}}},
       "resize.interpolation"},
      {{{"resize", {{"mode", "exact"}, {"size", 4}, {"sizes", 4}}}}, "resize.sizes"},
      {{{"center_crop", {224}}}, "center_crop"},
      {{{"center_crop", {224, 0}}}, "center_crop[1]"},
      {{{"scale", "1/255"}}, "scale"},
      {{{"mean", {0.1, 0.2}}}, "mean"},
      {{{"std", {0.1, 0.0, 0.2}}}, "std[1]"},
      {{{"std", {0.1, "x", 0.2}}}, "std[1]"},
      {{{"channel_order", "rgb"}}, "channel_order"},
      {{{"layout", "CHW"}}, "layout"},
      {{{"dtype", "float16"}}, "dtype"},
      {{{"dtype", "uint8"}, {"scale", 0.5}}, "dtype"},
      {json::array(), "object"},
  };
  for (const auto& [j, field] : cases) {
    Error e = Catch([&] { PreprocessSpec::FromJson(j); });
    EXPECT_EQ(e.kind(), ErrorKind::kUsage) << j.dump();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << j.dump() << " -> " << e.what();
  }
}

TEST(LoadImageTest, PngRoundTripMatchesInMemoryPreprocess) {
  TempDir dir;
  dir.WritePng("img.png", TestImage());
  PreprocessSpec s = Spec({{"scale", 1.0 / 255}});
  EXPECT_TRUE(LoadImage(dir.path() / "img.png", s).BitwiseEqual(Preprocess(TestImage(), s)));
}

TEST(LoadImageTest, MissingAndCorruptFilesAreInputErrorsNamingTheFile) {
  TempDir dir;
  fs::path missing = dir.path() / "nope.png";
  Error e = Catch([&] { LoadImage(missing, {}); });
  EXPECT_EQ(e.kind(), ErrorKind::kInput);
  EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();

  std::string junk;
  for (int i = 0; i < 300; ++i) junk.push_back(static_cast<char>((i * 7919 + 13) % 256));
  dir.Write("corrupt.png", junk);
  fs::path corrupt = dir.path() / "corrupt.png";
  Error c = Catch([&] { LoadImage(corrupt, {}); });
  EXPECT_EQ(c.kind(), ErrorKind::kInput);
  EXPECT_NE(std::string(c.what()).find(corrupt.string()), std::string::npos) << c.what();

  // A PNG signature followed by garbage (a truncated file).
  dir.Write("truncated.png", std::string("\x89PNG\r\n\x1a\n", 8) + junk);
  Error t = Catch([&] { LoadImage(dir.path() / "truncated.png", {}); });
  EXPECT_EQ(t.kind(), ErrorKind::kInput);
  EXPECT_NE(std::string(t.what()).find("truncated.png"), std::string::npos) << t.what();
}

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>();
    dir_->WritePng("b.png", TestImage());
    dir_->WritePng("a.png", TestImage(6, 8));
    dir_->WritePng("C.BMP", TestImage());
    dir_->WritePng("sub/d.png", TestImage());
    dir_->Write("notes.txt", "not an image");
  }
  fs::path Path() const { return dir_->path(); }
  std::unique_ptr<TempDir> dir_;
};

TEST_F(ImageFolderTest, ListsImagesSortedOptionallyRecursive) {
  ImageFolderDataset flat(Path(), {});
  EXPECT_EQ(flat.names(), (std::vector<std::string>{"C.BMP", "a.png", "b.png"}));
  ImageFolderOptions o;
  o.recursive = true;
  ImageFolderDataset deep(Path(), o);
  EXPECT_EQ(deep.names(), (std::vector<std::string>{"C.BMP", "a.png", "b.png", "sub/d.png"}));
  DatasetItem it = deep.item(1);
  EXPECT_EQ(it.name, "a.png");
  EXPECT_EQ(it.path, Path() / "a.png");
  EXPECT_FALSE(it.label.has_value());
  EXPECT_EQ(it.tensor.shape(), (Shape{1, 3, 6, 8}));
  EXPECT_EQ(Catch([&] { deep.item(4); }).kind(), ErrorKind::kUsage);
  EXPECT_EQ(Catch([&] { ImageFolderDataset(Path() / "missing", {}); }).kind(), ErrorKind::kInput);
}

TEST_F(ImageFolderTest, LabelsOnePerLineInSortedOrder) {
  dir_->Write("labels.txt", "3\n0\r\n999\n\n");
  ImageFolderOptions o;
  o.labels_file = Path() / "labels.txt";
  ImageFolderDataset d(Path(), o);
  EXPECT_EQ(d.label(0), 3);
  EXPECT_EQ(d.label(1), 0);
  EXPECT_EQ(d.item(2).label, 999);
}

TEST_F(ImageFolderTest, LabelsCsvByFileName) {
  dir_->Write("labels.csv", "file,label\nb.png, 2\na.png,1\nC.BMP,5\n");
  ImageFolderOptions o;
  o.labels_file = Path() / "labels.csv";
  ImageFolderDataset d(Path(), o);
  EXPECT_EQ(d.label(0), 5);
  EXPECT_EQ(d.label(1), 1);
  EXPECT_EQ(d.label(2), 2);
}

TEST_F(ImageFolderTest, BadLabelsFilesNameTheLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"3\nseven\n1\n", "line 2"},
      {"3\n-1\n1\n", "line 2"},
      {"3\n1\n", "has 2 labels"},
      {"a.png,1\nb.png\nC.BMP,2\n", "line 2"},
      {"a.png,1\nb.png,x\nC.BMP,2\n", "line 2"},
      {"a.png,1\nb.png,2\nC.BMP,2\nz.png,3\n", "line 4"},
      {"a.png,1\nb.png,2\na.png,3\n", "line 3"},
      {"a.png,1\nb.png,2\n", "no label for image 'C.BMP'"},
  };
  for (const auto& [text, needle] : cases) {
    dir_->Write("labels.txt", text);
    ImageFolderOptions o;
    o.labels_file = Path() / "labels.txt";
    Error e = Catch([&] { ImageFolderDataset(Path(), o); });
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << text;
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << text << " -> " << e.what();
    EXPECT_NE(std::string(e.what()).find("labels.txt"), std::string::npos) << e.what();
  }
}

TEST(LabelSpaceTest, OffsetMapsBackgroundAndValidates) {
  LabelSpace tf{1001, 1};
  tf.Validate();
  EXPECT_EQ(tf.ToCanonical(0), LabelSpace::kBackground);
  EXPECT_EQ(tf.ToCanonical(1), 0);
  EXPECT_EQ(tf.ToCanonical(1000), 999);
  EXPECT_EQ(Catch([&] { tf.ToCanonical(1001); }).kind(), ErrorKind::kInput);
  EXPECT_EQ(Catch([&] { tf.ToCanonical(-1); }).kind(), ErrorKind::kInput);
  LabelSpace plain{1000, 0};
  EXPECT_EQ(plain.ToCanonical(0), 0);
  EXPECT_EQ(Catch([] { LabelSpace{10, 10}.Validate(); }).kind(), ErrorKind::kUsage);
  EXPECT_EQ(Catch([] { LabelSpace{0, 0}.Validate(); }).kind(), ErrorKind::kUsage);
  EXPECT_EQ(Catch([] { LabelSpace{10, -1}.Validate(); }).kind(), ErrorKind::kUsage);
}

}  // namespace
}  // namespace concord
