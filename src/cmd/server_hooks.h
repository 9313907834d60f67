// ServerHooks: what the command layer may ask of the network layer that owns
// the connections (CLIENT LIST/KILL, INFO clients, SHUTDOWN). Implemented by
// net/server.cc; the command layer never sees a socket.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cmd/session.h"
#include "lockd/config.h"
#include "lockd/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace lockd {

struct ServerStatus {
  int tcp_port = 0;
  std::string executable;
  std::string config_file;
  size_t connected_clients = 0;
  uint64_t total_connections_received = 0;
  uint64_t rejected_connections = 0;
  uint64_t total_net_input_bytes = 0;
  uint64_t total_net_output_bytes = 0;
  uint64_t paused_reading_clients = 0;  // clients whose output passed the pause mark
};

class ServerHooks {
 public:
  virtual ~ServerHooks() = default;

  // Calls visit for every connected client, in id order.
  virtual void ForEachSession(const std::function<void(Session&)>& visit) = 0;
  virtual Session* FindSession(uint64_t id) = 0;
  // Closes a client once its pending replies are sent (or at once when it is
  // not the caller's own session).
  virtual void KillSession(Session& session) = 0;
  // A session that was blocked got its reply (grant, timeout, unblock): it
  // has output to send and may have pipelined commands to run.
  virtual void SessionUnblocked(Session& session) = 0;
  // Output was appended to a session other than the one running a command
  // (a pub/sub message, a MONITOR line): send it before the loop sleeps.
  // The default does nothing: fakes without sockets need not care.
  virtual void SessionHasOutput(Session& /*session*/) {}
  // SHUTDOWN: stop accepting, flush, exit with code 0.
  virtual void RequestShutdown() = 0;
  virtual ServerStatus Stats() = 0;
  // CONFIG RESETSTAT: zero the network counters.
  virtual void ResetStats() = 0;
  // CONFIG SET is about to store `updated`: a change to a TLS setting loads
  // a new TLS context from it, a new tls-port moves the TLS listener. On
  // failure (the cause is logged) the config must stay as it was. The
  // default accepts: fakes have no TLS.
  virtual Status ApplyTlsConfig(const Config& /*updated*/) { return Status::Ok(); }
  // The OpenSSL context for connections this server opens with TLS
  // (tls-replication), or null when TLS is not configured.
  virtual SSL_CTX* TlsClientContext() { return nullptr; }
};

}  // namespace lockd
