// The server: one libuv event loop thread that accepts connections, parses
// commands, runs them and sends the replies. main() hands it a validated
// configuration.
#pragma once

#include <functional>
#include <string>

#include "lockd/config.h"

namespace lockd {

namespace aof {
class FileSystem;
}

struct ServerOptions {
  std::string executable;  // for INFO
  // The file layer under the log; null: the real one. Tests inject failures.
  aof::FileSystem* files = nullptr;
  // Called once, right after every listener is bound and before the log is
  // loaded: main() writes the pidfile here, so that a start that fails to
  // bind (a port in use) never writes or removes the pidfile of the server
  // that holds the port, as in Redis.
  std::function<void()> on_listening;
};

// Serves until SHUTDOWN, SIGTERM or SIGINT. Returns the process exit code: 0
// after a clean shutdown, 1 when the server could not start (a port in use,
// a socket path it cannot bind), with the reason logged.
int RunServer(const Config& config, const ServerOptions& options);

}  // namespace lockd
