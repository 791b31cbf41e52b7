// TODO(serve): remote sessions over TCP.
#include "backends/remote_backend.h"

namespace concord {

std::unique_ptr<Session> PrepareRemoteSession(const Model& model, const EnvSpec& env) {
  Fail(ErrorKind::kUsage, "remote envs (host=) are not implemented yet");
}

}  // namespace concord
