// The results store: one SQLite file (WAL mode) holding environments, models, inputs, runs, their
// outputs (digest, top-k, optionally the tensor bytes), comparisons and campaign fingerprints.
//
// Ownership: a Store owns one sqlite3 connection; it is movable, not copyable, and closes the
// connection when destroyed. Every prepared statement lives in an RAII Statement (sqlite_util.h),
// so no SQLite handle leaks when an Error propagates.
// Threading: one connection, NOT thread-safe; use one Store per thread (or per process: shards
// write their own files and are combined with MergeFrom). Other processes may read the same file
// concurrently (WAL; a 5 s busy timeout covers short write locks).
// Durability: every write (Upsert*, RecordRun, MergeFrom, SetCampaignValue) is one transaction;
// a process killed mid-write leaves the file as of the last commit, so a campaign resumes by
// asking HasRun for each cell.
// Failures: all failures are concord::Error naming the store file. kInput: the file is not
// SQLite / not a Concord store, its schema version is newer than this build knows, a duplicate
// run cell or output index, a missing merge source. kRuntime: any other SQLite failure (disk
// full, I/O error, lock timeout). Nothing is partially written on failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace concord {

// Schema version written by this build; older stores are migrated on Open.
inline constexpr int kStoreSchemaVersion = 7;

// An environment is an env string on one machine: (env, machine) is the unique key, so the same
// env string run on two machines stays two environments after a merge.
struct EnvironmentInfo {
  std::string env;  // the environment string, e.g. "ref" or "ort@cpu"
  std::string backend;
  std::string device;
  std::string versions_json;  // library versions reported by the backend
  std::string machine_json;   // host description
  std::string machine;        // machine label (see MachineLabel in campaign/host_info.h)
};

struct OutputRecord {
  int64_t idx = 0;  // position among the model's outputs; unique per run
  std::string name;
  std::string dtype;
  std::string shape_json;
  std::string digest;                          // TensorDigest of the tensor bytes
  std::string topk_json;                       // may be empty
  std::optional<std::vector<uint8_t>> tensor;  // stored as a BLOB when present, NULL otherwise
};

struct RunRecord {
  int64_t model_id = 0;
  int64_t env_id = 0;
  int64_t input_id = 0;
  int64_t repeat = 0;
  std::string status = "ok";  // "ok" or "error"
  std::string error;          // message when status == "error"
  double prepare_ms = 0;
  double run_ms = 0;
  double wall_ms = 0;
  std::string started_at;  // ISO-8601 UTC
  std::vector<OutputRecord> outputs;
};

// A run as read back for analysis, joined with the keys of its cell.
struct RunRow {
  int64_t id = 0;
  int64_t model_id = 0;
  int64_t env_id = 0;
  int64_t input_id = 0;
  int64_t repeat = 0;
  std::string status;
  std::string error;
  double prepare_ms = 0;
  double run_ms = 0;
  double wall_ms = 0;
  std::string started_at;
  std::string env;           // environments.env
  std::string machine;       // environments.machine
  std::string model_sha256;  // models.sha256
  std::string model_name;
  std::string input_digest;  // inputs.digest
};

// CPU and memory use of the process running a session, sampled while it ran.
struct ResourceSample {
  double t_ms = 0;         // since the session was prepared
  double cpu_percent = 0;  // over the last sampling interval; 100 = one core busy
  int64_t rss_bytes = 0;
};

// One prepared (model, env) session of a campaign: how long Prepare took, the first inference
// (kept apart from the steady-state latencies), what actually ran, and resource samples. A
// campaign that resumes prepares a new session, so a (model, env) may have several; `uid` is
// random and unique across stores so merges keep each exactly once.
struct SessionRecord {
  std::string uid;
  int64_t model_id = 0;
  int64_t env_id = 0;
  std::string started_at;
  std::string status = "ok";  // "error": Prepare failed (error says why)
  std::string error;
  double prepare_ms = 0;
  std::optional<double> first_run_ms;
  std::string effective_env;
  std::string info_json = "{}";  // the backend's prepare info and final STATS
  std::vector<ResourceSample> samples;
};

// A comparison of one output between two runs (written by the analysis; metrics as JSON).
struct ComparisonRecord {
  int64_t run_a = 0;
  int64_t run_b = 0;
  std::string output;
  std::string metrics_json;
};

// A fuzzing finding, deduplicated by (env, symptom, signature): the signature is the sorted op
// types of the reduced model (NNSmith-style dedup); `count` says how often it was hit.
struct FindingRecord {
  int64_t id = 0;
  std::string env;
  std::string symptom;  // "crash" | "timeout" | "error" | "inconsistent" | "perf" |
                        // "undefined" (a divergence spec-undefined behaviour explains)
  std::string signature;
  int64_t seed = 0;  // generator seed of the model it was found on
  std::string message;
  std::string versions_json;
  int64_t original_nodes = 0;
  int64_t reduced_nodes = 0;
  std::optional<std::vector<uint8_t>> model;   // the reduced model's bytes
  std::optional<std::vector<uint8_t>> inputs;  // its inputs as .npz bytes
  std::string bundle;                          // repro folder
  std::string details_json = "{}";
  int64_t count = 1;
  std::string first_seen, last_seen;
  std::optional<int64_t> root_cause;  // root_causes.id, once clustered
};

// A root cause: findings of one env and symptom class whose reduced repros' node kinds contain
// this cause's (campaign/fuzz_oracle.h). `campaign` and `first_seen` are of the first finding
// that raised it, so a later campaign can tell a known cause from a new one.
struct RootCauseRecord {
  int64_t id = 0;
  std::string env, symptom_class;
  std::string nodes_json = "[]";  // sorted node kinds
  std::string campaign;
  std::string first_seen, last_seen;
};

struct FuzzTick {
  std::string campaign;
  double t_s = 0;
  int64_t models = 0, tests = 0, findings = 0;  // cumulative at t_s
};

// Whether an env accepts an (op, dtype) pair: "ok" | "unsupported" | "error".
struct OpSupportRecord {
  std::string env, op, dtype, status, message;
};

struct EnvironmentRow {
  int64_t id = 0;
  EnvironmentInfo info;
};
struct ModelRow {
  int64_t id = 0;
  std::string path, sha256, name;
};
struct InputRow {
  int64_t id = 0;
  std::string digest, description_json;
};

// 64-bit FNV-1a of the bytes as 16 lowercase hex digits. Stable across platforms and builds, but
// NOT cryptographic: it detects accidental differences between outputs, not tampering.
std::string TensorDigest(const void* data, size_t size);

// One cell (model, env, input) that both stores of a merge hold a run of.
struct MergeOverlap {
  std::string model;  // the model's name (path when unnamed)
  std::string env;
  std::string input;            // input digest
  bool outputs_differ = false;  // a run's status or an output digest differs
};

inline constexpr size_t kMergeExamples = 5;

struct MergeStats {
  int64_t runs_added = 0;
  int64_t findings_added = 0;        // new (env, symptom, signature) rows
  bool fuzz_already_merged = false;  // the source's fuzz rows were here already: none copied
  int64_t overlapping_cells = 0;
  int64_t differing_cells = 0;         // overlapping cells whose outputs differ
  std::vector<MergeOverlap> examples;  // differing cells first, at most kMergeExamples
};

// Node-kind coverage of fuzzing, per env (schema 7).
struct KindCoverageRecord {
  std::string env, kind;
  int64_t tested = 0, clean = 0;
};
using KindCounts = std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>>;

class Store {
 public:
  // Creates the file if absent, or opens and migrates an existing store. Throws Error(kInput)
  // naming `path` if it is not an SQLite file, not a Concord store, or has a newer schema.
  static Store Open(const std::string& path);

  Store(Store&& other) noexcept;
  Store& operator=(Store&& other) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  const std::string& path() const { return path_; }
  int SchemaVersion();
  // A random id given to the store when it was created (or migrated to schema 5); a copy of
  // the file keeps it. MergeFrom uses it to merge each store's fuzz rows at most once.
  std::string Uid();

  // Insert-or-update keyed by env / sha256 / digest; return the row id (stable across updates).
  int64_t UpsertEnvironment(const EnvironmentInfo& info);
  int64_t UpsertModel(const std::string& path, const std::string& sha256, const std::string& name);
  int64_t UpsertInput(const std::string& digest, const std::string& description_json);

  bool HasRun(int64_t model_id, int64_t env_id, int64_t input_id, int64_t repeat);
  // Whether the cell has a run in any environment with this env string, whatever its machine
  // (a campaign resumed from another machine than the one that ran it).
  bool HasRunOnAnyMachine(int64_t model_id, const std::string& env, int64_t input_id,
                          int64_t repeat);
  // Writes the run row and all its outputs in one transaction and returns the run id. A cell
  // (model, env, input, repeat) that already has a run, or two outputs with the same idx, is
  // Error(kInput) and leaves the store unchanged.
  int64_t RecordRun(const RunRecord& run);
  // For a retry: moves the cell's run to the retried_runs history if its status is "error"
  // (comparisons that used it are dropped), so the cell can be recorded again; one
  // transaction. Returns whether a failed run was retired (false: no run, or it was ok).
  bool RetireFailedRun(int64_t model_id, int64_t env_id, int64_t input_id, int64_t repeat);
  // Moves every run of (model, env), ok or not, to the retried_runs history with `reason` as
  // its error (comparisons that used them are dropped, outputs deleted), so the cells can be
  // recorded again; one transaction. Returns how many runs were retired.
  int64_t RetireRuns(int64_t model_id, int64_t env_id, const std::string& reason);
  int64_t RetriedRunCount();
  std::vector<RunRow> Runs();  // ordered by id
  int64_t RunCount();
  std::vector<OutputRecord> Outputs(int64_t run_id);  // ordered by idx

  // One transaction: the session row and all its samples.
  int64_t RecordSession(const SessionRecord& session);
  std::vector<SessionRecord> Sessions();  // ordered by id, samples by time

  // Replaces every comparison in one transaction (the analysis recomputes them all).
  void ReplaceComparisons(const std::vector<ComparisonRecord>& comparisons);
  std::vector<ComparisonRecord> Comparisons();

  std::vector<EnvironmentRow> Environments();  // ordered by id
  std::vector<ModelRow> Models();
  std::vector<InputRow> Inputs();
  std::map<std::string, std::string> CampaignValues();

  // Fuzzing. RecordFinding inserts a new finding (returns true) or bumps the count of the one
  // with the same (env, symptom, signature) (returns false); `id` receives its id.
  bool RecordFinding(const FindingRecord& finding, int64_t* id = nullptr);
  bool HasFinding(const std::string& env, const std::string& symptom, const std::string& signature);
  void SetFindingBundle(int64_t id, const std::string& bundle);
  void SetFindingDetails(int64_t id, const std::string& details_json);
  // A finding re-judged as another symptom (a wrong value now seen to be a boundary effect).
  // When the store already holds (env, symptom, signature), this finding's hits fold into that
  // one (count added, last_seen the later) and this row goes; returns the surviving id.
  int64_t RelabelFinding(int64_t id, const std::string& symptom);
  std::vector<FindingRecord> Findings();
  // Root causes. AddRootCause returns the new id; SetRootCauseNodes narrows a cause to a smaller
  // repro's node kinds; MergeRootCause moves every finding of `from` to `into` (which keeps the
  // earlier first_seen/campaign of the two) and deletes `from`.
  std::vector<RootCauseRecord> RootCauses();
  int64_t AddRootCause(const RootCauseRecord& cause);
  void SetRootCauseNodes(int64_t id, const std::string& nodes_json, const std::string& last_seen);
  void TouchRootCause(int64_t id, const std::string& last_seen);
  void MergeRootCause(int64_t from, int64_t into);
  void SetFindingRootCause(int64_t finding_id, int64_t root_cause_id);
  // Every root cause deleted and every finding unassigned (to cluster again from scratch).
  void ClearRootCauses();
  // One transaction: a throughput tick, the op-type counts of the models since the last one and
  // the node kinds each env was tested on since then ((env, kind) -> {tested, ran clean}).
  void RecordFuzzTick(const std::string& campaign, double t_s, int64_t models, int64_t tests,
                      int64_t findings, const std::map<std::string, int64_t>& new_op_counts,
                      const KindCounts& new_kind_counts = {});
  std::vector<FuzzTick> FuzzTicks();
  std::map<std::string, int64_t> OpCoverage();
  // Per env: every node kind ("Op[attr=value]:dtype", RootCauseNodes' spelling) its tests
  // contained, with how many tests had it and how many of those ran clean.
  std::vector<KindCoverageRecord> KindCoverage();
  void SetOpSupport(const OpSupportRecord& record);
  std::vector<OpSupportRecord> OpSupport();

  void SetCampaignValue(const std::string& key, const std::string& value);
  std::optional<std::string> CampaignValue(const std::string& key);

  // Copies environments, models, inputs, runs and outputs from the store at `other_path` (same
  // schema version required), remapping ids through the unique keys (an environment is its
  // (env, machine) pair); cells already present here are skipped; sessions (with their samples)
  // are copied once by uid. Fuzz rows are copied once per source store (by Uid): findings add
  // their counts to the same (env, symptom, signature) and keep the first bundle, ticks are
  // appended, op coverage counts add up, op support keeps the first verdict. A store already
  // merged here (itself, or as part of another merged store) adds no fuzz rows again; a store
  // that holds some but not all of what was merged here is Error(kInput), since its fuzz counts
  // cannot be split (merge the shards themselves instead). One transaction: all or nothing.
  // Comparisons and campaign keys are not copied. Error(kInput) when `other_path` is this
  // store's own file (by fs::equivalent). Returns the runs added and the overlap: cells
  // (model, env, input) holding a run of the same repeat on both sides, and how many of those
  // differ in status or in any output digest (the first kMergeExamples listed).
  MergeStats MergeFrom(const std::string& other_path);

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void Migrate();

  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace concord
