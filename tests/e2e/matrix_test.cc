// `concord matrix` end to end: the resume guarantee under SIGKILL (a killed and rerun matrix ends
// with exactly the rows of an uninterrupted one), failing cells recorded without stopping the
// campaign, config errors, and the real demo classifier on packaged photos with sensible labels.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "store/store.h"
#include "testing/temp_dir.h"
#include "tests/e2e/cli_runner.h"
#include "tests/e2e/serve_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class MatrixTest : public ::testing::Test {
 protected:
  // A failed test leaves its folder behind for inspection.
  void TearDown() override {
    if (HasFailure()) tmp_.Keep();
  }
  fs::path WriteConfig(const std::string& name, const json& config) {
    fs::path p = dir_ / name;
    std::ofstream(p) << config.dump(2);
    return p;
  }
  test::TempDir tmp_{"concord_matrix_test"};
  fs::path dir_ = tmp_.path();
};

const std::string kTinyCnn = std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx";

json TinyConfig(int inputs, int repeats) {
  return {{"name", "resume"},
          {"models", {{{"path", kTinyCnn}}}},
          {"envs", {"ref", "ort@cpu,opt=0|3"}},
          {"dataset", {{"random", inputs}, {"seed", 7}}},
          {"repeats", repeats}};
}

// Every row of `runs` as comparable values: the cell key, status and the output digests.
using RowKey = std::tuple<std::string, std::string, std::string, int64_t, std::string, std::string>;
std::multiset<RowKey> Rows(const std::string& db) {
  Store s = Store::Open(db);
  std::multiset<RowKey> rows;
  for (const RunRow& r : s.Runs()) {
    std::string digests;
    for (const auto& o : s.Outputs(r.id)) digests += o.digest + ";";
    rows.insert({r.model_sha256, r.env, r.input_digest, r.repeat, r.status, digests});
  }
  return rows;
}

int64_t CountRuns(const std::string& db) {
  if (!fs::exists(db)) return 0;
  try {
    Store s = Store::Open(db);
    return s.RunCount();
  } catch (const std::exception&) {
    return 0;  // being created by the other process
  }
}

// Starts `concord matrix` in its own process group and SIGKILLs the whole group (workers
// included) once the store holds at least `kill_after` runs.
void RunAndKill(const fs::path& config, const std::string& db, int64_t kill_after) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(CONCORD_BIN, CONCORD_BIN, "matrix", config.c_str(), "--db", db.c_str(), "--no-report",
          "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool killed = false;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      FAIL() << "the matrix finished before it could be killed (after " << CountRuns(db)
             << " runs); raise the cell count";
    }
    if (CountRuns(db) >= kill_after) {
      kill(-pid, SIGKILL);
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "timed out waiting for " << kill_after << " runs";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(MatrixTest, KilledAndRerunEndsWithExactlyTheRowsOfAnUninterruptedRun) {
  // 216 cells: the last kill point (80) stays well before the end even when a loaded machine
  // notices the count late.
  const int inputs = 24, repeats = 3, envs = 3;
  fs::path config = WriteConfig("m.json", TinyConfig(inputs, repeats));
  std::string clean_db = (dir_ / "clean.db").string();
  CliResult clean = RunConcord("matrix " + Quote(config.string()) + " --db " + Quote(clean_db) +
                               " --no-report --quiet --json");
  ASSERT_EQ(clean.code, 0) << clean.err;
  json summary = json::parse(clean.out);
  EXPECT_EQ(summary["cells"], inputs * repeats * envs);
  EXPECT_EQ(summary["ran"], inputs * repeats * envs);
  std::multiset<RowKey> expected = Rows(clean_db);
  ASSERT_EQ(expected.size(), static_cast<size_t>(inputs * repeats * envs));

  // Kill at several points (early: inside the first env; later: across an env boundary), each
  // time resuming the same store; then finish it.
  std::string db = (dir_ / "killed.db").string();
  for (int64_t at : {1, 20, 45, 80}) {
    RunAndKill(config, db, at);
    int64_t now = CountRuns(db);
    EXPECT_GE(now, at);
    EXPECT_LT(now, static_cast<int64_t>(expected.size())) << "killed after the last cell";
  }
  CliResult resumed = RunConcord("matrix " + Quote(config.string()) + " --db " + Quote(db) +
                                 " --no-report --quiet --json");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  json rs = json::parse(resumed.out);
  EXPECT_GT(rs["existing"].get<int64_t>(), 0);
  EXPECT_EQ(rs["existing"].get<int64_t>() + rs["ran"].get<int64_t>(), inputs * repeats * envs);
  EXPECT_EQ(Rows(db), expected);

  // A third run finds nothing to do and changes nothing.
  CliResult again = RunConcord("matrix " + Quote(config.string()) + " --db " + Quote(db) +
                               " --no-report --quiet --json");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["ran"], 0);
  EXPECT_EQ(Rows(db), expected);
}

TEST_F(MatrixTest, FailingEnvIsRecordedAndTheMatrixGoesOn) {
  json config = TinyConfig(2, 1);
  // An unknown TVM target fails Prepare; the other envs still run.
  config["envs"] = {"ref", "tvm@cpu,opt=0,target=no-such-target", "ort@cpu"};
  fs::path file = WriteConfig("m.json", config);
  std::string db = (dir_ / "m.db").string();
  CliResult r = RunConcord("matrix " + Quote(file.string()) + " --db " + Quote(db) + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["cells"], 6);
  EXPECT_EQ(s["ran"], 4);
  EXPECT_EQ(s["failed"], 2);
  Store store = Store::Open(db);
  int errors = 0;
  for (const RunRow& row : store.Runs()) {
    if (row.status == "error") {
      ++errors;
      EXPECT_NE(row.env.find("tvm"), std::string::npos);
      EXPECT_NE(row.error.find("prepare failed"), std::string::npos) << row.error;
    }
  }
  EXPECT_EQ(errors, 2);
  // The failed session is recorded with its error too.
  bool failed_session = false;
  for (const auto& sess : store.Sessions()) failed_session |= sess.status == "error";
  EXPECT_TRUE(failed_session);
}

// A port nothing listens on (bound and released by us just now).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(MatrixTest, RetryFailedRerunsCellsOfAServerThatCameBack) {
  int port = FreePort();
  json config = TinyConfig(2, 1);
  config["envs"] = {"ref", fmt::format("ref,host=127.0.0.1:{}", port)};
  fs::path file = WriteConfig("retry.json", config);
  std::string db = (dir_ / "retry.db").string();
  std::string cmd = "matrix " + Quote(file.string()) + " --db " + Quote(db) + " --no-report";
  CliResult r = RunConcord(cmd);
  ASSERT_EQ(r.code, 1) << r.err;
  // --no-report still says why the cells failed.
  EXPECT_NE(r.out.find("2 failed cell(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(fmt::format("127.0.0.1:{}", port)), std::string::npos) << r.out;

  Server server({"--port", std::to_string(port)});
  ASSERT_EQ(server.port, port) << server.first_line() << server.err();
  r = RunConcord(cmd + " --json");  // a plain rerun skips stored cells, failed ones too
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(json::parse(r.out)["ran"], 0);

  r = RunConcord(cmd + " --retry-failed --json");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["retried"], 2);
  EXPECT_EQ(s["ran"], 2);
  EXPECT_EQ(s["failed_in_store"], 0);
  Store store = Store::Open(db);
  EXPECT_EQ(store.RunCount(), 4);
  EXPECT_EQ(store.RetriedRunCount(), 2);  // the failed rows are kept as history
  // The remote cells now agree with the local ones.
  std::map<std::string, std::set<std::string>> digests;  // input -> output digests
  for (const RunRow& row : store.Runs()) {
    for (const auto& o : store.Outputs(row.id)) digests[row.input_digest].insert(o.digest);
  }
  for (const auto& [input, d] : digests) EXPECT_EQ(d.size(), 1u) << input;
}

TEST_F(MatrixTest, InvalidEnvsAreRejectedBeforeAnyCellRuns) {
  json config = TinyConfig(2, 1);
  config["envs"] = {"ref", "nosuch@cpu", "ort@cpu,fast=1"};
  std::string db = (dir_ / "bad_env.db").string();
  CliResult r = RunConcord("matrix " + Quote(WriteConfig("bad_env.json", config).string()) +
                           " --db " + Quote(db) + " --no-report");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("2 of 3 envs are invalid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown backend 'nosuch'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not know option 'fast'"), std::string::npos) << r.err;
  EXPECT_EQ(CountRuns(db), 0);

  // compare checks every env before the first one runs too.
  r = RunConcord("compare " + Quote(kTinyCnn) + " --envs 'ref;nosuch'");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("unknown backend 'nosuch'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");  // nothing ran, nothing reported
}

TEST_F(MatrixTest, ConfigErrorsNameTheProblemAndExitTwo) {
  json bad = TinyConfig(1, 1);
  bad["repeat"] = 3;  // typo for "repeats"
  CliResult r = RunConcord("matrix " + Quote(WriteConfig("a.json", bad).string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown key 'repeat'"), std::string::npos) << r.err;

  json missing = TinyConfig(1, 1);
  missing["models"][0]["path"] = "nowhere.onnx";
  r = RunConcord("matrix " + Quote(WriteConfig("b.json", missing).string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nowhere.onnx"), std::string::npos) << r.err;

  json sweep = TinyConfig(1, 1);
  sweep["envs"] = {"ort@cpu,opt=3..1"};
  r = RunConcord("matrix " + Quote(WriteConfig("c.json", sweep).string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("3..1"), std::string::npos) << r.err;

  json dup = TinyConfig(1, 1);
  dup["envs"] = {"ort@cpu,opt=0..1", "ort@cpu,opt=1"};
  r = RunConcord("matrix " + Quote(WriteConfig("d.json", dup).string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("appears twice"), std::string::npos) << r.err;

  std::ofstream(dir_ / "e.json") << "{\"models\": [";
  r = RunConcord("matrix " + Quote((dir_ / "e.json").string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("JSON error"), std::string::npos) << r.err;
}

TEST_F(MatrixTest, TensorDatasetsUseTheOneInputLoader) {
  // A folder of test_data_set_* folders is one input per set; a wrong shape is exit 2.
  fs::create_directories(dir_ / "sets");
  fs::copy(std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/test_data_set_0",
           dir_ / "sets" / "test_data_set_0", fs::copy_options::recursive);
  json config = TinyConfig(1, 1);
  config["envs"] = {"ref"};
  config["dataset"] = {{"tensors", {(dir_ / "sets").string()}}};
  // The same tensors twice would be one cell: a clear error before anything runs.
  fs::copy(dir_ / "sets" / "test_data_set_0", dir_ / "sets" / "test_data_set_1",
           fs::copy_options::recursive);
  CliResult r = RunConcord("matrix " + Quote(WriteConfig("sets.json", config).string()) + " --db " +
                           Quote((dir_ / "dup.db").string()) + " --no-report");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("hold the same tensors"), std::string::npos) << r.err;
  // Another set (random data saved by `run --save-inputs`) makes two cells.
  fs::remove_all(dir_ / "sets" / "test_data_set_1");
  r = RunConcord("run " + Quote(kTinyCnn) + " --seed 5 --save-inputs " +
                 Quote((dir_ / "saved").string()));
  ASSERT_EQ(r.code, 0) << r.err;
  fs::copy(dir_ / "saved" / "test_data_set_0", dir_ / "sets" / "test_data_set_1",
           fs::copy_options::recursive);
  std::string db = (dir_ / "sets.db").string();
  r = RunConcord("matrix " + Quote(WriteConfig("sets.json", config).string()) + " --db " +
                 Quote(db) + " --no-report --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["cells"], 2);

  std::ofstream(dir_ / "sets" / "test_data_set_1" / "input_0.pb", std::ios::trunc)
      << std::ifstream(std::string(CONCORD_SOURCE_DIR) + "/examples/tiny_cnn/model.onnx").rdbuf();
  r = RunConcord("matrix " + Quote(WriteConfig("sets.json", config).string()) + " --db " +
                 Quote((dir_ / "sets2.db").string()) + " --no-report");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("test_data_set_1"), std::string::npos) << r.err;
}

TEST_F(MatrixTest, TomlConfigRunsTheSameCells) {
  std::ofstream(dir_ / "m.toml") << "name = \"toml\"\nenvs = [\"ref\", \"ort@cpu\"]\nrepeats = 2\n"
                                    "[[models]]\npath = \""
                                 << kTinyCnn
                                 << "\"\n"
                                    "[dataset]\nrandom = 2\nseed = 7\n";
  std::string db = (dir_ / "t.db").string();
  CliResult r = RunConcord("matrix " + Quote((dir_ / "m.toml").string()) + " --db " + Quote(db) +
                           " --no-report --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["cells"], 8);
  // Same seed and model as the JSON configs: the same input digests.
  json j = TinyConfig(2, 1);
  j["envs"] = {"ref"};
  std::string db2 = (dir_ / "j.db").string();
  ASSERT_EQ(RunConcord("matrix " + Quote(WriteConfig("j.json", j).string()) + " --db " +
                       Quote(db2) + " --no-report")
                .code,
            0);
  std::set<std::string> a, b;
  for (const auto& row : Store::Open(db).Runs()) a.insert(row.input_digest);
  for (const auto& row : Store::Open(db2).Runs()) b.insert(row.input_digest);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace concord::e2e
