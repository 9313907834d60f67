// Building the SSL_CTX from the tls-* directives, with Redis 7.0's checks,
// options and log texts (its tls.c), so that a configuration that works for
// redis-server works here and fails the same way when it does not.
#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <sstream>

#include "util/strings.h"

namespace lockd {

namespace {

constexpr int kTlsV1 = 1;
constexpr int kTlsV11 = 2;
constexpr int kTlsV12 = 4;
constexpr int kTlsV13 = 8;

// The oldest error OpenSSL queued, as text; the queue is cleared so that
// it does not leak into the next connection's error.
std::string OpenSslError() {
  char buf[256] = "unknown error";
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// tls-protocols as Redis reads it: "" means TLSv1.2 and TLSv1.3.
Status ParseProtocols(const std::string& text, int* out) {
  if (text.empty()) {
    *out = kTlsV12 | kTlsV13;
    return Status::Ok();
  }
  int protocols = 0;
  std::istringstream words(text);
  std::string w;
  while (words >> w) {
    if (EqualsIgnoreCase(w, "tlsv1")) {
      protocols |= kTlsV1;
    } else if (EqualsIgnoreCase(w, "tlsv1.1")) {
      protocols |= kTlsV11;
    } else if (EqualsIgnoreCase(w, "tlsv1.2")) {
      protocols |= kTlsV12;
    } else if (EqualsIgnoreCase(w, "tlsv1.3")) {
      protocols |= kTlsV13;
    } else {
      return Status::Error(
          "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' "
          "and 'TLSv1.3'.");
    }
  }
  *out = protocols;
  return Status::Ok();
}

// The key's passphrase, handed to OpenSSL when the key file is encrypted.
int PassphraseCallback(char* buf, int size, int, void* user) {
  const auto* pass = static_cast<const std::string*>(user);
  if (pass == nullptr || size <= 0) return 0;
  int n = static_cast<int>(std::min(pass->size(), static_cast<size_t>(size - 1)));
  std::memcpy(buf, pass->data(), static_cast<size_t>(n));
  buf[n] = '\0';
  return n;
}

}  // namespace

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
  SSL_CTX_free(client_ctx_);
}

bool TlsWanted(const Config& c) {
  return c.tls_port != 0 || (c.http_tls && c.http_port != 0) || c.tls_replication;
}

bool TlsContextSettingsDiffer(const Config& a, const Config& b) {
  return a.tls_cert_file != b.tls_cert_file || a.tls_key_file != b.tls_key_file ||
         a.tls_key_file_pass != b.tls_key_file_pass ||
         a.tls_client_cert_file != b.tls_client_cert_file ||
         a.tls_client_key_file != b.tls_client_key_file ||
         a.tls_client_key_file_pass != b.tls_client_key_file_pass ||
         a.tls_ca_cert_file != b.tls_ca_cert_file ||
         a.tls_ca_cert_dir != b.tls_ca_cert_dir || a.tls_protocols != b.tls_protocols ||
         a.tls_ciphers != b.tls_ciphers || a.tls_ciphersuites != b.tls_ciphersuites ||
         a.tls_prefer_server_ciphers != b.tls_prefer_server_ciphers ||
         a.tls_session_caching != b.tls_session_caching ||
         a.tls_session_cache_size != b.tls_session_cache_size ||
         a.tls_session_cache_timeout != b.tls_session_cache_timeout ||
         a.tls_replication != b.tls_replication ||
         // Whether a CA is required depends on it (see Create).
         a.tls_auth_clients != b.tls_auth_clients;
}

namespace {

// One SSL_CTX, for accepted connections or (`client`) for those this server
// opens, with the matching certificate. Redis makes both with the generic
// method, so either side of a handshake works with either.
Status BuildContext(const Config& c, int protocols, bool client, SSL_CTX** out) {
  const std::string& cert_file = client ? c.tls_client_cert_file : c.tls_cert_file;
  const std::string& key_file = client ? c.tls_client_key_file : c.tls_key_file;
  const std::string& key_pass = client ? c.tls_client_key_file_pass : c.tls_key_file_pass;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) return Status::Error("Failed to create SSL context: " + OpenSslError());
  // Freed on every failure below.
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> owned(ctx, SSL_CTX_free);

  SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION);
  // Renegotiation would let a client restart the handshake's CPU cost at
  // will on an open connection, and it lets a client inject data before a
  // renegotiated handshake: refused, as Redis does (OpenSSL 3 refuses a
  // client's request by default; this refuses every kind).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (!(protocols & kTlsV1)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1);
  if (!(protocols & kTlsV11)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_1);
  if (!(protocols & kTlsV12)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_2);
  if (!(protocols & kTlsV13)) SSL_CTX_set_options(ctx, SSL_OP_NO_TLSv1_3);
  if (c.tls_prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // The memory BIOs never block, but a write may still be split: the
  // engine hands OpenSSL each run of the output as it is.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // OpenSSL keeps a buffer per connection when idle otherwise (~34 KB).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  // The verification a replica asks of its primary's certificate (the
  // server side sets its own per connection from tls-auth-clients).
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (c.tls_session_caching && !client) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, c.tls_session_cache_size);
    SSL_CTX_set_timeout(ctx, static_cast<long>(c.tls_session_cache_timeout));
    static const unsigned char kSessionContext[] = "lockd";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
  }

  // The passphrase is needed only while the key loads.
  std::string pass = key_pass;
  SSL_CTX_set_default_passwd_cb(ctx, PassphraseCallback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, pass.empty() ? nullptr : &pass);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) <= 0) {
    return Status::Error(
        fmt::format("Failed to load certificate: {}: {}", cert_file, OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) <= 0) {
    return Status::Error(
        fmt::format("Failed to load private key: {}: {}", key_file, OpenSslError()));
  }
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (SSL_CTX_check_private_key(ctx) <= 0) {
    return Status::Error(
        fmt::format("Failed to load private key: {}: {}", key_file, OpenSslError()));
  }
  if ((!c.tls_ca_cert_file.empty() || !c.tls_ca_cert_dir.empty()) &&
      SSL_CTX_load_verify_locations(ctx, c.tls_ca_cert_file.empty() ? nullptr
                                                                    : c.tls_ca_cert_file.c_str(),
                                    c.tls_ca_cert_dir.empty() ? nullptr
                                                              : c.tls_ca_cert_dir.c_str()) <= 0) {
    return Status::Error(
        "Failed to configure CA certificate(s) file/directory: " + OpenSslError());
  }
  if (!c.tls_ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, c.tls_ciphers.c_str())) {
    ERR_clear_error();
    return Status::Error("Failed to configure ciphers: " + c.tls_ciphers);
  }
  if (!c.tls_ciphersuites.empty() && !SSL_CTX_set_ciphersuites(ctx, c.tls_ciphersuites.c_str())) {
    ERR_clear_error();
    return Status::Error("Failed to configure ciphersuites: " + c.tls_ciphersuites);
  }
  *out = owned.release();
  return Status::Ok();
}

}  // namespace

Status TlsContext::Create(const Config& c, std::unique_ptr<TlsContext>* out) {
  if (c.tls_cert_file.empty()) return Status::Error("No tls-cert-file configured!");
  if (c.tls_key_file.empty()) return Status::Error("No tls-key-file configured!");
  if ((c.tls_auth_clients != TlsAuthClients::kNo || c.tls_replication) &&
      c.tls_ca_cert_file.empty() && c.tls_ca_cert_dir.empty()) {
    return Status::Error(
        "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, "
        "tls-replication or tls-auth-clients are enabled!");
  }
  int protocols = 0;
  if (Status s = ParseProtocols(c.tls_protocols, &protocols); !s.ok()) return s;

  SSL_CTX* ctx = nullptr;
  if (Status s = BuildContext(c, protocols, /*client=*/false, &ctx); !s.ok()) return s;
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  // Both must be set, as in Redis; otherwise connections this server opens
  // present the server's certificate.
  if (!c.tls_client_cert_file.empty() && !c.tls_client_key_file.empty()) {
    if (Status s = BuildContext(c, protocols, /*client=*/true, &context->client_ctx_); !s.ok()) {
      return s;
    }
  }
  *out = std::move(context);
  return Status::Ok();
}

}  // namespace lockd
