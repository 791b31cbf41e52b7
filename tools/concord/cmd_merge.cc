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
  bool force = false;
  bool json = false;
};

int MergeMain(const MergeArgs& a) {
  std::error_code ec;
  for (const auto& in : a.inputs) {
    if (!fs::is_regular_file(in, ec)) Fail(ErrorKind::kInput, "{}: no such store file", in);
    if (fs::equivalent(in, a.out, ec)) {
      Fail(ErrorKind::kUsage, "{} is both an input and the output (-o); write to a new file", in);
    }
  }
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
    for (const auto& in : a.inputs) {
      int64_t before = out.RunCount();
      try {
        out.MergeFrom(in);
      } catch (const Error& e) {
        throw Error(e.kind(), fmt::format("{}: cannot merge this store: {}", in, e.what()));
      }
      int64_t after = out.RunCount();
      per_input.push_back({{"store", in}, {"runs_added", after - before}});
      total = after;
    }
  } catch (...) {  // the connection is closed here: nothing half-merged stays behind
    remove_tmp();
    throw;
  }  // closing the last connection checkpoints the WAL into the file and deletes it
  if (fs::exists(tmp + "-wal", ec) && fs::file_size(tmp + "-wal", ec) > 0) {
    Fail(ErrorKind::kRuntime, "{}: the merged store's write-ahead log was not checkpointed; "
         "the result is left in {} (open it with sqlite3 to recover)", a.out, tmp);
  }
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(tmp + suffix, ec);
  fs::rename(tmp, a.out, ec);
  if (ec) Fail(ErrorKind::kInput, "{}: cannot move the merged store into place: {}", a.out, ec.message());
  if (a.json) {
    std::cout << nlohmann::json{{"out", a.out}, {"inputs", per_input}, {"runs", total}}.dump(2) << "\n";
  } else {
    for (const auto& p : per_input) {
      std::cout << fmt::format("{:<40} +{} runs\n", p["store"].get<std::string>(), p["runs_added"].get<int64_t>());
    }
    std::cout << fmt::format("wrote {}: {} runs (one per model x env x input x repeat cell)\n", a.out, total);
  }
  return kExitOk;
}

}  // namespace

Command MakeMergeCommand(CLI::App& root) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* app = root.add_subcommand("merge", "Combine results stores (campaign shards) into one");
  app->footer(
      "Cells (model, env, input, repeat) present in several inputs are kept once (the first).\n"
      "The output is written under a temporary name and renamed into place when complete.\n"
      "Exit: 0 merged, 1 the merged store could not be finished, 2 usage/input error (missing\n"
      "store, OUT exists without --force, OUT is an input).\n"
      "Example: concord merge shard0.db shard1.db -o all.db");
  app->add_option("stores", args->inputs, "Input store files (SQLite, written by concord)")->required();
  app->add_option("-o,--out", args->out, "Output store file")->required();
  app->add_flag("--force", args->force, "Replace an existing output file");
  AddOutputOptions(app, &args->json);
  return {app, [args] {
            return MergeMain(*args);
          }};
}

}  // namespace concord::cli
