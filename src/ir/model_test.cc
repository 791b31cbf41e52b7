#include "ir/model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ir/external_data.h"
#include "ir/tensor_io.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

// y = Add(x, w) with a 4-element float initializer w.
onnx::ModelProto AddModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  for (const char* name : {"x", "y"}) {
    auto* vi = (std::string(name) == "x") ? g->add_input() : g->add_output();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  }
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_raw_data(std::string(16, '\0'));
  return m;
}

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_ / "m"); }
  std::string Save(const onnx::ModelProto& m) {
    std::string path = (dir_ / "m" / "model.onnx").string();
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }
  // Expects Load to throw Error(kInput) whose message contains `needle`.
  void ExpectRejected(const std::string& path, const std::string& needle) {
    try {
      Model::Load(path);
      FAIL() << "accepted: " << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos)
          << "message must name the file";
    }
  }
  onnx::ModelProto WithExternal(const std::string& location) {
    onnx::ModelProto m = AddModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = w->add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    return m;
  }
  test::TempDir tmp_{"concord_model"};
  fs::path dir_ = tmp_.path();
};

TEST_F(ModelTest, LoadsValidModelAndInfersShapes) {
  Model m = Model::Load(Save(AddModel()));
  EXPECT_EQ(m.Opset(""), 13);
  ASSERT_EQ(m.Inputs().size(), 1u);
  EXPECT_EQ(m.Inputs()[0].shape, (Shape{4}));
  EXPECT_EQ(m.Outputs()[0].dtype, DType::kFloat32);
}

TEST_F(ModelTest, RejectsCorruptAndTruncatedFiles) {
  std::string path = Save(AddModel());
  std::string bytes = ReadFileBytes(path, 1 << 20);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  ExpectRejected(path, "protobuf parse failed");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << std::string("\x08\x07\x12\xff\xff\xff\xff\x0f", 8);
  ExpectRejected(path, "");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "";
  ExpectRejected(path, "empty");
  ExpectRejected((dir_ / "nope.onnx").string(), "no such file");
}

TEST_F(ModelTest, RejectsUnsupportedVersions) {
  onnx::ModelProto m = AddModel();
  m.set_ir_version(99);
  ExpectRejected(Save(m), "IR version 99");
  m = AddModel();
  m.mutable_opset_import(0)->set_version(999);
  ExpectRejected(Save(m), "opset 999");
}

TEST_F(ModelTest, RejectsBadTensorsAndDims) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(3, '\0'));
  ExpectRejected(Save(m), "raw data is 3 bytes");
  m = AddModel();
  m.mutable_graph()->mutable_initializer(0)->set_data_type(77);
  ExpectRejected(Save(m), "unknown element type 77");
  m = AddModel();
  m.mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->set_dim_value(int64_t{1} << 50);
  ExpectRejected(Save(m), "absurd dimension");
}

TEST_F(ModelTest, InlineExternalDataStoresWeightsInTheModel) {
  std::string weights;
  for (float v : {1.f, 2.f, 3.f, 4.f}) weights.append(reinterpret_cast<const char*>(&v), 4);
  std::ofstream((dir_ / "m" / "w.bin").string(), std::ios::binary) << weights;
  onnx::ModelProto m = WithExternal("w.bin");
  EXPECT_EQ(CountExternalTensors(m), 1);
  EXPECT_EQ(InlineExternalData(&m, (dir_ / "m").string(), "model"), 1);
  EXPECT_EQ(CountExternalTensors(m), 0);
  const auto& w = m.graph().initializer(0);
  EXPECT_EQ(w.data_location(), onnx::TensorProto::DEFAULT);
  EXPECT_EQ(w.external_data_size(), 0);
  EXPECT_EQ(w.raw_data(), weights);
  // The inlined model loads from anywhere: nothing refers to the folder any more.
  Model loaded = Model::FromProto(m, "/", "inlined");
  EXPECT_EQ(CountExternalTensors(loaded.proto()), 0);
}

TEST_F(ModelTest, InlineExternalDataRefusesModelsOverTwoGiBWithoutReading) {
  onnx::ModelProto m = WithExternal("huge.bin");  // the file does not even exist
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 30);  // 4 GiB of floats
  try {
    InlineExternalData(&m, (dir_ / "m").string(), "big.onnx");
    FAIL() << "inlined a 4 GiB tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("big.onnx"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 GiB"), std::string::npos) << e.what();
  }
}

TEST_F(ModelTest, ExternalDataMustStayInsideModelFolder) {
  std::ofstream((dir_ / "outside.bin").string(), std::ios::binary) << std::string(16, '\0');
  ExpectRejected(Save(WithExternal("../outside.bin")), "escapes");
  ExpectRejected(Save(WithExternal((dir_ / "outside.bin").string())), "absolute");
  fs::create_symlink(dir_ / "outside.bin", dir_ / "m" / "link.bin");
  ExpectRejected(Save(WithExternal("link.bin")), "symlink");
  ExpectRejected(Save(WithExternal("missing.bin")), "not found");
  std::ofstream((dir_ / "m" / "w.bin").string(), std::ios::binary) << std::string(16, '\0');
  EXPECT_NO_THROW(Model::Load(Save(WithExternal("w.bin"))));
}

TEST_F(ModelTest, CheckerRejectionsAreInputErrors) {
  onnx::ModelProto m = AddModel();
  m.mutable_graph()->mutable_node(0)->set_input(1, "undefined_value");
  ExpectRejected(Save(m), "checker");
}

// Models as current exporters write them (IR 10, opset 21: ReduceMean takes axes as an input).
onnx::ModelProto Opset21ReduceModel() {
  onnx::ModelProto m;
  m.set_ir_version(10);
  m.add_opset_import()->set_version(21);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("reduce");
  auto* in = g->add_input();
  in->set_name("x");
  auto* t = in->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {2, 3, 4}) t->mutable_shape()->add_dim()->set_dim_value(d);
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("x");
  relu->add_output("r");
  auto* red = g->add_node();
  red->set_op_type("ReduceMean");
  red->set_name("mean");
  red->add_input("r");
  red->add_output("y");
  auto* axes = g->add_initializer();
  axes->set_name("axes");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(2);
  axes->add_int64_data(1);
  axes->add_int64_data(2);
  red->add_input("axes");
  auto* keep = red->add_attribute();
  keep->set_name("keepdims");
  keep->set_type(onnx::AttributeProto::INT);
  keep->set_i(0);
  auto* out = g->add_output();
  out->set_name("y");
  auto* ot = out->mutable_type()->mutable_tensor_type();
  ot->set_elem_type(onnx::TensorProto::FLOAT);
  ot->mutable_shape()->add_dim()->set_dim_value(2);
  return m;
}

TEST_F(ModelTest, CurrentIrAndOpsetLoadAsWritten) {
  Model m = Model::FromProto(Opset21ReduceModel(), "", "opset-21 model");
  EXPECT_EQ(m.proto().ir_version(), 10);
  EXPECT_EQ(m.Opset(), 21);
  ASSERT_EQ(m.graph().node(1).input_size(), 2);  // axes stay an input
  EXPECT_EQ(m.proto().metadata_props_size(), 0);
  // Shape inference ran with opset-21 schemas: Relu keeps [2,3,4].
  const onnx::TypeProto* r = m.FindType("r");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(TypeToString(*r), "float[2,3,4]");
  // ONNX 1.23 defines IR 14 and opset 28, the newest it reads.
  onnx::ModelProto latest = Opset21ReduceModel();
  latest.set_ir_version(14);
  latest.mutable_opset_import(0)->set_version(28);
  EXPECT_EQ(Model::FromProto(latest, "", "opset-28 model").Opset(), 28);
}

TEST_F(ModelTest, IrAndOpsetBeyondTheLibraryAreRejectedWithTheLimits) {
  onnx::ModelProto m = Opset21ReduceModel();
  m.set_ir_version(15);
  try {
    Model::FromProto(m, "", "IR-15 model");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("IR version 15"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("IR <= 14"), std::string::npos) << e.what();
  }
  m = Opset21ReduceModel();
  m.mutable_opset_import(0)->set_version(29);
  try {
    Model::FromProto(m, "", "opset-29 model");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("opset 29"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1..28"), std::string::npos) << e.what();
  }
}

// y = DequantizeLinear(w, 0.5) at opset 28 with a float6e2m3 initializer w of 4 elements,
// packed into 3 bytes of raw_data.
onnx::ModelProto Float6DequantizeModel() {
  onnx::ModelProto m;
  m.set_ir_version(14);
  m.add_opset_import()->set_version(28);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* n = g->add_node();
  n->set_op_type("DequantizeLinear");
  n->add_input("w");
  n->add_input("s");
  n->add_output("y");
  auto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  y->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT6E2M3);
  w->add_dims(4);
  w->set_raw_data(std::string("\x48\x42\x7E", 3));  // codes 8, 9, 36, 31: 1, 1.125, -0.5, 7.5
  auto* s = g->add_initializer();
  s->set_name("s");
  s->set_data_type(onnx::TensorProto::FLOAT);
  s->add_float_data(0.5f);
  return m;
}

TEST_F(ModelTest, Float6ModelsLoadAndUnknownElementTypesAreNamed) {
  onnx::ModelProto m = Float6DequantizeModel();
  Model loaded = Model::FromProto(m, "", "float6 model");
  EXPECT_EQ(loaded.Opset(), 28);
  // Packed raw_data of the wrong length is refused before anything is allocated.
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(4, '\0'));
  try {
    Model::FromProto(m, "", "float6 model");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("raw data is 4 bytes, float6e2m3 [4] needs 3"),
              std::string::npos)
        << e.what();
  }
  m.mutable_graph()->mutable_initializer(0)->set_data_type(99);
  try {
    Model::FromProto(m, "", "type-99 model");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("unknown element type 99"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concord
