#include "campaign/matrix.h"

#include <openssl/evp.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <toml++/toml.h>

#include "backends/backend.h"
#include "backends/worker_backend.h"
#include "ir/clock.h"
#include "ir/test_data.h"
#include "compare/scores.h"
#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ir/random.h"
#include "ir/value_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string RandomUid() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

// ---- configuration -------------------------------------------------------------------------

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
  if (!j.contains("models") || !j["models"].is_array() || j["models"].empty()) {
    ConfigFail(c.file, "'models' must be a non-empty array of {\"path\": ...} objects");
  }
  std::set<std::string> model_names;
  for (size_t i = 0; i < j["models"].size(); ++i) {
    const json& m = j["models"][i];
    std::string where = fmt::format("models[{}]", i);
    CheckKeys(c.file, m, where, {"name", "path", "preprocess", "label_space", "class_names"});
    MatrixModel model;
    model.path = Resolve(c.file, GetString(c.file, m, "path", where));
    if (!fs::is_regular_file(model.path)) {
      Fail(ErrorKind::kInput, "matrix config {}: {}.path: no such model file {}",
           c.file.string(), where, model.path.string());
    }
    model.name = m.contains("name") ? GetString(c.file, m, "name", where)
                                    : model.path.stem().string();
    if (!model_names.insert(model.name).second) {
      ConfigFail(c.file, fmt::format("two models are named '{}'", model.name));
    }
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
        Fail(ErrorKind::kInput, "matrix config {}: {}.class_names: cannot read {}",
             c.file.string(), where, names.string());
      }
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        model.class_names.push_back(line);
      }
    }
    c.models.push_back(std::move(model));
  }
  if (!j.contains("envs") || !j["envs"].is_array() || j["envs"].empty()) {
    ConfigFail(c.file, "'envs' must be a non-empty array of env strings, e.g. [\"ref\", "
               "\"ort@cpu,opt=0..3\"]");
  }
  std::vector<std::string> hosts = {""};  // "" = this machine
  if (j.contains("hosts")) {
    if (!j["hosts"].is_array() || j["hosts"].empty()) {
      ConfigFail(c.file, "'hosts' must be a non-empty array of \"ADDR:PORT\" strings (\"\" = "
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
    if (d.contains("labels")) c.dataset.labels = Resolve(c.file, GetString(c.file, d, "labels", "dataset"));
    c.dataset.recursive = d.value("recursive", false);
    for (const auto& m : c.models) {
      if (!m.preprocess) {
        ConfigFail(c.file, fmt::format("model '{}' needs 'preprocess' for an image dataset",
                                       m.name));
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
  return c;
}

std::string Sha256File(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) Fail(ErrorKind::kInput, "{}: cannot read the file", file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

json MachineFingerprint() {
  json m;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  m["hostname"] = host;
  utsname u{};
  if (uname(&u) == 0) {
    m["kernel"] = std::string(u.sysname) + " " + u.release;
    m["arch"] = u.machine;
  }
  std::ifstream os("/etc/os-release");
  for (std::string line; std::getline(os, line);) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      m["os"] = v;
    }
  }
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  m["cores"] = std::thread::hardware_concurrency();
  std::ifstream mem("/proc/meminfo");
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m["memory_gib"] = std::round(std::stod(line.substr(9)) / (1024.0 * 1024.0) * 10) / 10;
    }
  }
  return m;
}

namespace {

// ---- resource sampling ---------------------------------------------------------------------

// Samples CPU time and resident memory of one process from /proc on a background thread.
class ResourceSampler {
 public:
  ResourceSampler(int pid, double period_ms) : pid_(pid), period_ms_(period_ms) {
    if (pid_ <= 0) return;
    t0_ = Clock::now();
    last_cpu_ = CpuSeconds();
    last_t_ = t0_;
    thread_ = std::thread([this] { Loop(); });
  }
  ~ResourceSampler() { Stop(); }
  std::vector<ResourceSample> Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return samples_;
  }

 private:
  double CpuSeconds() const {
    std::ifstream in(fmt::format("/proc/{}/stat", pid_));
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = s.rfind(')');  // the command name may contain spaces
    if (close == std::string::npos) return -1;
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {  // field 3 is the state
      if (i == 14) utime = std::stod(field);
      if (i == 15) {
        stime = std::stod(field);
        break;
      }
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  int64_t RssBytes() const {
    std::ifstream in(fmt::format("/proc/{}/statm", pid_));
    int64_t size = 0, resident = 0;
    if (!(in >> size >> resident)) return -1;
    return resident * sysconf(_SC_PAGESIZE);
  }
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::duration<double, std::milli>(period_ms_),
                         [this] { return stop_; })) {
      double cpu = CpuSeconds();
      int64_t rss = RssBytes();
      if (cpu < 0 || rss < 0) break;  // the process is gone
      auto now = Clock::now();
      double dt = std::chrono::duration<double>(now - last_t_).count();
      double pct = dt > 0 ? 100.0 * (cpu - last_cpu_) / dt : 0;
      samples_.push_back({std::chrono::duration<double, std::milli>(now - t0_).count(),
                          std::max(0.0, pct), rss});
      last_cpu_ = cpu;
      last_t_ = now;
    }
  }

  int pid_;
  double period_ms_;
  Clock::time_point t0_, last_t_;
  double last_cpu_ = 0;
  std::vector<ResourceSample> samples_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// ---- inputs --------------------------------------------------------------------------------

struct MatrixInput {
  std::string name;
  json description;
  ValueMap values;
  std::string digest;
};

std::string ThumbnailDataUri(const fs::path& image) {
  cv::Mat img = cv::imread(image.string(), cv::IMREAD_COLOR);
  if (img.empty()) return "";
  double s = 96.0 / std::max(img.cols, img.rows);
  cv::Mat small;
  cv::resize(img, small, cv::Size(), std::min(1.0, s), std::min(1.0, s), cv::INTER_AREA);
  std::vector<uchar> jpg;
  cv::imencode(".jpg", small, jpg, {cv::IMWRITE_JPEG_QUALITY, 80});
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < jpg.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(jpg[i]) << 16;
    if (i + 1 < jpg.size()) n |= static_cast<uint32_t>(jpg[i + 1]) << 8;
    if (i + 2 < jpg.size()) n |= jpg[i + 2];
    b64 += k[(n >> 18) & 63];
    b64 += k[(n >> 12) & 63];
    b64 += i + 1 < jpg.size() ? k[(n >> 6) & 63] : '=';
    b64 += i + 2 < jpg.size() ? k[n & 63] : '=';
  }
  return "data:image/jpeg;base64," + b64;
}

// Digest of an input set: names, dtypes, shapes and bytes of every tensor, in name order.
std::string InputDigest(const ValueMap& values) {
  std::string acc;
  for (const auto& [name, v] : values) {
    acc += name + ";";
    if (v.is_tensor()) {
      acc += std::string(DTypeName(v.tensor.dtype())) + json(v.tensor.shape()).dump() + ";";
      acc += TensorDigest(v.tensor.raw(), v.tensor.nbytes());
    } else {
      acc += "seq" + std::to_string(v.sequence.size());
      for (const auto& t : v.sequence) acc += TensorDigest(t.raw(), t.nbytes());
    }
    acc += "|";
  }
  return TensorDigest(acc.data(), acc.size());
}

std::vector<MatrixInput> LoadMatrixInputs(const MatrixConfig& c, const MatrixModel& m,
                                          const Model& model) {
  std::vector<ValueInfo> model_inputs = model.Inputs();
  if (model_inputs.empty()) {
    Fail(ErrorKind::kInput, "model {} has no inputs", m.path.string());
  }
  std::vector<MatrixInput> out;
  if (c.dataset.kind == "images") {
    if (model_inputs.size() != 1) {
      Fail(ErrorKind::kInput, "model {} has {} inputs; an image dataset feeds exactly one",
           m.path.string(), model_inputs.size());
    }
    ImageFolderOptions opts;
    opts.recursive = c.dataset.recursive;
    opts.labels_file = c.dataset.labels;
    opts.spec = *m.preprocess;
    ImageFolderDataset ds(c.dataset.images, opts);
    for (size_t i = 0; i < ds.size(); ++i) {
      DatasetItem item = ds.item(i);
      MatrixInput in;
      in.name = item.name;
      in.values[model_inputs[0].name] = Value(std::move(item.tensor));
      in.description = {{"name", item.name}, {"kind", "image"}, {"source", item.path.string()},
                        {"preprocess", m.preprocess->ToJson()}};
      in.description["label"] = item.label ? json(*item.label) : json(nullptr);
      std::string thumb = ThumbnailDataUri(item.path);
      in.description["thumbnail"] = thumb.empty() ? json(nullptr) : json(thumb);
      out.push_back(std::move(in));
    }
  } else if (c.dataset.kind == "tensors") {
    for (const auto& p : c.dataset.tensors) {
      MatrixInput in;
      in.name = p.filename().string();
      if (fs::is_directory(p)) {
        in.values = LoadInputSet(model, p.string());
      } else {
        std::string ext = p.extension().string();
        std::vector<NamedTensor> tensors;
        if (ext == ".npz") {
          tensors = ReadNpz(p.string());
        } else if (ext == ".npy") {
          tensors.push_back({p.stem().string(), ReadNpy(p.string())});
        } else if (ext == ".pb") {
          tensors.push_back(ReadTensorPb(p.string()));
        } else {
          Fail(ErrorKind::kUsage, "{}: unknown tensor file type (use .pb, .npy, .npz or a "
               "test_data_set_N folder)", p.string());
        }
        // Bind by name when it names a model input, else by position.
        size_t pos = 0;
        for (auto& nt : tensors) {
          std::string target;
          for (const auto& mi : model_inputs) {
            if (mi.name == nt.name) target = mi.name;
          }
          if (target.empty()) {
            while (pos < model_inputs.size() && in.values.count(model_inputs[pos].name)) ++pos;
            if (pos >= model_inputs.size()) {
              Fail(ErrorKind::kInput, "{}: more tensors than model {} has inputs", p.string(),
                   m.path.string());
            }
            target = model_inputs[pos].name;
          }
          in.values[target] = Value(std::move(nt.tensor));
        }
      }
      for (const auto& mi : model_inputs) {
        if (!in.values.count(mi.name)) {
          Fail(ErrorKind::kInput, "{}: no tensor for input '{}' of model {}", p.string(), mi.name,
               m.path.string());
        }
      }
      in.description = {{"name", in.name}, {"kind", "tensors"}, {"source", p.string()},
                        {"label", nullptr}, {"thumbnail", nullptr}};
      out.push_back(std::move(in));
    }
  } else {
    for (int i = 0; i < c.dataset.random_count; ++i) {
      MatrixInput in;
      in.name = fmt::format("random_{}", i);
      uint64_t k = 0;
      for (const auto& mi : model_inputs) {
        ++k;
        if (!mi.is_tensor || !mi.has_shape) {
          Fail(ErrorKind::kInput, "model {}: input '{}' has no tensor shape; random data cannot "
               "be made for it (use a tensors dataset)", m.path.string(), mi.name);
        }
        Shape shape = mi.shape;
        for (auto& d : shape) d = d < 0 ? 1 : d;
        in.values[mi.name] = Value(
            RandomTensor(mi.dtype, shape, (c.dataset.seed + i) * 1000003u + k));
      }
      in.description = {{"name", in.name}, {"kind", "random"},
                        {"seed", c.dataset.seed + static_cast<uint64_t>(i)}, {"label", nullptr},
                        {"thumbnail", nullptr}};
      out.push_back(std::move(in));
    }
  }
  for (auto& in : out) {
    in.digest = InputDigest(in.values);
    in.description["model_input_digest"] = in.digest;
  }
  return out;
}

// ---- recording -----------------------------------------------------------------------------

std::vector<OutputRecord> MakeOutputs(const std::vector<Value>& values,
                                      const std::vector<ValueInfo>& infos,
                                      const MatrixConfig& c) {
  std::vector<OutputRecord> out;
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    OutputRecord o;
    o.idx = static_cast<int64_t>(i);
    o.name = i < infos.size() ? infos[i].name : fmt::format("output_{}", i);
    if (!v.is_tensor()) {
      o.dtype = v.is_sequence() ? "sequence(" + std::string(DTypeName(v.elem_type)) + ")" : "none";
      o.shape_json = "null";
      std::string acc;
      for (const auto& t : v.sequence) acc += TensorDigest(t.raw(), t.nbytes());
      o.digest = TensorDigest(acc.data(), acc.size());
      out.push_back(std::move(o));
      continue;
    }
    const Tensor& t = v.tensor;
    o.dtype = DTypeName(t.dtype());
    o.shape_json = json(t.shape()).dump();
    o.digest = TensorDigest(t.raw(), t.nbytes());
    if (LooksLikeScores(t)) {
      ScoresLayout layout = ScoresShape(t);
      json rows = json::array();
      for (int64_t r = 0; r < layout.rows; ++r) {
        std::vector<double> scores = ScoresRow(t, r);
        json row = json::array();
        for (int64_t idx : TopKIndices(scores, c.top_k)) {
          row.push_back({{"i", idx}, {"s", scores[static_cast<size_t>(idx)]}});
        }
        rows.push_back(row);
      }
      o.topk_json = rows.dump();
    }
    bool keep = c.store_tensors == "true" ||
                (c.store_tensors == "auto" && t.nbytes() <= (1u << 20));
    if (keep && t.dtype() != DType::kString) {
      std::string npy = SerializeNpy(t);
      o.tensor = std::vector<uint8_t>(npy.begin(), npy.end());
    }
    out.push_back(std::move(o));
  }
  return out;
}

struct Cell {
  size_t input = 0;
  int repeat = 0;
};

}  // namespace

MatrixSummary RunMatrix(const MatrixConfig& c, Store& store, const MatrixProgressFn& progress) {
  auto t_start = Clock::now();
  MatrixSummary summary;
  json machine = MachineFingerprint();
  store.SetCampaignValue("name", c.name);
  store.SetCampaignValue("config", c.raw.dump());
  store.SetCampaignValue("config_file", c.file.string());

  // Load every model and its inputs up front: a bad model or dataset is an error before any
  // cell runs.
  struct Planned {
    const MatrixModel* spec;
    Model model;
    int64_t model_id;
    std::vector<MatrixInput> inputs;
    std::vector<int64_t> input_ids;
  };
  std::vector<Planned> plan;
  for (const auto& m : c.models) {
    Model model = Model::Load(m.path.string());
    std::string sha = Sha256File(m.path);
    int64_t model_id = store.UpsertModel(m.path.string(), sha, m.name);
    json meta = {{"name", m.name}, {"path", m.path.string()}, {"top_k", c.top_k},
                 {"class_names", m.class_names}};
    meta["preprocess"] = m.preprocess ? m.preprocess->ToJson() : json(nullptr);
    meta["label_space"] = m.label_space ? json{{"num_classes", m.label_space->num_classes},
                                               {"offset", m.label_space->offset}}
                                        : json(nullptr);
    store.SetCampaignValue("model/" + sha, meta.dump());
    std::vector<MatrixInput> inputs = LoadMatrixInputs(c, m, model);
    std::vector<int64_t> ids;
    for (const auto& in : inputs) ids.push_back(store.UpsertInput(in.digest, in.description.dump()));
    plan.push_back({&m, std::move(model), model_id, std::move(inputs), std::move(ids)});
  }

  // Environments, with versions probed once per backend.
  std::map<std::string, json> versions;
  std::vector<int64_t> env_ids;
  for (const auto& e : c.envs) {
    EnvSpec spec = EnvSpec::Parse(e);
    if (!versions.count(spec.backend)) {
      json v;
      try {
        BackendInfo info = FindBackend(spec.backend)->Info();
        v = {{"backend", info.name}, {"version", info.version}, {"description", info.description}};
      } catch (const Error& err) {
        v = {{"backend", spec.backend}, {"error", err.what()}};
      }
      versions[spec.backend] = v;
    }
    EnvironmentInfo info{spec.ToString(), spec.backend, spec.device, versions[spec.backend].dump(),
                         machine.dump()};
    env_ids.push_back(store.UpsertEnvironment(info));
  }

  // Count the work.
  MatrixProgress prog;
  for (auto& p : plan) {
    for (size_t e = 0; e < c.envs.size(); ++e) {
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        for (int r = 0; r < c.repeats; ++r) {
          ++summary.total;
          if (store.HasRun(p.model_id, env_ids[e], p.input_ids[i], r)) {
            ++summary.existing;
          } else {
            ++prog.todo;
          }
        }
      }
    }
  }
  auto report = [&](const std::string& phase) {
    if (!progress) return;
    prog.phase = phase;
    prog.elapsed_s = MsSince(t_start) / 1000.0;
    progress(prog);
  };

  for (auto& p : plan) {
    std::vector<ValueInfo> out_infos = p.model.Outputs();
    for (size_t e = 0; e < c.envs.size(); ++e) {
      std::vector<Cell> cells;
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        for (int r = 0; r < c.repeats; ++r) {
          if (!store.HasRun(p.model_id, env_ids[e], p.input_ids[i], r)) cells.push_back({i, r});
        }
      }
      if (cells.empty()) continue;
      prog.model = p.spec->name;
      prog.env = c.envs[e];
      prog.input.clear();

      EnvSpec run_spec = EnvSpec::Parse(c.envs[e]);
      bool in_process = run_spec.backend == "ref" || run_spec.backend == "opencv";
      if (c.isolate && in_process && run_spec.Get("host").empty() &&
          !run_spec.options.count("isolate")) {
        run_spec.options["isolate"] = "1";
      }
      if (c.timeout_s > 0 && run_spec.Get("isolate") == "1" && !run_spec.options.count("timeout")) {
        run_spec.options["timeout"] = fmt::format("{}", c.timeout_s);
      }

      std::unique_ptr<Session> session;
      std::unique_ptr<ResourceSampler> sampler;
      SessionRecord rec;
      auto finish_session = [&]() {
        if (rec.uid.empty()) return;
        if (sampler) rec.samples = sampler->Stop();
        sampler.reset();
        if (session) {
          try {
            json info = json::parse(rec.info_json);
            info["stats"] = session->Stats();
            rec.info_json = info.dump();
          } catch (const std::exception&) {
            // a dead worker has no stats; the session row is still written
          }
        }
        store.RecordSession(rec);
        rec = SessionRecord();
        session.reset();
      };
      std::string prepare_error;
      auto prepare = [&]() {
        report("prepare");
        rec = SessionRecord();
        rec.uid = RandomUid();
        rec.model_id = p.model_id;
        rec.env_id = env_ids[e];
        rec.started_at = NowIso();
        auto t0 = Clock::now();
        try {
          session = PrepareSession(p.model, run_spec);
          rec.prepare_ms = MsSince(t0);
          rec.effective_env = session->effective_env();
          json info = json::object();
          int pid = getpid();
          if (auto* w = dynamic_cast<WorkerSession*>(session.get())) {
            info["prepare"] = w->prepare_info();
            info["hello"] = w->server_hello();
            pid = w->pid();
          } else if (!run_spec.Get("host").empty()) {
            pid = -1;  // remote: sampled by the server's STATS only
          }
          rec.info_json = info.dump();
          sampler = std::make_unique<ResourceSampler>(pid, c.sample_ms);
          ++summary.sessions;
        } catch (const Error& err) {
          rec.prepare_ms = MsSince(t0);
          rec.status = "error";
          rec.error = err.what();
          prepare_error = "prepare failed: " + std::string(err.what());
          finish_session();
          return;
        }
        // The first inference (lazy initialization, JIT) is measured apart from the cells.
        try {
          RunTiming timing;
          session->Run(p.inputs[cells.front().input].values, &timing);
          rec.first_run_ms = timing.run_ms;
        } catch (const Error& err) {
          rec.status = "error";
          rec.error = err.what();
          prepare_error = "first inference failed: " + std::string(err.what());
          finish_session();
        }
      };

      bool gave_up = false;  // a failed (re-)prepare is not retried for this (model, env)
      for (const Cell& cell : cells) {
        if (!session && !gave_up) {
          prepare();
          gave_up = session == nullptr;
        }
        prog.input = p.inputs[cell.input].name;
        report("run");
        RunRecord run;
        run.model_id = p.model_id;
        run.env_id = env_ids[e];
        run.input_id = p.input_ids[cell.input];
        run.repeat = cell.repeat;
        run.started_at = NowIso();
        run.prepare_ms = rec.prepare_ms;
        if (!session) {
          run.status = "error";
          run.error = prepare_error;
        } else {
          auto t0 = Clock::now();
          try {
            RunTiming timing;
            std::vector<Value> values = session->Run(p.inputs[cell.input].values, &timing);
            run.wall_ms = MsSince(t0);
            run.run_ms = timing.run_ms;
            run.outputs = MakeOutputs(values, out_infos, c);
          } catch (const Error& err) {
            run.wall_ms = MsSince(t0);
            run.status = "error";
            run.error = err.what();
            run.outputs.clear();
          }
        }
        store.RecordRun(run);
        ++prog.done;
        if (run.status == "ok") {
          ++summary.ran;
        } else {
          ++summary.failed;
          ++prog.failed;
          // The session may be broken (a crashed worker): prepare afresh for the next cell.
          if (session) finish_session();
        }
      }
      finish_session();
    }
  }
  report("done");
  summary.seconds = MsSince(t_start) / 1000.0;
  return summary;
}

}  // namespace concord
