// Running a matrix campaign: plan every (model, env, input, repeat) cell, then run the missing
// ones session by session and record each as one transaction (contract in campaign/matrix.h).
#include "campaign/matrix.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <tuple>

#include "backends/backend.h"
#include "backends/convert_tools.h"
#include "backends/worker_backend.h"
#include "campaign/host_info.h"
#include "campaign/matrix_inputs.h"
#include "campaign/resource_sampler.h"
#include "compare/scores.h"
#include "ir/clock.h"
#include "ir/error.h"
#include "ir/model_format.h"
#include "ir/tensor_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string RandomUid() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

// Digest of one map of a sequence of maps: its keys (strings by their bytes), then its values.
std::string MapDigest(const MapValue& m) {
  std::string keys;
  if (m.keys.dtype() == DType::kString) {
    for (int64_t i = 0; i < m.keys.numel(); ++i) keys += m.keys.data<std::string>()[i] + '\0';
  } else {
    keys.assign(static_cast<const char*>(m.keys.raw()), m.keys.nbytes());
  }
  return TensorDigest(keys.data(), keys.size()) + TensorDigest(m.values.raw(), m.values.nbytes());
}

std::vector<OutputRecord> MakeOutputs(const std::vector<Value>& values,
                                      const std::vector<ValueInfo>& infos, const MatrixConfig& c) {
  std::vector<OutputRecord> out;
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    OutputRecord o;
    o.idx = static_cast<int64_t>(i);
    o.name = i < infos.size() ? infos[i].name : fmt::format("output_{}", i);
    if (!v.is_tensor()) {
      o.dtype = v.is_sequence()       ? "sequence(" + std::string(DTypeName(v.elem_type)) + ")"
                : v.is_map_sequence() ? fmt::format("sequence(map({},{}))", DTypeName(v.key_type),
                                                    DTypeName(v.elem_type))
                                      : "none";
      o.shape_json = "null";
      std::string acc;
      for (const auto& t : v.sequence) acc += TensorDigest(t.raw(), t.nbytes());
      for (const auto& m : v.maps) acc += MapDigest(m);
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
    bool keep =
        c.store_tensors == "true" || (c.store_tensors == "auto" && t.nbytes() <= (1u << 20));
    if (keep && t.dtype() != DType::kString) {
      std::string npy = SerializeNpy(t);
      o.tensor = std::vector<uint8_t>(npy.begin(), npy.end());
    }
    out.push_back(std::move(o));
  }
  return out;
}

// One model of the campaign, loaded, with its inputs and their store ids.
struct Planned {
  MatrixModel spec;  // the config's model, its conversions' outputs added to twins
  Model model;
  int64_t model_id;
  std::vector<MatrixInput> inputs;
  std::vector<int64_t> input_ids;
};

struct Cell {
  size_t input = 0;
  int repeat = 0;
};

// A twin's worker session fed the ONNX model's inputs: they are renamed, by position, to the
// twin's own input names (a converter renames them: "input" becomes "input_1").
class TwinSession : public WorkerSession {
 public:
  TwinSession(std::unique_ptr<Session> inner, const std::vector<ValueInfo>& onnx_inputs,
              const std::vector<ValueInfo>& twin_inputs)
      : inner_(std::move(inner)), worker_(dynamic_cast<WorkerSession*>(inner_.get())) {
    CONCORD_CHECK(worker_ != nullptr, "framework twins run on worker sessions");
    for (size_t i = 0; i < onnx_inputs.size(); ++i)
      rename_.emplace_back(onnx_inputs[i].name, twin_inputs[i].name);
  }
  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override {
    ValueMap renamed;
    for (const auto& [from, to] : rename_) {
      auto it = inputs.find(from);
      if (it != inputs.end()) renamed[to] = it->second;
    }
    return inner_->Run(renamed, timing);
  }
  std::string effective_env() const override { return inner_->effective_env(); }
  nlohmann::json Stats() override { return worker_->Stats(); }
  const nlohmann::json& server_hello() const override { return worker_->server_hello(); }
  const nlohmann::json& prepare_info() const override { return worker_->prepare_info(); }
  int pid() const override { return worker_->pid(); }
  bool uses_shared_memory() const override { return worker_->uses_shared_memory(); }
  const std::string& failure() const override { return worker_->failure(); }

 private:
  std::unique_ptr<Session> inner_;
  WorkerSession* worker_;
  std::vector<std::pair<std::string, std::string>> rename_;
};

// The twin env `env` runs: with twin=LABEL, the conversion with that label; else the first twin
// of the format the env lists first (its preferred: tf@cpu a SavedModel, keras@cpu a .keras
// file, openvino@cpu an IR), else of its next format, and so on; -1 for the ONNX model itself,
// when the env reaches "onnx" in its list first (tvm@cpu runs the ONNX model although TVM's
// frontends read .pt2 and .tflite too) or runs none of the twins' formats.
int PickTwin(const MatrixModel& spec, const EnvSpec& env) {
  std::string label = env.Get("twin");
  if (!label.empty()) {
    auto it = spec.converted.find(label);
    if (it == spec.converted.end()) {
      auto failed = spec.failed.find(label);
      Fail(ErrorKind::kInput, "model {}: direction {} {}", spec.name, label,
           failed != spec.failed.end() ? "failed to convert: " + failed->second
                                       : std::string("is not among its conversions"));
    }
    auto twin = std::find(spec.twins.begin(), spec.twins.end(), it->second);
    return static_cast<int>(twin - spec.twins.begin());
  }
  std::vector<std::string> formats;
  if (env.Get("host").empty() && env.Get("isolate") != "1") {
    try {
      formats = FindBackend(env.backend)->Info().formats;
    } catch (const Error&) {  // an unknown backend: ValidateEnvs has named it already
    }
  }
  for (const std::string& f : formats) {
    if (f == "onnx") return -1;  // an env that prefers ONNX (tvm, openvino's second) runs the hub
    for (size_t i = 0; i < spec.twins.size(); ++i) {
      ModelFormat format = DetectModelFormat(spec.twins[i].string()).format;
      if (format == ModelFormat::kOnnx || format == ModelFormat::kUnknown) continue;
      if (f == ModelFormatName(format)) return static_cast<int>(i);
    }
  }
  return -1;
}

// Whether env runs model `spec` at all: an env with twin=LABEL only runs the models that have
// that direction in their config.
bool EnvApplies(const MatrixModel& spec, const EnvSpec& env) {
  std::string label = env.Get("twin");
  if (label.empty()) return true;
  return std::any_of(spec.conversions.begin(), spec.conversions.end(),
                     [&](const MatrixConversion& c) { return c.Label() == label; });
}

// The file env runs for the model (PickTwin's twin, else the ONNX model); "" when PickTwin
// fails (a failed direction: the session's prepare says why).
std::string FileRunBy(const MatrixModel& spec, const EnvSpec& env) {
  try {
    int pick = PickTwin(spec, env);
    return pick >= 0 ? spec.twins[static_cast<size_t>(pick)].string() : spec.path.string();
  } catch (const Error&) {
    return "";
  }
}

// A session of `env` on the model: the twin PickTwin chooses, so openvino@cpu runs the OpenVINO
// conversion rather than the ONNX file it could also read (noted in `info` as "model_file";
// checked to take and give as many tensors as the ONNX model); else the ONNX file.
std::unique_ptr<Session> PrepareForEnv(const MatrixModel& spec, const Model& onnx,
                                       const EnvSpec& twin_env, json* info) {
  int pick = PickTwin(spec, twin_env);
  EnvSpec env = twin_env;
  env.options.erase("twin");
  if (pick >= 0) {
    const fs::path& twin = spec.twins[static_cast<size_t>(pick)];
    CheckEnvRunsFormat(env, DetectModelFormat(twin.string()).format, twin.string());
    OpenedModel opened = OpenModel(twin.string(), {env});
    if (opened.model.Inputs().size() != onnx.Inputs().size() ||
        opened.model.Outputs().size() != onnx.Outputs().size()) {
      Fail(ErrorKind::kInput,
           "twin {} of model {} takes {} and gives {} tensors; the ONNX model takes {} and "
           "gives {}",
           twin.string(), spec.name, opened.model.Inputs().size(), opened.model.Outputs().size(),
           onnx.Inputs().size(), onnx.Outputs().size());
    }
    (*info)["model_file"] = twin.string();
    return std::make_unique<TwinSession>(std::move(opened.session), onnx.Inputs(),
                                         opened.model.Inputs());
  }
  try {
    CheckEnvRunsFormat(env, ModelFormat::kOnnx, spec.path.string());
  } catch (const Error&) {
    Fail(ErrorKind::kUsage, "env {} runs neither model {} ({}) nor any of its {} twins",
         env.ToString(), spec.name, spec.path.string(), spec.twins.size());
  }
  return PrepareSession(onnx, env);
}

// Converts `source` to one direction with the real converters (adapters/convert_plan.py) at
// `out`, unless an earlier run left it there with its sidecar; returns the direction's record
// ("status" ok or failed, with the converter's exit code and message).
json ConvertDirection(const MatrixModel& m, const fs::path& source, const MatrixConversion& conv,
                      const fs::path& out, const fs::path& calibration,
                      const MatrixProgressFn& progress) {
  json record = {{"model", m.name}, {"source", source.string()}, {"to", conv.to},
                 {"via", conv.via}, {"quantize", conv.quantize}, {"path", out.string()}};
  bool done = fs::exists(out) && fs::exists(out.string() + ".concord.json");
  if (!done) {
    if (progress) {
      MatrixProgress p;
      p.model = m.name;
      p.env = "convert to " + conv.Label();
      p.phase = "convert";
      progress(p);
    }
    fs::create_directories(out.parent_path());
    std::string output;
    ConvertRequest r{source.string(), conv.to, out.string(),         conv.via,
                     conv.quantize,   {},      calibration.string(), false};
    int rc = RunConvertTools(r, &output);
    done = rc == 0;
    if (!done) {
      record["exit"] = rc;
      record["message"] = output.size() > 2000 ? output.substr(output.size() - 2000) : output;
    }
  }
  if (done) {  // the chain of tools, from the sidecar convert wrote
    json sidecar;
    try {
      sidecar =
          json::parse(ReadFileBytes(out.string() + ".concord.json", 1u << 24), nullptr, false);
    } catch (const Error&) {  // a sidecar is a convenience here: the record says ok without it
    }
    if (sidecar.is_object() && sidecar.contains("chain")) {
      json tools = json::array();
      for (const auto& hop : sidecar["chain"]) tools.push_back(hop.value("tool", ""));
      record["tools"] = tools;
    }
  }
  record["status"] = done ? "ok" : "failed";
  return record;
}

// Where a direction of model `m` (source digest `sha`) is converted to: conversions/ beside the
// store, named by the source's digest so that a rerun reuses it.
fs::path ConversionPath(const MatrixModel& m, const std::string& sha, const Store& store,
                        const MatrixConversion& conv) {
  std::string stem = m.name;  // a file name whatever the model is called
  for (char& ch : stem) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  }
  return fs::absolute(store.path()).parent_path() / "conversions" /
         fmt::format("{}.{}.{}{}", stem, sha.substr(0, 12), conv.Label(), conv.Extension());
}

// A framework source's ONNX twin, the campaign's hub: the config's "onnx" file, else converted
// by the direction's default tool (torch.onnx's dynamo exporter, tf2onnx); the matrix cannot
// plan inputs without it, so a failure is an error naming the converter's message.
fs::path ConvertSourceToOnnx(MatrixModel& m, const std::string& sha, Store& store,
                             const MatrixProgressFn& progress) {
  MatrixConversion conv;
  conv.to = "onnx";
  if (!m.onnx.empty()) {  // given by the config
    json record = {{"model", m.name},    {"source", m.source.string()},
                   {"to", "onnx"},       {"via", json::array()},
                   {"quantize", "none"}, {"path", m.onnx.string()},
                   {"tools", {"given"}}, {"status", "ok"}};
    store.SetCampaignValue("conversion/" + sha + "/" + conv.Label(), record.dump());
    return m.onnx;
  }
  fs::path out = ConversionPath(m, sha, store, conv);
  json record = ConvertDirection(m, m.source, conv, out, {}, progress);
  store.SetCampaignValue("conversion/" + sha + "/" + conv.Label(), record.dump());
  if (record["status"] != "ok") {
    Fail(ErrorKind::kInput, "model {}: converting the source {} to ONNX failed (exit {}): {}",
         m.name, m.source.string(), record.value("exit", 0), record.value("message", ""));
  }
  return out;
}

// An int8 direction's calibration sets: the conversion's images through the model's
// preprocessing (as the dataset's are), written as .npy files "SET_INPUT.npy" in input order
// into `dir` (convert --calibration reads them sorted); returns how many sets.
size_t WriteCalibrationSets(const MatrixConfig& c, const MatrixModel& m, const Model& model,
                            const MatrixConversion& conv, const fs::path& dir) {
  MatrixConfig images = c;
  images.dataset = MatrixDataset();
  images.dataset.kind = "images";
  images.dataset.images = conv.calibration;
  std::vector<MatrixInput> sets = LoadMatrixInputs(images, m, model);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto& infos = model.Inputs();
  for (size_t k = 0; k < sets.size(); ++k) {
    for (size_t j = 0; j < infos.size(); ++j) {
      const Value& v = sets[k].values.at(infos[j].name);
      CONCORD_CHECK(v.is_tensor(), "calibration inputs are tensors");
      WriteNpy((dir / fmt::format("{:05}_{:02}.npy", k, j)).string(), v.tensor);
    }
  }
  return sets.size();
}

// Runs the model's conversions from its source (the framework model, or the ONNX model) into
// conversions/; each success becomes a twin (m.converted), each failure is kept (m.failed), each
// direction's outcome a campaign value "conversion/SHA/LABEL".
void Convert(const MatrixConfig& c, MatrixModel& m, const Model& model, const std::string& sha,
             Store& store, const MatrixProgressFn& progress) {
  const fs::path& source = m.source.empty() ? m.path : m.source;
  for (const MatrixConversion& conv : m.conversions) {
    fs::path out = ConversionPath(m, sha, store, conv);
    fs::path calibration;
    size_t calibration_sets = 0;
    if (!conv.calibration.empty() && !fs::exists(out.string() + ".concord.json")) {
      calibration = out.string() + ".calibration";
      calibration_sets = WriteCalibrationSets(c, m, model, conv, calibration);
    }
    json record = ConvertDirection(m, source, conv, out, calibration, progress);
    if (!conv.calibration.empty()) {
      record["calibration"] = conv.calibration.string();
      if (calibration_sets > 0) record["calibration_sets"] = calibration_sets;
    }
    store.SetCampaignValue("conversion/" + sha + "/" + conv.Label(), record.dump());
    if (record["status"] == "ok") {
      m.twins.push_back(out);
      m.converted[conv.Label()] = out;
    } else {
      m.failed[conv.Label()] = record.value("message", "");
    }
  }
}

// Loads every model and its inputs up front, so that a bad model or dataset is an error before
// any cell runs; records the models and inputs in the store. `convert`: also runs the models'
// conversions (a cluster driver leaves them to the nodes that run the sessions).
std::vector<Planned> PlanModels(const MatrixConfig& c, Store& store,
                                const MatrixProgressFn& progress, bool convert = true) {
  std::vector<Planned> plan;
  for (const auto& config_model : c.models) {
    MatrixModel m = config_model;
    std::string sha = Sha256File(m.path);
    if (DetectModelFormat(m.path.string()).format != ModelFormat::kOnnx) {
      m.source = m.path;
      m.path = ConvertSourceToOnnx(m, sha, store, progress);
      m.twins.insert(m.twins.begin(), m.source);
    } else if (!m.onnx.empty()) {
      Fail(ErrorKind::kUsage,
           "{}: model {}: \"onnx\" names the ONNX twin of a framework "
           "source, but its path {} is an ONNX model already",
           c.file.string(), m.name, m.path.string());
    }
    Model model = Model::Load(m.path.string());
    const fs::path& recorded = m.source.empty() ? m.path : m.source;
    int64_t model_id = store.UpsertModel(recorded.string(), sha, m.name);
    json meta = {{"name", m.name},
                 {"path", recorded.string()},
                 {"onnx", m.path.string()},
                 {"top_k", c.top_k},
                 {"class_names", m.class_names}};
    meta["preprocess"] = m.preprocess ? m.preprocess->ToJson() : json(nullptr);
    meta["label_space"] = m.label_space ? json{{"num_classes", m.label_space->num_classes},
                                               {"offset", m.label_space->offset}}
                                        : json(nullptr);
    store.SetCampaignValue("model/" + sha, meta.dump());
    std::vector<MatrixInput> inputs = LoadMatrixInputs(c, m, model);
    // A cell is keyed by the input's content: the same tensors twice would be one cell.
    std::map<std::string, std::string> seen;  // digest -> first input's name
    for (const auto& in : inputs) {
      auto [it, fresh] = seen.emplace(in.digest, in.name);
      if (!fresh) {
        Fail(ErrorKind::kInput,
             "{}: dataset inputs '{}' and '{}' hold the same tensors for model {}; give each "
             "input once",
             c.file.string(), it->second, in.name, m.name);
      }
    }
    std::vector<int64_t> ids;
    for (const auto& in : inputs)
      ids.push_back(store.UpsertInput(in.digest, in.description.dump()));
    if (convert) Convert(c, m, model, sha, store, progress);
    plan.push_back({std::move(m), std::move(model), model_id, std::move(inputs), std::move(ids)});
  }
  return plan;
}

void RecordCampaign(const MatrixConfig& c, Store& store) {
  store.SetCampaignValue("name", c.name);
  store.SetCampaignValue("config", c.raw.dump());
  store.SetCampaignValue("config_file", c.file.string());
}

// Records every env of the campaign, with backend versions probed once per backend; returns
// their store ids in config order.
std::vector<int64_t> RecordEnvironments(const MatrixConfig& c, Store& store, const json& machine) {
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
    EnvironmentInfo info{spec.ToString(), spec.backend,
                         spec.device,     versions[spec.backend].dump(),
                         machine.dump(),  machine.value("label", std::string())};
    env_ids.push_back(store.UpsertEnvironment(info));
  }
  return env_ids;
}

// The env a session is prepared for: in-process backends run isolated in a worker when the
// config asks for it (and the env does not say otherwise), with the config's timeout.
EnvSpec SessionSpec(const MatrixConfig& c, const std::string& env) {
  EnvSpec run_spec = EnvSpec::Parse(env);
  bool in_process = run_spec.backend == "ref" || run_spec.backend == "opencv";
  if (c.isolate && in_process && run_spec.Get("host").empty() &&
      !run_spec.options.count("isolate")) {
    run_spec.options["isolate"] = "1";
  }
  if (c.timeout_s > 0 && run_spec.Get("isolate") == "1" && !run_spec.options.count("timeout")) {
    run_spec.options["timeout"] = fmt::format("{}", c.timeout_s);
  }

  return run_spec;
}

// Runs the missing cells of a campaign. One live session per (model, env): prepared before its
// first cell, prepared afresh after a failed cell, recorded as a session row when it ends.
class MatrixRunner {
 public:
  MatrixRunner(const MatrixConfig& c, Store& store, const MatrixProgressFn& progress,
               const MatrixRunOptions& options)
      : c_(c), store_(store), progress_(progress), options_(options), t_start_(Clock::now()) {}

  MatrixSummary Run();

 private:
  // Retires the failed runs of the configuration's cells (retry_failed).
  void RetireFailedCells();
  // Retires the stored runs of each (model, env) whose env now runs another file than its last
  // session did (a direction added or relabelled since), so that they run again.
  void RetireStaleCells();
  // Counts the cells of the configuration and those already in the store.
  void CountCells();
  // The cells of (model, env) that are not in the store yet, in input, repeat order.
  std::vector<Cell> MissingCells(const Planned& p, size_t e) const;
  void RunModelEnv(const Planned& p, size_t e);
  // Prepares a session for (p, e) and runs the first inference, which is measured apart from
  // the cells. On failure session_ stays null and prepare_error_ says why.
  void Prepare(const Planned& p, size_t e, const EnvSpec& run_spec, const Cell& first);
  // Records the live session (with its resource samples and stats) and drops it.
  void FinishSession();
  RunRecord RunCell(const Planned& p, size_t e, const Cell& cell,
                    const std::vector<ValueInfo>& out_infos);
  void Report(const std::string& phase);

  const MatrixConfig& c_;
  Store& store_;
  const MatrixProgressFn& progress_;
  MatrixRunOptions options_;
  Clock::time_point t_start_;
  MatrixSummary summary_;
  MatrixProgress prog_;
  std::vector<Planned> plan_;
  std::vector<int64_t> env_ids_;
  // The live session of the (model, env) being run.
  std::unique_ptr<Session> session_;
  std::unique_ptr<ResourceSampler> sampler_;
  SessionRecord rec_;
  std::string prepare_error_;

  // Whether this shard runs the (model, env) session (sessions are numbered model-major in
  // config order) and the env runs that model at all (EnvApplies).
  bool Owns(const Planned& p, size_t e) const {
    const auto model = static_cast<size_t>(&p - plan_.data());
    return options_.shard.Owns(model * c_.envs.size() + e) &&
           EnvApplies(p.spec, EnvSpec::Parse(c_.envs[e]));
  }
};

MatrixSummary MatrixRunner::Run() {
  std::vector<EnvSpec> specs;
  for (const auto& e : c_.envs) specs.push_back(EnvSpec::Parse(e));
  ValidateEnvs(specs);
  json machine = MachineFingerprint();
  RecordCampaign(c_, store_);
  plan_ = PlanModels(c_, store_, progress_);
  env_ids_ = RecordEnvironments(c_, store_, machine);
  for (const Planned& p : plan_) {
    for (const EnvSpec& spec : specs) summary_.not_applicable += EnvApplies(p.spec, spec) ? 0 : 1;
  }
  RetireStaleCells();
  if (options_.retry_failed) RetireFailedCells();
  CountCells();
  for (const Planned& p : plan_) {
    for (size_t e = 0; e < c_.envs.size(); ++e) {
      if (Owns(p, e)) RunModelEnv(p, e);
    }
  }
  Report("done");
  summary_.seconds = MsSince(t_start_) / 1000.0;
  return summary_;
}

void MatrixRunner::RetireFailedCells() {
  for (const Planned& p : plan_) {
    for (size_t e = 0; e < c_.envs.size(); ++e) {
      if (!Owns(p, e)) continue;
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        for (int r = 0; r < c_.repeats; ++r) {
          summary_.retried += store_.RetireFailedRun(p.model_id, env_ids_[e], p.input_ids[i], r);
        }
      }
    }
  }
}

void MatrixRunner::RetireStaleCells() {
  // (model, env) -> the file its last session was for: its "planned_file" (any status; "" when
  // it had none), else, in stores from before that was recorded, the last ok session's
  // model_file ("@onnx": absent, the ONNX model).
  std::map<std::pair<int64_t, int64_t>, std::string> last_file;
  for (const SessionRecord& rec : store_.Sessions()) {  // by id: the last one wins
    json info = json::parse(rec.info_json, nullptr, false);
    if (!info.is_object()) continue;
    if (info.contains("planned_file")) {
      last_file[{rec.model_id, rec.env_id}] = info["planned_file"].get<std::string>();
    } else if (rec.status == "ok") {
      last_file[{rec.model_id, rec.env_id}] =
          info.contains("model_file") ? info["model_file"].get<std::string>() : "@onnx";
    }
  }
  for (const Planned& p : plan_) {
    for (size_t e = 0; e < c_.envs.size(); ++e) {
      if (!Owns(p, e)) continue;
      auto it = last_file.find({p.model_id, env_ids_[e]});
      if (it == last_file.end()) continue;
      std::string now = FileRunBy(p.spec, EnvSpec::Parse(c_.envs[e]));
      std::string before = it->second == "@onnx" ? p.spec.path.string() : it->second;
      if (now.empty() || now == before) continue;
      summary_.stale += store_.RetireRuns(p.model_id, env_ids_[e],
                                          fmt::format("stale: the env ran {}, now runs {}",
                                                      before.empty() ? "nothing" : before, now));
    }
  }
}

void MatrixRunner::CountCells() {
  for (const Planned& p : plan_) {
    for (size_t e = 0; e < c_.envs.size(); ++e) {
      if (!Owns(p, e)) continue;
      for (size_t i = 0; i < p.inputs.size(); ++i) {
        for (int r = 0; r < c_.repeats; ++r) {
          ++summary_.total;
          if (store_.HasRun(p.model_id, env_ids_[e], p.input_ids[i], r)) {
            ++summary_.existing;
          } else {
            ++prog_.todo;
          }
        }
      }
    }
  }
}

std::vector<Cell> MatrixRunner::MissingCells(const Planned& p, size_t e) const {
  std::vector<Cell> cells;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    if (!options_.input_chunk.Owns(i)) continue;
    for (int r = 0; r < c_.repeats; ++r) {
      if (!store_.HasRun(p.model_id, env_ids_[e], p.input_ids[i], r)) cells.push_back({i, r});
    }
  }
  return cells;
}

void MatrixRunner::Report(const std::string& phase) {
  if (!progress_) return;
  prog_.phase = phase;
  prog_.elapsed_s = MsSince(t_start_) / 1000.0;
  progress_(prog_);
}

void MatrixRunner::RunModelEnv(const Planned& p, size_t e) {
  std::vector<Cell> cells = MissingCells(p, e);
  if (cells.empty()) return;
  std::vector<ValueInfo> out_infos = p.model.Outputs();
  prog_.model = p.spec.name;
  prog_.env = c_.envs[e];
  prog_.input.clear();
  EnvSpec run_spec = SessionSpec(c_, c_.envs[e]);
  prepare_error_.clear();
  bool gave_up = false;  // a failed (re-)prepare is not retried for this (model, env)
  for (const Cell& cell : cells) {
    if (!session_ && !gave_up) {
      Prepare(p, e, run_spec, cells.front());
      gave_up = session_ == nullptr;
    }
    prog_.input = p.inputs[cell.input].name;
    Report("run");
    RunRecord run = RunCell(p, e, cell, out_infos);
    store_.RecordRun(run);
    ++prog_.done;
    if (run.status == "ok") {
      ++summary_.ran;
    } else {
      ++summary_.failed;
      ++prog_.failed;
      // The session may be broken (a crashed worker): prepare afresh for the next cell.
      if (session_) FinishSession();
    }
  }
  FinishSession();
}

void MatrixRunner::Prepare(const Planned& p, size_t e, const EnvSpec& run_spec, const Cell& first) {
  Report("prepare");
  rec_ = SessionRecord();
  rec_.uid = RandomUid();
  rec_.model_id = p.model_id;
  rec_.env_id = env_ids_[e];
  rec_.started_at = NowIso();
  auto t0 = Clock::now();
  json info = json::object();
  // The file this session is for ("" when none: a failed direction), recorded on failure too,
  // so that a later run sees when it changes (RetireStaleCells).
  info["planned_file"] = FileRunBy(p.spec, run_spec);
  rec_.info_json = info.dump();
  try {
    session_ = PrepareForEnv(p.spec, p.model, run_spec, &info);
    rec_.prepare_ms = MsSince(t0);
    rec_.effective_env = session_->effective_env();
    info["transport"] = SessionTransport(*session_);
    int pid = getpid();
    if (auto* w = dynamic_cast<WorkerSession*>(session_.get())) {
      info["prepare"] = w->prepare_info();
      info["hello"] = w->server_hello();
      pid = w->pid();
    } else if (!run_spec.Get("host").empty()) {
      pid = -1;  // remote: sampled by the server's STATS only
    }
    rec_.info_json = info.dump();
    sampler_ = std::make_unique<ResourceSampler>(pid, c_.sample_ms);
    ++summary_.sessions;
  } catch (const Error& err) {
    rec_.prepare_ms = MsSince(t0);
    rec_.status = "error";
    rec_.error = err.what();
    prepare_error_ = "prepare failed: " + std::string(err.what());
    FinishSession();
    return;
  }
  try {
    RunTiming timing;
    session_->Run(p.inputs[first.input].values, &timing);
    rec_.first_run_ms = timing.run_ms;
  } catch (const Error& err) {
    rec_.status = "error";
    rec_.error = err.what();
    prepare_error_ = "first inference failed: " + std::string(err.what());
    FinishSession();
  }
}

void MatrixRunner::FinishSession() {
  if (rec_.uid.empty()) return;
  if (sampler_) rec_.samples = sampler_->Stop();
  sampler_.reset();
  if (session_) {
    try {
      json info = json::parse(rec_.info_json);
      info["stats"] = session_->Stats();
      rec_.info_json = info.dump();
    } catch (const std::exception&) {
      // a dead worker has no stats; the session row is still written
    }
  }
  store_.RecordSession(rec_);
  rec_ = SessionRecord();
  session_.reset();
}

RunRecord MatrixRunner::RunCell(const Planned& p, size_t e, const Cell& cell,
                                const std::vector<ValueInfo>& out_infos) {
  RunRecord run;
  run.model_id = p.model_id;
  run.env_id = env_ids_[e];
  run.input_id = p.input_ids[cell.input];
  run.repeat = cell.repeat;
  run.started_at = NowIso();
  run.prepare_ms = rec_.prepare_ms;
  if (!session_) {
    run.status = "error";
    run.error = prepare_error_;
    return run;
  }
  auto t0 = Clock::now();
  try {
    RunTiming timing;
    std::vector<Value> values = session_->Run(p.inputs[cell.input].values, &timing);
    run.wall_ms = MsSince(t0);
    run.run_ms = timing.run_ms;
    run.outputs = MakeOutputs(values, out_infos, c_);
  } catch (const Error& err) {
    run.wall_ms = MsSince(t0);
    run.status = "error";
    run.error = err.what();
    run.outputs.clear();
  }
  return run;
}

}  // namespace

MatrixSummary RunMatrix(const MatrixConfig& c, Store& store, const MatrixProgressFn& progress,
                        const MatrixRunOptions& options) {
  return MatrixRunner(c, store, progress, options).Run();
}

std::vector<MatrixSession> PlanMatrixSessions(const MatrixConfig& config, Store& store) {
  std::vector<EnvSpec> specs;
  for (const auto& e : config.envs) specs.push_back(EnvSpec::Parse(e));
  RecordCampaign(config, store);
  std::vector<Planned> plan = PlanModels(config, store, nullptr, /*convert=*/false);
  std::vector<MatrixSession> sessions;
  for (const Planned& p : plan) {
    for (const EnvSpec& spec : specs) {
      MatrixSession s;
      s.index = static_cast<int64_t>(sessions.size());
      s.model = p.spec.name;
      s.env = spec.ToString();
      s.repeats = config.repeats;
      if (!EnvApplies(p.spec, spec)) {  // no cells: complete from the start
        sessions.push_back(std::move(s));
        continue;
      }
      for (int64_t input_id : p.input_ids) {
        int stored = 0;
        for (int r = 0; r < config.repeats; ++r) {
          ++s.cells;
          stored += store.HasRunOnAnyMachine(p.model_id, s.env, input_id, r) ? 1 : 0;
        }
        s.stored += stored;
        s.stored_per_input.push_back(stored);
      }
      sessions.push_back(std::move(s));
    }
  }
  return sessions;
}

std::vector<MatrixFailure> SummarizeFailures(Store& store) {
  std::map<int64_t, std::string> models, envs;
  for (const auto& m : store.Models()) models[m.id] = m.name;
  for (const auto& e : store.Environments()) envs[e.id] = e.info.env;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> groups;
  for (const auto& r : store.Runs()) {
    if (r.status != "ok") ++groups[{models[r.model_id], envs[r.env_id], r.error}];
  }
  std::vector<MatrixFailure> out;
  for (const auto& [key, n] : groups) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), n});
  }
  std::stable_sort(out.begin(), out.end(), [](const MatrixFailure& a, const MatrixFailure& b) {
    return a.cells > b.cells;
  });
  return out;
}

}  // namespace concord
