// TlsContext: the server's OpenSSL context (SSL_CTX), built from the tls-*
// directives the way Redis 7.0 builds its own: certificate chain and key,
// CA for client certificates, protocols, ciphers, session cache. The Server
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

  SSL_CTX* ctx() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// Whether the server needs a TLS context: a TLS listener, HTTP over TLS or
// TLS replication (Redis builds it for tls-replication as well).
bool TlsWanted(const Config& config);

// Whether `a` and `b` differ in a setting the context is built from (so a
// CONFIG SET of it must build a new one).
bool TlsContextSettingsDiffer(const Config& a, const Config& b);

}  // namespace lockd
