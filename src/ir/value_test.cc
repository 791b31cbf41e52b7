// Value's sequence-of-maps kind: Describe, key-order alignment, and the ONNX .pb layout
// (SequenceProto elem_type MAP of MapProtos, values as scalar tensors: numpy_helper.from_list's).
#include "ir/value.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
// onnx_pb.h must come first: it defines ONNX_API for the generated headers.
#include <onnx/onnx-data.pb.h>

#include <fstream>

#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

MapValue StringMap(std::vector<std::string> keys, std::vector<float> values) {
  int64_t n = static_cast<int64_t>(keys.size());
  return {Tensor::FromVector<std::string>({n}, keys), Tensor::FromVector<float>({n}, values)};
}

onnx::TypeProto SeqMapType(int32_t key) {
  onnx::TypeProto t;
  auto* map = t.mutable_sequence_type()->mutable_elem_type()->mutable_map_type();
  map->set_key_type(key);
  map->mutable_value_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return t;
}

TEST(MapSequence, Describe) {
  Value v = Value::MapSequence({StringMap({"a", "b"}, {1, 2})}, DType::kString, DType::kFloat32);
  EXPECT_TRUE(v.is_map_sequence());
  EXPECT_FALSE(v.is_sequence());
  EXPECT_EQ(v.Describe(), "seq<map<string,float>>[1]");
}

TEST(MapSequence, ValuesInKeyOrder) {
  MapValue m = StringMap({"cat", "dog", "eel"}, {0.1f, 0.2f, 0.7f});
  auto order = Tensor::FromVector<std::string>({3}, {"eel", "cat", "dog"});
  auto got = MapValuesInKeyOrder(m, order);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::vector<float>(got->data<float>(), got->data<float>() + 3),
            (std::vector<float>{0.7f, 0.1f, 0.2f}));
  // A key the map lacks, a missing key, a repeated key, another key type: not the same key set.
  EXPECT_FALSE(MapValuesInKeyOrder(m, Tensor::FromVector<std::string>({3}, {"eel", "cat", "x"})));
  EXPECT_FALSE(MapValuesInKeyOrder(m, Tensor::FromVector<std::string>({2}, {"eel", "cat"})));
  EXPECT_FALSE(MapValuesInKeyOrder(m, Tensor::FromVector<std::string>({3}, {"eel", "eel", "cat"})));
  EXPECT_FALSE(MapValuesInKeyOrder(m, Tensor::FromVector<int64_t>({3}, {1, 2, 3})));
  MapValue ints{Tensor::FromVector<int64_t>({2}, {5, -1}), Tensor::FromVector<float>({2}, {1, 2})};
  auto swapped = MapValuesInKeyOrder(ints, Tensor::FromVector<int64_t>({2}, {-1, 5}));
  ASSERT_TRUE(swapped.has_value());
  EXPECT_EQ(swapped->data<float>()[0], 2.0f);
}

class MapSequenceIo : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) { return (tmp_.path() / name).string(); }
  test::TempDir tmp_{"concord_value_io"};
};

TEST_F(MapSequenceIo, RoundTripStringAndIntKeys) {
  Value strings = Value::MapSequence(
      {StringMap({"b", "a"}, {0.25f, 0.75f}), StringMap({"b", "a"}, {-1.5f, 3.0f})}, DType::kString,
      DType::kFloat32);
  WriteValuePb(Path("s.pb"), strings, "Z");
  onnx::TypeProto st = SeqMapType(onnx::TensorProto::STRING);
  Value back = ReadValuePb(Path("s.pb"), &st);
  ASSERT_TRUE(back.is_map_sequence());
  EXPECT_EQ(back.key_type, DType::kString);
  EXPECT_EQ(back.elem_type, DType::kFloat32);
  ASSERT_EQ(back.maps.size(), 2u);
  EXPECT_EQ(back.maps[1].keys.data<std::string>()[0], "b");
  EXPECT_EQ(back.maps[1].values.data<float>()[1], 3.0f);

  Value ints = Value::MapSequence(
      {{Tensor::FromVector<int64_t>({3}, {7, -2, 9}), Tensor::FromVector<float>({3}, {1, 2, 3})}},
      DType::kInt64, DType::kFloat32);
  WriteValuePb(Path("i.pb"), ints, "Z");
  onnx::TypeProto it = SeqMapType(onnx::TensorProto::INT64);
  Value iback = ReadValuePb(Path("i.pb"), &it);
  ASSERT_TRUE(iback.is_map_sequence());
  EXPECT_TRUE(iback.maps[0].keys.BitwiseEqual(ints.maps[0].keys));
  EXPECT_TRUE(iback.maps[0].values.BitwiseEqual(ints.maps[0].values));
}

// The layout onnx.numpy_helper.from_list([{3: np.float32(0.25), -1: np.float32(2)}]) writes:
// SequenceProto(elem_type=MAP) / MapProto(key_type=INT64, keys, values=SequenceProto of 0-d
// float tensors in raw_data).
TEST_F(MapSequenceIo, ReadsOnnxLayout) {
  onnx::SequenceProto seq;
  seq.set_name("z");
  seq.set_elem_type(onnx::SequenceProto::MAP);
  auto* m = seq.add_map_values();
  m->set_key_type(onnx::TensorProto::INT64);
  m->add_keys(3);
  m->add_keys(-1);
  m->mutable_values()->set_elem_type(onnx::SequenceProto::TENSOR);
  for (float f : {0.25f, 2.0f}) {
    auto* t = m->mutable_values()->add_tensor_values();
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(&f), 4));
  }
  std::ofstream(Path("z.pb"), std::ios::binary) << seq.SerializeAsString();
  onnx::TypeProto type = SeqMapType(onnx::TensorProto::INT64);
  Value v = ReadValuePb(Path("z.pb"), &type);
  ASSERT_TRUE(v.is_map_sequence());
  ASSERT_EQ(v.maps.size(), 1u);
  EXPECT_EQ(v.maps[0].keys.Describe(), "int64[2]");
  EXPECT_EQ(v.maps[0].keys.data<int64_t>()[1], -1);
  EXPECT_EQ(v.maps[0].values.data<float>()[1], 2.0f);
  // Written back, it is the same message.
  onnx::SequenceProto again;
  SequenceToProto(v, "z", &again);
  EXPECT_EQ(again.SerializeAsString(), seq.SerializeAsString());
}

TEST_F(MapSequenceIo, EmptySequenceTakesDeclaredTypes) {
  WriteValuePb(Path("e.pb"), Value::MapSequence({}, DType::kUndefined, DType::kUndefined), "Z");
  onnx::TypeProto type = SeqMapType(onnx::TensorProto::STRING);
  Value v = ReadValuePb(Path("e.pb"), &type);
  ASSERT_TRUE(v.is_map_sequence());
  EXPECT_TRUE(v.maps.empty());
  EXPECT_EQ(v.key_type, DType::kString);
  EXPECT_EQ(v.elem_type, DType::kFloat32);
}

TEST_F(MapSequenceIo, NarrowIntegerKeysKeepTheirType) {
  onnx::SequenceProto seq;
  seq.set_elem_type(onnx::SequenceProto::MAP);
  auto* m = seq.add_map_values();
  m->set_key_type(onnx::TensorProto::INT32);
  m->add_keys(-4);
  TensorToProto(Tensor::Scalar<double>(0.5), "", m->mutable_values()->add_tensor_values());
  Value v = SequenceFromProto(seq, "", "test");
  EXPECT_EQ(v.key_type, DType::kInt32);
  EXPECT_EQ(v.elem_type, DType::kFloat64);
  EXPECT_EQ(v.maps[0].keys.data<int32_t>()[0], -4);
}

TEST_F(MapSequenceIo, MalformedMapsAreInputErrors) {
  auto expect_input_error = [](const onnx::SequenceProto& seq, const std::string& needle) {
    try {
      SequenceFromProto(seq, "", "bad.pb");
      FAIL() << "accepted a malformed map (" << needle << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  onnx::SequenceProto keys_only;
  keys_only.set_elem_type(onnx::SequenceProto::MAP);
  auto* m = keys_only.add_map_values();
  m->set_key_type(onnx::TensorProto::INT64);
  m->add_keys(1);
  expect_input_error(keys_only, "1 keys but 0 values");

  onnx::SequenceProto float_keys = keys_only;
  float_keys.mutable_map_values(0)->set_key_type(onnx::TensorProto::FLOAT);
  expect_input_error(float_keys, "not an integer type or string");

  onnx::SequenceProto wide = keys_only;
  TensorToProto(Tensor::FromVector<float>({2}, {1, 2}), "",
                wide.mutable_map_values(0)->mutable_values()->add_tensor_values());
  expect_input_error(wide, "expected one float element");
}

TEST(MapSequenceType, TypeOfValue) {
  Value v = Value::MapSequence({}, DType::kInt64, DType::kFloat32);
  onnx::TypeProto t = TypeOfValue(v, TypeDetail::kFullShape);
  ASSERT_TRUE(t.sequence_type().elem_type().has_map_type());
  EXPECT_EQ(t.sequence_type().elem_type().map_type().key_type(), onnx::TensorProto::INT64);
  EXPECT_EQ(t.sequence_type().elem_type().map_type().value_type().tensor_type().elem_type(),
            onnx::TensorProto::FLOAT);
  onnx::TypeProto r = TypeOfValue(Value(Tensor(DType::kFloat32, {2, 3})), TypeDetail::kRankOnly);
  ASSERT_EQ(r.tensor_type().shape().dim_size(), 2);
  EXPECT_FALSE(r.tensor_type().shape().dim(0).has_dim_value());
}

}  // namespace
}  // namespace concord
