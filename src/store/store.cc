#include "store/store.h"

#include <map>
#include <optional>

#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "ir/error.h"

namespace concord {
namespace {

// Schema migrations: kMigrations[v] takes a store from version v to v + 1. Each step is a list
// of SQL statements run in the same transaction as the version bump. Never edit a released
// step; append a new one and bump kStoreSchemaVersion.
const std::vector<std::vector<const char*>> kMigrations = {
    // 0 -> 1: the initial schema.
    {
        "CREATE TABLE environments(id INTEGER PRIMARY KEY, env TEXT NOT NULL UNIQUE, "
        "backend TEXT NOT NULL, device TEXT NOT NULL, versions_json TEXT NOT NULL, "
        "machine_json TEXT NOT NULL)",
        "CREATE TABLE models(id INTEGER PRIMARY KEY, path TEXT NOT NULL, "
        "sha256 TEXT NOT NULL UNIQUE, name TEXT NOT NULL)",
        "CREATE TABLE inputs(id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, "
        "description_json TEXT NOT NULL)",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, "
        "model_id INTEGER NOT NULL REFERENCES models(id), "
        "env_id INTEGER NOT NULL REFERENCES environments(id), "
        "input_id INTEGER NOT NULL REFERENCES inputs(id), repeat INTEGER NOT NULL, "
        "status TEXT NOT NULL CHECK(status IN ('ok', 'error')), error TEXT NOT NULL, "
        "prepare_ms REAL NOT NULL, run_ms REAL NOT NULL, wall_ms REAL NOT NULL, "
        "started_at TEXT NOT NULL, UNIQUE(model_id, env_id, input_id, repeat))",
        "CREATE TABLE outputs(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        "idx INTEGER NOT NULL, name TEXT NOT NULL, dtype TEXT NOT NULL, "
        "shape_json TEXT NOT NULL, digest TEXT NOT NULL, topk_json TEXT NOT NULL, "
        "tensor BLOB NULL, PRIMARY KEY(run_id, idx))",
        "CREATE TABLE comparisons(id INTEGER PRIMARY KEY, "
        "run_a INTEGER NOT NULL REFERENCES runs(id), run_b INTEGER NOT NULL REFERENCES runs(id), "
        "output TEXT NOT NULL, metrics_json TEXT NOT NULL)",
        "CREATE TABLE campaign(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    },
    // 1 -> 2: prepared sessions (prepare and first-inference time, what really ran) and the
    // CPU/RAM samples taken while they ran.
    {
        "CREATE TABLE sessions(id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, "
        "model_id INTEGER NOT NULL REFERENCES models(id), "
        "env_id INTEGER NOT NULL REFERENCES environments(id), started_at TEXT NOT NULL, "
        "status TEXT NOT NULL CHECK(status IN ('ok', 'error')), error TEXT NOT NULL, "
        "prepare_ms REAL NOT NULL, first_run_ms REAL NULL, effective_env TEXT NOT NULL, "
        "info_json TEXT NOT NULL)",
        "CREATE TABLE resource_samples(session_id INTEGER NOT NULL REFERENCES sessions(id) "
        "ON DELETE CASCADE, t_ms REAL NOT NULL, cpu_percent REAL NOT NULL, "
        "rss_bytes INTEGER NOT NULL)",
        "CREATE INDEX resource_samples_session ON resource_samples(session_id)",
        "CREATE INDEX comparisons_runs ON comparisons(run_a, run_b)",
    },
    // 2 -> 3: differential fuzzing: findings (deduplicated), throughput ticks, op coverage and
    // per-env operator support.
    {
        "CREATE TABLE findings(id INTEGER PRIMARY KEY, env TEXT NOT NULL, "
        "symptom TEXT NOT NULL, signature TEXT NOT NULL, seed INTEGER NOT NULL, "
        "message TEXT NOT NULL, versions_json TEXT NOT NULL, original_nodes INTEGER NOT NULL, "
        "reduced_nodes INTEGER NOT NULL, model BLOB NULL, inputs BLOB NULL, bundle TEXT NOT NULL, "
        "details_json TEXT NOT NULL, count INTEGER NOT NULL, first_seen TEXT NOT NULL, "
        "last_seen TEXT NOT NULL, UNIQUE(env, symptom, signature))",
        "CREATE TABLE fuzz_ticks(id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, "
        "t_s REAL NOT NULL, models INTEGER NOT NULL, tests INTEGER NOT NULL, "
        "findings INTEGER NOT NULL)",
        "CREATE TABLE op_coverage(op TEXT PRIMARY KEY, models INTEGER NOT NULL)",
        "CREATE TABLE op_support(env TEXT NOT NULL, op TEXT NOT NULL, dtype TEXT NOT NULL, "
        "status TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY(env, op, dtype))",
    },
};
static_assert(kStoreSchemaVersion >= 1);

// SQLite failures that mean "this file is not what you said it is".
bool IsNotAStore(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

[[noreturn]] void FailSqlite(sqlite3* db, const std::string& path, const std::string& what,
                             int rc) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (IsNotAStore(rc)) {
    Fail(ErrorKind::kInput, "results store {}: not an SQLite database ({}); give a store "
         "written by concord or a new file name", path, msg);
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    Fail(ErrorKind::kInput, "results store {}: {} violates a constraint: {}", path, what, msg);
  }
  Fail(ErrorKind::kRuntime, "results store {}: {} failed: {}", path, what, msg);
}

// One prepared statement; finalized by the destructor whatever happens.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) FailSqlite(db, path, std::string("preparing '") + sql + "'", rc);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& Bind(int i, double v) { return Check(sqlite3_bind_double(stmt_, i, v)); }
  Statement& Bind(int i, const std::string& v) {
    return Check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                                   SQLITE_TRANSIENT));
  }
  Statement& BindNull(int i) { return Check(sqlite3_bind_null(stmt_, i)); }
  Statement& BindBlob(int i, const std::optional<std::vector<uint8_t>>& v) {
    if (!v) return Check(sqlite3_bind_null(stmt_, i));
    return Check(sqlite3_bind_blob64(stmt_, i, v->data(), v->size(), SQLITE_TRANSIENT));
  }

  // Returns true while a row is available; false when done.
  bool Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    FailSqlite(db_, path_, std::string("'") + sqlite3_sql(stmt_) + "'", rc);
  }
  void Run() {
    while (Step()) {
    }
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::vector<uint8_t> Blob(int col) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col));
  }

 private:
  Statement& Check(int rc) {
    if (rc != SQLITE_OK) FailSqlite(db_, path_, "binding a parameter", rc);
    return *this;
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

void Exec(sqlite3* db, const std::string& path, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    FailSqlite(db, path, "'" + sql + "'", rc);
  }
}

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless Commit() was reached.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    Exec(db_, path_, "BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void Commit() {
    Exec(db_, path_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};

}  // namespace

std::string TensorDigest(const void* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return fmt::format("{:016x}", h);
}

Store Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Store store(db, path);  // owns db even when open failed (sqlite3_close_v2 accepts it)
  if (rc != SQLITE_OK) {
    Fail(ErrorKind::kInput, "results store {}: cannot open: {}", path,
         db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  // journal_mode is the first statement that reads the file header: a non-SQLite file fails here.
  Exec(db, path, "PRAGMA journal_mode=WAL");
  Exec(db, path, "PRAGMA foreign_keys=ON");
  store.Migrate();
  return store;
}

Store::Store(Store&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Store& Store::operator=(Store&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Store::~Store() { sqlite3_close_v2(db_); }

int Store::SchemaVersion() {
  Statement has_meta(db_, path_,
                     "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'");
  has_meta.Step();
  if (has_meta.Int(0) == 0) return 0;
  Statement v(db_, path_, "SELECT value FROM meta WHERE key='schema_version'");
  if (!v.Step()) return 0;
  return static_cast<int>(v.Int(0));
}

void Store::Migrate() {
  Transaction tx(db_, path_);
  int version = SchemaVersion();
  if (version == 0) {
    Statement tables(db_, path_, "SELECT count(*) FROM sqlite_master WHERE type='table'");
    tables.Step();
    if (tables.Int(0) != 0) {
      Fail(ErrorKind::kInput, "results store {}: an SQLite database but not a Concord results "
           "store (no meta table); give a store written by concord or a new file name", path_);
    }
    Exec(db_, path_, "CREATE TABLE meta(key TEXT PRIMARY KEY, value)");
  }
  if (version > kStoreSchemaVersion) {
    Fail(ErrorKind::kInput, "results store {}: schema version {} is newer than this concord "
         "supports ({}); use a newer concord", path_, version, kStoreSchemaVersion);
  }
  for (int v = version; v < kStoreSchemaVersion; ++v) {
    for (const char* sql : kMigrations[static_cast<size_t>(v)]) Exec(db_, path_, sql);
  }
  if (version != kStoreSchemaVersion) {
    Statement set(db_, path_, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)");
    set.Bind(1, static_cast<int64_t>(kStoreSchemaVersion)).Run();
  }
  tx.Commit();
}

int64_t Store::UpsertEnvironment(const EnvironmentInfo& info) {
  Statement s(db_, path_,
              "INSERT INTO environments(env, backend, device, versions_json, machine_json) "
              "VALUES(?, ?, ?, ?, ?) ON CONFLICT(env) DO UPDATE SET backend=excluded.backend, "
              "device=excluded.device, versions_json=excluded.versions_json, "
              "machine_json=excluded.machine_json RETURNING id");
  s.Bind(1, info.env).Bind(2, info.backend).Bind(3, info.device).Bind(4, info.versions_json)
      .Bind(5, info.machine_json);
  CONCORD_CHECK(s.Step(), "upsert returned no id");
  int64_t id = s.Int(0);
  s.Run();
  return id;
}

int64_t Store::UpsertModel(const std::string& path, const std::string& sha256,
                           const std::string& name) {
  Statement s(db_, path_,
              "INSERT INTO models(path, sha256, name) VALUES(?, ?, ?) ON CONFLICT(sha256) DO "
              "UPDATE SET path=excluded.path, name=excluded.name RETURNING id");
  s.Bind(1, path).Bind(2, sha256).Bind(3, name);
  CONCORD_CHECK(s.Step(), "upsert returned no id");
  int64_t id = s.Int(0);
  s.Run();
  return id;
}

int64_t Store::UpsertInput(const std::string& digest, const std::string& description_json) {
  Statement s(db_, path_,
              "INSERT INTO inputs(digest, description_json) VALUES(?, ?) ON CONFLICT(digest) DO "
              "UPDATE SET description_json=excluded.description_json RETURNING id");
  s.Bind(1, digest).Bind(2, description_json);
  CONCORD_CHECK(s.Step(), "upsert returned no id");
  int64_t id = s.Int(0);
  s.Run();
  return id;
}

bool Store::HasRun(int64_t model_id, int64_t env_id, int64_t input_id, int64_t repeat) {
  Statement s(db_, path_,
              "SELECT 1 FROM runs WHERE model_id=? AND env_id=? AND input_id=? AND repeat=?");
  s.Bind(1, model_id).Bind(2, env_id).Bind(3, input_id).Bind(4, repeat);
  return s.Step();
}

int64_t Store::RecordRun(const RunRecord& run) {
  Transaction tx(db_, path_);
  if (HasRun(run.model_id, run.env_id, run.input_id, run.repeat)) {
    Fail(ErrorKind::kInput, "results store {}: cell (model {}, env {}, input {}, repeat {}) "
         "already has a run; resume logic must skip it (HasRun)", path_, run.model_id,
         run.env_id, run.input_id, run.repeat);
  }
  Statement ins(db_, path_,
                "INSERT INTO runs(model_id, env_id, input_id, repeat, status, error, prepare_ms, "
                "run_ms, wall_ms, started_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, run.model_id).Bind(2, run.env_id).Bind(3, run.input_id).Bind(4, run.repeat)
      .Bind(5, run.status).Bind(6, run.error).Bind(7, run.prepare_ms).Bind(8, run.run_ms)
      .Bind(9, run.wall_ms).Bind(10, run.started_at);
  ins.Run();
  int64_t run_id = sqlite3_last_insert_rowid(db_);
  Statement out(db_, path_,
                "INSERT INTO outputs(run_id, idx, name, dtype, shape_json, digest, topk_json, "
                "tensor) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  for (const OutputRecord& o : run.outputs) {
    out.Reset();
    out.Bind(1, run_id).Bind(2, o.idx).Bind(3, o.name).Bind(4, o.dtype).Bind(5, o.shape_json)
        .Bind(6, o.digest).Bind(7, o.topk_json).BindBlob(8, o.tensor);
    out.Run();
  }
  tx.Commit();
  return run_id;
}

std::vector<RunRow> Store::Runs() {
  Statement s(db_, path_,
              "SELECT r.id, r.model_id, r.env_id, r.input_id, r.repeat, r.status, r.error, "
              "r.prepare_ms, r.run_ms, r.wall_ms, r.started_at, e.env, m.sha256, m.name, "
              "i.digest FROM runs r JOIN environments e ON e.id=r.env_id "
              "JOIN models m ON m.id=r.model_id JOIN inputs i ON i.id=r.input_id ORDER BY r.id");
  std::vector<RunRow> rows;
  while (s.Step()) {
    RunRow r;
    r.id = s.Int(0);
    r.model_id = s.Int(1);
    r.env_id = s.Int(2);
    r.input_id = s.Int(3);
    r.repeat = s.Int(4);
    r.status = s.Text(5);
    r.error = s.Text(6);
    r.prepare_ms = s.Real(7);
    r.run_ms = s.Real(8);
    r.wall_ms = s.Real(9);
    r.started_at = s.Text(10);
    r.env = s.Text(11);
    r.model_sha256 = s.Text(12);
    r.model_name = s.Text(13);
    r.input_digest = s.Text(14);
    rows.push_back(std::move(r));
  }
  return rows;
}

int64_t Store::RunCount() {
  Statement s(db_, path_, "SELECT COUNT(*) FROM runs");
  s.Step();
  return s.Int(0);
}

std::vector<OutputRecord> Store::Outputs(int64_t run_id) {
  Statement s(db_, path_,
              "SELECT idx, name, dtype, shape_json, digest, topk_json, tensor FROM outputs "
              "WHERE run_id=? ORDER BY idx");
  s.Bind(1, run_id);
  std::vector<OutputRecord> outs;
  while (s.Step()) {
    OutputRecord o;
    o.idx = s.Int(0);
    o.name = s.Text(1);
    o.dtype = s.Text(2);
    o.shape_json = s.Text(3);
    o.digest = s.Text(4);
    o.topk_json = s.Text(5);
    if (!s.IsNull(6)) o.tensor = s.Blob(6);
    outs.push_back(std::move(o));
  }
  return outs;
}

void Store::SetCampaignValue(const std::string& key, const std::string& value) {
  Statement s(db_, path_, "INSERT OR REPLACE INTO campaign(key, value) VALUES(?, ?)");
  s.Bind(1, key).Bind(2, value).Run();
}

std::optional<std::string> Store::CampaignValue(const std::string& key) {
  Statement s(db_, path_, "SELECT value FROM campaign WHERE key=?");
  s.Bind(1, key);
  if (!s.Step()) return std::nullopt;
  return s.Text(0);
}

int64_t Store::RecordSession(const SessionRecord& session) {
  Transaction tx(db_, path_);
  Statement ins(db_, path_,
                "INSERT INTO sessions(uid, model_id, env_id, started_at, status, error, "
                "prepare_ms, first_run_ms, effective_env, info_json) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, session.uid).Bind(2, session.model_id).Bind(3, session.env_id)
      .Bind(4, session.started_at).Bind(5, session.status).Bind(6, session.error)
      .Bind(7, session.prepare_ms);
  if (session.first_run_ms) {
    ins.Bind(8, *session.first_run_ms);
  } else {
    ins.BindNull(8);
  }
  ins.Bind(9, session.effective_env).Bind(10, session.info_json);
  ins.Run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  Statement sample(db_, path_,
                   "INSERT INTO resource_samples(session_id, t_ms, cpu_percent, rss_bytes) "
                   "VALUES(?, ?, ?, ?)");
  for (const ResourceSample& r : session.samples) {
    sample.Reset();
    sample.Bind(1, id).Bind(2, r.t_ms).Bind(3, r.cpu_percent).Bind(4, r.rss_bytes).Run();
  }
  tx.Commit();
  return id;
}

std::vector<SessionRecord> Store::Sessions() {
  std::vector<SessionRecord> out;
  std::vector<int64_t> ids;
  {
    Statement s(db_, path_,
                "SELECT id, uid, model_id, env_id, started_at, status, error, prepare_ms, "
                "first_run_ms, effective_env, info_json FROM sessions ORDER BY id");
    while (s.Step()) {
      SessionRecord r;
      ids.push_back(s.Int(0));
      r.uid = s.Text(1);
      r.model_id = s.Int(2);
      r.env_id = s.Int(3);
      r.started_at = s.Text(4);
      r.status = s.Text(5);
      r.error = s.Text(6);
      r.prepare_ms = s.Real(7);
      if (!s.IsNull(8)) r.first_run_ms = s.Real(8);
      r.effective_env = s.Text(9);
      r.info_json = s.Text(10);
      out.push_back(std::move(r));
    }
  }
  Statement samples(db_, path_,
                    "SELECT t_ms, cpu_percent, rss_bytes FROM resource_samples "
                    "WHERE session_id=? ORDER BY t_ms");
  for (size_t i = 0; i < out.size(); ++i) {
    samples.Reset();
    samples.Bind(1, ids[i]);
    while (samples.Step()) {
      out[i].samples.push_back({samples.Real(0), samples.Real(1), samples.Int(2)});
    }
  }
  return out;
}

void Store::ReplaceComparisons(const std::vector<ComparisonRecord>& comparisons) {
  Transaction tx(db_, path_);
  Exec(db_, path_, "DELETE FROM comparisons");
  Statement ins(db_, path_,
                "INSERT INTO comparisons(run_a, run_b, output, metrics_json) VALUES(?, ?, ?, ?)");
  for (const ComparisonRecord& c : comparisons) {
    ins.Reset();
    ins.Bind(1, c.run_a).Bind(2, c.run_b).Bind(3, c.output).Bind(4, c.metrics_json).Run();
  }
  tx.Commit();
}

std::vector<ComparisonRecord> Store::Comparisons() {
  Statement s(db_, path_,
              "SELECT run_a, run_b, output, metrics_json FROM comparisons ORDER BY id");
  std::vector<ComparisonRecord> out;
  while (s.Step()) out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3)});
  return out;
}

std::map<std::string, std::string> Store::CampaignValues() {
  Statement s(db_, path_, "SELECT key, value FROM campaign ORDER BY key");
  std::map<std::string, std::string> out;
  while (s.Step()) out[s.Text(0)] = s.Text(1);
  return out;
}

std::vector<EnvironmentRow> Store::Environments() {
  Statement s(db_, path_,
              "SELECT id, env, backend, device, versions_json, machine_json FROM environments "
              "ORDER BY id");
  std::vector<EnvironmentRow> out;
  while (s.Step()) {
    EnvironmentRow r;
    r.id = s.Int(0);
    r.info.env = s.Text(1);
    r.info.backend = s.Text(2);
    r.info.device = s.Text(3);
    r.info.versions_json = s.Text(4);
    r.info.machine_json = s.Text(5);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<ModelRow> Store::Models() {
  Statement s(db_, path_, "SELECT id, path, sha256, name FROM models ORDER BY id");
  std::vector<ModelRow> out;
  while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3)});
  return out;
}

std::vector<InputRow> Store::Inputs() {
  Statement s(db_, path_, "SELECT id, digest, description_json FROM inputs ORDER BY id");
  std::vector<InputRow> out;
  while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Text(2)});
  return out;
}

bool Store::RecordFinding(const FindingRecord& f, int64_t* id) {
  Transaction tx(db_, path_);
  Statement find(db_, path_, "SELECT id FROM findings WHERE env=? AND symptom=? AND signature=?");
  find.Bind(1, f.env).Bind(2, f.symptom).Bind(3, f.signature);
  if (find.Step()) {
    int64_t existing = find.Int(0);
    find.Reset();
    Statement up(db_, path_, "UPDATE findings SET count=count+1, last_seen=? WHERE id=?");
    up.Bind(1, f.last_seen).Bind(2, existing).Run();
    tx.Commit();
    if (id) *id = existing;
    return false;
  }
  Statement ins(db_, path_,
                "INSERT INTO findings(env, symptom, signature, seed, message, versions_json, "
                "original_nodes, reduced_nodes, model, inputs, bundle, details_json, count, "
                "first_seen, last_seen) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)");
  ins.Bind(1, f.env).Bind(2, f.symptom).Bind(3, f.signature).Bind(4, f.seed).Bind(5, f.message)
      .Bind(6, f.versions_json).Bind(7, f.original_nodes).Bind(8, f.reduced_nodes)
      .BindBlob(9, f.model).BindBlob(10, f.inputs).Bind(11, f.bundle).Bind(12, f.details_json)
      .Bind(13, f.first_seen).Bind(14, f.last_seen);
  ins.Run();
  if (id) *id = sqlite3_last_insert_rowid(db_);
  tx.Commit();
  return true;
}

bool Store::HasFinding(const std::string& env, const std::string& symptom,
                       const std::string& signature) {
  Statement find(db_, path_, "SELECT 1 FROM findings WHERE env=? AND symptom=? AND signature=?");
  find.Bind(1, env).Bind(2, symptom).Bind(3, signature);
  return find.Step();
}

void Store::SetFindingBundle(int64_t id, const std::string& bundle) {
  Statement up(db_, path_, "UPDATE findings SET bundle=? WHERE id=?");
  up.Bind(1, bundle).Bind(2, id).Run();
}

std::vector<FindingRecord> Store::Findings() {
  Statement s(db_, path_,
              "SELECT id, env, symptom, signature, seed, message, versions_json, original_nodes, "
              "reduced_nodes, model, bundle, details_json, count, first_seen, last_seen, inputs "
              "FROM findings ORDER BY id");
  std::vector<FindingRecord> out;
  while (s.Step()) {
    FindingRecord f;
    f.id = s.Int(0);
    f.env = s.Text(1);
    f.symptom = s.Text(2);
    f.signature = s.Text(3);
    f.seed = s.Int(4);
    f.message = s.Text(5);
    f.versions_json = s.Text(6);
    f.original_nodes = s.Int(7);
    f.reduced_nodes = s.Int(8);
    if (!s.IsNull(9)) f.model = s.Blob(9);
    f.bundle = s.Text(10);
    f.details_json = s.Text(11);
    f.count = s.Int(12);
    f.first_seen = s.Text(13);
    f.last_seen = s.Text(14);
    if (!s.IsNull(15)) f.inputs = s.Blob(15);
    out.push_back(std::move(f));
  }
  return out;
}

void Store::RecordFuzzTick(const std::string& campaign, double t_s, int64_t models,
                           int64_t tests, int64_t findings,
                           const std::map<std::string, int64_t>& new_op_counts) {
  Transaction tx(db_, path_);
  Statement ins(db_, path_,
                "INSERT INTO fuzz_ticks(campaign, t_s, models, tests, findings) "
                "VALUES(?, ?, ?, ?, ?)");
  ins.Bind(1, campaign).Bind(2, t_s).Bind(3, models).Bind(4, tests).Bind(5, findings).Run();
  Statement op(db_, path_,
               "INSERT INTO op_coverage(op, models) VALUES(?, ?) "
               "ON CONFLICT(op) DO UPDATE SET models=models+excluded.models");
  for (const auto& [name, n] : new_op_counts) {
    op.Reset();
    op.Bind(1, name).Bind(2, n).Run();
  }
  tx.Commit();
}

std::vector<FuzzTick> Store::FuzzTicks() {
  Statement s(db_, path_,
              "SELECT campaign, t_s, models, tests, findings FROM fuzz_ticks ORDER BY id");
  std::vector<FuzzTick> out;
  while (s.Step()) out.push_back({s.Text(0), s.Real(1), s.Int(2), s.Int(3), s.Int(4)});
  return out;
}

std::map<std::string, int64_t> Store::OpCoverage() {
  Statement s(db_, path_, "SELECT op, models FROM op_coverage ORDER BY op");
  std::map<std::string, int64_t> out;
  while (s.Step()) out[s.Text(0)] = s.Int(1);
  return out;
}

void Store::SetOpSupport(const OpSupportRecord& r) {
  Statement s(db_, path_,
              "INSERT OR REPLACE INTO op_support(env, op, dtype, status, message) "
              "VALUES(?, ?, ?, ?, ?)");
  s.Bind(1, r.env).Bind(2, r.op).Bind(3, r.dtype).Bind(4, r.status).Bind(5, r.message).Run();
}

std::vector<OpSupportRecord> Store::OpSupport() {
  Statement s(db_, path_,
              "SELECT env, op, dtype, status, message FROM op_support ORDER BY env, op, dtype");
  std::vector<OpSupportRecord> out;
  while (s.Step()) out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
  return out;
}

void Store::MergeFrom(const std::string& other_path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(other_path, ec)) {
    Fail(ErrorKind::kInput, "results store {}: cannot merge from {}: no such file", path_,
         other_path);
  }
  struct Detach {  // harmless when nothing was attached
    sqlite3* db;
    ~Detach() { sqlite3_exec(db, "DETACH DATABASE other", nullptr, nullptr, nullptr); }
  } detach{db_};

  // ATTACH, BEGIN and the first read are where a file that is not a database fails: report
  // them as the source's fault, naming it.
  std::optional<Transaction> tx;
  int version = -1;
  try {
    {
      Statement attach(db_, path_, "ATTACH DATABASE ? AS other");
      attach.Bind(1, other_path).Run();
    }
    tx.emplace(db_, path_);
    Statement v(db_, path_, "SELECT value FROM other.meta WHERE key='schema_version'");
    if (v.Step()) version = static_cast<int>(v.Int(0));
  } catch (const Error& e) {
    Fail(ErrorKind::kInput, "cannot merge {} into {}: not a Concord results store ({})",
         other_path, path_, e.what());
  }
  if (version != kStoreSchemaVersion) {
    Fail(ErrorKind::kInput, "cannot merge {} into {}: its schema version is {}, this store's is "
         "{}; open it once with this concord to migrate it", other_path, path_, version,
         kStoreSchemaVersion);
  }
  // "WHERE true" disambiguates the upsert clause after a SELECT (SQLite's documented parse rule).
  Exec(db_, path_,
       "INSERT INTO main.environments(env, backend, device, versions_json, machine_json) "
       "SELECT env, backend, device, versions_json, machine_json FROM other.environments "
       "WHERE true ON CONFLICT(env) DO NOTHING");
  Exec(db_, path_,
       "INSERT INTO main.models(path, sha256, name) SELECT path, sha256, name FROM other.models "
       "WHERE true ON CONFLICT(sha256) DO NOTHING");
  Exec(db_, path_,
       "INSERT INTO main.inputs(digest, description_json) SELECT digest, description_json "
       "FROM other.inputs WHERE true ON CONFLICT(digest) DO NOTHING");
  // The runs to copy, with their cells in this store's ids (cells already here are skipped).
  Exec(db_, path_, "DROP TABLE IF EXISTS temp.merge_runs");
  Exec(db_, path_,
       "CREATE TEMP TABLE merge_runs AS SELECT r.id AS old_id, mm.id AS model_id, "
       "me.id AS env_id, mi.id AS input_id, r.repeat AS repeat FROM other.runs r "
       "JOIN other.models om ON om.id=r.model_id JOIN main.models mm ON mm.sha256=om.sha256 "
       "JOIN other.environments oe ON oe.id=r.env_id JOIN main.environments me ON me.env=oe.env "
       "JOIN other.inputs oi ON oi.id=r.input_id JOIN main.inputs mi ON mi.digest=oi.digest "
       "WHERE NOT EXISTS (SELECT 1 FROM main.runs x WHERE x.model_id=mm.id AND x.env_id=me.id "
       "AND x.input_id=mi.id AND x.repeat=r.repeat)");
  Exec(db_, path_,
       "INSERT INTO main.runs(model_id, env_id, input_id, repeat, status, error, prepare_ms, "
       "run_ms, wall_ms, started_at) SELECT t.model_id, t.env_id, t.input_id, t.repeat, "
       "r.status, r.error, r.prepare_ms, r.run_ms, r.wall_ms, r.started_at "
       "FROM temp.merge_runs t JOIN other.runs r ON r.id=t.old_id ORDER BY r.id");
  Exec(db_, path_,
       "INSERT INTO main.outputs(run_id, idx, name, dtype, shape_json, digest, topk_json, tensor) "
       "SELECT n.id, o.idx, o.name, o.dtype, o.shape_json, o.digest, o.topk_json, o.tensor "
       "FROM temp.merge_runs t JOIN other.outputs o ON o.run_id=t.old_id "
       "JOIN main.runs n ON n.model_id=t.model_id AND n.env_id=t.env_id "
       "AND n.input_id=t.input_id AND n.repeat=t.repeat");
  Exec(db_, path_, "DROP TABLE temp.merge_runs");
  // Sessions are keyed by their uid; their samples come with them.
  Exec(db_, path_,
       "INSERT INTO main.sessions(uid, model_id, env_id, started_at, status, error, prepare_ms, "
       "first_run_ms, effective_env, info_json) SELECT s.uid, mm.id, me.id, s.started_at, "
       "s.status, s.error, s.prepare_ms, s.first_run_ms, s.effective_env, s.info_json "
       "FROM other.sessions s JOIN other.models om ON om.id=s.model_id "
       "JOIN main.models mm ON mm.sha256=om.sha256 JOIN other.environments oe ON oe.id=s.env_id "
       "JOIN main.environments me ON me.env=oe.env "
       "WHERE NOT EXISTS (SELECT 1 FROM main.sessions x WHERE x.uid=s.uid) ORDER BY s.id");
  Exec(db_, path_,
       "INSERT INTO main.resource_samples(session_id, t_ms, cpu_percent, rss_bytes) "
       "SELECT n.id, r.t_ms, r.cpu_percent, r.rss_bytes FROM other.resource_samples r "
       "JOIN other.sessions o ON o.id=r.session_id JOIN main.sessions n ON n.uid=o.uid "
       "WHERE NOT EXISTS (SELECT 1 FROM main.resource_samples y WHERE y.session_id=n.id)");
  // Findings: one per (env, symptom, signature); counts add up, the first seen is kept.
  Exec(db_, path_,
       "INSERT INTO main.findings(env, symptom, signature, seed, message, versions_json, "
       "original_nodes, reduced_nodes, model, inputs, bundle, details_json, count, first_seen, "
       "last_seen) SELECT env, symptom, signature, seed, message, versions_json, original_nodes, "
       "reduced_nodes, model, inputs, bundle, details_json, count, first_seen, last_seen "
       "FROM other.findings WHERE true ON CONFLICT(env, symptom, signature) DO UPDATE SET "
       "count=count+excluded.count, last_seen=max(last_seen, excluded.last_seen)");
  Exec(db_, path_,
       "INSERT INTO main.fuzz_ticks(campaign, t_s, models, tests, findings) "
       "SELECT campaign, t_s, models, tests, findings FROM other.fuzz_ticks ORDER BY id");
  Exec(db_, path_,
       "INSERT INTO main.op_coverage(op, models) SELECT op, models FROM other.op_coverage "
       "WHERE true ON CONFLICT(op) DO UPDATE SET models=models+excluded.models");
  Exec(db_, path_,
       "INSERT OR IGNORE INTO main.op_support(env, op, dtype, status, message) "
       "SELECT env, op, dtype, status, message FROM other.op_support");
  tx->Commit();
}

}  // namespace concord
