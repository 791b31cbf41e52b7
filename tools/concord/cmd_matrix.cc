// concord matrix: run every (model, env, input, repeat) cell of a configuration into a results
// store, with progress; resumable; then analyse it and write the HTML report.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "campaign/matrix.h"
#include "campaign/ray_plan.h"
#include "ir/display_path.h"
#include "ir/tensor_io.h"
#include "report/analysis.h"
#include "report/render.h"
#include "store/store.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;

struct MatrixArgs {
  std::string config;
  std::string db;
  std::string report;
  bool no_report = false;
  bool retry_failed = false;
  std::string shard;
  std::string input_chunk;
  std::string ray;
  int ray_chunk_cells = 256;
  bool json = false;
  bool quiet = false;
};

std::string Duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  return fmt::format("{}m{:02d}s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
}

// A one-line progress bar on stderr when it is a terminal; otherwise one line per session.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}
  void operator()(const MatrixProgress& p) {
    if (quiet_) return;
    if (p.phase == "convert") {  // a conversion takes its converter's time: one line each
      std::cerr << (tty_ ? "\r\033[K" : "") << fmt::format("{}: {} ...\n", p.model, p.env);
      return;
    }
    if (!tty_) {
      if (p.phase == "prepare") {
        std::cerr << fmt::format("[{}/{}] {} on {}: preparing ({} elapsed)\n", p.done, p.todo,
                                 p.model, p.env, Duration(p.elapsed_s));
      }
      return;
    }
    if (p.phase == "done") {
      std::cerr << "\r\033[K";
      return;
    }
    const int width = 28;
    double frac = p.todo > 0 ? static_cast<double>(p.done) / static_cast<double>(p.todo) : 1;
    int filled = static_cast<int>(frac * width);
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    std::string eta = p.done > 0 ? Duration(p.elapsed_s / static_cast<double>(p.done) *
                                            static_cast<double>(p.todo - p.done))
                                 : "?";
    std::string what = p.phase == "prepare" ? "preparing" : p.input;
    std::cerr << fmt::format("\r\033[K[{}] {}/{} cells{}  {} | {} | {}  ETA {}", bar, p.done,
                             p.todo, p.failed ? fmt::format(" ({} failed)", p.failed) : "", p.model,
                             p.env, what, eta)
              << std::flush;
  }

 private:
  bool quiet_;
  bool tty_;
};

// Every failed cell of the store, grouped by (model, env, reason): a failure always says why.
void PrintFailures(const nlohmann::json& failures, int64_t total, std::ostream& os) {
  if (failures.empty()) return;
  os << fmt::format(
      "{} failed cell(s) in the store (rerun with --retry-failed to run them "
      "again):\n",
      total);
  const size_t kShown = 10;
  for (size_t i = 0; i < failures.size() && i < kShown; ++i) {
    const auto& f = failures[i];
    std::string error = f["error"].get<std::string>();
    if (error.size() > 300) error = error.substr(0, 300) + "...";
    os << fmt::format("  {} on {}: {} cell(s): {}\n", f["model"].get<std::string>(),
                      f["env"].get<std::string>(), f["cells"].get<int64_t>(), error);
  }
  if (failures.size() > kShown) {
    os << fmt::format("  ... and {} more groups (--json lists all)\n", failures.size() - kShown);
  }
}

int FinishMatrix(const MatrixArgs& a, const MatrixConfig& config, Store& store,
                 const std::string& db, const MatrixSummary& s, const nlohmann::json& ray);

int MatrixMain(const MatrixArgs& a) {
  MatrixConfig config = LoadMatrixConfig(a.config);
  MatrixRunOptions run_options;
  run_options.retry_failed = a.retry_failed;
  // Checked before the store is opened: a bad --shard or env leaves no empty store behind.
  if (!a.shard.empty()) run_options.shard = Shard::Parse(a.shard);
  if (!a.input_chunk.empty()) run_options.input_chunk = Shard::Parse(a.input_chunk);
  std::vector<EnvSpec> specs;
  for (const auto& e : config.envs) specs.push_back(EnvSpec::Parse(e));
  ValidateEnvs(specs);
  std::string db = a.db.empty() ? (config.file.parent_path() / "concord.db").string() : a.db;
  std::error_code ec;
  if (!fs::path(db).parent_path().empty()) fs::create_directories(fs::path(db).parent_path(), ec);
  Store store = Store::Open(db);
  if (!a.quiet && !a.json) {
    std::cerr << fmt::format(
        "matrix '{}': {} model(s) x {} env(s), {} dataset, {} repeat(s); "
        "store {}\n",
        config.name, config.models.size(), config.envs.size(), config.dataset.kind, config.repeats,
        db);
  }
  ProgressPrinter printer(a.quiet || a.json);
  MatrixSummary s = RunMatrix(
      config, store, [&](const MatrixProgress& p) { printer(p); }, run_options);
  return FinishMatrix(a, config, store, db, s, nullptr);
}

// What a matrix run leaves: the failures in the store, the analysis and report unless
// --no-report, the summary (`ray`: what the cluster driver reports, added to --json).
int FinishMatrix(const MatrixArgs& a, const MatrixConfig& config, Store& store,
                 const std::string& db, const MatrixSummary& s, const nlohmann::json& ray) {
  nlohmann::json analysis;
  nlohmann::json out = {{"config", config.file.string()},
                        {"store", db},
                        {"envs", config.envs},
                        {"cells", s.total},
                        {"existing", s.existing},
                        {"ran", s.ran},
                        {"retried", s.retried},
                        {"stale", s.stale},
                        {"not_applicable", s.not_applicable},
                        {"failed", s.failed},
                        {"sessions", s.sessions},
                        {"seconds", s.seconds}};
  int64_t failed_total = 0;
  nlohmann::json failures = nlohmann::json::array();
  for (const MatrixFailure& f : SummarizeFailures(store)) {
    failed_total += f.cells;
    failures.push_back(
        {{"model", f.model}, {"env", f.env}, {"cells", f.cells}, {"error", f.error}});
  }
  out["failed_in_store"] = failed_total;
  out["failures"] = failures;
  if (!ray.is_null()) out["ray"] = ray;

  if (!a.no_report) {
    std::string html =
        a.report.empty() ? (fs::path(db).parent_path() / "report.html").string() : a.report;
    if (fs::path(db).parent_path().empty() && a.report.empty()) html = "report.html";
    report::AnalysisOptions options;
    options.top_k = config.top_k;
    analysis = report::Analyze(store, options);
    WriteFileAtomic(html, report::RenderHtml(analysis));
    out["report"] = html;
    int disagreeing = 0;
    for (const auto& m : analysis["models"])
      disagreeing += static_cast<int>(m["disagreements"].size());
    out["disagreeing_inputs"] = disagreeing;
  }

  if (a.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "{} cells: {} already stored, {} ran now, {} failed now ({}); "
        "{} sessions prepared{}{}{}\n",
        s.total, s.existing, s.ran, s.failed, Duration(s.seconds), s.sessions,
        s.retried ? fmt::format("; {} failed cells retried", s.retried) : "",
        s.stale ? fmt::format("; {} stored cells rerun (their env now runs another file)", s.stale)
                : "",
        s.not_applicable
            ? fmt::format("; {} (model, env) pairs not applicable (twin= names a direction "
                          "the model does not have)",
                          s.not_applicable)
            : "");
    PrintFailures(failures, failed_total, std::cout);
    if (!analysis.is_null()) PrintAnalysisSummary(analysis, std::cout);
    std::cout << "\n";
    std::cout << "store:  " << DisplayPath(db) << "\n";
    if (out.contains("report")) {
      std::cout << "report: " << DisplayPath(out["report"].get<std::string>()) << "\n";
    }
  }
  bool diverged = failed_total > 0 || out.value("disagreeing_inputs", 0) > 0;
  return diverged ? kExitDiverged : kExitOk;
}

// The Ray tasks of one session: the whole session, or, past --ray-chunk-cells cells, input
// chunks K/M (inputs k with k % M == K), each prepared on its own node. A task is done when all
// its cells are in the store.
std::vector<RayTask> SessionTasks(const MatrixSession& session, const std::string& n,
                                  const std::string& config, const MatrixArgs& a) {
  int64_t inputs = static_cast<int64_t>(session.stored_per_input.size());
  int64_t chunks =
      std::clamp<int64_t>((session.cells + a.ray_chunk_cells - 1) / std::max(1, a.ray_chunk_cells),
                          1, std::max<int64_t>(inputs, 1));
  std::vector<RayTask> tasks;
  for (int64_t k = 0; k < chunks; ++k) {
    RayTask t;
    t.key = fmt::format("session {}/{}", session.index, n);
    t.args = {"matrix",      config,   "--shard", fmt::format("{}/{}", session.index, n),
              "--no-report", "--json", "--quiet"};
    int64_t stored = 0, cells = 0;
    for (int64_t i = k; i < inputs; i += chunks) {
      stored += session.stored_per_input[static_cast<size_t>(i)];
      cells += session.repeats;
    }
    if (chunks > 1) {
      t.key += fmt::format(" chunk {}/{}", k, chunks);
      t.args.insert(t.args.end(), {"--input-chunk", fmt::format("{}/{}", k, chunks)});
    }
    t.label = session.model + " | " + session.env;
    t.resources = RayResourcesFor(EnvSpec::Parse(session.env));
    t.done = stored == cells;
    if (stored > 0 && !t.done && !a.quiet) {
      std::cerr << fmt::format(
          "note: {} ({}) has {} of its {} cells in the store already; it runs again in full "
          "and the merge keeps the cells already there\n",
          t.label, t.key, stored, cells);
    }
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// --ray: one Ray task per (model, env) session not yet complete in the store, each running
// `concord matrix CONFIG --shard I/N` on a node; the driver merges what they return.
int MatrixRayMain(const MatrixArgs& a) {
  if (!a.shard.empty()) Fail(ErrorKind::kUsage, "--ray makes its own shards; drop --shard");
  if (a.retry_failed) {
    Fail(ErrorKind::kUsage,
         "--retry-failed cannot be combined with --ray: a failed cell's session would run "
         "again in full on some node, adding its stored cells again under that node's machine; "
         "retry without --ray");
  }
  MatrixConfig config = LoadMatrixConfig(a.config);
  std::vector<EnvSpec> specs;
  for (const auto& e : config.envs) specs.push_back(EnvSpec::Parse(e));
  ValidateClusterEnvs(specs);  // before the store is created
  std::string db = a.db.empty() ? (config.file.parent_path() / "concord.db").string() : a.db;
  db = fs::absolute(db).string();
  const bool fresh_store = !fs::exists(db);
  std::error_code ec;
  fs::create_directories(fs::path(db).parent_path(), ec);
  RayCampaign campaign;
  campaign.address = a.ray;
  campaign.kind = "matrix";
  campaign.store = db;
  campaign.progress = !a.quiet && !a.json;
  campaign.quiet = a.quiet;
  MatrixSummary s;
  {
    Store store = Store::Open(db);
    std::vector<MatrixSession> sessions = PlanMatrixSessions(config, store);
    const std::string n = std::to_string(sessions.size());
    for (const MatrixSession& session : sessions) {
      s.total += session.cells;
      s.existing += session.stored;
      for (RayTask& t : SessionTasks(session, n, fs::absolute(config.file).string(), a)) {
        campaign.tasks.push_back(std::move(t));
      }
    }
  }
  if (!a.quiet && !a.json) {
    std::cerr << fmt::format(
        "matrix '{}': {} model(s) x {} env(s), {} dataset, {} repeat(s); store {}; "
        "{} session task(s) on Ray ({})\n",
        config.name, config.models.size(), config.envs.size(), config.dataset.kind, config.repeats,
        db, campaign.tasks.size(), a.ray);
  }
  auto t0 = std::chrono::steady_clock::now();
  campaign.fresh_store = fresh_store;
  RayOutcome r = RunRayDriver(campaign);
  for (const auto& task : r.result["summaries"]) {
    s.ran += task.value("ran", int64_t{0});
    s.failed += task.value("failed", int64_t{0});
    s.sessions += task.value("sessions", int64_t{0});
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json ray = r.result;
  ray.erase("summaries");
  Store store = Store::Open(db);
  int code = FinishMatrix(a, config, store, db, s, ray);
  if (r.exit_code != 0) {
    std::cerr << fmt::format(
        "{} task(s) did not finish (listed above); rerun the command to run them\n",
        r.result["failed"].size());
    return kExitDiverged;
  }
  return code;
}

}  // namespace

Command MakeMatrixCommand(CLI::App& root) {
  auto args = std::make_shared<MatrixArgs>();
  CLI::App* app = root.add_subcommand(
      "matrix",
      "Run models x environments x dataset from a config into a results store, resumably");
  app->footer(
      "Every (model, env, input, repeat) cell becomes one row of the store's `runs` table, in\n"
      "its own transaction: kill the command at any point and run it again to resume where it\n"
      "stopped. A failing cell is recorded with its error and the matrix goes on; a rerun skips\n"
      "stored cells, failed ones too, unless --retry-failed. Every env is checked (backend,\n"
      "device, options) before the first cell runs.\n"
      "In-process backends (ref, opencv) run in a worker process too (config \"isolate\").\n"
      "After the run the store is analysed and an HTML report is written (see `concord report`).\n"
      "--ray runs each (model, env) session as a task on a Ray cluster's nodes (resources from\n"
      "the env: @cuda a GPU, @opencl {\"opencl\": 1}, host=NAME:PORT {\"board:NAME\": 1},\n"
      "threads=N N CPUs); a rerun skips the sessions already complete in the store.\n"
      "Config (JSON or TOML, paths relative to it):\n"
      "  {\"name\": \"demo\",\n"
      "   \"models\": [{\"path\": \"m.onnx\", \"preprocess\": {...}, \"class_names\": \"c.txt\",\n"
      "                \"label_space\": {\"num_classes\": 1000, \"offset\": 0},\n"
      "                \"twins\": [\"m.pt2\"],   (same network, other formats: for envs such as\n"
      "                                          torch@cuda that cannot run the ONNX file)\n"
      "                \"conversions\": [{\"to\": \"tflite\"}, {\"to\": \"tf\", \"via\": "
      "\"onnx2tf\"},\n"
      "                                {\"to\": \"tflite\", \"quantize\": \"fp16\"}]}],\n"
      "                 (converted before the run by `concord convert`, into conversions/ beside\n"
      "                  the store; each env runs the file of the format it prefers)\n"
      "   A model's path may be a framework model (.pt, .pt2, .keras, .tflite, .xml): it runs on\n"
      "   its framework's env, its conversions start from it, and the ONNX envs run its ONNX\n"
      "   twin, converted first (torch.onnx dynamo, tf2onnx) or given as \"onnx\": \"m.onnx\".\n"
      "   The report then opens on a direction x env grid (examples/conversions/).\n"
      "   \"envs\": [\"ref\", \"ort@cpu,opt=0..3\", \"tvm@cpu,opt=0|3\"],   (sweeps: A..B, a|b)\n"
      "   \"dataset\": {\"images\": \"photos/\", \"labels\": \"photos/labels.csv\"}\n"
      "              | {\"tensors\": [\"test_data_set_0\", \"x.npz\"]} | {\"random\": 4, \"seed\": "
      "0},\n"
      "   \"repeats\": 3, \"top_k\": 5, \"store_tensors\": \"auto\", \"isolate\": true,\n"
      "   \"timeout_s\": 0, \"sample_ms\": 50}\n"
      "Full schema: src/campaign/matrix.h. Example: examples/demo/matrix.json\n"
      "Exit code 1 when any cell in the store failed or (with the report) the top-1 label of\n"
      "an input differs between envs.");
  app->add_option("config", args->config, "Matrix configuration (.json or .toml)")
      ->required()
      ->check(CLI::ExistingFile);
  app->add_option("--db", args->db, "Results store (default: concord.db next to the config)");
  app->add_option("--report", args->report,
                  "HTML report path (default: report.html next to the store)");
  app->add_flag("--no-report", args->no_report, "Only run the cells; no analysis or report");
  AddShardOption(app, &args->shard, "(model, env) sessions, numbered model-major in config order,");
  app->add_flag("--retry-failed", args->retry_failed,
                "Run the cells that failed in an earlier run again (the failed rows are kept "
                "in the store's retried_runs history)");
  app->add_option("--input-chunk", args->input_chunk,
                  "K/M: only the inputs k of each session with k % M == K (what --ray gives a "
                  "node when it splits a large session)");
  app->add_option("--ray", args->ray,
                  "Run the (model, env) sessions as tasks on a Ray cluster: HOST:PORT of its "
                  "head, or 'local' for a cluster on this machine (docs/cluster.md)");
  app->add_option("--ray-chunk-cells", args->ray_chunk_cells,
                  "With --ray: a session of more cells is split into input chunks of about "
                  "this many cells, each a task on its own node")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  AddOutputOptions(app, &args->json, &args->quiet);
  return {app, [args] { return args->ray.empty() ? MatrixMain(*args) : MatrixRayMain(*args); }};
}

}  // namespace concord::cli
