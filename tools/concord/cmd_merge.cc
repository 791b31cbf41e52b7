// concord merge: combine results stores written by campaign shards into one.
#include <filesystem>
#include <iostream>

#include "store/store.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string out;
  std::string into;
  bool force = false;
  bool json = false;
};

// Every input exists, none is the output, and no file is given twice (by fs::equivalent, so
// another path to the same file counts too).
void CheckInputs(const MergeArgs& a) {
  std::error_code ec;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const std::string& in = a.inputs[i];
    if (!fs::is_regular_file(in, ec)) Fail(ErrorKind::kInput, "{}: no such store file", in);
    if (fs::equivalent(in, a.out, ec)) {
      Fail(ErrorKind::kUsage, "{} is both an input and the output (-o); write to a new file", in);
    }
    for (size_t j = 0; j < i; ++j) {
      if (fs::equivalent(in, a.inputs[j], ec)) {
        Fail(ErrorKind::kUsage, "{} and {} are the same store file, given twice; give each once",
             a.inputs[j], in);
      }
    }
  }
}

nlohmann::json StatsJson(const std::string& in, const MergeStats& s) {
  nlohmann::json examples = nlohmann::json::array();
  for (const auto& o : s.examples) {
    examples.push_back({{"model", o.model},
                        {"env", o.env},
                        {"input", o.input},
                        {"outputs_differ", o.outputs_differ}});
  }
  return {{"store", in},
          {"runs_added", s.runs_added},
          {"overlapping_cells", s.overlapping_cells},
          {"differing_cells", s.differing_cells},
          {"overlap_examples", examples}};
}

void PrintText(const nlohmann::json& per_input, const std::string& out, int64_t total) {
  int64_t overlap = 0, differ = 0;
  for (const auto& p : per_input) {
    int64_t o = p["overlapping_cells"].get<int64_t>(), d = p["differing_cells"].get<int64_t>();
    overlap += o;
    differ += d;
    std::cout << fmt::format("{:<40} +{} runs", p["store"].get<std::string>(),
                             p["runs_added"].get<int64_t>());
    if (o > 0) std::cout << fmt::format("; {} cell(s) already merged, {} with other outputs", o, d);
    std::cout << "\n";
    for (const auto& e : p["overlap_examples"]) {
      std::cout << fmt::format("    {} {} | {} | input {}\n",
                               e["outputs_differ"].get<bool>() ? "DIFFER" : "same  ",
                               e["model"].get<std::string>(), e["env"].get<std::string>(),
                               e["input"].get<std::string>());
    }
  }
  std::cout << fmt::format("wrote {}: {} runs (one per model x env x input x repeat cell)\n", out,
                           total);
  std::cout << fmt::format(
      "overlap {} cell(s) in more than one input (the first input's runs are "
      "kept); outputs differed in {}\n",
      overlap, differ);
}

// Merges every input into `out`, in order, each in one transaction; the per-input figures.
nlohmann::json MergeInputs(Store& out, const std::vector<std::string>& inputs) {
  nlohmann::json per_input = nlohmann::json::array();
  for (const auto& in : inputs) {
    MergeStats stats;
    try {
      stats = out.MergeFrom(in);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("{}: cannot merge this store: {}", in, e.what()));
    }
    per_input.push_back(StatsJson(in, stats));
  }
  return per_input;
}

// --into: each input merged into an existing (or new) store in place, each in one transaction,
// so an interrupted merge leaves the store with whole inputs merged or none of an input.
int MergeIntoMain(const MergeArgs& a) {
  std::error_code ec;
  for (const auto& in : a.inputs) {
    if (!fs::is_regular_file(in, ec)) Fail(ErrorKind::kInput, "{}: no such store file", in);
  }
  Store out = Store::Open(a.into);
  nlohmann::json per_input = MergeInputs(out, a.inputs);
  if (a.json) {
    std::cout
        << nlohmann::json{{"out", a.into}, {"inputs", per_input}, {"runs", out.RunCount()}}.dump(2)
        << "\n";
  } else {
    PrintText(per_input, a.into, out.RunCount());
  }
  return kExitOk;
}

int MergeMain(const MergeArgs& a) {
  std::error_code ec;
  if (a.out.empty() == a.into.empty()) {
    Fail(ErrorKind::kUsage, "give either -o OUT (a new store) or --into STORE");
  }
  if (!a.into.empty()) return MergeIntoMain(a);
  CheckInputs(a);
  if (fs::exists(a.out, ec) && !a.force) {
    Fail(ErrorKind::kUsage, "{} exists; pass --force to replace it", a.out);
  }
  // Build the result next to the destination and rename it into place, so an interrupted
  // merge never leaves a half-merged store under the output name.
  std::string tmp = a.out + ".merging";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(tmp + suffix, ec);  // stale leftovers
  nlohmann::json per_input = nlohmann::json::array();
  int64_t total = 0;
  auto remove_tmp = [&] {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(tmp + suffix, ec);
  };
  try {
    Store out = Store::Open(tmp);
    per_input = MergeInputs(out, a.inputs);
    total = out.RunCount();
  } catch (...) {  // the connection is closed here: nothing half-merged stays behind
    remove_tmp();
    throw;
  }  // closing the last connection checkpoints the WAL into the file and deletes it
  if (fs::exists(tmp + "-wal", ec) && fs::file_size(tmp + "-wal", ec) > 0) {
    Fail(ErrorKind::kRuntime,
         "{}: the merged store's write-ahead log was not checkpointed; "
         "the result is left in {} (open it with sqlite3 to recover)",
         a.out, tmp);
  }
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(tmp + suffix, ec);
  fs::rename(tmp, a.out, ec);
  if (ec)
    Fail(ErrorKind::kInput, "{}: cannot move the merged store into place: {}", a.out, ec.message());
  if (a.json) {
    int64_t overlap = 0, differ = 0;
    for (const auto& p : per_input) {
      overlap += p["overlapping_cells"].get<int64_t>();
      differ += p["differing_cells"].get<int64_t>();
    }
    std::cout << nlohmann::json{{"out", a.out},
                                {"inputs", per_input},
                                {"runs", total},
                                {"overlapping_cells", overlap},
                                {"differing_cells", differ}}
                     .dump(2)
              << "\n";
  } else {
    PrintText(per_input, a.out, total);
  }
  return kExitOk;
}

}  // namespace

Command MakeMergeCommand(CLI::App& root) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* app = root.add_subcommand("merge", "Combine results stores (campaign shards) into one");
  app->footer(
      "Cells (model, env, input, repeat) present in several inputs are kept once (the first);\n"
      "the overlap is reported per input: cells already merged, and how many of them hold other\n"
      "outputs (status or output digest). Each store may be given once (exit 2 otherwise).\n"
      "The output is written under a temporary name and renamed into place when complete.\n"
      "Exit: 0 merged, 1 the merged store could not be finished, 2 usage/input error (missing\n"
      "store, OUT exists without --force, OUT is an input).\n"
      "--into STORE merges into STORE in place instead (created if missing), one transaction\n"
      "per input: what `concord matrix|fuzz --ray` uses to add each task's store.\n"
      "Example: concord merge shard0.db shard1.db -o all.db");
  app->add_option("stores", args->inputs, "Input store files (SQLite, written by concord)")
      ->required();
  app->add_option("-o,--out", args->out, "Output store file");
  app->add_option("--into", args->into, "Merge into this store in place instead of -o");
  app->add_flag("--force", args->force, "Replace an existing output file");
  AddOutputOptions(app, &args->json);
  return {app, [args] { return MergeMain(*args); }};
}

}  // namespace concord::cli
