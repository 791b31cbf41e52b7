// Campaigns on a Ray cluster (`concord matrix|fuzz --ray ADDRESS`, docs/cluster.md). This side
// plans the tasks: one per (model, env) session of a matrix, one per seed chunk of a fuzz
// campaign, each a `concord` command line with --shard I/N that runs on some node into a store
// of its own. adapters/ray_driver.py, run with the main venv's Python, submits the tasks with
// the resources their envs need and merges each store a task returns into the campaign's store
// with `concord merge --into` (it is that store's only writer while it runs; the merge keeps a
// cell once, so a retried task adds nothing twice). Tasks marked done are already in the store
// and are skipped: rerunning a command after its driver died resumes it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/env.h"

namespace concord {

// What a task asks Ray for. An exclusive custom resource of quantity 1 per device or board
// serialises the tasks that use it on the node that has it.
struct RayResources {
  double num_cpus = 1;
  double num_gpus = 0;
  std::map<std::string, double> custom;

  nlohmann::json ToJson() const;
};

// From the env string: threads=N -> N CPUs (default 1); a cuda or gpu device -> 1 GPU;
// @opencl -> {"opencl": 1}; host=NAME:PORT -> {"board:NAME": 1} (the node next to the board
// `concord serve` runs on).
RayResources RayResourcesFor(const EnvSpec& env);
// A task that runs several envs (a fuzz chunk runs all of them): the most CPUs and GPUs any
// env needs and every custom resource.
RayResources RayResourcesForAll(const std::vector<EnvSpec>& envs);

// ValidateEnvs for envs that run on the cluster's nodes: the same checks (backend, device,
// options), except that a device this machine lacks (no GPU, no OpenCL) is accepted; the node
// that has it validates it again. Error(kUsage) listing every invalid env.
void ValidateClusterEnvs(const std::vector<EnvSpec>& envs);

struct RayTask {
  std::string key;                // unique in the campaign ("session 3/6", "chunk 0/4")
  std::string label;              // what it runs, for progress lines
  std::vector<std::string> args;  // concord arguments; the driver appends --db SHARD_STORE
  // A folder the task writes on its node (fuzz repro bundles), sent back to the same path on
  // the driver's machine; empty: none.
  std::string out_dir;
  RayResources resources;
  bool done = false;  // already in the store: skipped
};

struct RayCampaign {
  std::string address;  // HOST:PORT of a running cluster's head, or "local"
  std::string kind;     // "matrix" | "fuzz"
  std::string store;    // the campaign's store (absolute)
  std::vector<RayTask> tasks;
  bool progress = true;  // the progress line (events are printed unless quiet)
  bool quiet = false;
  // The command created `store`: a usage error (nothing ran) removes it again.
  bool fresh_store = false;
};

// The driver's result: per-task summaries (the JSON each task's concord printed), failed
// tasks, retries, tasks per node.
struct RayOutcome {
  int exit_code = 0;  // 0 every task merged, 1 some task failed (listed in result["failed"])
  nlohmann::json result;
};

// Runs adapters/ray_driver.py on the campaign and waits for it; its stderr (progress, events)
// passes through. Error(kUsage) when it cannot start (no driver, no Python) or reports a usage
// problem (cluster unreachable, a task no node has the resources for), with its message; a
// fresh store is removed then.
RayOutcome RunRayDriver(const RayCampaign& campaign);

// This binary's absolute path: the command every node runs (the same path on every node).
std::string ConcordBinaryPath();

}  // namespace concord
