// Tests for the input contract (data/inputs.h): where sets come from, binding, generation with
// --input-shapes, the checks run before any env, and saving a set.
#include "data/inputs.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>

#include "ir/error.h"
#include "ir/random.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "testing/graph_builder.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

// x float[1,3,4,4] + b float[1,'N'] -> two Identity outputs.
Model TwoInputModel() {
  test::GraphBuilder g("two");
  g.Input("x", {1, 3, 4, 4});
  g.Input("b", {1, 5});
  g.graph()
      ->mutable_input(1)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_param("N");
  g.Node("Identity", {"x"}, "y");
  g.Node("Identity", {"b"}, "z");
  g.Output("y", {1, 3, 4, 4});
  g.Output("z", {1, 1});
  g.graph()
      ->mutable_output(1)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_param("N");
  return g.Build();
}

// The Error kind and message `f` throws ("" when it does not throw).
template <typename F>
std::pair<ErrorKind, std::string> Thrown(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.kind(), e.what()};
  }
  return {ErrorKind::kInternal, ""};
}

class InputsTest : public ::testing::Test {
 protected:
  std::string P(const std::string& rel) { return tmp_.File(rel); }
  void WriteSet(const std::string& dir, const Tensor& x, const Tensor& b) {
    fs::create_directories(P(dir));
    WriteTensorPb(P(dir + "/input_0.pb"), x, "x");
    WriteTensorPb(P(dir + "/input_1.pb"), b, "b");
  }
  Model model_ = TwoInputModel();
  test::TempDir tmp_{"concord_inputs"};
};

TEST_F(InputsTest, NoPathsGivesOneRandomSetWithDefaultedDims) {
  auto sets = LoadInputSets(model_, {});
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].origin, "random (seed 0)");
  EXPECT_EQ(sets[0].generated, (std::vector<std::string>{"x", "b"}));
  EXPECT_EQ(sets[0].inputs.at("b").tensor.shape(), (Shape{1, 1}));
  ASSERT_EQ(sets[0].defaulted.size(), 1u);
  EXPECT_EQ(sets[0].defaulted[0], "b: dim 1 ('N') = 1");
}

TEST_F(InputsTest, InputShapesSetDynamicDimsOfGeneratedInputs) {
  InputRequest req;
  req.shapes = ParseInputShapes({"b:[1,7]"});
  auto sets = LoadInputSets(model_, req);
  EXPECT_EQ(sets[0].inputs.at("b").tensor.shape(), (Shape{1, 7}));
  EXPECT_TRUE(sets[0].defaulted.empty());
}

TEST_F(InputsTest, InputShapesMustNameAnInputAndFitStaticDims) {
  InputRequest req;
  req.shapes = ParseInputShapes({"nope:1x2"});
  auto [kind, msg] = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kUsage);
  EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
  req.shapes = ParseInputShapes({"x:1x3x8x8"});
  std::tie(kind, msg) = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kUsage);
  EXPECT_NE(msg.find("float[1,3,4,4]"), std::string::npos) << msg;
}

TEST_F(InputsTest, FolderOfTestDataSetsIsOneSetEachInNumericOrderWithExpectedOutputs) {
  Tensor x = RandomTensor(DType::kFloat32, {1, 3, 4, 4}, 1);
  WriteSet("case/test_data_set_10", x, RandomTensor(DType::kFloat32, {1, 2}, 2));
  WriteSet("case/test_data_set_2", x, RandomTensor(DType::kFloat32, {1, 9}, 3));
  WriteTensorPb(P("case/test_data_set_2/output_0.pb"), x, "y");
  WriteTensorPb(P("case/test_data_set_2/output_1.pb"), x, "z");
  InputRequest req;
  req.paths = {P("case")};
  auto sets = LoadInputSets(model_, req);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].origin, "test_data_set_2");
  EXPECT_EQ(sets[0].inputs.at("b").tensor.shape(), (Shape{1, 9}));
  EXPECT_EQ(sets[0].expected.size(), 2u);
  EXPECT_TRUE(sets[0].expected.count("y"));
  EXPECT_EQ(sets[1].origin, "test_data_set_10");
  EXPECT_TRUE(sets[1].expected.empty());
  EXPECT_TRUE(sets[1].generated.empty());
  EXPECT_EQ(DescribeInputSets(sets), "2 input sets (test_data_set_2 .. test_data_set_10)");
}

TEST_F(InputsTest, FoldersWithoutTensorsAreInputErrorsSayingWhatTheyHold) {
  fs::create_directories(P("images"));
  tmp_.Write("images/cat.jpg", "not really a jpeg");
  fs::create_directories(P("empty"));
  fs::create_directories(P("sets/test_data_set_0"));
  for (const char* dir : {"images", "empty", "sets"}) {
    InputRequest req;
    req.paths = {P(dir)};
    auto [kind, msg] = Thrown([&] { LoadInputSets(model_, req); });
    EXPECT_EQ(kind, ErrorKind::kInput) << dir << ": " << msg;
    EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  }
  InputRequest req;
  req.paths = {P("images")};
  EXPECT_NE(Thrown([&] { LoadInputSets(model_, req); }).second.find("1 .jpg file"),
            std::string::npos);
  req.paths = {P("empty")};
  EXPECT_NE(Thrown([&] { LoadInputSets(model_, req); }).second.find("is empty"), std::string::npos);
}

TEST_F(InputsTest, WrongShapeOrTypeIsAnInputErrorNamingBoth) {
  WriteTensorPb(P("big.pb"), RandomTensor(DType::kFloat32, {1, 3, 8, 8}, 1), "x");
  InputRequest req;
  req.paths = {P("big.pb")};
  auto [kind, msg] = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kInput);
  EXPECT_NE(msg.find("input 'x': expected float[1,3,4,4], given float[1,3,8,8]"), std::string::npos)
      << msg;
  WriteNpy(P("x.npy"), RandomTensor(DType::kFloat64, {1, 3, 4, 4}, 1));
  req.paths = {P("x.npy")};
  std::tie(kind, msg) = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kInput);
  EXPECT_NE(msg.find("given double[1,3,4,4] (element type double instead of float)"),
            std::string::npos)
      << msg;
}

TEST_F(InputsTest, DynamicDimsAcceptAnySizeButNotAnotherRankAndShowTheirSymbol) {
  WriteNpy(P("b.npy"), RandomTensor(DType::kFloat32, {1, 33}, 1));
  InputRequest req;
  req.paths = {P("b.npy")};
  auto sets = LoadInputSets(model_, req);
  EXPECT_EQ(sets[0].inputs.at("b").tensor.shape(), (Shape{1, 33}));
  EXPECT_EQ(sets[0].generated, (std::vector<std::string>{"x"}));
  req.shapes = ParseInputShapes({"b:1x32"});
  EXPECT_NE(Thrown([&] { LoadInputSets(model_, req); }).second.find("--input-shapes says [1,32]"),
            std::string::npos);
  WriteNpy(P("b.npy"), RandomTensor(DType::kFloat32, {33}, 1));
  req.shapes.clear();
  auto [kind, msg] = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kInput);
  EXPECT_NE(msg.find("expected float[1,N], given float[33] (rank 1 instead of 2)"),
            std::string::npos)
      << msg;
}

TEST_F(InputsTest, BindsByNameThenPositionAndRejectsTooManyTensors) {
  WriteTensorPb(P("first.pb"), RandomTensor(DType::kFloat32, {1, 4}, 1), "b");
  WriteTensorPb(P("second.pb"), RandomTensor(DType::kFloat32, {1, 3, 4, 4}, 2), "unnamed");
  InputRequest req;
  req.paths = {P("first.pb"), P("second.pb")};
  auto sets = LoadInputSets(model_, req);
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].inputs.at("b").tensor.shape(), (Shape{1, 4}));
  EXPECT_TRUE(sets[0].generated.empty());
  WriteTensorPb(P("third.pb"), RandomTensor(DType::kFloat32, {1}, 3), "extra");
  req.paths.push_back(P("third.pb"));
  auto [kind, msg] = Thrown([&] { LoadInputSets(model_, req); });
  EXPECT_EQ(kind, ErrorKind::kInput);
  EXPECT_NE(msg.find("more input tensors than the model has inputs"), std::string::npos) << msg;
}

TEST_F(InputsTest, CheckInputsNamesAMissingInput) {
  ValueMap only_x{{"x", Value(RandomTensor(DType::kFloat32, {1, 3, 4, 4}, 1))}};
  auto [kind, msg] = Thrown([&] { CheckInputs(model_, only_x); });
  EXPECT_EQ(kind, ErrorKind::kInput);
  EXPECT_EQ(msg, "input 'b' (float[1,N]) is missing");
}

TEST_F(InputsTest, ParsesInputShapesInPolygraphyAndTrtexecForms) {
  auto s = ParseInputShapes({"x:1x3x224x224,y:[2, 5]", "in:0:[] z:7"});
  EXPECT_EQ(s.at("x"), (std::vector<int64_t>{1, 3, 224, 224}));
  EXPECT_EQ(s.at("y"), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(s.at("in:0").empty());
  EXPECT_EQ(s.at("z"), (std::vector<int64_t>{7}));
  for (const char* bad : {"x", "x:1x-3", "x:[1,2", "x:1,x:2", ":1x2", "x:axb"}) {
    EXPECT_EQ(Thrown([&] { ParseInputShapes({bad}); }).first, ErrorKind::kUsage) << bad;
  }
}

TEST_F(InputsTest, SavedSetLoadsBackIdentically) {
  auto sets = LoadInputSets(model_, {});
  SaveInputSet(model_, sets[0], P("saved/test_data_set_0"));
  InputRequest req;
  req.paths = {P("saved")};
  auto again = LoadInputSets(model_, req);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].generated.empty());
  for (const char* name : {"x", "b"}) {
    const Tensor& a = sets[0].inputs.at(name).tensor;
    const Tensor& b = again[0].inputs.at(name).tensor;
    ASSERT_EQ(a.shape(), b.shape());
    for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.GetDouble(i), b.GetDouble(i)) << name;
  }
}

}  // namespace
}  // namespace concord
