// The results store on real SQLite files in a temporary folder: reopening, schema versions, bad
// files, transactional RecordRun, unique cells, merging shards, and a writer killed mid-commit
// (a forked child that _exit()s inside a transaction).
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "ir/error.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  std::string File(const std::string& name) { return (dir_ / name).string(); }

  test::TempDir tmp_{"concord_store_test"};
  fs::path dir_ = tmp_.path();
};

struct Ids {
  int64_t model, env, input;
};

Ids AddKeys(Store& s, const std::string& env = "ref") {
  Ids ids;
  ids.env = s.UpsertEnvironment({env, env, "cpu", R"({"v":"1"})", R"({"host":"h"})", "h"});
  ids.model = s.UpsertModel("m.onnx", "sha-m", "m");
  ids.input = s.UpsertInput("in-0", R"({"seed":0})");
  return ids;
}

RunRecord MakeRun(const Ids& ids, int64_t repeat, int outputs = 2) {
  RunRecord r;
  r.model_id = ids.model;
  r.env_id = ids.env;
  r.input_id = ids.input;
  r.repeat = repeat;
  r.prepare_ms = 1.5;
  r.run_ms = 2.5;
  r.wall_ms = 4.0;
  r.started_at = "2026-11-22T00:00:00Z";
  for (int i = 0; i < outputs; ++i) {
    OutputRecord o;
    o.idx = i;
    o.name = fmt::format("out{}", i);
    o.dtype = "float32";
    o.shape_json = "[1,2]";
    std::vector<uint8_t> bytes = {static_cast<uint8_t>(i),     1, 2, 3, 4, 5, 6,
                                  static_cast<uint8_t>(repeat)};
    o.digest = TensorDigest(bytes.data(), bytes.size());
    if (i == 0) o.tensor = bytes;
    r.outputs.push_back(o);
  }
  return r;
}

int64_t CountRows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &st, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST(TensorDigest, KnownFnv1aValues) {
  // Published FNV-1a 64 test vectors: "" and "a".
  EXPECT_EQ(TensorDigest("", 0), "cbf29ce484222325");
  EXPECT_EQ(TensorDigest("a", 1), "af63dc4c8601ec8c");
  EXPECT_EQ(TensorDigest("foobar", 6), "85944171f73967e8");
}

TEST_F(StoreTest, CreateAndReopenKeepsData) {
  std::string path = File("a.db");
  int64_t run_id;
  {
    Store s = Store::Open(path);
    EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
    Ids ids = AddKeys(s);
    run_id = s.RecordRun(MakeRun(ids, 0));
    s.SetCampaignValue("config", "fp-1");
    // Upserts are idempotent on their keys and keep the id.
    EXPECT_EQ(s.UpsertModel("elsewhere/m.onnx", "sha-m", "m2"), ids.model);
    EXPECT_EQ(s.UpsertEnvironment({"ref", "ref", "cpu", "{}", "{}", "h"}), ids.env);
    EXPECT_EQ(s.UpsertInput("in-0", "{}"), ids.input);
    EXPECT_NE(s.UpsertInput("in-1", "{}"), ids.input);
  }
  Store s = Store::Open(path);
  std::vector<RunRow> runs = s.Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, run_id);
  EXPECT_EQ(runs[0].env, "ref");
  EXPECT_EQ(runs[0].model_sha256, "sha-m");
  EXPECT_EQ(runs[0].model_name, "m2");
  EXPECT_EQ(runs[0].input_digest, "in-0");
  EXPECT_EQ(runs[0].status, "ok");
  EXPECT_DOUBLE_EQ(runs[0].run_ms, 2.5);
  std::vector<OutputRecord> outs = s.Outputs(run_id);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[1].name, "out1");
  ASSERT_TRUE(outs[0].tensor.has_value());
  EXPECT_EQ(outs[0].tensor->size(), 8u);
  EXPECT_FALSE(outs[1].tensor.has_value());
  EXPECT_EQ(s.CampaignValue("config"), "fp-1");
  EXPECT_EQ(s.CampaignValue("absent"), std::nullopt);
}

TEST_F(StoreTest, NewerSchemaIsRejected) {
  std::string path = File("new.db");
  { Store::Open(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value=99 WHERE key='schema_version'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    Store::Open(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("99"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, EmptyFileBecomesANewStore) {
  // An empty file is an SQLite database at version 0: the migrations run from the start.
  std::string path = File("empty.db");
  std::ofstream(path).close();
  Store s = Store::Open(path);
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  EXPECT_TRUE(s.Runs().empty());
}

TEST_F(StoreTest, NonSqliteFileIsAClearInputError) {
  std::string path = File("notes.txt");
  std::ofstream(path) << "this is not a database, just some text that is long enough to have "
                         "a header of a hundred bytes or so............................\n";
  try {
    Store::Open(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not an SQLite database"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, ForeignSqliteDatabaseIsRejected) {
  std::string path = File("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    Store::Open(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("not a Concord results store"), std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, RecordRunIsAllOrNothing) {
  std::string path = File("atomic.db");
  Store s = Store::Open(path);
  Ids ids = AddKeys(s);
  RunRecord bad = MakeRun(ids, 0, 3);
  bad.outputs[2].idx = 1;  // duplicate (run_id, idx): the third output insert fails
  try {
    s.RecordRun(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
  }
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 0));
  EXPECT_TRUE(s.Runs().empty());
  EXPECT_EQ(CountRows(path, "runs"), 0);
  EXPECT_EQ(CountRows(path, "outputs"), 0);
  // The connection is usable afterwards and the same cell can be recorded properly.
  int64_t id = s.RecordRun(MakeRun(ids, 0, 3));
  EXPECT_EQ(s.Outputs(id).size(), 3u);
}

TEST_F(StoreTest, UniqueCellAndHasRun) {
  Store s = Store::Open(File("cells.db"));
  Ids ids = AddKeys(s);
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 0));
  int64_t first = s.RecordRun(MakeRun(ids, 0));
  EXPECT_TRUE(s.HasRun(ids.model, ids.env, ids.input, 0));
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 1));
  try {
    s.RecordRun(MakeRun(ids, 0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("repeat 0"), std::string::npos) << e.what();
  }
  RunRecord failed = MakeRun(ids, 1, 0);
  failed.status = "error";
  failed.error = "shape mismatch";
  int64_t second = s.RecordRun(failed);
  EXPECT_NE(first, second);
  std::vector<RunRow> runs = s.Runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].status, "error");
  EXPECT_EQ(runs[1].error, "shape mismatch");
  EXPECT_EQ(s.Outputs(first).size(), 2u);  // the rejected duplicate added no outputs
}

TEST_F(StoreTest, RetireFailedRunKeepsHistoryAndFreesTheCell) {
  Store s = Store::Open(File("retry.db"));
  Ids ids = AddKeys(s);
  s.RecordRun(MakeRun(ids, 0));
  RunRecord failed = MakeRun(ids, 1, 0);
  failed.status = "error";
  failed.error = "connection refused";
  s.RecordRun(failed);
  EXPECT_FALSE(s.RetireFailedRun(ids.model, ids.env, ids.input, 0));  // ok runs stay
  EXPECT_FALSE(s.RetireFailedRun(ids.model, ids.env, ids.input, 7));  // no run at all
  EXPECT_TRUE(s.RetireFailedRun(ids.model, ids.env, ids.input, 1));
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 1));
  EXPECT_TRUE(s.HasRun(ids.model, ids.env, ids.input, 0));
  EXPECT_EQ(s.RetriedRunCount(), 1);
  s.RecordRun(MakeRun(ids, 1));  // the cell records again
  ASSERT_EQ(s.Runs().size(), 2u);
  EXPECT_EQ(s.Runs()[1].status, "ok");
  EXPECT_FALSE(s.RetireFailedRun(ids.model, ids.env, ids.input, 1));
  EXPECT_EQ(s.RetriedRunCount(), 1);
}

TEST_F(StoreTest, RetireRunsMovesEveryRunOfAModelEnvWithItsOutputsAndComparisons) {
  Store s = Store::Open(File("stale.db"));
  Ids ids = AddKeys(s);
  Ids other = ids;
  other.env = s.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", "{}", "h"});
  int64_t a = s.RecordRun(MakeRun(ids, 0));
  s.RecordRun(MakeRun(ids, 1));
  int64_t b = s.RecordRun(MakeRun(other, 0));
  s.ReplaceComparisons({{a, b, "y", "{}"}});
  EXPECT_EQ(s.RetireRuns(ids.model, ids.env, "stale: the env ran x.onnx, now runs x.xml"), 2);
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 0));
  EXPECT_FALSE(s.HasRun(ids.model, ids.env, ids.input, 1));
  EXPECT_TRUE(s.HasRun(other.model, other.env, other.input, 0));  // another env's run stays
  EXPECT_TRUE(s.Comparisons().empty());
  EXPECT_TRUE(s.Outputs(a).empty());
  EXPECT_EQ(s.RetriedRunCount(), 2);
  EXPECT_EQ(s.RetireRuns(ids.model, ids.env, "again"), 0);
  s.RecordRun(MakeRun(ids, 0));  // the cell records again
  EXPECT_TRUE(s.HasRun(ids.model, ids.env, ids.input, 0));
}

TEST_F(StoreTest, MergeYieldsUnionWithRemappedIds) {
  std::string a_path = File("a.db"), b_path = File("b.db");
  {
    Store a = Store::Open(a_path);
    Ids ids = AddKeys(a, "ref");
    a.RecordRun(MakeRun(ids, 0));
    a.RecordRun(MakeRun(ids, 1));
  }
  {
    Store b = Store::Open(b_path);
    // Different insertion order so b's ids differ from a's for the same keys.
    b.UpsertInput("in-extra", "{}");
    b.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", "{}", "h"});
    Ids ids = AddKeys(b, "ref");
    Ids ort = ids;
    ort.env = b.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", "{}", "h"});
    RunRecord overlap = MakeRun(ids, 1);
    overlap.run_ms = 999;  // the overlapping cell: a's copy must win
    b.RecordRun(overlap);
    b.RecordRun(MakeRun(ids, 2));
    b.RecordRun(MakeRun(ort, 0, 3));
  }
  Store a = Store::Open(a_path);
  a.MergeFrom(b_path);
  a.MergeFrom(b_path);  // merging again adds nothing
  std::vector<RunRow> runs = a.Runs();
  ASSERT_EQ(runs.size(), 4u);
  std::set<std::tuple<std::string, std::string, std::string, int64_t>> cells;
  for (const RunRow& r : runs) {
    cells.insert({r.env, r.model_sha256, r.input_digest, r.repeat});
    if (r.env == "ref" && r.repeat == 1) {
      EXPECT_DOUBLE_EQ(r.run_ms, 2.5);
    }
    // Ids point at this store's rows with matching keys.
    EXPECT_EQ(r.env_id,
              a.UpsertEnvironment({r.env, r.env == "ref" ? "ref" : "ort", "cpu", "{}", "{}", "h"}));
    EXPECT_EQ(r.input_id, a.UpsertInput(r.input_digest, "{}"));
  }
  EXPECT_EQ(cells.size(), 4u);
  EXPECT_TRUE(cells.count({"ort@cpu", "sha-m", "in-0", 0}));
  EXPECT_TRUE(cells.count({"ref", "sha-m", "in-0", 2}));
  EXPECT_EQ(CountRows(a_path, "environments"), 2);
  EXPECT_EQ(CountRows(a_path, "inputs"), 2);
  EXPECT_EQ(CountRows(a_path, "models"), 1);
  EXPECT_EQ(CountRows(a_path, "outputs"), 2 + 2 + 2 + 3);
  for (const RunRow& r : runs) {
    std::vector<OutputRecord> outs = a.Outputs(r.id);
    ASSERT_EQ(outs.size(), r.env == "ort@cpu" ? 3u : 2u) << r.env << " " << r.repeat;
    ASSERT_TRUE(outs[0].tensor.has_value());
    EXPECT_EQ(outs[0].digest, TensorDigest(outs[0].tensor->data(), outs[0].tensor->size()));
  }
}

// Overlap: cells (model, env, input) with a run of the same repeat on both sides are counted,
// and those whose outputs differ (another digest) are told apart from identical ones.
TEST_F(StoreTest, MergeReportsOverlappingCellsAndWhetherOutputsDiffered) {
  std::string a_path = File("a.db"), b_path = File("b.db");
  {
    Store a = Store::Open(a_path);
    Ids ids = AddKeys(a, "ref");
    a.RecordRun(MakeRun(ids, 0));
    Ids ort = AddKeys(a, "ort@cpu");
    a.RecordRun(MakeRun(ort, 0));
  }
  {
    Store b = Store::Open(b_path);
    Ids ids = AddKeys(b, "ref");
    b.RecordRun(MakeRun(ids, 0));  // same cell, same outputs
    Ids ort = AddKeys(b, "ort@cpu");
    RunRecord other = MakeRun(ort, 0);
    other.outputs[1].digest = "another-digest";  // same cell, other output
    b.RecordRun(other);
    ids.input = b.UpsertInput("in-new", "{}");
    b.RecordRun(MakeRun(ids, 0));  // a new cell
  }
  Store a = Store::Open(a_path);
  MergeStats s = a.MergeFrom(b_path);
  EXPECT_EQ(s.runs_added, 1);
  EXPECT_EQ(s.overlapping_cells, 2);
  EXPECT_EQ(s.differing_cells, 1);
  ASSERT_EQ(s.examples.size(), 2u);
  EXPECT_TRUE(s.examples[0].outputs_differ);  // differing cells are listed first
  EXPECT_EQ(s.examples[0].env, "ort@cpu");
  EXPECT_EQ(s.examples[0].model, "m");
  EXPECT_EQ(s.examples[0].input, "in-0");
  EXPECT_FALSE(s.examples[1].outputs_differ);
  EXPECT_EQ(s.examples[1].env, "ref");
  MergeStats again = a.MergeFrom(b_path);  // everything overlaps now
  EXPECT_EQ(again.runs_added, 0);
  EXPECT_EQ(again.overlapping_cells, 3);
  EXPECT_EQ(again.differing_cells, 1);
}

TEST_F(StoreTest, MergeIntoItselfIsRefused) {
  std::string path = File("self.db");
  Store a = Store::Open(path);
  Ids ids = AddKeys(a);
  a.RecordRun(MakeRun(ids, 0));
  for (const std::string& other :
       {path, (fs::path(path).parent_path() / "." / "self.db").string()}) {
    try {
      a.MergeFrom(other);
      FAIL() << "expected an error for " << other;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(std::string(e.what()).find("into itself"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(a.RunCount(), 1);
}

TEST_F(StoreTest, MergeCarriesConversionRecordsAndKeepsTheFirst) {
  Store a = Store::Open(File("conv_a.db"));
  a.SetCampaignValue("conversion/sha1/torch", "{\"status\":\"ok\"}");
  a.SetCampaignValue("name", "a");
  {
    Store b = Store::Open(File("conv_b.db"));
    b.SetCampaignValue("conversion/sha1/torch", "{\"status\":\"failed\"}");
    b.SetCampaignValue("conversion/sha1/tflite", "{\"status\":\"ok\"}");
    b.SetCampaignValue("name", "b");
  }
  a.MergeFrom(File("conv_b.db"));
  EXPECT_EQ(a.CampaignValue("conversion/sha1/torch"), "{\"status\":\"ok\"}");
  EXPECT_EQ(a.CampaignValue("conversion/sha1/tflite"), "{\"status\":\"ok\"}");
  EXPECT_EQ(a.CampaignValue("name"), "a");  // other campaign values are this store's own
}

TEST_F(StoreTest, MergeFromMissingOrBadFileFails) {
  Store a = Store::Open(File("a.db"));
  try {
    a.MergeFrom(File("absent.db"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
  std::string junk = File("junk.db");
  std::ofstream(junk) << std::string(4096, 'x');
  try {
    a.MergeFrom(junk);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
  }
  // The store is still usable (the attachment was detached).
  Ids ids = AddKeys(a);
  a.RecordRun(MakeRun(ids, 0));
  EXPECT_EQ(a.Runs().size(), 1u);
}

TEST_F(StoreTest, KilledWriterLosesOnlyTheUncommittedRun) {
  std::string path = File("killed.db");
  constexpr int kCommitted = 5;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: record kCommitted runs, then die in the middle of the next transaction.
    try {
      Store s = Store::Open(path);
      Ids ids = AddKeys(s);
      for (int i = 0; i < kCommitted; ++i) s.RecordRun(MakeRun(ids, i));
      sqlite3* db = nullptr;
      if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) _exit(3);
      if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(4);
      std::string sql = fmt::format(
          "INSERT INTO runs(model_id, env_id, input_id, repeat, status, error, prepare_ms, "
          "run_ms, wall_ms, started_at) VALUES({}, {}, {}, {}, 'ok', '', 0, 0, 0, '')",
          ids.model, ids.env, ids.input, kCommitted);
      if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(5);
      // Force the uncommitted page into the WAL file so recovery has something to discard.
      sqlite3_db_cacheflush(db);
      _exit(0);  // no COMMIT, no close: like a kill
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // The child left a WAL behind (it never checkpointed or closed), holding the uncommitted page.
  ASSERT_TRUE(fs::exists(path + "-wal"));
  EXPECT_GT(fs::file_size(path + "-wal"), 0u);
  Store s = Store::Open(path);
  std::vector<RunRow> runs = s.Runs();
  ASSERT_EQ(runs.size(), static_cast<size_t>(kCommitted));
  for (int i = 0; i < kCommitted; ++i) {
    EXPECT_EQ(runs[static_cast<size_t>(i)].repeat, i);
    EXPECT_EQ(s.Outputs(runs[static_cast<size_t>(i)].id).size(), 2u);
  }
  EXPECT_FALSE(s.HasRun(runs[0].model_id, runs[0].env_id, runs[0].input_id, kCommitted));
  // Resume: the lost cell is recorded now.
  Ids ids{runs[0].model_id, runs[0].env_id, runs[0].input_id};
  s.RecordRun(MakeRun(ids, kCommitted));
  EXPECT_EQ(s.Runs().size(), static_cast<size_t>(kCommitted + 1));
}

SessionRecord MakeSession(const Ids& ids, const std::string& uid, int samples) {
  SessionRecord s;
  s.uid = uid;
  s.model_id = ids.model;
  s.env_id = ids.env;
  s.started_at = "2026-11-22T00:00:00Z";
  s.prepare_ms = 12.5;
  s.first_run_ms = 3.25;
  s.effective_env = "ref@cpu";
  for (int i = 0; i < samples; ++i) s.samples.push_back({i * 50.0, 90.0 + i, 1000 + i});
  return s;
}

TEST_F(StoreTest, SessionsKeepTheirSamplesAndNullFirstRun) {
  Store s = Store::Open(File("s.db"));
  Ids ids = AddKeys(s);
  s.RecordSession(MakeSession(ids, "u1", 3));
  SessionRecord failed = MakeSession(ids, "u2", 0);
  failed.status = "error";
  failed.error = "prepare failed";
  failed.first_run_ms.reset();
  s.RecordSession(failed);
  std::vector<SessionRecord> all = s.Sessions();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].uid, "u1");
  ASSERT_EQ(all[0].samples.size(), 3u);
  EXPECT_DOUBLE_EQ(all[0].samples[2].t_ms, 100.0);
  EXPECT_DOUBLE_EQ(all[0].samples[2].cpu_percent, 92.0);
  EXPECT_EQ(all[0].samples[2].rss_bytes, 1002);
  ASSERT_TRUE(all[0].first_run_ms.has_value());
  EXPECT_DOUBLE_EQ(*all[0].first_run_ms, 3.25);
  EXPECT_FALSE(all[1].first_run_ms.has_value());
  EXPECT_EQ(all[1].status, "error");
  EXPECT_EQ(all[1].error, "prepare failed");
  // The uid is unique: recording it twice is an input error and leaves one row.
  EXPECT_THROW(s.RecordSession(MakeSession(ids, "u1", 1)), Error);
  EXPECT_EQ(s.Sessions().size(), 2u);
  EXPECT_EQ(CountRows(File("s.db"), "resource_samples"), 3);
}

TEST_F(StoreTest, ComparisonsAreReplacedAsAWhole) {
  Store s = Store::Open(File("c.db"));
  Ids ids = AddKeys(s);
  int64_t a = s.RecordRun(MakeRun(ids, 0));
  int64_t b = s.RecordRun(MakeRun(ids, 1));
  s.ReplaceComparisons({{a, b, "out0", R"({"max_abs":0})"}, {a, b, "out1", "{}"}});
  s.ReplaceComparisons({{a, b, "out0", R"({"max_abs":1})"}});
  std::vector<ComparisonRecord> c = s.Comparisons();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].run_a, a);
  EXPECT_EQ(c[0].run_b, b);
  EXPECT_EQ(c[0].metrics_json, R"({"max_abs":1})");
}

TEST_F(StoreTest, VersionOneStoreIsMigratedKeepingItsRuns) {
  {
    Store s = Store::Open(File("v1.db"));
    s.RecordRun(MakeRun(AddKeys(s), 0));
  }
  // Turn it back into a version-1 file: drop what migration 1 -> 2 adds.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(File("v1.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "DROP TABLE findings; DROP TABLE fuzz_ticks; DROP TABLE op_coverage; "
                   "DROP TABLE op_support; DROP TABLE retried_runs; "
                   "DROP TABLE merged_stores; DROP TABLE root_causes; DROP TABLE kind_coverage; "
                   "DROP TABLE resource_samples; DROP TABLE sessions; "
                   "DROP INDEX comparisons_runs; "
                   "UPDATE meta SET value=1 WHERE key='schema_version'",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  Store s = Store::Open(File("v1.db"));
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  EXPECT_EQ(s.RunCount(), 1);
  Ids ids = AddKeys(s);
  s.RecordSession(MakeSession(ids, "after-migration", 1));
  EXPECT_EQ(s.Sessions().size(), 1u);
}

TEST_F(StoreTest, MergeCopiesEachSessionOnceWithItsSamples) {
  {
    Store a = Store::Open(File("a.db"));
    Ids ids = AddKeys(a, "ort@cpu");
    a.RecordSession(MakeSession(ids, "sa", 2));
  }
  {
    Store b = Store::Open(File("b.db"));
    // Different insertion order: ids differ between the shards.
    b.UpsertEnvironment({"tvm@cpu", "tvm", "cpu", "{}", "{}", "h"});
    Ids ids = AddKeys(b, "ort@cpu");
    b.RecordSession(MakeSession(ids, "sb", 4));
  }
  Store m = Store::Open(File("m.db"));
  m.MergeFrom(File("a.db"));
  m.MergeFrom(File("b.db"));
  m.MergeFrom(File("b.db"));  // merging a shard twice adds nothing
  std::vector<SessionRecord> all = m.Sessions();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].uid, "sa");
  EXPECT_EQ(all[0].samples.size(), 2u);
  EXPECT_EQ(all[1].uid, "sb");
  EXPECT_EQ(all[1].samples.size(), 4u);
  std::vector<EnvironmentRow> envs = m.Environments();
  int64_t ort = 0;
  for (const auto& e : envs) {
    if (e.info.env == "ort@cpu") ort = e.id;
  }
  EXPECT_EQ(all[1].env_id, ort);
}

FindingRecord MakeFinding(const std::string& env, const std::string& signature) {
  FindingRecord f;
  f.env = env;
  f.symptom = "inconsistent";
  f.signature = signature;
  f.seed = 7;
  f.message = "max abs 3";
  f.versions_json = "{}";
  f.original_nodes = 10;
  f.reduced_nodes = 2;
  f.model = std::vector<uint8_t>{1, 2, 3};
  f.first_seen = f.last_seen = "2026-11-22T00:00:00Z";
  return f;
}

TEST_F(StoreTest, FindingsAreDeduplicatedAndMergedWithSummedCounts) {
  {
    Store a = Store::Open(File("a.db"));
    int64_t id1 = 0, id2 = 0;
    EXPECT_TRUE(a.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"), &id1));
    EXPECT_FALSE(a.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"), &id2));
    EXPECT_EQ(id1, id2);
    EXPECT_TRUE(a.RecordFinding(MakeFinding("tvm@cpu", "Add,Conv")));
    a.SetFindingBundle(id1, "out/finding-1");
    a.RecordFuzzTick("c", 1.0, 5, 15, 2, {{"Conv", 3}, {"Add", 5}});
    a.RecordFuzzTick(
        "c", 2.0, 9, 27, 3, {{"Conv", 1}},
        {{{"ort@cpu", "Conv[]:float"}, {4, 3}}, {{"tvm@cpu", "Conv[]:float"}, {2, 2}}});
    a.RecordFuzzTick("c", 3.0, 9, 27, 3, {}, {{{"ort@cpu", "Conv[]:float"}, {1, 0}}});
    a.SetOpSupport({"ort@cpu", "Conv", "float16", "unsupported", "no kernel"});
    std::vector<FindingRecord> f = a.Findings();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].count, 2);
    EXPECT_EQ(f[0].bundle, "out/finding-1");
    ASSERT_TRUE(f[0].model.has_value());
    EXPECT_EQ(f[0].model->size(), 3u);
    EXPECT_EQ(a.OpCoverage()["Conv"], 4);
    EXPECT_EQ(a.FuzzTicks().size(), 3u);
    std::vector<KindCoverageRecord> kinds = a.KindCoverage();  // per env, counts summed
    ASSERT_EQ(kinds.size(), 2u);
    EXPECT_EQ(kinds[0].env, "ort@cpu");
    EXPECT_EQ(kinds[0].tested, 5);
    EXPECT_EQ(kinds[0].clean, 3);
    EXPECT_TRUE(a.HasFinding("tvm@cpu", "inconsistent", "Add,Conv"));
    EXPECT_FALSE(a.HasFinding("tvm@cpu", "crash", "Add,Conv"));
  }
  {
    Store b = Store::Open(File("b.db"));
    b.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"));
    b.RecordFinding(MakeFinding("opencv@cpu", "Relu"));
    b.RecordFuzzTick("d", 1.0, 2, 6, 1, {{"Conv", 2}}, {{{"ort@cpu", "Conv[]:float"}, {2, 2}}});
  }
  Store m = Store::Open(File("m.db"));
  m.MergeFrom(File("a.db"));
  m.MergeFrom(File("b.db"));
  std::vector<FindingRecord> f = m.Findings();
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].env, "ort@cpu");
  EXPECT_EQ(f[0].count, 3);  // 2 in a + 1 in b
  EXPECT_EQ(m.OpCoverage()["Conv"], 6);
  EXPECT_EQ(m.FuzzTicks().size(), 4u);
  ASSERT_EQ(m.KindCoverage().size(), 2u);
  EXPECT_EQ(m.KindCoverage()[0].tested, 7);  // 5 in a + 2 in b
  EXPECT_EQ(m.KindCoverage()[0].clean, 5);
  EXPECT_EQ(m.OpSupport().size(), 1u);
}

// A finding re-judged as a boundary effect changes its symptom, or folds its hits into the
// boundary finding of the same signature already there; clearing root causes unassigns all.
TEST_F(StoreTest, RelabelledFindingsMoveOrFoldAndRootCausesClear) {
  Store a = Store::Open(File("a.db"));
  int64_t lone = 0, dup = 0, boundary = 0;
  a.RecordFinding(MakeFinding("ort@cpu", "Exp,Floor"), &lone);
  a.RecordFinding(MakeFinding("ort@cpu", "Cos,Greater"), &dup);
  a.RecordFinding(MakeFinding("ort@cpu", "Cos,Greater"), &dup);  // count 2
  FindingRecord b = MakeFinding("ort@cpu", "Cos,Greater");
  b.symptom = "boundary";
  b.last_seen = "2026-11-23T00:00:00Z";
  a.RecordFinding(b, &boundary);
  a.SetFindingDetails(lone, R"({"recheck":"boundary"})");
  EXPECT_EQ(a.RelabelFinding(lone, "boundary"), lone);
  EXPECT_EQ(a.RelabelFinding(dup, "boundary"), boundary);
  std::vector<FindingRecord> f = a.Findings();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].symptom, "boundary");
  EXPECT_EQ(f[0].details_json, R"({"recheck":"boundary"})");
  EXPECT_EQ(f[1].id, boundary);
  EXPECT_EQ(f[1].count, 3);
  EXPECT_EQ(f[1].last_seen, "2026-11-23T00:00:00Z");
  int64_t cause = a.AddRootCause({0, "ort@cpu", "boundary", "[]", "c", "t", "t"});
  a.SetFindingRootCause(lone, cause);
  a.ClearRootCauses();
  EXPECT_TRUE(a.RootCauses().empty());
  EXPECT_FALSE(a.Findings()[0].root_cause.has_value());
}

void Sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST_F(StoreTest, VersionFourStoreGetsMachineLabelsFromItsFingerprintAndAUid) {
  {
    Store s = Store::Open(File("v4.db"));
    Ids ids;
    ids.env = s.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", R"({"hostname":"box-1"})", "x"});
    ids.model = s.UpsertModel("m.onnx", "sha-m", "m");
    ids.input = s.UpsertInput("in-0", "{}");
    s.RecordRun(MakeRun(ids, 0));
  }
  // The version-4 layout: environments unique by env alone, no uid, no merged_stores.
  Sql(File("v4.db"),
      "PRAGMA foreign_keys=OFF; CREATE TABLE e4(id INTEGER PRIMARY KEY, env TEXT NOT NULL UNIQUE, "
      "backend TEXT NOT NULL, device TEXT NOT NULL, versions_json TEXT NOT NULL, "
      "machine_json TEXT NOT NULL); INSERT INTO e4 SELECT id, env, backend, device, "
      "versions_json, machine_json FROM environments; DROP TABLE environments; "
      "ALTER TABLE e4 RENAME TO environments; DROP TABLE merged_stores; "
      "DROP TABLE root_causes; DROP TABLE kind_coverage; ALTER TABLE findings DROP COLUMN "
      "root_cause; "
      "DELETE FROM meta WHERE key='store_uid'; UPDATE meta SET value=4 WHERE "
      "key='schema_version'");
  Store s = Store::Open(File("v4.db"));
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  ASSERT_EQ(s.Environments().size(), 1u);
  EXPECT_EQ(s.Environments()[0].info.machine, "box-1");  // the fingerprint's hostname
  EXPECT_EQ(s.Uid().size(), 32u);
  std::vector<RunRow> runs = s.Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].machine, "box-1");
  // The same env string recorded again from that machine resumes into the same environment.
  EXPECT_EQ(s.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", "{}", "box-1"}), runs[0].env_id);
  EXPECT_NE(s.UpsertEnvironment({"ort@cpu", "ort", "cpu", "{}", "{}", "box-2"}), runs[0].env_id);
}

TEST_F(StoreTest, VersionFiveStoreKeepsItsFindingsAndGetsRootCauses) {
  {
    Store s = Store::Open(File("v5.db"));
    EXPECT_TRUE(s.RecordFinding(MakeFinding("ort@cpu", "Exp,Floor")));
  }
  // The version-5 layout: no root_causes table, findings without a root_cause column.
  Sql(File("v5.db"),
      "DROP TABLE root_causes; DROP TABLE kind_coverage; ALTER TABLE findings DROP COLUMN "
      "root_cause; UPDATE meta SET "
      "value=5 WHERE key='schema_version'");
  Store s = Store::Open(File("v5.db"));
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  std::vector<FindingRecord> f = s.Findings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].signature, "Exp,Floor");
  EXPECT_FALSE(f[0].root_cause.has_value());
  EXPECT_TRUE(s.RootCauses().empty());
  RootCauseRecord rc;
  rc.env = "ort@cpu";
  rc.symptom_class = "wrong value";
  rc.nodes_json = R"(["Floor[]:float"])";
  rc.campaign = "c1";
  int64_t id = s.AddRootCause(rc);
  s.SetFindingRootCause(f[0].id, id);
  EXPECT_EQ(s.Findings()[0].root_cause, id);
  RootCauseRecord later = rc;
  later.campaign = "c2";
  later.first_seen = "9";
  int64_t other = s.AddRootCause(later);
  s.MergeRootCause(id, other);  // `other` keeps the earlier campaign and every finding
  ASSERT_EQ(s.RootCauses().size(), 1u);
  EXPECT_EQ(s.RootCauses()[0].campaign, "c1");
  EXPECT_EQ(s.Findings()[0].root_cause, other);
}

TEST_F(StoreTest, SameEnvStringFromTwoMachinesMergesIntoTwoEnvironments) {
  for (const std::string machine : {"node-a", "node-b"}) {
    Store s = Store::Open(File(machine + ".db"));
    Ids ids;
    ids.env = s.UpsertEnvironment({"ort@cpu,opt=3", "ort", "cpu", "{}", "{}", machine});
    ids.model = s.UpsertModel("m.onnx", "sha-m", "m");
    ids.input = s.UpsertInput("in-0", "{}");
    s.RecordRun(MakeRun(ids, 0));
    s.RecordSession(MakeSession(ids, "session-" + machine, 1));
  }
  Store m = Store::Open(File("m.db"));
  EXPECT_EQ(m.MergeFrom(File("node-a.db")).runs_added, 1);
  MergeStats b = m.MergeFrom(File("node-b.db"));
  EXPECT_EQ(b.runs_added, 1);  // not an overlap: another machine's cell
  EXPECT_EQ(b.overlapping_cells, 0);
  std::vector<EnvironmentRow> envs = m.Environments();
  ASSERT_EQ(envs.size(), 2u);
  EXPECT_EQ(envs[0].info.machine, "node-a");
  EXPECT_EQ(envs[1].info.machine, "node-b");
  std::set<std::pair<int64_t, std::string>> run_envs;
  for (const RunRow& r : m.Runs()) run_envs.insert({r.env_id, r.machine});
  EXPECT_EQ(run_envs, (std::set<std::pair<int64_t, std::string>>{{envs[0].id, "node-a"},
                                                                 {envs[1].id, "node-b"}}));
  std::vector<SessionRecord> sessions = m.Sessions();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[1].env_id, envs[1].id);
}

TEST_F(StoreTest, FuzzRowsOfAStoreAreMergedOnce) {
  std::string uid_a;
  {
    Store a = Store::Open(File("a.db"));
    uid_a = a.Uid();
    a.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"));
    a.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"));
    a.RecordFuzzTick("c", 1.0, 5, 15, 2, {{"Conv", 3}});
  }
  {
    Store b = Store::Open(File("b.db"));
    EXPECT_NE(b.Uid(), uid_a);
    b.RecordFinding(MakeFinding("ort@cpu", "Add,Conv"));
    b.RecordFuzzTick("c", 1.0, 2, 6, 1, {{"Conv", 2}});
  }
  fs::copy_file(File("a.db"), File("a_copy.db"));
  {
    Store ab = Store::Open(File("ab.db"));
    EXPECT_EQ(ab.MergeFrom(File("a.db")).findings_added, 1);
    ab.MergeFrom(File("b.db"));
  }
  Store m = Store::Open(File("m.db"));
  m.MergeFrom(File("a.db"));
  MergeStats again = m.MergeFrom(File("a_copy.db"));  // the same shard again, under another name
  EXPECT_TRUE(again.fuzz_already_merged);
  EXPECT_EQ(m.Findings()[0].count, 2);
  EXPECT_EQ(m.FuzzTicks().size(), 1u);
  EXPECT_EQ(m.OpCoverage()["Conv"], 3);
  // ab holds a (merged here) and b (not): its counts cannot be split, so it is refused whole.
  try {
    m.MergeFrom(File("ab.db"));
    ADD_FAILURE() << "a store overlapping what was merged was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("merge the shard stores themselves"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(m.Findings()[0].count, 2);  // the refused merge left nothing behind
  m.MergeFrom(File("b.db"));
  m.MergeFrom(File("ab.db"));  // now everything in ab is here: a no-op for fuzz rows
  EXPECT_EQ(m.Findings()[0].count, 3);
  EXPECT_EQ(m.FuzzTicks().size(), 2u);
  EXPECT_EQ(m.OpCoverage()["Conv"], 5);
}

}  // namespace
}  // namespace concord
