// ai.onnx.ml ZipMap: one map per row, keys from the class labels. Expected values are the inputs
// themselves (ZipMap copies scores) and, for repeated labels, what onnxruntime 1.32 returns.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/error.h"
#include "ref/interpreter.h"
#include "testing/graph_builder.h"

namespace concord::ref {
namespace {

using test::GraphBuilder;

// A model X -> ZipMap -> Z with the labels as the given attribute (strings or int64s).
Model ZipMapModel(const Shape& x_shape, const std::vector<std::string>& strings,
                  const std::vector<int64_t>& ints) {
  GraphBuilder b("zipmap", 17);
  auto* imp = b.proto().add_opset_import();
  imp->set_domain("ai.onnx.ml");
  imp->set_version(1);
  b.Input("X", x_shape);
  auto* out = b.graph()->add_output();
  out->set_name("Z");
  auto* map = out->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_map_type();
  map->set_key_type(strings.empty() ? onnx::TensorProto::INT64 : onnx::TensorProto::STRING);
  map->mutable_value_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* n = b.Node("ZipMap", "zm", {"X"}, {"Z"});
  n->set_domain("ai.onnx.ml");
  if (!strings.empty()) {
    auto* a = n->add_attribute();
    a->set_name("classlabels_strings");
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const auto& s : strings) a->add_strings(s);
  }
  if (!ints.empty()) GraphBuilder::Ints(n, "classlabels_int64s", ints);
  return b.Build();
}

Value RunZipMap(const Model& m, const Tensor& x) { return Interpreter(m).Run({{"X", x}}).at(0); }

std::vector<float> Floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

TEST(ZipMap, StringLabelsOneMapPerRow) {
  Model m = ZipMapModel({2, 3}, {"cat", "dog", "eel"}, {});
  Value z = RunZipMap(m, Tensor::FromVector<float>({2, 3}, {0.1f, 0.2f, 0.7f, 1.0f, -2.5f, 3e-8f}));
  ASSERT_TRUE(z.is_map_sequence()) << z.Describe();
  EXPECT_EQ(z.Describe(), "seq<map<string,float>>[2]");
  ASSERT_EQ(z.maps.size(), 2u);
  for (const auto& map : z.maps) {
    ASSERT_EQ(map.keys.numel(), 3);
    EXPECT_EQ(map.keys.data<std::string>()[0], "cat");
    EXPECT_EQ(map.keys.data<std::string>()[2], "eel");
  }
  EXPECT_EQ(Floats(z.maps[0].values), (std::vector<float>{0.1f, 0.2f, 0.7f}));
  EXPECT_EQ(Floats(z.maps[1].values), (std::vector<float>{1.0f, -2.5f, 3e-8f}));
}

TEST(ZipMap, Int64LabelsAndRankOneInputMakeOneMap) {
  Model m = ZipMapModel({3}, {}, {5, -1, 7});
  Value z = RunZipMap(m, Tensor::FromVector<float>({3}, {1, 2, 3}));
  ASSERT_TRUE(z.is_map_sequence());
  EXPECT_EQ(z.key_type, DType::kInt64);
  ASSERT_EQ(z.maps.size(), 1u);
  EXPECT_EQ(z.maps[0].keys.data<int64_t>()[1], -1);
  EXPECT_EQ(Floats(z.maps[0].values), (std::vector<float>{1, 2, 3}));
}

TEST(ZipMap, NoRowsNoMaps) {
  Value z = RunZipMap(ZipMapModel({0, 2}, {"a", "b"}, {}), Tensor(DType::kFloat32, {0, 2}));
  ASSERT_TRUE(z.is_map_sequence());
  EXPECT_TRUE(z.maps.empty());
}

TEST(ZipMap, NanAndInfAreCopied) {
  Value z = RunZipMap(ZipMapModel({1, 2}, {"a", "b"}, {}),
                      Tensor::FromVector<float>({1, 2}, {NAN, -INFINITY}));
  EXPECT_TRUE(std::isnan(z.maps[0].values.data<float>()[0]));
  EXPECT_EQ(z.maps[0].values.data<float>()[1], -INFINITY);
}

// onnxruntime 1.32: labels [5, 5, 7] on [[1, 2, 3]] give {5: 2.0, 7: 3.0}.
TEST(ZipMap, RepeatedLabelKeepsTheLastColumn) {
  Value z =
      RunZipMap(ZipMapModel({1, 3}, {}, {5, 5, 7}), Tensor::FromVector<float>({1, 3}, {1, 2, 3}));
  ASSERT_EQ(z.maps[0].keys.numel(), 2);
  EXPECT_EQ(z.maps[0].keys.data<int64_t>()[0], 5);
  EXPECT_EQ(z.maps[0].keys.data<int64_t>()[1], 7);
  EXPECT_EQ(Floats(z.maps[0].values), (std::vector<float>{2, 3}));
}

TEST(ZipMap, BadShapesAndLabelsFailClearly) {
  auto fails = [](const Model& m, const Tensor& x, const std::string& needle) {
    try {
      RunZipMap(m, x);
      ADD_FAILURE() << "ran: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  fails(ZipMapModel({2, 2}, {"a", "b", "c"}, {}), Tensor(DType::kFloat32, {2, 2}),
        "X has 2 columns but 3 class labels");
  fails(ZipMapModel({1, 1, 2}, {"a", "b"}, {}), Tensor(DType::kFloat32, {1, 1, 2}),
        "X must be 1-D or 2-D");
  fails(ZipMapModel({1, 2}, {"a", "b"}, {1, 2}), Tensor(DType::kFloat32, {1, 2}),
        "exactly one of classlabels_strings and classlabels_int64s");
}

}  // namespace
}  // namespace concord::ref
