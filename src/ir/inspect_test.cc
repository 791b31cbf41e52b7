// InspectModel and DetectModelFormat on files this test writes: an ONNX model with a dynamic
// dim, a nested If subgraph and external weights; a model the checker rejects; framework
// containers identified by content (TFLite identifier, OpenVINO XML, Keras and TorchScript zips).
#include "ir/inspect.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

#include "ir/error.h"
#include "ir/model.h"
#include "ir/model_format.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("concord_inspect_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

onnx::ModelProto DynamicReluWithExternalBias(const fs::path& dir) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("inspect_test");
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(4);
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(4);
  b->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = b->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  WriteFile(dir / "weights.bin", std::string(16, '\0'));
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->add_input("x");
  add->add_input("b");
  add->add_output("y");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("y");
  relu->add_output("z");
  auto* out = g->add_output();
  out->set_name("z");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* out_shape = out->mutable_type()->mutable_tensor_type()->mutable_shape();
  out_shape->add_dim()->set_dim_param("batch");
  out_shape->add_dim()->set_dim_value(4);
  return m;
}

TEST(InspectModel, DescribesOpsetsDynamicDimsAndExternalWeights) {
  fs::path dir = Scratch("onnx");
  onnx::ModelProto m = DynamicReluWithExternalBias(dir);
  WriteFile(dir / "m.onnx", m.SerializeAsString());
  nlohmann::json doc = InspectModel((dir / "m.onnx").string());
  EXPECT_EQ(doc["format"], "onnx");
  EXPECT_EQ(doc["checker"], "ok");
  EXPECT_EQ(doc["ir_version"], 8);
  EXPECT_EQ(doc["opsets"][0]["domain"], "ai.onnx");
  EXPECT_EQ(doc["opsets"][0]["version"], 17);
  EXPECT_EQ(doc["inputs"][0]["name"], "x");
  EXPECT_EQ(doc["inputs"][0]["dynamic"][0]["name"], "batch");
  EXPECT_EQ(doc["inputs"][0]["dynamic"][0]["axis"], 0);
  EXPECT_EQ(doc["nodes"], 2);
  EXPECT_EQ(doc["ops"]["Add"], 1);
  EXPECT_EQ(doc["ops"]["Relu"], 1);
  EXPECT_EQ(doc["parameters"], 4);
  EXPECT_EQ(doc["weight_bytes"], 16);
  ASSERT_EQ(doc["external_data"].size(), 1u);
  EXPECT_EQ(doc["external_data"][0]["location"], "weights.bin");
  EXPECT_EQ(doc["external_data"][0]["tensors"], 1);
}

TEST(InspectModel, ACheckerRejectionIsReportedNotThrown) {
  fs::path dir = Scratch("bad");
  onnx::ModelProto m = DynamicReluWithExternalBias(dir);
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");  // undefined input
  WriteFile(dir / "m.onnx", m.SerializeAsString());
  nlohmann::json doc = InspectModel((dir / "m.onnx").string());
  EXPECT_EQ(doc["format"], "onnx");
  EXPECT_NE(doc["checker"], "ok");
  EXPECT_NE(doc["checker"].get<std::string>().find("nowhere"), std::string::npos) << doc["checker"];
  EXPECT_EQ(doc["nodes"], 2);
}

TEST(InspectModel, UnknownContentAndMissingFilesAreInputErrors) {
  fs::path dir = Scratch("unknown");
  WriteFile(dir / "notes.txt", "hello");
  EXPECT_THROW(InspectModel((dir / "notes.txt").string()), Error);
  try {
    InspectModel((dir / "absent.onnx").string());
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
}

void WriteZip(const fs::path& p, const std::vector<std::string>& members) {
  int err = 0;
  zip_t* za = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr);
  for (const auto& m : members) {
    zip_source_t* src = zip_source_buffer(za, "x", 1, 0);
    ASSERT_GE(zip_file_add(za, m.c_str(), src, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(za), 0);
}

TEST(DetectModelFormat, FrameworkContainersAreRecognisedByContent) {
  fs::path dir = Scratch("formats");
  WriteFile(dir / "m.bin", std::string("\x1c\0\0\0TFL3", 8) + std::string(32, '\0'));
  EXPECT_EQ(DetectModelFormat((dir / "m.bin").string()).format, ModelFormat::kTflite);
  WriteFile(dir / "m.xml", "<?xml version=\"1.0\"?>\n<net name=\"m\" version=\"11\"></net>");
  WriteFile(dir / "m.bin2", "");
  auto ov = DetectModelFormat((dir / "m.xml").string());
  EXPECT_EQ(ov.format, ModelFormat::kOpenVino);
  WriteZip(dir / "k.keras", {"config.json", "metadata.json", "model.weights.h5"});
  EXPECT_EQ(DetectModelFormat((dir / "k.keras").string()).format, ModelFormat::kKeras);
  WriteZip(dir / "t.pt", {"m/data.pkl", "m/constants.pkl", "m/code/__torch__.py"});
  EXPECT_EQ(DetectModelFormat((dir / "t.pt").string()).format, ModelFormat::kTorchScript);
  WriteZip(dir / "e.pt2", {"e/archive_format", "e/models/model.json"});
  EXPECT_EQ(DetectModelFormat((dir / "e.pt2").string()).format, ModelFormat::kTorchExport);
  fs::create_directories(dir / "saved");
  WriteFile(dir / "saved" / "saved_model.pb", "x");
  EXPECT_EQ(DetectModelFormat((dir / "saved").string()).format, ModelFormat::kSavedModel);
  WriteZip(dir / "other.zip", {"readme.txt"});
  EXPECT_EQ(DetectModelFormat((dir / "other.zip").string()).format, ModelFormat::kUnknown);
}

TEST(DetectModelFormat, LoadingAFrameworkModelAsOnnxNamesItsFormat) {
  fs::path dir = Scratch("load_formats");
  WriteZip(dir / "t.pt", {"m/data.pkl", "m/constants.pkl", "m/code/__torch__.py"});
  try {
    Model::Load((dir / "t.pt").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("a torchscript model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concord
