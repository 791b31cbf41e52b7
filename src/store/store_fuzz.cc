// Fuzzing rows: findings deduplicated by (env, symptom, signature), throughput ticks, op-type
// coverage and per-env (op, dtype) support.
#include <map>

#include "ir/error.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace concord {

using store_internal::Exec;
using store_internal::ReadAll;
using store_internal::Statement;
using store_internal::Transaction;

namespace {

FindingRecord ReadFinding(Statement& s) {
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
  if (!s.IsNull(16)) f.root_cause = s.Int(16);
  return f;
}

RootCauseRecord ReadRootCause(Statement& s) {
  return {s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6)};
}

FuzzTick ReadFuzzTick(Statement& s) { return {s.Text(0), s.Real(1), s.Int(2), s.Int(3), s.Int(4)}; }

OpSupportRecord ReadOpSupport(Statement& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)};
}

}  // namespace

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
  ins.Bind(1, f.env)
      .Bind(2, f.symptom)
      .Bind(3, f.signature)
      .Bind(4, f.seed)
      .Bind(5, f.message)
      .Bind(6, f.versions_json)
      .Bind(7, f.original_nodes)
      .Bind(8, f.reduced_nodes)
      .BindBlob(9, f.model)
      .BindBlob(10, f.inputs)
      .Bind(11, f.bundle)
      .Bind(12, f.details_json)
      .Bind(13, f.first_seen)
      .Bind(14, f.last_seen);
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

void Store::SetFindingDetails(int64_t id, const std::string& details_json) {
  Statement up(db_, path_, "UPDATE findings SET details_json=? WHERE id=?");
  up.Bind(1, details_json).Bind(2, id).Run();
}

int64_t Store::RelabelFinding(int64_t id, const std::string& symptom) {
  Transaction tx(db_, path_);
  Statement other(db_, path_,
                  "SELECT o.id FROM findings o JOIN findings f ON o.env=f.env AND o.signature="
                  "f.signature WHERE f.id=?1 AND o.symptom=?2 AND o.id<>?1");
  other.Bind(1, id).Bind(2, symptom);
  if (other.Step()) {
    int64_t into = other.Int(0);
    other.Reset();
    Statement fold(db_, path_,
                   "UPDATE findings SET count=count+(SELECT count FROM findings WHERE id=?1), "
                   "last_seen=max(last_seen, (SELECT last_seen FROM findings WHERE id=?1)) "
                   "WHERE id=?2");
    fold.Bind(1, id).Bind(2, into).Run();
    Statement del(db_, path_, "DELETE FROM findings WHERE id=?");
    del.Bind(1, id).Run();
    tx.Commit();
    return into;
  }
  Statement up(db_, path_, "UPDATE findings SET symptom=? WHERE id=?");
  up.Bind(1, symptom).Bind(2, id).Run();
  tx.Commit();
  return id;
}

std::vector<FindingRecord> Store::Findings() {
  Statement s(db_, path_,
              "SELECT id, env, symptom, signature, seed, message, versions_json, original_nodes, "
              "reduced_nodes, model, bundle, details_json, count, first_seen, last_seen, inputs, "
              "root_cause FROM findings ORDER BY id");
  return ReadAll(s, ReadFinding);
}

std::vector<RootCauseRecord> Store::RootCauses() {
  Statement s(db_, path_,
              "SELECT id, env, symptom_class, nodes_json, campaign, first_seen, last_seen "
              "FROM root_causes ORDER BY id");
  return ReadAll(s, ReadRootCause);
}

int64_t Store::AddRootCause(const RootCauseRecord& c) {
  Statement ins(db_, path_,
                "INSERT INTO root_causes(env, symptom_class, nodes_json, campaign, first_seen, "
                "last_seen) VALUES(?, ?, ?, ?, ?, ?)");
  ins.Bind(1, c.env)
      .Bind(2, c.symptom_class)
      .Bind(3, c.nodes_json)
      .Bind(4, c.campaign)
      .Bind(5, c.first_seen)
      .Bind(6, c.last_seen)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::SetRootCauseNodes(int64_t id, const std::string& nodes_json,
                              const std::string& last_seen) {
  Statement up(db_, path_, "UPDATE root_causes SET nodes_json=?, last_seen=? WHERE id=?");
  up.Bind(1, nodes_json).Bind(2, last_seen).Bind(3, id).Run();
}

void Store::TouchRootCause(int64_t id, const std::string& last_seen) {
  Statement up(db_, path_, "UPDATE root_causes SET last_seen=max(last_seen, ?) WHERE id=?");
  up.Bind(1, last_seen).Bind(2, id).Run();
}

void Store::MergeRootCause(int64_t from, int64_t into) {
  if (from == into) return;
  Transaction tx(db_, path_);
  Statement keep(db_, path_,
                 "UPDATE root_causes SET (campaign, first_seen) = (SELECT campaign, first_seen "
                 "FROM root_causes WHERE id=?1) WHERE id=?2 AND first_seen > (SELECT first_seen "
                 "FROM root_causes WHERE id=?1)");
  keep.Bind(1, from).Bind(2, into).Run();
  Statement last(db_, path_,
                 "UPDATE root_causes SET last_seen=max(last_seen, (SELECT last_seen FROM "
                 "root_causes WHERE id=?1)) WHERE id=?2");
  last.Bind(1, from).Bind(2, into).Run();
  Statement move(db_, path_, "UPDATE findings SET root_cause=? WHERE root_cause=?");
  move.Bind(1, into).Bind(2, from).Run();
  Statement del(db_, path_, "DELETE FROM root_causes WHERE id=?");
  del.Bind(1, from).Run();
  tx.Commit();
}

void Store::ClearRootCauses() {
  Transaction tx(db_, path_);
  Exec(db_, path_, "UPDATE findings SET root_cause=NULL");
  Exec(db_, path_, "DELETE FROM root_causes");
  tx.Commit();
}

void Store::SetFindingRootCause(int64_t finding_id, int64_t root_cause_id) {
  Statement up(db_, path_, "UPDATE findings SET root_cause=? WHERE id=?");
  up.Bind(1, root_cause_id).Bind(2, finding_id).Run();
}

void Store::RecordFuzzTick(const std::string& campaign, double t_s, int64_t models, int64_t tests,
                           int64_t findings, const std::map<std::string, int64_t>& new_op_counts,
                           const KindCounts& new_kind_counts) {
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
  Statement kind(db_, path_,
                 "INSERT INTO kind_coverage(env, kind, tested, clean) VALUES(?, ?, ?, ?) "
                 "ON CONFLICT(env, kind) DO UPDATE SET tested=tested+excluded.tested, "
                 "clean=clean+excluded.clean");
  for (const auto& [key, counts] : new_kind_counts) {
    kind.Reset();
    kind.Bind(1, key.first).Bind(2, key.second).Bind(3, counts.first).Bind(4, counts.second).Run();
  }
  tx.Commit();
}

std::vector<KindCoverageRecord> Store::KindCoverage() {
  Statement s(db_, path_, "SELECT env, kind, tested, clean FROM kind_coverage ORDER BY env, kind");
  std::vector<KindCoverageRecord> out;
  while (s.Step()) out.push_back({s.Text(0), s.Text(1), s.Int(2), s.Int(3)});
  return out;
}

std::vector<FuzzTick> Store::FuzzTicks() {
  Statement s(db_, path_,
              "SELECT campaign, t_s, models, tests, findings FROM fuzz_ticks ORDER BY id");
  return ReadAll(s, ReadFuzzTick);
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
  return ReadAll(s, ReadOpSupport);
}

}  // namespace concord
