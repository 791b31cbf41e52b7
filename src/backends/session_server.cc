// TODO(serve): session server loop.
#include "backends/session_server.h"

namespace concord {

void ServeSession(protocol::Channel& channel, const SessionServerOptions& options) {}

}  // namespace concord
