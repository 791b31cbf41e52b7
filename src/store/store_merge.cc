// Store::MergeFrom: copies another store of the same schema version into this one through
// ATTACH, remapping ids through the unique keys, in one transaction.
#include <filesystem>
#include <optional>

#include "ir/error.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace concord {

using store_internal::Exec;
using store_internal::Statement;
using store_internal::Transaction;

namespace {

// Overlapping cells of the attached store `other` with main: pairs of runs of the same
// (model, env, input, repeat), grouped by cell; a cell differs when a pair's status differs or
// an output index is missing on one side or has another digest.
constexpr const char* kOverlapSql =
    "SELECT COALESCE(NULLIF(mm.name, ''), mm.path), me.env, mi.digest, MAX(r.status IS NOT "
    "x.status OR EXISTS (SELECT 1 FROM other.outputs o WHERE o.run_id=r.id AND NOT EXISTS "
    "(SELECT 1 FROM main.outputs p WHERE p.run_id=x.id AND p.idx=o.idx AND p.digest IS "
    "o.digest)) OR EXISTS (SELECT 1 FROM main.outputs p WHERE p.run_id=x.id AND NOT EXISTS "
    "(SELECT 1 FROM other.outputs o WHERE o.run_id=r.id AND o.idx=p.idx))) AS differs "
    "FROM other.runs r JOIN other.models om ON om.id=r.model_id "
    "JOIN main.models mm ON mm.sha256=om.sha256 JOIN other.environments oe ON oe.id=r.env_id "
    "JOIN main.environments me ON me.env=oe.env AND me.machine=oe.machine JOIN other.inputs oi ON "
    "oi.id=r.input_id "
    "JOIN main.inputs mi ON mi.digest=oi.digest JOIN main.runs x ON x.model_id=mm.id "
    "AND x.env_id=me.id AND x.input_id=mi.id AND x.repeat=r.repeat "
    "GROUP BY mm.id, me.id, mi.id ORDER BY differs DESC, mm.id, me.id, mi.id";

void CountOverlap(sqlite3* db, const std::string& path, MergeStats* stats) {
  Statement q(db, path, kOverlapSql);
  while (q.Step()) {
    MergeOverlap o{q.Text(0), q.Text(1), q.Text(2), q.Int(3) != 0};
    ++stats->overlapping_cells;
    if (o.outputs_differ) ++stats->differing_cells;
    if (stats->examples.size() < kMergeExamples) stats->examples.push_back(std::move(o));
  }
}

int64_t CountRuns(sqlite3* db, const std::string& path) {
  Statement q(db, path, "SELECT count(*) FROM main.runs");
  return q.Step() ? q.Int(0) : 0;
}

// Whether the attached store's fuzz rows are already here: its uid is this store's own or one
// merged before, or every store merged into it is. A partial overlap cannot be split: refused
// when the attached store has fuzz rows.
bool FuzzAlreadyMerged(sqlite3* db, const std::string& path, const std::string& other_path) {
  constexpr const char* kKnown =
      "(SELECT value FROM main.meta WHERE key='store_uid' UNION SELECT uid FROM "
      "main.merged_stores)";
  const std::string sql = fmt::format(
      "SELECT (SELECT count(*) FROM other.meta WHERE key='store_uid' AND "
      "value IN {0}), (SELECT count(*) FROM other.merged_stores WHERE uid IN "
      "{0}), (SELECT count(*) FROM other.merged_stores), (SELECT "
      "(SELECT count(*) FROM other.findings) + (SELECT count(*) FROM "
      "other.fuzz_ticks) + (SELECT count(*) FROM other.op_coverage) + (SELECT count(*) FROM "
      "other.kind_coverage))",
      kKnown);
  Statement q(db, path, sql.c_str());
  q.Step();
  const bool self_known = q.Int(0) > 0;
  const int64_t known = q.Int(1), total = q.Int(2), fuzz_rows = q.Int(3);
  if (self_known || (total > 0 && known == total)) return true;
  if (known > 0 && fuzz_rows > 0) {
    Fail(ErrorKind::kInput,
         "cannot merge {} into {}: it holds {} of the {} stores it was merged from that are "
         "already merged here, so its fuzz counts would be added twice; merge the shard "
         "stores themselves (each once)",
         other_path, path, known, total);
  }
  return false;
}

// Findings (one per (env, symptom, signature): counts add up, the first bundle is kept), ticks,
// op coverage and op support of the attached store, once per source store.
void MergeFuzzOnce(sqlite3* db, const std::string& path, const std::string& other_path,
                   MergeStats* stats) {
  if (FuzzAlreadyMerged(db, path, other_path)) {
    stats->fuzz_already_merged = true;
    return;
  }
  Statement before(db, path, "SELECT count(*) FROM main.findings");
  before.Step();
  const int64_t findings_before = before.Int(0);
  const char* kSql[] = {
      "INSERT INTO main.findings(env, symptom, signature, seed, message, versions_json, "
      "original_nodes, reduced_nodes, model, inputs, bundle, details_json, count, first_seen, "
      "last_seen) SELECT env, symptom, signature, seed, message, versions_json, original_nodes, "
      "reduced_nodes, model, inputs, bundle, details_json, count, first_seen, last_seen "
      "FROM other.findings WHERE true ON CONFLICT(env, symptom, signature) DO UPDATE SET "
      "count=count+excluded.count, last_seen=max(last_seen, excluded.last_seen)",
      "INSERT INTO main.fuzz_ticks(campaign, t_s, models, tests, findings) "
      "SELECT campaign, t_s, models, tests, findings FROM other.fuzz_ticks ORDER BY id",
      "INSERT INTO main.op_coverage(op, models) SELECT op, models FROM other.op_coverage "
      "WHERE true ON CONFLICT(op) DO UPDATE SET models=models+excluded.models",
      "INSERT INTO main.kind_coverage(env, kind, tested, clean) SELECT env, kind, tested, "
      "clean FROM other.kind_coverage WHERE true ON CONFLICT(env, kind) DO UPDATE SET "
      "tested=tested+excluded.tested, clean=clean+excluded.clean",
      "INSERT OR IGNORE INTO main.op_support(env, op, dtype, status, message) "
      "SELECT env, op, dtype, status, message FROM other.op_support",
      "INSERT OR IGNORE INTO main.merged_stores(uid) SELECT value FROM other.meta "
      "WHERE key='store_uid' UNION SELECT uid FROM other.merged_stores",
  };
  for (const char* sql : kSql) Exec(db, path, sql);
  Statement after(db, path, "SELECT count(*) FROM main.findings");
  after.Step();
  stats->findings_added = after.Int(0) - findings_before;
}

}  // namespace

MergeStats Store::MergeFrom(const std::string& other_path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(other_path, ec)) {
    Fail(ErrorKind::kInput, "results store {}: cannot merge from {}: no such file", path_,
         other_path);
  }
  if (std::filesystem::equivalent(other_path, path_, ec)) {
    Fail(ErrorKind::kInput, "results store {}: cannot merge {} into itself (the same file)", path_,
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
    Fail(ErrorKind::kInput, "cannot merge {} into {}: not a Concord results store ({})", other_path,
         path_, e.what());
  }
  if (version != kStoreSchemaVersion) {
    Fail(ErrorKind::kInput,
         "cannot merge {} into {}: its schema version is {}, this store's is "
         "{}; open it once with this concord to migrate it",
         other_path, path_, version, kStoreSchemaVersion);
  }
  // "WHERE true" disambiguates the upsert clause after a SELECT (SQLite's documented parse rule).
  Exec(db_, path_,
       "INSERT INTO main.environments(env, machine, backend, device, versions_json, "
       "machine_json) SELECT env, machine, backend, device, versions_json, machine_json "
       "FROM other.environments WHERE true ON CONFLICT(env, machine) DO NOTHING");
  Exec(db_, path_,
       "INSERT INTO main.models(path, sha256, name) SELECT path, sha256, name FROM other.models "
       "WHERE true ON CONFLICT(sha256) DO NOTHING");
  Exec(db_, path_,
       "INSERT INTO main.inputs(digest, description_json) SELECT digest, description_json "
       "FROM other.inputs WHERE true ON CONFLICT(digest) DO NOTHING");
  MergeStats stats;
  CountOverlap(db_, path_, &stats);
  const int64_t runs_before = CountRuns(db_, path_);
  // The runs to copy, with their cells in this store's ids (cells already here are skipped).
  Exec(db_, path_, "DROP TABLE IF EXISTS temp.merge_runs");
  Exec(db_, path_,
       "CREATE TEMP TABLE merge_runs AS SELECT r.id AS old_id, mm.id AS model_id, "
       "me.id AS env_id, mi.id AS input_id, r.repeat AS repeat FROM other.runs r "
       "JOIN other.models om ON om.id=r.model_id JOIN main.models mm ON mm.sha256=om.sha256 "
       "JOIN other.environments oe ON oe.id=r.env_id JOIN main.environments me ON me.env=oe.env "
       "AND me.machine=oe.machine "
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
  stats.runs_added = CountRuns(db_, path_) - runs_before;
  // Sessions are keyed by their uid; their samples come with them.
  Exec(db_, path_,
       "INSERT INTO main.sessions(uid, model_id, env_id, started_at, status, error, prepare_ms, "
       "first_run_ms, effective_env, info_json) SELECT s.uid, mm.id, me.id, s.started_at, "
       "s.status, s.error, s.prepare_ms, s.first_run_ms, s.effective_env, s.info_json "
       "FROM other.sessions s JOIN other.models om ON om.id=s.model_id "
       "JOIN main.models mm ON mm.sha256=om.sha256 JOIN other.environments oe ON oe.id=s.env_id "
       "JOIN main.environments me ON me.env=oe.env AND me.machine=oe.machine "
       "WHERE NOT EXISTS (SELECT 1 FROM main.sessions x WHERE x.uid=s.uid) ORDER BY s.id");
  Exec(db_, path_,
       "INSERT INTO main.resource_samples(session_id, t_ms, cpu_percent, rss_bytes) "
       "SELECT n.id, r.t_ms, r.cpu_percent, r.rss_bytes FROM other.resource_samples r "
       "JOIN other.sessions o ON o.id=r.session_id JOIN main.sessions n ON n.uid=o.uid "
       "WHERE NOT EXISTS (SELECT 1 FROM main.resource_samples y WHERE y.session_id=n.id)");
  // A matrix model's conversion records (campaign "conversion/SHA/LABEL": the report's
  // conversion table) travel with its cells; a record already here is kept.
  Exec(db_, path_,
       "INSERT INTO main.campaign(key, value) SELECT key, value FROM other.campaign "
       "WHERE key LIKE 'conversion/%' ON CONFLICT(key) DO NOTHING");
  MergeFuzzOnce(db_, path_, other_path, &stats);
  tx->Commit();
  return stats;
}

}  // namespace concord
