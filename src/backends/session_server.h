// The server side of the runtime protocol over any local Backend (used by `concord serve`).
//
// ServeSession() answers one client's conversation, as documented in backends/protocol_session.h:
// HELLO (version + token check) first, then MODEL / DATA / PROCESS / STATS in any order the
// client likes, until BYE. The model arrives as bytes and is parsed in memory (a model that
// uses external data is rejected: the server never opens files the client names); the env it
// names is prepared with PrepareSession() on this machine (envs with host= are refused: a
// server does not forward to other hosts).
//
// Failure contract: ServeSession never throws. A concord::Error (or any other exception) while
// handling a well-formed request is answered ERROR {kind, message} and the conversation goes on.
// A malformed frame (bad magic, unknown type, over the channel's limits, truncated) loses the
// framing: it is answered ERROR where the peer can still hear it, and ServeSession returns. A
// failed HELLO (wrong version, bad or missing token) is answered ERROR and ServeSession returns.
// EOF, a read timeout or a vanished peer simply end the session. The caller owns the channel
// and closes it. Threading: one call per client; concurrent calls on different channels are fine.
#pragma once

#include <functional>
#include <string>

#include "protocol/channel.h"

namespace concord {

struct SessionServerOptions {
  std::string token;    // required in HELLO when non-empty (constant-time compare)
  std::string workdir;  // the only folder the server may write to (base_dir of received models)
  // Longest wait for the next request (whole frame); negative = forever.
  int receive_timeout_ms = -1;
  // List available backends and their versions in the HELLO reply. Probing them costs
  // (Python imports, OpenCL); `concord worker` serves one env for one client and skips it.
  bool describe_backends = true;
  // Receives one line per notable event (connection errors, protocol errors); may be empty.
  std::function<void(const std::string&)> log;
};

// Serves one client until BYE, EOF or a malformed frame; never throws. `admit`, when given, is
// called after a valid HELLO (version and token checked) and before the reply: false ends the
// conversation (TcpServer's admitter has told the client "busy").
void ServeSession(protocol::Channel& channel, const SessionServerOptions& options,
                  const std::function<bool()>& admit = nullptr);

// Token comparison whose time depends only on the lengths, never on where the strings differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace concord
