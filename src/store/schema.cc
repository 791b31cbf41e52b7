// The store's schema: the migrations from version 0 (an empty file) to kStoreSchemaVersion, run
// by Store::Open in one transaction with the version bump.
#include "ir/error.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace concord {

using store_internal::Exec;
using store_internal::Statement;
using store_internal::Transaction;

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
    // 3 -> 4: failed runs replaced by a retry (`matrix --retry-failed`) are kept here, so the
    // history of a cell is never lost.
    {
        "CREATE TABLE retried_runs(id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, "
        "env_id INTEGER NOT NULL, input_id INTEGER NOT NULL, repeat INTEGER NOT NULL, "
        "error TEXT NOT NULL, prepare_ms REAL NOT NULL, run_ms REAL NOT NULL, "
        "wall_ms REAL NOT NULL, started_at TEXT NOT NULL, retired_at TEXT NOT NULL)",
    },
    // 4 -> 5: an environment is an env string on one machine (its label: CONCORD_MACHINE_LABEL
    // or the hostname), so merged shards from two machines keep two environments. Each store
    // gets a random uid, and merged_stores lists the stores merged into it, so merging a shard
    // twice never adds its findings, ticks or op coverage twice. The environments table is
    // rebuilt (SQLite cannot drop a UNIQUE constraint); Migrate runs with foreign keys off.
    {
        "CREATE TABLE environments_v5(id INTEGER PRIMARY KEY, env TEXT NOT NULL, "
        "machine TEXT NOT NULL, backend TEXT NOT NULL, device TEXT NOT NULL, "
        "versions_json TEXT NOT NULL, machine_json TEXT NOT NULL, UNIQUE(env, machine))",
        "INSERT INTO environments_v5(id, env, machine, backend, device, versions_json, "
        "machine_json) SELECT id, env, COALESCE(json_extract(machine_json, '$.label'), "
        "json_extract(machine_json, '$.hostname'), ''), backend, device, versions_json, "
        "machine_json FROM environments",
        "DROP TABLE environments",
        "ALTER TABLE environments_v5 RENAME TO environments",
        "INSERT OR REPLACE INTO meta(key, value) VALUES('store_uid', lower(hex(randomblob(16))))",
        "CREATE TABLE merged_stores(uid TEXT PRIMARY KEY)",
    },
    // 5 -> 6: root causes of fuzzing findings; each finding names its cause once clustered
    // (NULL until then: findings of older stores are clustered by the next `concord fuzz`).
    {
        "CREATE TABLE root_causes(id INTEGER PRIMARY KEY, env TEXT NOT NULL, "
        "symptom_class TEXT NOT NULL, nodes_json TEXT NOT NULL, campaign TEXT NOT NULL, "
        "first_seen TEXT NOT NULL, last_seen TEXT NOT NULL)",
        "ALTER TABLE findings ADD COLUMN root_cause INTEGER NULL",
    },
    // 6 -> 7: fuzzing coverage per env and node kind (op, key attributes, dtype): how many tests
    // contained it and how many of those ran clean.
    {
        "CREATE TABLE kind_coverage(env TEXT NOT NULL, kind TEXT NOT NULL, "
        "tested INTEGER NOT NULL, clean INTEGER NOT NULL, PRIMARY KEY(env, kind))",
    },
};
static_assert(kStoreSchemaVersion >= 1);

}  // namespace

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
      Fail(ErrorKind::kInput,
           "results store {}: an SQLite database but not a Concord results "
           "store (no meta table); give a store written by concord or a new file name",
           path_);
    }
    Exec(db_, path_, "CREATE TABLE meta(key TEXT PRIMARY KEY, value)");
  }
  if (version > kStoreSchemaVersion) {
    Fail(ErrorKind::kInput,
         "results store {}: schema version {} is newer than this concord "
         "supports ({}); use a newer concord",
         path_, version, kStoreSchemaVersion);
  }
  for (int v = version; v < kStoreSchemaVersion; ++v) {
    for (const char* sql : kMigrations[static_cast<size_t>(v)]) Exec(db_, path_, sql);
  }
  if (version != 0 && version < kStoreSchemaVersion) {
    // A rebuilt table must still satisfy every reference into it before the commit.
    Statement check(db_, path_, "PRAGMA foreign_key_check");
    if (check.Step()) {
      Fail(ErrorKind::kInput,
           "results store {}: migration from schema {} broke a reference in "
           "table {}; the file is left unchanged",
           path_, version, check.Text(0));
    }
  }
  if (version != kStoreSchemaVersion) {
    Statement set(db_, path_,
                  "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)");
    set.Bind(1, static_cast<int64_t>(kStoreSchemaVersion)).Run();
  }
  tx.Commit();
}

}  // namespace concord
