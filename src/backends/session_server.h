// The server side of the runtime protocol over any local Backend (used by `concord serve`).
#pragma once

#include <string>

#include "protocol/channel.h"

namespace concord {

struct SessionServerOptions {
  std::string token;    // required in HELLO when non-empty (constant-time compare)
  std::string workdir;  // the only folder the server may write to
};

// Serves one client until BYE, EOF or a malformed frame; never throws.
void ServeSession(protocol::Channel& channel, const SessionServerOptions& options);

}  // namespace concord
