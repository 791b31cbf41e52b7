// Opening and closing a store, and the rows every campaign shares: environments, models, inputs,
// campaign keys and comparisons.
#include "store/store.h"

#include <utility>

#include "ir/error.h"
#include "store/sqlite_util.h"

namespace concord {

using store_internal::Exec;
using store_internal::ReadAll;
using store_internal::Statement;
using store_internal::Transaction;

namespace {

EnvironmentRow ReadEnvironment(Statement& s) {
  EnvironmentRow r;
  r.id = s.Int(0);
  r.info.env = s.Text(1);
  r.info.backend = s.Text(2);
  r.info.device = s.Text(3);
  r.info.versions_json = s.Text(4);
  r.info.machine_json = s.Text(5);
  r.info.machine = s.Text(6);
  return r;
}

ModelRow ReadModel(Statement& s) { return {s.Int(0), s.Text(1), s.Text(2), s.Text(3)}; }

InputRow ReadInput(Statement& s) { return {s.Int(0), s.Text(1), s.Text(2)}; }

ComparisonRecord ReadComparison(Statement& s) { return {s.Int(0), s.Int(1), s.Text(2), s.Text(3)}; }

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
  // Foreign keys go on after the migration: a step that rebuilds a table (4 -> 5) drops the
  // referenced table first, which SQLite allows only with them off (its documented recipe).
  store.Migrate();
  Exec(db, path, "PRAGMA foreign_keys=ON");
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

int64_t Store::UpsertEnvironment(const EnvironmentInfo& info) {
  Statement s(db_, path_,
              "INSERT INTO environments(env, backend, device, versions_json, machine_json, "
              "machine) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(env, machine) DO UPDATE SET "
              "backend=excluded.backend, "
              "device=excluded.device, versions_json=excluded.versions_json, "
              "machine_json=excluded.machine_json RETURNING id");
  s.Bind(1, info.env)
      .Bind(2, info.backend)
      .Bind(3, info.device)
      .Bind(4, info.versions_json)
      .Bind(5, info.machine_json)
      .Bind(6, info.machine);
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

std::map<std::string, std::string> Store::CampaignValues() {
  Statement s(db_, path_, "SELECT key, value FROM campaign ORDER BY key");
  std::map<std::string, std::string> out;
  while (s.Step()) out[s.Text(0)] = s.Text(1);
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
  Statement s(db_, path_, "SELECT run_a, run_b, output, metrics_json FROM comparisons ORDER BY id");
  std::vector<ComparisonRecord> out;
  while (s.Step()) out.push_back(ReadComparison(s));
  return out;
}

std::vector<EnvironmentRow> Store::Environments() {
  Statement s(db_, path_,
              "SELECT id, env, backend, device, versions_json, machine_json, machine FROM "
              "environments "
              "ORDER BY id");
  std::vector<EnvironmentRow> out;
  while (s.Step()) out.push_back(ReadEnvironment(s));
  return out;
}

std::string Store::Uid() {
  Statement s(db_, path_, "SELECT value FROM meta WHERE key='store_uid'");
  CONCORD_CHECK(s.Step(), "a migrated store has a uid");
  return s.Text(0);
}

std::vector<ModelRow> Store::Models() {
  Statement s(db_, path_, "SELECT id, path, sha256, name FROM models ORDER BY id");
  std::vector<ModelRow> out;
  while (s.Step()) out.push_back(ReadModel(s));
  return out;
}

std::vector<InputRow> Store::Inputs() {
  Statement s(db_, path_, "SELECT id, digest, description_json FROM inputs ORDER BY id");
  std::vector<InputRow> out;
  while (s.Step()) out.push_back(ReadInput(s));
  return out;
}

}  // namespace concord
