// Reading a matrix configuration (JSON or TOML; keys in campaign/matrix.h). Every problem is
// reported before anything runs, naming the config file and the key.
#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "campaign/matrix.h"
#include "ir/error.h"

namespace concord {

std::string MatrixConversion::Label() const {
  std::string label = torchscript ? "torchscript" : to;
  for (const auto& v : via) label += "-via-" + v;
  if (quantize != "none") label += "-" + quantize;
  for (char& ch : label) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') ch = '_';
  }
  return label;
}

std::string MatrixConversion::Extension() const {
  if (to == "torch") return torchscript ? ".pt" : ".pt2";
  if (to == "tf") return ".savedmodel";
  if (to == "keras") return ".keras";
  if (to == "tflite") return ".tflite";
  if (to == "openvino") return ".xml";
  return ".onnx";
}
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

[[noreturn]] void ConfigFail(const fs::path& file, const std::string& what) {
  Fail(ErrorKind::kUsage, "matrix config {}: {}", file.string(), what);
}

void CheckKeys(const fs::path& file, const json& j, const std::string& where,
               const std::set<std::string>& known) {
  if (!j.is_object()) ConfigFail(file, fmt::format("{} must be an object", where));
  for (const auto& [k, v] : j.items()) {
    if (!known.count(k)) {
      ConfigFail(file, fmt::format("unknown key '{}' in {} (known: {})", k, where,
                                   fmt::join(known, ", ")));
    }
  }
}

fs::path Resolve(const fs::path& file, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : file.parent_path() / path;
}

std::string GetString(const fs::path& file, const json& j, const std::string& key,
                      const std::string& where) {
  if (!j.contains(key)) ConfigFail(file, fmt::format("{} needs '{}'", where, key));
  if (!j[key].is_string()) ConfigFail(file, fmt::format("{}.{} must be a string", where, key));
  return j[key].get<std::string>();
}

json ReadConfigDocument(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) Fail(ErrorKind::kInput, "matrix config {}: cannot read the file", file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (file.extension() == ".toml") {
    try {
      toml::table table = toml::parse(text, file.string());
      std::stringstream out;
      out << toml::json_formatter{table};
      return json::parse(out.str());
    } catch (const toml::parse_error& e) {
      Fail(ErrorKind::kUsage, "matrix config {}: TOML error at line {}: {}", file.string(),
           e.source().begin.line, std::string(e.description()));
    }
  }
  try {
    return json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    Fail(ErrorKind::kUsage, "matrix config {}: JSON error: {}", file.string(), e.what());
  }
}

// models[i].twins: paths of the model in other formats (files, or SavedModel folders).
std::vector<fs::path> ReadTwins(const MatrixConfig& c, const json& twins,
                                const std::string& where) {
  if (!twins.is_array()) ConfigFail(c.file, where + ".twins must be an array of paths");
  std::vector<fs::path> out;
  for (size_t i = 0; i < twins.size(); ++i) {
    std::string at = fmt::format("{}.twins[{}]", where, i);
    if (!twins[i].is_string()) ConfigFail(c.file, at + " must be a path");
    fs::path path = Resolve(c.file, twins[i].get<std::string>());
    if (!fs::exists(path)) {
      Fail(ErrorKind::kInput, "matrix config {}: {}: no such model {}", c.file.string(), at,
           path.string());
    }
    out.push_back(path);
  }
  return out;
}

// models[i].conversions: [{"to": FORMAT, "via": TOOL | [TOOLS], "quantize": MODE,
// "torchscript": BOOL, "calibration": IMAGES_DIR}].
std::vector<MatrixConversion> ReadConversions(const MatrixConfig& c, const json& list,
                                              const std::string& where) {
  if (!list.is_array()) ConfigFail(c.file, where + ".conversions must be an array");
  std::vector<MatrixConversion> out;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = fmt::format("{}.conversions[{}]", where, i);
    const json& e = list[i];
    if (!e.is_object()) ConfigFail(c.file, at + " must be an object {\"to\": FORMAT, ...}");
    CheckKeys(c.file, e, at, {"to", "via", "quantize", "torchscript", "calibration"});
    MatrixConversion conv;
    conv.to = GetString(c.file, e, "to", at);
    static const std::set<std::string> kFormats = {"onnx",  "torch",  "tf",
                                                   "keras", "tflite", "openvino"};
    if (!kFormats.count(conv.to)) {
      ConfigFail(c.file, at + ".to must be one of onnx, torch, tf, keras, tflite, openvino");
    }
    if (e.contains("via")) {
      const json& v = e["via"];
      if (v.is_string()) conv.via.push_back(v.get<std::string>());
      if (v.is_array()) {
        for (const auto& t : v) {
          if (!t.is_string()) ConfigFail(c.file, at + ".via must name tools");
          conv.via.push_back(t.get<std::string>());
        }
      }
      if (!v.is_string() && !v.is_array()) ConfigFail(c.file, at + ".via must name tools");
    }
    if (e.contains("torchscript")) {
      if (!e["torchscript"].is_boolean() || conv.to != "torch") {
        ConfigFail(c.file, at + ".torchscript must be true or false, and only with \"to\": "
                                "\"torch\"");
      }
      conv.torchscript = e["torchscript"].get<bool>();
    }
    if (e.contains("quantize")) conv.quantize = GetString(c.file, e, "quantize", at);
    if (conv.quantize != "none" && conv.quantize != "dynamic" && conv.quantize != "fp16" &&
        conv.quantize != "int8") {
      ConfigFail(c.file, at + ".quantize must be none, dynamic, fp16 or int8");
    }
    if (e.contains("calibration")) {
      conv.calibration = Resolve(c.file, GetString(c.file, e, "calibration", at));
      if (!fs::is_directory(conv.calibration)) {
        Fail(ErrorKind::kInput, "matrix config {}: {}.calibration: {} is not a folder",
             c.file.string(), at, conv.calibration.string());
      }
    }
    if ((conv.quantize == "int8") != !conv.calibration.empty()) {
      ConfigFail(c.file, at + (conv.quantize == "int8"
                                   ? ": quantize int8 needs \"calibration\": a folder of images"
                                   : ".calibration is only for quantize int8"));
    }
    out.push_back(std::move(conv));
  }
  return out;
}

// models[i] of the config: path (must exist), name, preprocessing, label space, class names.
MatrixModel ReadModel(const MatrixConfig& c, const json& m, const std::string& where) {
  CheckKeys(
      c.file, m, where,
      {"name", "path", "onnx", "preprocess", "label_space", "class_names", "twins", "conversions"});
  MatrixModel model;
  model.path = Resolve(c.file, GetString(c.file, m, "path", where));
  if (!fs::is_regular_file(model.path) && !fs::is_directory(model.path)) {
    Fail(ErrorKind::kInput, "matrix config {}: {}.path: no such model file or SavedModel folder {}",
         c.file.string(), where, model.path.string());
  }
  model.name =
      m.contains("name") ? GetString(c.file, m, "name", where) : model.path.stem().string();
  if (m.contains("onnx")) {  // the framework source's ONNX twin, given instead of converted
    model.onnx = Resolve(c.file, GetString(c.file, m, "onnx", where));
    if (!fs::is_regular_file(model.onnx)) {
      Fail(ErrorKind::kInput, "matrix config {}: {}.onnx: no such model file {}", c.file.string(),
           where, model.onnx.string());
    }
  }
  if (m.contains("twins")) model.twins = ReadTwins(c, m["twins"], where);
  if (m.contains("conversions")) model.conversions = ReadConversions(c, m["conversions"], where);
  if (m.contains("preprocess")) model.preprocess = PreprocessSpec::FromJson(m["preprocess"]);
  if (m.contains("label_space")) {
    const json& ls = m["label_space"];
    CheckKeys(c.file, ls, where + ".label_space", {"num_classes", "offset"});
    LabelSpace space;
    if (!ls.value("num_classes", json(1000)).is_number_integer() ||
        !ls.value("offset", json(0)).is_number_integer()) {
      ConfigFail(c.file, where + ".label_space: num_classes and offset must be integers");
    }
    space.num_classes = ls.value("num_classes", 1000);
    space.offset = ls.value("offset", 0);
    space.Validate();
    model.label_space = space;
  }
  if (m.contains("class_names")) {
    fs::path names = Resolve(c.file, GetString(c.file, m, "class_names", where));
    std::ifstream in(names);
    if (!in) {
      Fail(ErrorKind::kInput, "matrix config {}: {}.class_names: cannot read {}", c.file.string(),
           where, names.string());
    }
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      model.class_names.push_back(line);
    }
  }
  return model;
}

void ReadModels(const json& j, MatrixConfig& c) {
  if (!j.contains("models") || !j["models"].is_array() || j["models"].empty()) {
    ConfigFail(c.file, "'models' must be a non-empty array of {\"path\": ...} objects");
  }
  std::set<std::string> model_names;
  for (size_t i = 0; i < j["models"].size(); ++i) {
    MatrixModel model = ReadModel(c, j["models"][i], fmt::format("models[{}]", i));
    if (!model_names.insert(model.name).second) {
      ConfigFail(c.file, fmt::format("two models are named '{}'", model.name));
    }
    c.models.push_back(std::move(model));
  }
}

// 'envs' with sweeps expanded, crossed with 'hosts'; no env twice.
void ReadEnvs(const json& j, MatrixConfig& c) {
  if (!j.contains("envs") || !j["envs"].is_array() || j["envs"].empty()) {
    ConfigFail(c.file,
               "'envs' must be a non-empty array of env strings, e.g. [\"ref\", "
               "\"ort@cpu,opt=0..3\"]");
  }
  std::vector<std::string> hosts = {""};  // "" = this machine
  if (j.contains("hosts")) {
    if (!j["hosts"].is_array() || j["hosts"].empty()) {
      ConfigFail(c.file,
                 "'hosts' must be a non-empty array of \"ADDR:PORT\" strings (\"\" = "
                 "this machine)");
    }
    hosts.clear();
    for (const auto& h : j["hosts"]) {
      if (!h.is_string()) ConfigFail(c.file, "'hosts' items must be strings");
      hosts.push_back(h.get<std::string>());
    }
  }
  std::set<std::string> seen;
  for (const auto& e : j["envs"]) {
    if (!e.is_string()) ConfigFail(c.file, "'envs' items must be strings");
    std::vector<std::string> expanded;
    for (const auto& x : ExpandEnvSweep(e.get<std::string>())) {
      for (const auto& h : hosts) {
        expanded.push_back(h.empty() || x.find(",host=") != std::string::npos ? x
                                                                              : x + ",host=" + h);
      }
    }
    for (auto& x : expanded) {
      std::string canonical = EnvSpec::Parse(x).ToString();
      if (!seen.insert(canonical).second) {
        ConfigFail(c.file, fmt::format("env '{}' appears twice after expanding sweeps", x));
      }
      c.envs.push_back(x);
    }
  }
}

// 'dataset': exactly one of images (with preprocessing on every model), tensors, random.
void ReadDataset(const json& j, MatrixConfig& c) {
  if (!j.contains("dataset")) ConfigFail(c.file, "'dataset' is required");
  const json& d = j["dataset"];
  CheckKeys(c.file, d, "dataset", {"images", "labels", "recursive", "tensors", "random", "seed"});
  int kinds = d.contains("images") + d.contains("tensors") + d.contains("random");
  if (kinds != 1) {
    ConfigFail(c.file, "dataset needs exactly one of 'images', 'tensors' or 'random'");
  }
  if (d.contains("images")) {
    c.dataset.kind = "images";
    c.dataset.images = Resolve(c.file, GetString(c.file, d, "images", "dataset"));
    if (d.contains("labels"))
      c.dataset.labels = Resolve(c.file, GetString(c.file, d, "labels", "dataset"));
    c.dataset.recursive = d.value("recursive", false);
    for (const auto& m : c.models) {
      if (!m.preprocess) {
        ConfigFail(c.file,
                   fmt::format("model '{}' needs 'preprocess' for an image dataset", m.name));
      }
    }
  } else if (d.contains("tensors")) {
    c.dataset.kind = "tensors";
    if (!d["tensors"].is_array() || d["tensors"].empty()) {
      ConfigFail(c.file, "dataset.tensors must be a non-empty array of paths");
    }
    for (const auto& t : d["tensors"]) {
      if (!t.is_string()) ConfigFail(c.file, "dataset.tensors items must be strings");
      fs::path p = Resolve(c.file, t.get<std::string>());
      if (!fs::exists(p)) {
        Fail(ErrorKind::kInput, "matrix config {}: dataset.tensors: no such file or folder {}",
             c.file.string(), p.string());
      }
      c.dataset.tensors.push_back(p);
    }
  } else {
    c.dataset.kind = "random";
    if (!d["random"].is_number_integer() || d["random"].get<int>() < 1 ||
        d["random"].get<int>() > 100000) {
      ConfigFail(c.file, "dataset.random must be an integer count in 1..100000");
    }
    c.dataset.random_count = d["random"].get<int>();
    c.dataset.seed = d.value("seed", 0ull);
  }
}

// repeats, top_k, store_tensors, isolate, timeout_s, sample_ms.
void ReadRunSettings(const json& j, MatrixConfig& c) {
  auto int_in = [&](const char* key, int def, int lo, int hi) {
    if (!j.contains(key)) return def;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < lo || j[key].get<int64_t>() > hi) {
      ConfigFail(c.file, fmt::format("'{}' must be an integer in {}..{}", key, lo, hi));
    }
    return j[key].get<int>();
  };
  c.repeats = int_in("repeats", 1, 1, 10000);
  c.top_k = int_in("top_k", 5, 1, 100);
  if (j.contains("store_tensors")) {
    const json& st = j["store_tensors"];
    if (st.is_boolean()) {
      c.store_tensors = st.get<bool>() ? "true" : "false";
    } else if (st == "auto") {
      c.store_tensors = "auto";
    } else {
      ConfigFail(c.file, "'store_tensors' must be true, false or \"auto\"");
    }
  }
  if (j.contains("isolate")) {
    if (!j["isolate"].is_boolean()) ConfigFail(c.file, "'isolate' must be true or false");
    c.isolate = j["isolate"].get<bool>();
  }
  if (j.contains("timeout_s")) {
    if (!j["timeout_s"].is_number() || j["timeout_s"].get<double>() < 0) {
      ConfigFail(c.file, "'timeout_s' must be a number >= 0");
    }
    c.timeout_s = j["timeout_s"].get<double>();
  }
  if (j.contains("sample_ms")) {
    if (!j["sample_ms"].is_number() || j["sample_ms"].get<double>() < 5) {
      ConfigFail(c.file, "'sample_ms' must be a number >= 5");
    }
    c.sample_ms = j["sample_ms"].get<double>();
  }
}

// An env's twin=LABEL must name a direction some model has (a typo would run nothing).
void CheckTwinLabels(const MatrixConfig& c) {
  std::set<std::string> labels;
  for (const auto& m : c.models) {
    for (const auto& conv : m.conversions) labels.insert(conv.Label());
  }
  for (const auto& e : c.envs) {
    std::string twin = EnvSpec::Parse(e).Get("twin");
    if (twin.empty() || labels.count(twin)) continue;
    std::string known;
    for (const auto& l : labels) known += (known.empty() ? "" : ", ") + l;
    ConfigFail(c.file, fmt::format("env '{}' asks for direction '{}', which no model has "
                                   "(directions: {})",
                                   e, twin, known.empty() ? "none" : known));
  }
}

}  // namespace

MatrixConfig LoadMatrixConfig(const fs::path& file) {
  MatrixConfig c;
  c.file = fs::absolute(file);
  json j = ReadConfigDocument(c.file);
  c.raw = j;
  CheckKeys(c.file, j, "the config",
            {"name", "models", "envs", "hosts", "dataset", "repeats", "top_k", "store_tensors",
             "isolate", "timeout_s", "sample_ms"});
  c.name = j.value("name", c.file.stem().string());
  ReadModels(j, c);
  ReadEnvs(j, c);
  CheckTwinLabels(c);
  ReadDataset(j, c);
  ReadRunSettings(j, c);
  return c;
}

}  // namespace concord
