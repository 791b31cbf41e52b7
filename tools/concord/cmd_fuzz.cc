// concord fuzz / fuzz-report: differential fuzzing of runtimes with generated models, and its
// HTML report.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "backends/backend.h"
#include "backends/env.h"
#include "campaign/fuzz.h"
#include "campaign/fuzz_recheck.h"
#include "campaign/fuzz_support.h"
#include "campaign/ray_plan.h"
#include "gen/generator.h"
#include "ir/clock.h"
#include "ir/display_path.h"
#include "ir/tensor_io.h"
#include "report/fuzz_render.h"
#include "store/store.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct FuzzArgs {
  std::vector<std::string> envs;
  double time_s = 0;
  int64_t iterations = 0;
  uint64_t seed = 0;
  std::string shard;
  std::string ray;
  int64_t ray_chunk = 25;
  int max_nodes = 10;
  std::string mode = "random";
  int value_search = gen::GenOptions{}.value_search_steps;
  std::string ops, dtypes;
  std::string out = "fuzz_out";
  std::string db;
  bool no_reduce = false;
  bool coverage_feedback = false;
  double timeout_s = 20;
  double rtol = 1e-2, atol = 1e-3;
  bool infer_support = false;
  bool keep_unsupported = false;
  bool json = false;
  bool quiet = false;
};

// Whether a fuzz document (report::FuzzDocument) holds a finding other than 'undefined' (a
// difference spec-undefined behaviour explains is labelled, not a bug).
bool HasBugFindings(const json& doc) {
  for (const auto& f : doc["findings"]) {
    if (!IsLabelSymptom(f["symptom"].get<std::string>())) return true;
  }
  return false;
}

// Per env, the (op, dtype) pairs the generator avoids: inferred now (--infer-support) or what
// the store recorded; printed unless --quiet.
std::map<std::string, OpDtypeSet> Exclusions(const FuzzArgs& a, const gen::GenOptions& base,
                                             const std::vector<std::string>& envs, Store& store,
                                             Clock::time_point t0) {
  bool tty = isatty(STDERR_FILENO) != 0;
  std::map<std::string, OpDtypeSet> excluded;  // per env: --infer-support or the store's record
  if (a.infer_support) {
    std::vector<std::string> dtypes = base.dtypes.empty() ? gen::KnownDtypes() : base.dtypes;
    std::vector<std::string> ops = base.ops.empty() ? gen::KnownOps() : base.ops;
    if (!a.quiet) {
      std::cerr << fmt::format("inferring op support: {} ops x {} dtypes on {} env(s)\n",
                               ops.size(), dtypes.size(), envs.size());
    }
    int64_t lines = 0;
    excluded = InferOpSupport(
        envs, ops, dtypes,
        [&](const std::string& op, const std::string& dt) { return SingleOpProbe(base, op, dt); },
        store, a.timeout_s,
        [&](const std::string& line) {
          if (a.quiet) return;
          std::string text = fmt::format("[{:.0f}s] op support {}", SecondsSince(t0), line);
          if (tty) {
            std::cerr << "\r\033[K" << text << std::flush;
          } else if (++lines % 20 == 0 || line.find("out of time") != std::string::npos) {
            std::cerr << text << "\n";
          }
        },
        a.time_s);
    if (!a.quiet && tty) std::cerr << "\r\033[K";
  } else if (!a.keep_unsupported) {
    // Known-unsupported pairs: what an earlier --infer-support recorded in this store, used only
    // when it covers every env of this campaign.
    excluded = RecordedExclusions(store, envs);
    if (!a.quiet && !excluded.empty()) {
      std::cerr << "avoiding the (op, dtype) pairs the store's op support says each env rejects "
                   "(--keep-unsupported to generate them anyway)\n";
    }
  }
  if (!a.quiet && !excluded.empty()) {
    for (const auto& [env, pairs] : excluded) {
      std::cerr << fmt::format("  {:<28} rejects {} (op, dtype) pair(s)\n", env, pairs.size());
    }
    std::cerr << "models take turns: seed S avoids what env (S mod " << envs.size()
              << ") rejects, so every env gets models it can run\n";
  }
  return excluded;
}

// The campaign label of the store's ticks: a shard's names its shard (and the campaign's size),
// so merged shards keep one tick series each and a Ray rerun can see which chunks are stored.
std::string CampaignLabel(uint64_t seed, int64_t iterations, const Shard* shard) {
  if (shard == nullptr) return fmt::format("seed{}", seed);
  if (iterations > 0)
    return fmt::format("seed{} n{} shard {}", seed, iterations, shard->ToString());
  return fmt::format("seed{} shard {}", seed, shard->ToString());
}

FuzzOptions OptionsFromArgs(const FuzzArgs& a, const std::vector<EnvSpec>& specs) {
  FuzzOptions o;
  for (const EnvSpec& e : specs) o.envs.push_back(e.ToString());
  o.seed = a.seed;
  if (!a.shard.empty()) o.shard = Shard::Parse(a.shard);
  o.iterations = a.iterations;
  o.time_s = a.time_s;
  o.reduce = !a.no_reduce;
  o.coverage_feedback = a.coverage_feedback;
  o.timeout_s = a.timeout_s;
  o.tol = Tolerance{a.rtol, a.atol};
  o.out_dir = a.out;
  o.campaign = CampaignLabel(a.seed, o.iterations, a.shard.empty() ? nullptr : &o.shard);
  return o;
}

void PrintJsonSummary(const FuzzArgs& a, const FuzzSummary& s, const json& report_doc,
                      const std::string& db, const std::string& html, const json& ray = nullptr) {
  json envs = json::object();
  for (const auto& [env, st] : s.envs) {
    envs[env] = {{"tests", st.tests},
                 {"ok", st.ok},
                 {"unsupported", st.unsupported},
                 {"symptoms", st.symptoms}};
  }
  const json& totals = report_doc["totals"];
  json out{{"models", s.models},
           {"tests", s.tests},
           {"seconds", s.seconds},
           {"tests_per_s", s.seconds > 0 ? s.tests / s.seconds : 0.0},
           {"hits", s.hits},
           {"new_findings", s.distinct},
           {"raw_findings", s.raw_findings.size()},
           {"root_causes_found", s.root_causes.size()},
           {"known_root_causes", s.known_root_causes.size()},
           {"new_root_causes", s.root_causes.size() - s.known_root_causes.size()},
           {"labels", s.labels},
           {"root_causes_in_store_bugs", totals.value("bug_root_causes", int64_t{0})},
           {"findings_in_store", totals["findings"]},
           {"root_causes_in_store", totals["root_causes"]},
           {"generator_failures", s.generator_failures},
           {"envs", envs},
           {"store", db},
           {"report", html},
           {"findings", report_doc["findings"]},
           {"root_causes", report_doc["root_causes"]},
           {"tolerance", {{"rtol", a.rtol}, {"atol", a.atol}}}};
  if (!ray.is_null()) out["ray"] = ray;
  std::cout << out.dump(2) << "\n";
}

void PrintTextSummary(const FuzzArgs& a, const FuzzSummary& s, const json& report_doc,
                      const std::string& db, const std::string& html) {
  const json& totals = report_doc["totals"];
  std::cout << fmt::format(
      "tolerance vs ref: rtol {:g}, atol {:g} (float16 models: 5x), scaled per output by the ops "
      "on its path (exact for data movement, up to 4x)\n",
      a.rtol, a.atol);
  std::cout << fmt::format(
      "{} models, {} tests in {:.1f} s ({:.2f} tests/s); {} hits, {} new "
      "distinct findings; {} generator failures\n",
      s.models, s.tests, s.seconds, s.seconds > 0 ? s.tests / s.seconds : 0.0, s.hits, s.distinct,
      s.generator_failures);
  std::cout << fmt::format(
      "this run: {} raw finding(s) from {} root cause(s) ({} new, {} known from earlier "
      "campaigns)\n",
      s.raw_findings.size(), s.root_causes.size(),
      s.root_causes.size() - s.known_root_causes.size(), s.known_root_causes.size());
  std::string labels;
  for (const auto& [k, n] : s.labels) labels += fmt::format(" {} {}", k, n);
  std::cout << fmt::format("labelled, not bugs:{}\n", labels.empty() ? " none" : labels);
  std::cout << fmt::format(
      "store: {} findings (raw, by env/symptom/op signature) from {} root "
      "cause(s)\n",
      totals["findings"].get<int64_t>(), totals["root_causes"].get<int64_t>());
  for (const auto& [env, st] : s.envs) {
    std::string sym;
    for (const auto& [k, n] : st.symptoms) sym += fmt::format(" {} {}", k, n);
    std::cout << fmt::format("  {:<28} {} ok, {} unsupported{}\n", env, st.ok, st.unsupported, sym);
  }
  for (const auto& f : report_doc["findings"]) {
    std::cout << fmt::format(
        "  #{:<3} {:<22} {:<12} [{}] {} -> {} nodes, {} hit(s), root cause #{}{}  {}\n",
        f["id"].get<int64_t>(), f["env"].get<std::string>(), f["symptom"].get<std::string>(),
        f["signature"].get<std::string>(), f["original_nodes"].get<int64_t>(),
        f["reduced_nodes"].get<int64_t>(), f["count"].get<int64_t>(),
        f["root_cause"].get<int64_t>(),
        f["triage"].get<std::string>().empty() ? "" : " (" + f["triage"].get<std::string>() + ")",
        f["bundle"].get<std::string>().empty() ? "" : DisplayPath(f["bundle"].get<std::string>()));
  }
  std::cout << "store:  " << DisplayPath(db) << "\nreport: " << DisplayPath(html) << "\n";
}

// --ray: one Ray task per chunk of seeds (`concord fuzz --shard I/N` with the campaign's seed
// and iterations), each writing its repro bundles under OUT/chunk-I; the driver merges the
// chunks' stores. A chunk whose tick series is in the store is done and skipped.
int FuzzRayMain(const FuzzArgs& a) {
  if (a.iterations <= 0)
    Fail(ErrorKind::kUsage, "--ray needs --iterations N (tasks are chunks of seeds)");
  if (!a.shard.empty()) Fail(ErrorKind::kUsage, "--ray makes its own shards; drop --shard");
  if (a.infer_support) {
    Fail(ErrorKind::kUsage,
         "--infer-support cannot be combined with --ray; infer op support without --ray first");
  }
  if (a.ray_chunk <= 0) Fail(ErrorKind::kUsage, "--ray-chunk must be a positive number of seeds");
  std::vector<EnvSpec> specs = ParseEnvList(a.envs);
  ValidateClusterEnvs(specs);  // before anything is created under --out
  FuzzOptions o = OptionsFromArgs(a, specs);
  const std::string out_dir = fs::absolute(a.out).string();
  fs::create_directories(out_dir);
  const std::string db =
      fs::absolute(a.db.empty() ? (fs::path(a.out) / "fuzz.db").string() : a.db).string();
  const bool fresh_store = !fs::exists(db);
  RayCampaign campaign;
  campaign.address = a.ray;
  campaign.kind = "fuzz";
  campaign.store = db;
  campaign.progress = !a.quiet && !a.json;
  campaign.quiet = a.quiet;
  size_t findings_before = 0;
  std::set<int64_t> causes_before;
  const std::string started = NowIso();
  {
    Store store = Store::Open(db);
    ClusterUnassignedFindings(store);
    for (const RootCauseRecord& rc : store.RootCauses()) causes_before.insert(rc.id);
    if (!a.keep_unsupported && !RecordedExclusions(store, o.envs).empty()) {
      Fail(ErrorKind::kUsage,
           "{} records op support that a single process would avoid, but --ray tasks start from "
           "empty stores; pass --keep-unsupported, or fuzz without --ray",
           db);
    }
    findings_before = store.Findings().size();
    std::set<std::string> stored;
    for (const FuzzTick& t : store.FuzzTicks()) stored.insert(t.campaign);
    const int64_t n = (a.iterations + a.ray_chunk - 1) / a.ray_chunk;
    std::vector<std::string> common = {"fuzz",
                                       "--envs",
                                       fmt::format("{}", fmt::join(o.envs, ";")),
                                       "--seed",
                                       std::to_string(a.seed),
                                       "--iterations",
                                       std::to_string(a.iterations),
                                       "--max-nodes",
                                       std::to_string(a.max_nodes),
                                       "--mode",
                                       a.mode,
                                       "--timeout",
                                       fmt::format("{}", a.timeout_s),
                                       "--rtol",
                                       fmt::format("{}", a.rtol),
                                       "--atol",
                                       fmt::format("{}", a.atol),
                                       "--json",
                                       "--quiet"};
    if (!a.ops.empty()) common.insert(common.end(), {"--ops", a.ops});
    if (!a.dtypes.empty()) common.insert(common.end(), {"--dtypes", a.dtypes});
    if (a.no_reduce) common.push_back("--no-reduce");
    if (a.coverage_feedback) common.push_back("--coverage-feedback");
    common.insert(common.end(), {"--value-search", std::to_string(a.value_search)});
    if (a.keep_unsupported) common.push_back("--keep-unsupported");
    for (int64_t i = 0; i < n; ++i) {
      Shard shard{i, n};
      RayTask t;
      t.key = fmt::format("chunk {}", shard.ToString());
      t.label = fmt::format("seeds {}+{}k", a.seed + static_cast<uint64_t>(i), n);
      t.out_dir = (fs::path(out_dir) / fmt::format("chunk-{}", i)).string();
      t.args = common;
      t.args.insert(t.args.end(), {"--shard", shard.ToString(), "--out", t.out_dir});
      t.resources = RayResourcesForAll(specs);
      t.done = stored.count(CampaignLabel(a.seed, a.iterations, &shard)) > 0;
      campaign.tasks.push_back(std::move(t));
    }
  }
  if (!a.quiet && !a.json) {
    std::cerr << fmt::format(
        "fuzzing {} with generated models (max {} nodes, seeds {}..{}) in {} task(s) on Ray "
        "({}); findings in {}, store {}\n",
        fmt::join(o.envs, ", "), a.max_nodes, a.seed,
        a.seed + static_cast<uint64_t>(a.iterations) - 1, campaign.tasks.size(), a.ray, out_dir,
        db);
  }
  auto t0 = Clock::now();
  campaign.fresh_store = fresh_store;
  RayOutcome r = RunRayDriver(campaign);
  FuzzSummary s;
  for (const auto& task : r.result["summaries"]) {
    s.models += task.value("models", int64_t{0});
    s.tests += task.value("tests", int64_t{0});
    s.hits += task.value("hits", int64_t{0});
    s.generator_failures += task.value("generator_failures", int64_t{0});
    // An empty map is written as null: read objects only where they are objects.
    auto object = [](const json& j, const char* key) {
      return j.contains(key) && j[key].is_object() ? j[key] : json::object();
    };
    const json envs = object(task, "envs");
    for (const auto& [env, st] : envs.items()) {
      FuzzEnvStats& e = s.envs[env];
      e.tests += st.value("tests", int64_t{0});
      e.ok += st.value("ok", int64_t{0});
      e.unsupported += st.value("unsupported", int64_t{0});
      const json symptoms = object(st, "symptoms");
      for (const auto& [k, v] : symptoms.items()) e.symptoms[k] += v.get<int64_t>();
    }
  }
  s.seconds = SecondsSince(t0);
  Store store = Store::Open(db);
  s.distinct = static_cast<int64_t>(store.Findings().size() - findings_before);
  // The tasks' stores were merged without root causes: cluster them here, then count the bug
  // findings this run touched (last seen since it started) and their causes.
  ClusterUnassignedFindings(store);
  for (const FindingRecord& f : store.Findings()) {
    if (f.last_seen < started || !f.root_cause || IsLabelSymptom(f.symptom)) continue;
    s.raw_findings.insert(f.id);
    s.root_causes.insert(*f.root_cause);
    if (causes_before.count(*f.root_cause)) s.known_root_causes.insert(*f.root_cause);
  }
  for (const auto& [env, st] : s.envs) {
    for (const auto& [k, n] : st.symptoms) {
      if (IsLabelSymptom(k)) s.labels[k] += n;
    }
  }
  json report_doc = report::FuzzDocument(store);
  std::string html = (fs::path(out_dir) / "fuzz_report.html").string();
  WriteFileAtomic(html, report::RenderFuzzHtml(report_doc, html));
  json ray = r.result;
  ray.erase("summaries");
  if (a.json) {
    PrintJsonSummary(a, s, report_doc, db, html, ray);
  } else {
    PrintTextSummary(a, s, report_doc, db, html);
  }
  if (r.exit_code != 0) {
    std::cerr << fmt::format(
        "{} task(s) did not finish (listed above); rerun the command to run them\n",
        r.result["failed"].size());
    return kExitDiverged;
  }
  return HasBugFindings(report_doc) ? kExitDiverged : kExitOk;
}

int FuzzMain(const FuzzArgs& a) {
  auto t0 = Clock::now();  // --time bounds the whole run, op-support inference included
  std::vector<EnvSpec> specs = ParseEnvList(a.envs);
  ValidateEnvs(specs);  // before anything is created under --out
  FuzzOptions o = OptionsFromArgs(a, specs);
  fs::create_directories(a.out);
  std::string db = a.db.empty() ? (fs::path(a.out) / "fuzz.db").string() : a.db;
  Store store = Store::Open(db);

  gen::GenOptions base;
  base.seed = a.seed;
  base.max_nodes = a.max_nodes;
  base.ops = SplitComma(a.ops);
  base.dtypes = SplitComma(a.dtypes);
  base.mode = a.mode;
  base.value_search_steps = a.value_search;
  bool tty = isatty(STDERR_FILENO) != 0;
  std::map<std::string, OpDtypeSet> excluded = Exclusions(a, base, o.envs, store, t0);
  if (a.time_s > 0 && a.iterations <= 0) {
    o.time_s = std::max(a.time_s - SecondsSince(t0), 1e-3);  // what inference left
  }
  if (!a.quiet && !a.json) {
    std::cerr << fmt::format(
        "fuzzing {} with generated models (max {} nodes, seed {}); findings "
        "in {}, store {}; tolerance vs ref rtol {:g}, atol {:g}\n",
        fmt::join(o.envs, ", "), a.max_nodes, a.seed, a.out, db, a.rtol, a.atol);
  }
  auto progress = [&](const FuzzProgress& p) {
    if (a.quiet || a.json) return;
    std::string line = fmt::format(
        "[{:.0f}s] {} models, {} tests ({:.1f} tests/s), {} distinct findings / {} hits{}",
        p.elapsed_s, p.models, p.tests, p.elapsed_s > 0 ? p.tests / p.elapsed_s : 0.0, p.distinct,
        p.hits, p.last.empty() ? "" : " | " + p.last.substr(0, 90));
    if (tty) {
      std::cerr << "\r\033[K" << line << std::flush;
    } else if (p.last.rfind("NEW", 0) == 0) {
      std::cerr << line << "\n";
    }
  };
  FuzzSummary s = RunFuzz(o, MakeFuzzGenerator(base, excluded, o.envs), store, progress);
  if (!a.quiet && tty && !a.json) std::cerr << "\r\033[K";

  json report_doc = report::FuzzDocument(store);
  std::string html = (fs::path(a.out) / "fuzz_report.html").string();
  WriteFileAtomic(html, report::RenderFuzzHtml(report_doc, html));
  if (a.json) {
    PrintJsonSummary(a, s, report_doc, db, html);
  } else {
    PrintTextSummary(a, s, report_doc, db, html);
  }
  return HasBugFindings(report_doc) ? kExitDiverged : kExitOk;
}

struct FuzzReportArgs {
  std::string db;
  std::string out;
  bool json = false;
  bool recheck = false;
  double timeout_s = 60;
};

json RecheckJson(const RecheckSummary& r) {
  return {{"wrong_value_findings", r.findings},
          {"still_wrong", r.still_wrong},
          {"generalised", r.generalised},
          {"relabelled_boundary", r.boundary},
          {"agrees_now", r.agrees_now},
          {"not_rechecked", r.not_rechecked},
          {"root_causes", {{"before", r.root_causes_before}, {"after", r.root_causes_after}}},
          {"bug_root_causes",
           {{"before", r.bug_root_causes_before}, {"after", r.bug_root_causes_after}}}};
}

int FuzzReportMain(const FuzzReportArgs& a) {
  if (!fs::is_regular_file(a.db)) Fail(ErrorKind::kInput, "{}: no such store file", a.db);
  Store store = Store::Open(a.db);
  std::optional<RecheckSummary> recheck;
  if (a.recheck) {
    RecheckOptions ro;
    ro.timeout_s = a.timeout_s;
    recheck = RecheckFindings(store, ro, [&](const std::string& line) {
      if (!a.json) std::cerr << line << "\n";
    });
  }
  // Findings merged from shards or written before root causes existed get theirs now.
  ClusterUnassignedFindings(store);
  json doc = report::FuzzDocument(store);
  if (recheck) doc["recheck"] = RecheckJson(*recheck);
  std::string out =
      a.out.empty() ? (fs::path(a.db).parent_path() / "fuzz_report.html").string() : a.out;
  WriteFileAtomic(out, report::RenderFuzzHtml(doc, out));
  if (a.json) {
    std::cout << json{{"report", out}, {"document", doc}}.dump(2) << "\n";
  } else {
    if (recheck) {
      const RecheckSummary& r = *recheck;
      std::cout << fmt::format(
          "recheck: {} wrong-value findings: {} still wrong ({} generalised), {} relabelled "
          "boundary, {} agree now, {} not rechecked\nroot causes {} -> {} (bugs {} -> {})\n",
          r.findings, r.still_wrong, r.generalised, r.boundary, r.agrees_now, r.not_rechecked,
          r.root_causes_before, r.root_causes_after, r.bug_root_causes_before,
          r.bug_root_causes_after);
    }
    std::cout << fmt::format("{} findings from {} root cause(s), {} ops covered\nreport: {}\n",
                             doc["totals"]["findings"].get<int64_t>(),
                             doc["totals"]["root_causes"].get<int64_t>(), doc["coverage"].size(),
                             DisplayPath(out));
  }
  return HasBugFindings(doc) ? kExitDiverged : kExitOk;
}

}  // namespace

Command MakeFuzzCommand(CLI::App& root) {
  auto args = std::make_shared<FuzzArgs>();
  CLI::App* app = root.add_subcommand(
      "fuzz", "Differential fuzzing: generated models on every env against ref, findings reduced");
  app->footer(
      "Each iteration generates a model (seed, seed+1, ...), runs it on ref and on every env in\n"
      "worker processes (a crash or hang is a finding, not the end), and classifies: crash,\n"
      "timeout, error (a valid model rejected), inconsistent (outputs differ from ref beyond\n"
      "--rtol/--atol, scaled per output by the ops on its path: exact for data movement, up to 4x\n"
      "after long reduction/exp/pow chains), perf (>10x this env's usual time relative to ref,\n"
      "confirmed by >= 3 re-timings per side with separated 95% confidence intervals). Labels,\n"
      "not bugs: undefined (spec-undefined behaviour), boundary (a Floor/Round/Cast/comparison/\n"
      "ArgMax... input within 4 ULPs of its discontinuity, and ref with it moved across agrees\n"
      "with the env), perf_unconfirmed. Findings are reduced by delta debugging over nodes,\n"
      "deduplicated by (env, symptom, op signature) and grouped into root causes kept in the\n"
      "store (reduced node kinds, env, symptom class; a cause seen by an earlier campaign on the\n"
      "store counts as known), and written as repro bundles OUT/findings/<env>/<id>/: an ONNX\n"
      "test case with repro.sh, and for ort/tvm/openvino/torch targets a standalone repro.py\n"
      "(the target's own Python API only; the model emitted as PyTorch code for torch),\n"
      "inputs/expected .npz and report.md in the upstream issue template, the repro checked\n"
      "once. Exit 1 when any finding other than a label is in the store.\n"
      "Op support: --infer-support first runs every (op, dtype) alone on each env and records it\n"
      "in the store; later campaigns on the same store reuse that record. Then models take turns:\n"
      "the model of seed S avoids the pairs env S mod N rejects, and every env runs it.\n"
      "Example: concord fuzz --envs 'ort@cpu;tvm@cpu,opt=3;opencv@cpu' --time 3600 --out fz");
  AddEnvListOption(app, &args->envs, "Environments to fuzz against ref")->required();
  app->add_option("--time,-t", args->time_s, "Stop after this many seconds");
  app->add_option("--iterations,-n", args->iterations, "Stop after this many models");
  app->add_option("--seed", args->seed, "First generator seed")->capture_default_str();
  AddShardOption(app, &args->shard,
                 "seeds SEED + k (k < --iterations, which counts the whole campaign)");
  app->add_option("--ray", args->ray,
                  "Run chunks of seeds as tasks on a Ray cluster: HOST:PORT of its head, or "
                  "'local' (needs --iterations; docs/cluster.md)");
  app->add_option("--ray-chunk", args->ray_chunk, "Seeds per Ray task")->capture_default_str();
  app->add_option("--max-nodes", args->max_nodes, "Operator nodes per model")
      ->capture_default_str();
  app->add_option("--ops", args->ops, "Allowed op types, comma-separated (default: all)");
  AddGenModeOption(app, &args->mode);
  AddValueSearchOption(app, &args->value_search);
  app->add_option("--dtypes", args->dtypes, "Allowed dtypes, comma-separated (default: all)");
  app->add_option("--out,-o", args->out, "Findings folder")->capture_default_str();
  app->add_option("--db", args->db, "Results store (default: OUT/fuzz.db)");
  app->add_flag("--no-reduce", args->no_reduce, "Keep findings unreduced");
  app->add_flag("--coverage-feedback", args->coverage_feedback,
                "Weight the generator's op picks by coverage: ops in fewer of the models so far "
                "(this store's earlier campaigns included) are drawn more often, 1 / (1 + "
                "tried / mean); a seed's model then depends on the campaign's history");
  app->add_option("--timeout", args->timeout_s,
                  "Seconds per prepare/run before a hang is a finding")
      ->capture_default_str();
  AddToleranceOptions(app, &args->rtol, &args->atol, "vs ref (float16 models: 5x)");
  app->add_flag("--infer-support", args->infer_support,
                "First test every (op, dtype) alone on each env (recorded in the store); then the "
                "model of seed S avoids the pairs env S mod N rejected");
  app->add_flag("--keep-unsupported", args->keep_unsupported,
                "Generate (op, dtype) pairs the store's recorded op support says an env rejects");
  AddOutputOptions(app, &args->json, &args->quiet, "No progress line");
  return {app, [args] {
            if (args->time_s <= 0 && args->iterations <= 0) {
              Fail(ErrorKind::kUsage, "give --time SECONDS or --iterations N");
            }
            return args->ray.empty() ? FuzzMain(*args) : FuzzRayMain(*args);
          }};
}

Command MakeFuzzReportCommand(CLI::App& root) {
  auto args = std::make_shared<FuzzReportArgs>();
  CLI::App* app = root.add_subcommand(
      "fuzz-report", "HTML report of fuzzing findings, op coverage and throughput in a store");
  app->footer(
      "Exit: 0 no findings (or only labels: undefined, boundary, perf_unconfirmed),\n"
      "1 the store holds findings (other than labels), 2 usage/input error (no such store).");
  app->add_option("db", args->db, "Results store written by `concord fuzz`")->required();
  app->add_option("--out,-o", args->out, "HTML path (default: fuzz_report.html next to DB)");
  app->add_flag("--recheck", args->recheck,
                "First re-judge every wrong-value finding with today's oracle: its stored repro "
                "runs again on its env and ref; a boundary effect is relabelled, a wrong value is "
                "generalised (each element-wise node swapped for another op, the env re-run); "
                "then root causes are clustered again (the store is updated)");
  app->add_option("--timeout", args->timeout_s, "Seconds per env run during --recheck")
      ->capture_default_str();
  AddOutputOptions(app, &args->json);
  return {app, [args] { return FuzzReportMain(*args); }};
}

}  // namespace concord::cli
