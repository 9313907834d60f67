// TlsContext: the server's OpenSSL contexts (SSL_CTX), built from the tls-*
// directives the way Redis 7.0 builds its own: certificate chain and key,
// CA for client certificates, protocols, ciphers, session cache; and, when
// tls-client-cert-file and tls-client-key-file are set, a second context
// for the connections this server opens (a replica's link to its primary)
// that presents that certificate instead. The Server
// holds one and builds a new one when CONFIG SET changes a TLS setting;
// every SSL made from a context holds a reference to it, so connections
// keep the context they started with after a reload.
#pragma once

#include <memory>
#include <string>

#include "lockd/config.h"
#include "lockd/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace lockd {

class TlsContext {
 public:
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Builds a context from `config`. On failure the message is the log line
  // Redis writes for the cause ("Failed to load certificate: ...").
  static Status Create(const Config& config, std::unique_ptr<TlsContext>* out);

  // For accepted connections.
  SSL_CTX* ctx() const { return ctx_; }
  // For connections this server opens: the client context if there is one,
  // else the server's, as Redis picks.
  SSL_CTX* client_ctx() const { return client_ctx_ != nullptr ? client_ctx_ : ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
  SSL_CTX* client_ctx_ = nullptr;
};

// Whether the server needs a TLS context: a TLS listener, HTTP over TLS or
// TLS replication (Redis builds it for tls-replication as well).
bool TlsWanted(const Config& config);

// Whether `a` and `b` differ in a setting the context is built from (so a
// CONFIG SET of it must build a new one).
bool TlsContextSettingsDiffer(const Config& a, const Config& b);

}  // namespace lockd
