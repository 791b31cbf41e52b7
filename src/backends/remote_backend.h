// Any env with host=ADDR:PORT runs on a `concord serve` target over TCP (RemoteBackend).
//
// The remote session is a ProtocolSession over a TCP socket, so it implements the same Session
// interface as a local one (Run, RunWithTaps when the target supports taps, effective_env).
// Env options consumed here and not sent to the server: host=ADDR:PORT (IPv4 address, IPv6 in
// brackets, or a host name), token=... (else $CONCORD_TOKEN), connect_timeout=SECONDS (default
// 10). Failure contract: a malformed host is Error(kUsage); an unknown host, a refused
// connection or a connect timeout is Error(kRuntime) naming host:port; errors the server
// reports (authentication, unsupported env, bad model) keep their kind and are prefixed with
// the target's name.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace concord {

// Connects to env.Get("host"), authenticates with env.Get("token") or $CONCORD_TOKEN, and
// prepares the env (without host=) there.
std::unique_ptr<Session> PrepareRemoteSession(const Model& model, const EnvSpec& env);

// Opens a TCP connection to "ADDR:PORT" within timeout_ms; returns the connected socket
// (blocking, close-on-exec, TCP_NODELAY). Errors as described above.
int ConnectTcp(const std::string& host_port, int timeout_ms);

}  // namespace concord
