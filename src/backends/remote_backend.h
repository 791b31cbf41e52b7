// Any env with host=ADDR:PORT runs on a `concord serve` target over TCP (RemoteBackend).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace concord {

// Connects to env.Get("host"), authenticates with env.Get("token") or $CONCORD_TOKEN, and
// prepares the env (without host=) there.
std::unique_ptr<Session> PrepareRemoteSession(const Model& model, const EnvSpec& env);

}  // namespace concord
