#include "ir/model_format.h"

#include <onnx/onnx_pb.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

#include "ir/error.h"

namespace concord {

namespace fs = std::filesystem;

namespace {

std::string ReadPrefix(const fs::path& file, size_t n) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

std::vector<std::string> ZipMembers(const fs::path& file) {
  int err = 0;
  zip_t* za = zip_open(file.c_str(), ZIP_RDONLY, &err);
  if (za == nullptr) return {};
  std::vector<std::string> names;
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n && i < 100000; ++i) {
    if (const char* name = zip_get_name(za, static_cast<zip_uint64_t>(i), 0))
      names.emplace_back(name);
  }
  zip_discard(za);
  return names;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Zip archives: TorchScript keeps <root>/data.pkl with <root>/code/ and constants.pkl; a
// torch.export program has <root>/archive_format (or serialized_exported_program.json); Keras 3
// has config.json, metadata.json and model.weights.h5 at the top.
bool DetectZip(const fs::path& file, ModelFormatInfo* info) {
  std::vector<std::string> members = ZipMembers(file);
  if (members.empty()) return false;
  bool config = false, metadata = false, weights = false, data_pkl = false, constants = false;
  for (const auto& m : members) {
    if (EndsWith(m, "/archive_format") || EndsWith(m, "serialized_exported_program.json")) {
      info->format = ModelFormat::kTorchExport;
      info->evidence = "zip member " + m;
      return true;
    }
    config |= m == "config.json";
    metadata |= m == "metadata.json";
    weights |= m == "model.weights.h5";
    data_pkl |= EndsWith(m, "/data.pkl");
    constants |= EndsWith(m, "/constants.pkl");
  }
  if (config && metadata && weights) {
    info->format = ModelFormat::kKeras;
    info->evidence = "zip members config.json, metadata.json, model.weights.h5";
    return true;
  }
  if (data_pkl && constants) {
    info->format = ModelFormat::kTorchScript;
    info->evidence = "zip members */data.pkl and */constants.pkl";
    return true;
  }
  return false;
}

// An ONNX ModelProto parses, names an IR version and holds a graph (other protobufs rarely do).
bool DetectOnnx(const fs::path& file, uint64_t size, ModelFormatInfo* info) {
  if (size > (2ull << 30)) return false;
  std::ifstream in(file, std::ios::binary);
  onnx::ModelProto proto;
  if (!proto.ParseFromIstream(&in) || proto.ir_version() <= 0 || !proto.has_graph()) return false;
  info->format = ModelFormat::kOnnx;
  info->evidence = "protobuf ModelProto with IR version " + std::to_string(proto.ir_version());
  return true;
}

}  // namespace

const char* ModelFormatName(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kTorchScript:
      return "torchscript";
    case ModelFormat::kTorchExport:
      return "torch.export";
    case ModelFormat::kKeras:
      return "keras";
    case ModelFormat::kSavedModel:
      return "savedmodel";
    case ModelFormat::kTflite:
      return "tflite";
    case ModelFormat::kOpenVino:
      return "openvino";
    case ModelFormat::kUnknown:
      break;
  }
  return "unknown";
}

ModelFormatInfo DetectModelFormat(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) Fail(ErrorKind::kInput, "{}: no such file or folder", path);
  ModelFormatInfo info;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "saved_model.pb", ec) || fs::exists(p / "saved_model.pbtxt", ec)) {
      info.format = ModelFormat::kSavedModel;
      info.evidence = "folder with saved_model.pb";
      for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
        if (e.is_regular_file(ec)) {
          info.files.push_back(e.path().string());
          info.bytes += e.file_size(ec);
        }
      }
    }
    return info;
  }
  uint64_t size = fs::file_size(p, ec);
  info.files = {path};
  info.bytes = size;
  std::string head = ReadPrefix(p, 512);
  if (head.size() >= 8 && head.compare(4, 4, "TFL3") == 0) {
    info.format = ModelFormat::kTflite;
    info.evidence = "flatbuffer identifier TFL3";
  } else if (head.rfind("<?xml", 0) == 0 && head.find("<net") != std::string::npos) {
    info.format = ModelFormat::kOpenVino;
    info.evidence = "XML with a <net> root";
    fs::path bin = p;
    bin.replace_extension(".bin");
    if (fs::exists(bin, ec)) {
      info.files.push_back(bin.string());
      info.bytes += fs::file_size(bin, ec);
    }
  } else if (head.rfind("PK\x03\x04", 0) == 0) {
    DetectZip(p, &info);
  } else {
    DetectOnnx(p, size, &info);
  }
  return info;
}

}  // namespace concord
