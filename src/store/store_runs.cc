// Runs with their outputs, and sessions with their resource samples: what a matrix campaign
// records cell by cell, each write one transaction.

#include "ir/clock.h"
#include "ir/error.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace concord {

using store_internal::Exec;
using store_internal::ReadAll;
using store_internal::Statement;
using store_internal::Transaction;

namespace {

RunRow ReadRunRow(Statement& s) {
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
  r.machine = s.Text(15);
  return r;
}

OutputRecord ReadOutput(Statement& s) {
  OutputRecord o;
  o.idx = s.Int(0);
  o.name = s.Text(1);
  o.dtype = s.Text(2);
  o.shape_json = s.Text(3);
  o.digest = s.Text(4);
  o.topk_json = s.Text(5);
  if (!s.IsNull(6)) o.tensor = s.Blob(6);
  return o;
}

// A session row (without its samples) and its row id.
std::pair<int64_t, SessionRecord> ReadSession(Statement& s) {
  SessionRecord r;
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
  return {s.Int(0), std::move(r)};
}

ResourceSample ReadSample(Statement& s) { return {s.Real(0), s.Real(1), s.Int(2)}; }

}  // namespace

bool Store::HasRun(int64_t model_id, int64_t env_id, int64_t input_id, int64_t repeat) {
  Statement s(db_, path_,
              "SELECT 1 FROM runs WHERE model_id=? AND env_id=? AND input_id=? AND repeat=?");
  s.Bind(1, model_id).Bind(2, env_id).Bind(3, input_id).Bind(4, repeat);
  return s.Step();
}

bool Store::HasRunOnAnyMachine(int64_t model_id, const std::string& env, int64_t input_id,
                               int64_t repeat) {
  Statement s(db_, path_,
              "SELECT 1 FROM runs r JOIN environments e ON e.id=r.env_id WHERE r.model_id=? AND "
              "e.env=? AND r.input_id=? AND r.repeat=?");
  s.Bind(1, model_id).Bind(2, env).Bind(3, input_id).Bind(4, repeat);
  return s.Step();
}

int64_t Store::RecordRun(const RunRecord& run) {
  Transaction tx(db_, path_);
  if (HasRun(run.model_id, run.env_id, run.input_id, run.repeat)) {
    Fail(ErrorKind::kInput,
         "results store {}: cell (model {}, env {}, input {}, repeat {}) "
         "already has a run; resume logic must skip it (HasRun)",
         path_, run.model_id, run.env_id, run.input_id, run.repeat);
  }
  Statement ins(db_, path_,
                "INSERT INTO runs(model_id, env_id, input_id, repeat, status, error, prepare_ms, "
                "run_ms, wall_ms, started_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, run.model_id)
      .Bind(2, run.env_id)
      .Bind(3, run.input_id)
      .Bind(4, run.repeat)
      .Bind(5, run.status)
      .Bind(6, run.error)
      .Bind(7, run.prepare_ms)
      .Bind(8, run.run_ms)
      .Bind(9, run.wall_ms)
      .Bind(10, run.started_at);
  ins.Run();
  int64_t run_id = sqlite3_last_insert_rowid(db_);
  Statement out(db_, path_,
                "INSERT INTO outputs(run_id, idx, name, dtype, shape_json, digest, topk_json, "
                "tensor) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  for (const OutputRecord& o : run.outputs) {
    out.Reset();
    out.Bind(1, run_id)
        .Bind(2, o.idx)
        .Bind(3, o.name)
        .Bind(4, o.dtype)
        .Bind(5, o.shape_json)
        .Bind(6, o.digest)
        .Bind(7, o.topk_json)
        .BindBlob(8, o.tensor);
    out.Run();
  }
  tx.Commit();
  return run_id;
}

std::vector<RunRow> Store::Runs() {
  Statement s(db_, path_,
              "SELECT r.id, r.model_id, r.env_id, r.input_id, r.repeat, r.status, r.error, "
              "r.prepare_ms, r.run_ms, r.wall_ms, r.started_at, e.env, m.sha256, m.name, "
              "i.digest, e.machine FROM runs r JOIN environments e ON e.id=r.env_id "
              "JOIN models m ON m.id=r.model_id JOIN inputs i ON i.id=r.input_id ORDER BY r.id");
  return ReadAll(s, ReadRunRow);
}

bool Store::RetireFailedRun(int64_t model_id, int64_t env_id, int64_t input_id, int64_t repeat) {
  Transaction tx(db_, path_);
  Statement find(db_, path_,
                 "SELECT id FROM runs WHERE model_id=? AND env_id=? AND input_id=? AND "
                 "repeat=? AND status='error'");
  find.Bind(1, model_id).Bind(2, env_id).Bind(3, input_id).Bind(4, repeat);
  if (!find.Step()) return false;
  int64_t id = find.Int(0);
  Statement keep(db_, path_,
                 "INSERT INTO retried_runs(model_id, env_id, input_id, repeat, error, "
                 "prepare_ms, run_ms, wall_ms, started_at, retired_at) SELECT model_id, env_id, "
                 "input_id, repeat, error, prepare_ms, run_ms, wall_ms, started_at, ? FROM runs "
                 "WHERE id=?");
  keep.Bind(1, NowIso()).Bind(2, id).Run();
  Statement uses(db_, path_, "DELETE FROM comparisons WHERE run_a=? OR run_b=?");
  uses.Bind(1, id).Bind(2, id).Run();
  Statement drop(db_, path_, "DELETE FROM runs WHERE id=?");
  drop.Bind(1, id).Run();
  tx.Commit();
  return true;
}

int64_t Store::RetireRuns(int64_t model_id, int64_t env_id, const std::string& reason) {
  Transaction tx(db_, path_);
  Statement keep(db_, path_,
                 "INSERT INTO retried_runs(model_id, env_id, input_id, repeat, error, "
                 "prepare_ms, run_ms, wall_ms, started_at, retired_at) SELECT model_id, env_id, "
                 "input_id, repeat, ?, prepare_ms, run_ms, wall_ms, started_at, ? FROM runs "
                 "WHERE model_id=? AND env_id=?");
  keep.Bind(1, reason).Bind(2, NowIso()).Bind(3, model_id).Bind(4, env_id).Run();
  Statement uses(db_, path_,
                 "DELETE FROM comparisons WHERE run_a IN (SELECT id FROM runs WHERE model_id=? "
                 "AND env_id=?) OR run_b IN (SELECT id FROM runs WHERE model_id=? AND env_id=?)");
  uses.Bind(1, model_id).Bind(2, env_id).Bind(3, model_id).Bind(4, env_id).Run();
  Statement drop(db_, path_, "DELETE FROM runs WHERE model_id=? AND env_id=?");
  drop.Bind(1, model_id).Bind(2, env_id).Run();
  int64_t n = sqlite3_changes(db_);
  tx.Commit();
  return n;
}

int64_t Store::RetriedRunCount() {
  Statement s(db_, path_, "SELECT COUNT(*) FROM retried_runs");
  s.Step();
  return s.Int(0);
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
  return ReadAll(s, ReadOutput);
}

int64_t Store::RecordSession(const SessionRecord& session) {
  Transaction tx(db_, path_);
  Statement ins(db_, path_,
                "INSERT INTO sessions(uid, model_id, env_id, started_at, status, error, "
                "prepare_ms, first_run_ms, effective_env, info_json) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  ins.Bind(1, session.uid)
      .Bind(2, session.model_id)
      .Bind(3, session.env_id)
      .Bind(4, session.started_at)
      .Bind(5, session.status)
      .Bind(6, session.error)
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
  std::vector<std::pair<int64_t, SessionRecord>> rows;
  {
    Statement s(db_, path_,
                "SELECT id, uid, model_id, env_id, started_at, status, error, prepare_ms, "
                "first_run_ms, effective_env, info_json FROM sessions ORDER BY id");
    rows = ReadAll(s, ReadSession);
  }
  Statement samples(db_, path_,
                    "SELECT t_ms, cpu_percent, rss_bytes FROM resource_samples "
                    "WHERE session_id=? ORDER BY t_ms");
  std::vector<SessionRecord> out;
  for (auto& [id, session] : rows) {
    samples.Reset();
    samples.Bind(1, id);
    session.samples = ReadAll(samples, ReadSample);
    out.push_back(std::move(session));
  }
  return out;
}

}  // namespace concord
