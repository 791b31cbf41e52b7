// A Session that runs its model on the other end of a protocol Channel: a local worker
// process (WorkerBackend) or a remote `concord serve` target (RemoteBackend). Same messages
// either way, so local worker, remote target and crash isolation are one mechanism.
//
// Conversation (client -> server, see protocol/message.h):
//   HELLO {version, token?, client}        -> HELLO {version, server, capabilities, versions}
//   MODEL {env, name} + model              -> OK {prepare_ms, effective_env, ...}
//   MODEL {env, name, path, format}        -> OK {..., signature: {inputs, outputs}}
//     (a framework model, Model::is_framework: no blob; the worker reads the file at `path`,
//      an absolute path, and reports the signature: SignatureFromWire)
//   DATA {names, kinds} + tensors          -> OK
//   PROCESS {taps}                         -> OUTPUT {names, kinds, timing_ms} + tensors
//                                             [then TAPS {names, kinds} + tensors if taps]
//   STATS {}                               -> STATS {inference_ms, cpu_percent, rss_bytes, ...}
//   BYE {}                                 -> (server closes)
// Shared memory (local workers, ProtocolSessionOptions::shared_memory): HELLO also carries
// {shm: {fd, size}}, the descriptor number the worker inherited the region as. A server that
// maps it answers capabilities {shm: true}; then tensors travel in the region (protocol/
// values.h) and a run is one round trip, PROCESS {taps, names, kinds, shm, shm_size} ->
// OUTPUT (the inputs ride on PROCESS; no DATA). Any other answer (remote targets, `concord
// worker`, older workers) keeps the serialized path above and the region is released.
// MODEL's env is JSON {backend, device, options: {KEY: VALUE}} (EnvToWire), never env text for
// the server to parse again; host= and token= stay on the client (the token travels in HELLO).
// Any request may be answered ERROR {kind, message}; it is rethrown here as Error of that kind
// prefixed with the peer's name. Timeouts and a vanished peer are Error(kRuntime).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "backends/backend.h"
#include "protocol/channel.h"
#include "protocol/shared_region.h"

namespace concord {

struct ProtocolSessionOptions {
  std::string token;  // sent in HELLO (remote targets)
  int hello_timeout_ms = 30000;
  int prepare_timeout_ms = 600000;  // compilation (TVM) can take minutes
  int run_timeout_ms = 300000;
  // Called with the HELLO reply before MODEL is sent (a worker backend checks the env against
  // the options the worker declares); what it throws ends the construction.
  std::function<void(const nlohmann::json& hello)> check_hello;
  // Shared memory to offer the server in HELLO (a local worker that inherited the region's
  // file as descriptor `shared_memory_fd`); the session takes it over.
  std::shared_ptr<protocol::SharedRegion> shared_memory;
  int shared_memory_fd = -1;
};

// The env as MODEL carries it: {backend, device, options: {KEY: VALUE}} (values are strings).
nlohmann::json EnvToWire(const EnvSpec& env);
// Reads EnvToWire's form; Error(kInput) naming what is wrong when `wire` is not that form.
EnvSpec EnvFromWire(const nlohmann::json& wire);

// The MODEL reply's signature[`key`] ("inputs" or "outputs"): a list of {name, dtype, shape}
// where dtype is a DTypeFromName() name ("" or absent: unknown) and shape a list of dims (-1 or
// null for an unknown dim) or null for an unknown rank. Error(kRuntime) naming `peer` when the
// reply lacks it or it is malformed.
std::vector<ValueInfo> SignatureFromWire(const nlohmann::json& reply, const char* key,
                                         const std::string& peer);

class ProtocolSession : public Session {
 public:
  // Performs HELLO and MODEL; throws on failure. `env` is sent with the model (EnvToWire).
  ProtocolSession(std::unique_ptr<protocol::Channel> channel, const Model& model,
                  const EnvSpec& env, const ProtocolSessionOptions& options);
  ~ProtocolSession() override;

  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override;
  bool supports_taps() const override { return supports_taps_; }
  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                 RunTiming* timing) override;
  std::string effective_env() const override { return effective_env_; }
  // With shared memory: the inputs are placed once and every RunBound sends the same PROCESS
  // (the worker reuses its views of them); any other run in between places them again.
  void BindInputs(const ValueMap& inputs) override;
  std::vector<Value> RunBound(RunTiming* timing) override;
  void SetLowLatency(bool on) override { low_latency_ = on; }
  bool supports_reload() const override { return true; }
  // Sends MODEL again on the same channel (the servers accept any number of MODELs).
  void Reload(const Model& model) override;

  const nlohmann::json& server_hello() const { return server_hello_; }
  const nlohmann::json& prepare_info() const { return prepare_info_; }
  // STATS round trip (inference times and resource use as the server measured them).
  nlohmann::json Stats() override;
  // True while tensors travel in shared memory (the server accepted the offer).
  bool uses_shared_memory() const { return shared_ != nullptr; }
  // Unmaps and closes our side of the shared memory (the server died: nothing more will read
  // it); later runs use the pipe path, which then fails on the dead channel as before.
  void ReleaseSharedMemory() { shared_.reset(); }

 protected:
  protocol::Channel& channel() { return *channel_; }

 private:
  std::vector<Value> DoRun(const ValueMap& inputs, ValueMap* taps, RunTiming* timing);
  // PROCESS carrying `inputs` (in shared memory, or sent ahead as DATA without it).
  protocol::Message MakeProcess(const ValueMap& inputs, bool taps);
  // Sends PROCESS and reads OUTPUT (and TAPS when taps is not null).
  std::vector<Value> Exchange(const protocol::Message& process, ValueMap* taps, RunTiming* timing);

  void SendModel(const Model& model);
  void SendFrameworkModel(const Model& model, protocol::Message m);
  // Sends MODEL, requires OK and records its meta (prepare info, effective env).
  protocol::Message CallModel(const protocol::Message& m);

  std::unique_ptr<protocol::Channel> channel_;
  ProtocolSessionOptions options_;
  std::shared_ptr<protocol::SharedRegion> shared_;  // null: values travel serialized
  EnvSpec env_;
  std::vector<std::string> input_names_;
  std::vector<std::string> output_names_;
  nlohmann::json server_hello_;
  nlohmann::json prepare_info_;
  std::string effective_env_;
  bool supports_taps_ = false;
  std::optional<protocol::Message> bound_process_;  // BindInputs' PROCESS, while still in place
  bool low_latency_ = false;
};

}  // namespace concord
