// Thin RAII wrappers over SQLite for the results store: a prepared Statement finalized by its
// destructor, a Transaction rolled back unless committed, and Exec for plain SQL. Every failure
// is a concord::Error naming the store file (see FailSqlite for the kinds). Used by the store's
// own files only; like the Store, not thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace concord::store_internal {

// SQLite failures that mean "this file is not what you said it is".
bool IsNotAStore(int rc);

// Throws Error naming `path`: kInput when the file is not a database (IsNotAStore) or `what`
// violates a constraint, kRuntime otherwise.
[[noreturn]] void FailSqlite(sqlite3* db, const std::string& path, const std::string& what, int rc);

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
    return Check(
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
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

// Runs every row of `s` through `read` (one row reader per record type) and collects them.
template <typename Read>
auto ReadAll(Statement& s, Read read) -> std::vector<decltype(read(s))> {
  std::vector<decltype(read(s))> rows;
  while (s.Step()) rows.push_back(read(s));
  return rows;
}

// Runs one or more SQL statements without results.
void Exec(sqlite3* db, const std::string& path, const std::string& sql);

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

}  // namespace concord::store_internal
