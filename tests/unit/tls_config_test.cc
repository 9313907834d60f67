// Tests for the TLS directives: Redis 7.0's tls-* names, defaults, parsing
// and error texts, and lockd's http-tls.
#include <doctest/doctest.h>

#include <string>

#include "lockd/config.h"

namespace lockd {
namespace {

std::string GetOne(const Config& c, std::string_view name) {
  auto pairs = ConfigGet(c, name);
  REQUIRE(pairs.size() == 1);
  return pairs[0].second;
}

TEST_CASE("TLS directives: Redis 7.0's defaults as CONFIG GET shows them") {
  const Config c;
  CHECK(GetOne(c, "tls-port") == "0");
  CHECK(GetOne(c, "tls-cert-file").empty());
  CHECK(GetOne(c, "tls-key-file").empty());
  CHECK(GetOne(c, "tls-key-file-pass").empty());
  CHECK(GetOne(c, "tls-client-cert-file").empty());
  CHECK(GetOne(c, "tls-client-key-file").empty());
  CHECK(GetOne(c, "tls-client-key-file-pass").empty());
  CHECK(GetOne(c, "tls-ca-cert-file").empty());
  CHECK(GetOne(c, "tls-ca-cert-dir").empty());
  CHECK(GetOne(c, "tls-auth-clients") == "yes");
  CHECK(GetOne(c, "tls-protocols").empty());
  CHECK(GetOne(c, "tls-ciphers").empty());
  CHECK(GetOne(c, "tls-ciphersuites").empty());
  CHECK(GetOne(c, "tls-prefer-server-ciphers") == "no");
  CHECK(GetOne(c, "tls-session-caching") == "yes");
  CHECK(GetOne(c, "tls-session-cache-size") == "20480");
  CHECK(GetOne(c, "tls-session-cache-timeout") == "300");
  CHECK(GetOne(c, "tls-replication") == "no");
  CHECK(GetOne(c, "http-tls") == "no");
}

TEST_CASE("TLS directives parse into the Config") {
  Config c;
  Status s = ParseConfigText(
      "tls-port 6380\ntls-cert-file /a.crt\ntls-key-file /a.key\ntls-key-file-pass secret\n"
      "tls-ca-cert-file /ca.crt\ntls-ca-cert-dir /cas\ntls-auth-clients OPTIONAL\n"
      "tls-protocols \"TLSv1.2 TLSv1.3\"\ntls-ciphers HIGH\ntls-ciphersuites "
      "TLS_AES_128_GCM_SHA256\ntls-prefer-server-ciphers yes\ntls-session-caching no\n"
      "tls-session-cache-size 10\ntls-session-cache-timeout 60\ntls-replication yes\n"
      "http-tls yes\ntls-client-cert-file /c.crt\ntls-client-key-file /c.key\n"
      "tls-client-key-file-pass pw\n",
      "t.conf", &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.tls_port == 6380);
  CHECK(c.tls_cert_file == "/a.crt");
  CHECK(c.tls_key_file == "/a.key");
  CHECK(c.tls_key_file_pass == "secret");
  CHECK(c.tls_ca_cert_file == "/ca.crt");
  CHECK(c.tls_ca_cert_dir == "/cas");
  CHECK(c.tls_auth_clients == TlsAuthClients::kOptional);
  CHECK(GetOne(c, "tls-auth-clients") == "optional");
  CHECK(c.tls_protocols == "TLSv1.2 TLSv1.3");
  CHECK(c.tls_ciphers == "HIGH");
  CHECK(c.tls_ciphersuites == "TLS_AES_128_GCM_SHA256");
  CHECK(c.tls_prefer_server_ciphers);
  CHECK_FALSE(c.tls_session_caching);
  CHECK(c.tls_session_cache_size == 10);
  CHECK(c.tls_session_cache_timeout == 60);
  CHECK(c.tls_replication);
  CHECK(c.http_tls);
  CHECK(c.tls_client_cert_file == "/c.crt");
  CHECK(c.tls_client_key_file == "/c.key");
  CHECK(c.tls_client_key_file_pass == "pw");
  CHECK(GetOne(c, "tls-client-cert-file") == "/c.crt");
}

TEST_CASE("TLS directives refuse bad values with Redis's texts") {
  Config c;
  CHECK(ConfigSetAtRuntime(&c, "tls-auth-clients", "maybe").message() ==
        "argument(s) must be one of the following: no, yes, optional");
  CHECK(ConfigSetAtRuntime(&c, "tls-session-caching", "x").message() ==
        "argument must be 'yes' or 'no'");
  CHECK(ConfigSetAtRuntime(&c, "tls-session-cache-size", "-1").message() ==
        "argument must be between 0 and 2147483647 inclusive");
  CHECK(ParseConfigText("tls-port 65536\n", "t.conf", &c).message().find(
            "argument must be between 0 and 65535 inclusive") != std::string::npos);
  // tls-port moves at run time, as in Redis (the server opens the new
  // listener); http-tls is fixed at start.
  CHECK(ConfigSetAtRuntime(&c, "tls-port", "6380").ok());
  CHECK(c.tls_port == 6380);
  c.tls_port = 0;
  CHECK(ConfigSetAtRuntime(&c, "http-tls", "yes").message() == "can't set immutable config");
  // The file settings change at run time (the server reloads its context).
  CHECK(ConfigSetAtRuntime(&c, "tls-cert-file", "/x.crt").ok());
  CHECK(c.tls_cert_file == "/x.crt");
  CHECK(c == [] {
    Config x;
    x.tls_cert_file = "/x.crt";
    return x;
  }());
}

}  // namespace
}  // namespace lockd
