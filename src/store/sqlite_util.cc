#include "store/sqlite_util.h"

#include "ir/error.h"

namespace concord::store_internal {

bool IsNotAStore(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

[[noreturn]] void FailSqlite(sqlite3* db, const std::string& path, const std::string& what,
                             int rc) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (IsNotAStore(rc)) {
    Fail(ErrorKind::kInput,
         "results store {}: not an SQLite database ({}); give a store "
         "written by concord or a new file name",
         path, msg);
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    Fail(ErrorKind::kInput, "results store {}: {} violates a constraint: {}", path, what, msg);
  }
  Fail(ErrorKind::kRuntime, "results store {}: {} failed: {}", path, what, msg);
}

void Exec(sqlite3* db, const std::string& path, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    FailSqlite(db, path, "'" + sql + "'", rc);
  }
}

}  // namespace concord::store_internal
