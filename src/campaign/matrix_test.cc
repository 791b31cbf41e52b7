// Env sweeps and matrix config validation (no runs: see tests/e2e/matrix_test.cc for those).
#include "campaign/matrix.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "ir/error.h"

namespace concord {
namespace {

using V = std::vector<std::string>;

TEST(ExpandEnvSweep, RangesListsAndDevicesExpandInOrder) {
  EXPECT_EQ(ExpandEnvSweep("ref"), V{"ref"});
  EXPECT_EQ(ExpandEnvSweep("ort@cpu,opt=0..3"),
            (V{"ort@cpu,opt=0", "ort@cpu,opt=1", "ort@cpu,opt=2", "ort@cpu,opt=3"}));
  EXPECT_EQ(ExpandEnvSweep("tvm@cpu,opt=0|3,threads=1|2"),
            (V{"tvm@cpu,opt=0,threads=1", "tvm@cpu,opt=0,threads=2", "tvm@cpu,opt=3,threads=1",
               "tvm@cpu,opt=3,threads=2"}));
  EXPECT_EQ(ExpandEnvSweep("opencv@cpu|opencl"), (V{"opencv@cpu", "opencv@opencl"}));
  // TVM target strings are never sweeps, even with characters that look like one.
  EXPECT_EQ(ExpandEnvSweep("tvm@cpu,target=llvm -mcpu=core-avx2"),
            V{"tvm@cpu,target=llvm -mcpu=core-avx2"});
}

TEST(ExpandEnvSweep, MalformedSweepsAreUsageErrors) {
  for (const char* bad :
       {"ort@cpu,opt=3..1", "ort@cpu,opt=a..b", "ort@cpu,opt=0|", "ort@cpu,opt=0..1000"}) {
    try {
      ExpandEnvSweep(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << bad;
    }
  }
}

TEST(LoadMatrixConfig, PathsAreRelativeToTheConfigAndDefaultsApply) {
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("concord_matrix_cfg_{}", getpid());
  std::filesystem::create_directories(dir / "sub");
  std::filesystem::copy_file(std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx",
                             dir / "sub" / "m.onnx",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "c.json") << R"({"models": [{"path": "sub/m.onnx"}],
    // comments are allowed
    "envs": ["ref", "ort@cpu,opt=0..1"], "dataset": {"random": 2}})";
  MatrixConfig c = LoadMatrixConfig(dir / "c.json");
  EXPECT_EQ(c.models.at(0).path, dir / "sub" / "m.onnx");
  EXPECT_EQ(c.models[0].name, "m");
  EXPECT_EQ(c.envs, (V{"ref", "ort@cpu,opt=0", "ort@cpu,opt=1"}));
  EXPECT_EQ(c.repeats, 1);
  EXPECT_EQ(c.top_k, 5);
  EXPECT_TRUE(c.isolate);
  EXPECT_EQ(c.dataset.kind, "random");
  // An image dataset needs a preprocessing spec per model.
  std::ofstream(dir / "d.json") << R"({"models": [{"path": "sub/m.onnx"}], "envs": ["ref"],
    "dataset": {"images": "."}})";
  EXPECT_THROW(LoadMatrixConfig(dir / "d.json"), Error);
  std::filesystem::remove_all(dir);
}

TEST(LoadMatrixConfig, ConversionKeysAreCheckedAndNameTheirFiles) {
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("concord_matrix_conv_{}", getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx",
                             dir / "m.onnx", std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "c.json") << R"({"models": [{"path": "m.onnx", "onnx": "m.onnx",
    "conversions": [{"to": "torch", "torchscript": true}, {"to": "tflite", "via": "onnx2tf",
                     "quantize": "fp16"}, {"to": "torch"}]}],
    "envs": ["ref"], "dataset": {"random": 1}})";
  MatrixConfig c = LoadMatrixConfig(dir / "c.json");
  const auto& conv = c.models.at(0).conversions;
  ASSERT_EQ(conv.size(), 3u);
  EXPECT_EQ(conv[0].Label(), "torchscript");
  EXPECT_EQ(conv[0].Extension(), ".pt");
  EXPECT_EQ(conv[1].Label(), "tflite-via-onnx2tf-fp16");
  EXPECT_EQ(conv[2].Label(), "torch");
  EXPECT_EQ(conv[2].Extension(), ".pt2");
  EXPECT_EQ(c.models[0].onnx, dir / "m.onnx");
  // "torchscript" only with "to": "torch", and a boolean; "onnx" must exist.
  for (const char* bad :
       {R"({"to": "tflite", "torchscript": true})", R"({"to": "torch", "torchscript": "yes"})"}) {
    std::ofstream(dir / "b.json") << fmt::format(
        R"({{"models": [{{"path": "m.onnx", "conversions": [{}]}}], "envs": ["ref"],
            "dataset": {{"random": 1}}}})",
        bad);
    EXPECT_THROW(LoadMatrixConfig(dir / "b.json"), Error) << bad;
  }
  std::ofstream(dir / "b.json") << R"({"models": [{"path": "m.onnx", "onnx": "gone.onnx"}],
    "envs": ["ref"], "dataset": {"random": 1}})";
  try {
    LoadMatrixConfig(dir / "b.json");
    ADD_FAILURE() << "a missing onnx file loads";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gone.onnx"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace concord
