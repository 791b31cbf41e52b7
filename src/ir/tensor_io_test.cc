#include "ir/tensor_io.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

class TensorIoTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(Path(name), std::ios::binary) << bytes;
  }
  test::TempDir tmp_{"concord_tio"};
  fs::path dir_ = tmp_.path();
};

// Bytes numpy 1.26 writes for np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)).
std::string NumpyArange23() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size());
  out += '\0';
  out += header;
  for (int i = 0; i < 6; ++i) {
    float f = static_cast<float>(i);
    out.append(reinterpret_cast<const char*>(&f), 4);
  }
  return out;
}

TEST_F(TensorIoTest, ReadsNumpyBytes) {
  Write("a.npy", NumpyArange23());
  Tensor t = ReadNpy(Path("a.npy"));
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.data<float>()[5], 5.0f);
  EXPECT_EQ(SerializeNpy(t), NumpyArange23());  // byte-identical to NumPy's own writer
}

TEST_F(TensorIoTest, NpzRoundTrip) {
  std::vector<NamedTensor> in = {{"x", Tensor::FromVector<int64_t>({3}, {1, -2, 3})},
                                 {"y", Tensor::FromVector<uint8_t>({2, 1}, {7, 9})}};
  WriteNpz(Path("a.npz"), in);
  auto out = ReadNpz(Path("a.npz"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "x");
  EXPECT_TRUE(out[0].tensor.BitwiseEqual(in[0].tensor));
  EXPECT_TRUE(out[1].tensor.BitwiseEqual(in[1].tensor));
}

TEST_F(TensorIoTest, TensorProtoRoundTripKeepsName) {
  Tensor t = Tensor::FromVector<float>({2}, {1.25f, -3.0f});
  WriteTensorPb(Path("t.pb"), t, "logits");
  NamedTensor back = ReadTensorPb(Path("t.pb"));
  EXPECT_EQ(back.name, "logits");
  EXPECT_TRUE(back.tensor.BitwiseEqual(t));
}

TEST_F(TensorIoTest, TypedFieldsAreDecoded) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT16);
  p.add_dims(2);
  p.add_int32_data(0x3c00);
  p.add_int32_data(0xc000);
  Tensor t = TensorFromProto(p, "", "test");
  EXPECT_EQ(static_cast<float>(t.data<Float16>()[1]), -2.0f);
}

// ONNX packs int4 two to a byte, low nibble first: [-8, 7, -1] -> 0x78, 0x0F (pad nibble 0).
TEST_F(TensorIoTest, Int4PacksTwoPerByte) {
  Tensor t(DType::kInt4, {3});
  const int8_t values[3] = {-8, 7, -1};
  for (int i = 0; i < 3; ++i) t.codes()[i] = static_cast<uint8_t>(values[i]);
  onnx::TensorProto p;
  TensorToProto(t, "q", &p);
  EXPECT_EQ(p.data_type(), onnx::TensorProto::INT4);
  EXPECT_EQ(p.raw_data(), std::string("\x78\x0F", 2));
  Tensor back = TensorFromProto(p, "", "test");
  EXPECT_TRUE(back.BitwiseEqual(t));
  EXPECT_EQ(back.GetDouble(0), -8);
  // The int32_data form holds one packed byte per entry.
  onnx::TensorProto q;
  q.set_data_type(onnx::TensorProto::INT4);
  q.add_dims(3);
  q.add_int32_data(0x78);
  q.add_int32_data(0x0F);
  EXPECT_TRUE(TensorFromProto(q, "", "test").BitwiseEqual(t));
  q.add_int32_data(0);  // a third byte is one too many for 3 elements
  EXPECT_THROW(TensorFromProto(q, "", "test"), Error);
}

// uint2 packs four to a byte, lowest bits first: [0, 1, 2, 3, 3] -> 0b11100100, 0b00000011.
TEST_F(TensorIoTest, UInt2PacksFourPerByte) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::UINT2);
  p.add_dims(5);
  p.set_raw_data(std::string("\xE4\x03", 2));
  Tensor t = TensorFromProto(p, "", "test");
  ASSERT_EQ(t.numel(), 5);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.codes()[i], i);
  EXPECT_EQ(t.codes()[4], 3);
  onnx::TensorProto out;
  TensorToProto(t, "", &out);
  EXPECT_EQ(out.raw_data(), p.raw_data());
  p.set_raw_data(std::string("\xE4", 1));  // 5 elements need 2 bytes
  EXPECT_THROW(TensorFromProto(p, "", "test"), Error);
}

// float8 stores one code per raw byte or per int32_data entry.
TEST_F(TensorIoTest, Float8BothEncodings) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT8E4M3FN);
  p.add_dims(2);
  p.add_int32_data(0x7E);
  p.add_int32_data(0xC0);
  Tensor t = TensorFromProto(p, "", "test");
  EXPECT_EQ(t.GetDouble(0), 448);
  EXPECT_EQ(t.GetDouble(1), -2);
  onnx::TensorProto out;
  TensorToProto(t, "", &out);
  EXPECT_EQ(out.raw_data(), std::string("\x7E\xC0", 2));
  std::string path = Path("f8.pb");
  WriteTensorPb(path, t, "f8");
  EXPECT_TRUE(ReadTensorPb(path).tensor.BitwiseEqual(t));
  EXPECT_THROW(SerializeNpy(t), Error);  // NumPy has no float8 dtype of its own
}

// float6 packs four codes into three bytes, one LSB-first bit stream:
// byte0 = x0 | (x1 & 3) << 6, byte1 = x1 >> 2 | (x2 & 15) << 4, byte2 = x2 >> 4 | x3 << 2.
// E2M3 [1, 1.125, -0.5, 7.5] = codes 8, 9, 0x24, 0x1F -> 0x48, 0x42, 0x7E.
TEST_F(TensorIoTest, Float6PacksFourIntoThreeBytes) {
  Tensor t(DType::kFloat6E2M3, {2, 2});
  const uint8_t codes[4] = {0x08, 0x09, 0x24, 0x1F};
  for (int i = 0; i < 4; ++i) t.codes()[i] = codes[i];
  onnx::TensorProto p;
  TensorToProto(t, "w", &p);
  EXPECT_EQ(p.data_type(), onnx::TensorProto::FLOAT6E2M3);
  EXPECT_EQ(p.raw_data(), std::string("\x48\x42\x7E", 3));
  Tensor back = TensorFromProto(p, "", "test");
  EXPECT_TRUE(back.BitwiseEqual(t));
  EXPECT_EQ(back.GetDouble(1), 1.125);
  EXPECT_EQ(back.GetDouble(2), -0.5);
  std::string path = Path("f6.pb");
  WriteTensorPb(path, t, "f6");
  EXPECT_TRUE(ReadTensorPb(path).tensor.BitwiseEqual(t));
  p.set_raw_data(std::string("\x48\x42", 2));  // 4 elements need 3 bytes
  EXPECT_THROW(TensorFromProto(p, "", "test"), Error);
}

// A partial last group is zero-padded to whole bytes: 5 codes are 30 bits, 4 bytes; 2 codes
// are 12 bits, 2 bytes. E3M2 [1, -2, 28, 0.0625, -28] = 0x0C, 0x30, 0x1F, 0x01, 0x3F.
TEST_F(TensorIoTest, Float6PartialGroups) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT6E3M2);
  p.add_dims(5);
  p.set_raw_data(std::string("\x0C\xFC\x05\x3F", 4));
  Tensor t = TensorFromProto(p, "", "test");
  const double want[5] = {1, -2, 28, 0.0625, -28};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.GetDouble(i), want[i]) << i;
  onnx::TensorProto out;
  TensorToProto(t, "", &out);
  EXPECT_EQ(out.raw_data(), p.raw_data());
  // [0x3F, 0x2A]: 0x3F | (0x2A & 3) << 6 = 0xBF, 0x2A >> 2 = 0x0A.
  Tensor two(DType::kFloat6E2M3, {2});
  two.codes()[0] = 0x3F;
  two.codes()[1] = 0x2A;
  TensorToProto(two, "", &out);
  EXPECT_EQ(out.raw_data(), std::string("\xBF\x0A", 2));
  EXPECT_TRUE(TensorFromProto(out, "", "test").BitwiseEqual(two));
}

// int32_data holds one float6 code per entry (bits 0-5), not packed bytes; higher bits are
// masked off as onnx.numpy_helper does.
TEST_F(TensorIoTest, Float6Int32DataIsOneCodePerEntry) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT6E2M3);
  p.add_dims(4);
  for (int v : {0x08, 0x09, 0x24, 0x1F}) p.add_int32_data(v);
  Tensor t = TensorFromProto(p, "", "test");
  EXPECT_EQ(t.GetDouble(0), 1);
  EXPECT_EQ(t.GetDouble(3), 7.5);
  p.set_int32_data(0, 0x48);  // bit 6 set: the code is still 0x08
  EXPECT_EQ(TensorFromProto(p, "", "test").codes()[0], 0x08);
  onnx::TensorProto out;
  TensorToProto(t, "", &out);
  EXPECT_EQ(out.raw_data(), std::string("\x48\x42\x7E", 3));
  p.clear_int32_data();
  for (int v : {0x48, 0x42, 0x7E}) p.add_int32_data(v);  // packed bytes are not this form
  EXPECT_THROW(TensorFromProto(p, "", "test"), Error);
}

TEST_F(TensorIoTest, CorruptInputsAreClearErrors) {
  Write("bad.npy", "\x93NUMPY\x01\x00\xff\xff");
  EXPECT_THROW(ReadNpy(Path("bad.npy")), Error);
  std::string trunc = NumpyArange23();
  trunc.resize(trunc.size() - 3);
  Write("trunc.npy", trunc);
  try {
    ReadNpy(Path("trunc.npy"));
    FAIL() << "truncated .npy accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("payload"), std::string::npos) << e.what();
  }
  Write("junk.npz", "PK\x03\x04garbage");
  EXPECT_THROW(ReadNpz(Path("junk.npz")), Error);
  Write("junk.pb", "\xff\xff\xff\xff\xff");
  EXPECT_THROW(ReadTensorPb(Path("junk.pb")), Error);
  EXPECT_THROW(ReadTensorPb(Path("missing.pb")), Error);

  onnx::TensorProto p;  // raw_data shorter than the shape needs
  p.set_data_type(onnx::TensorProto::FLOAT);
  p.add_dims(4);
  p.set_raw_data(std::string(8, '\0'));
  EXPECT_THROW(TensorFromProto(p, "", "short"), Error);
  p.clear_dims();
  p.add_dims(
      int64_t{1} << 30);  // 4 GiB of floats claimed, 8 bytes given: rejected before allocating
  EXPECT_THROW(TensorFromProto(p, "", "claims 4 GiB"), Error);
  p.clear_raw_data();
  p.add_float_data(1.0f);
  EXPECT_THROW(TensorFromProto(p, "", "claims 4 GiB"), Error);
  p.clear_dims();
  p.add_dims(int64_t{1} << 62);
  EXPECT_THROW(TensorFromProto(p, "", "huge"), Error);
  p.set_data_type(99);
  EXPECT_THROW(TensorFromProto(p, "", "dtype"), Error);
}

}  // namespace
}  // namespace concord
