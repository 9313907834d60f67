// Tests for TlsStream, the per-connection TLS engine, without sockets: an
// OpenSSL client on memory BIOs talks to it through byte strings, so every
// byte either side produces is seen. The certificate is made in memory.
#include "net/tls_stream.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

#include "net/input_buffer.h"

namespace lockd {
namespace {

// A server context with a fresh self-signed P-256 certificate.
SSL_CTX* MakeServerContext() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("unit"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

// An OpenSSL client on memory BIOs.
struct Client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  BIO* in = BIO_new(BIO_s_mem());   // what the server sent
  BIO* out = BIO_new(BIO_s_mem());  // what the client sends
  Client() {
    ssl = SSL_new(ctx);
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  std::string TakeOutput() {
    std::string bytes(BIO_ctrl_pending(out), '\0');
    if (!bytes.empty()) BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  }
  void Give(const std::string& bytes) { BIO_write(in, bytes.data(), static_cast<int>(bytes.size())); }
  std::string ReadAll() {
    std::string plain;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) plain.append(buf, static_cast<size_t>(n));
    return plain;
  }
};

// Runs the handshake to its end; false if either side failed.
bool Handshake(Client& client, TlsStream& server, InputBuffer& input) {
  for (int round = 0; round < 10; ++round) {
    int r = SSL_do_handshake(client.ssl);
    std::string to_server = client.TakeOutput();
    size_t plain = 0;
    if (server.Receive(to_server.data(), to_server.size(), &input, &plain) ==
        TlsStream::Result::kError) {
      return false;
    }
    std::string& to_client = server.Output();
    client.Give(to_client);
    server.Sent(to_client.size());
    if (r == 1 && server.handshake_done()) return true;
  }
  return false;
}

TEST_CASE("TlsStream: handshake, then exactly the bytes each side wrote") {
  SSL_CTX* ctx = MakeServerContext();
  auto server = TlsStream::Create(ctx, TlsAuthClients::kNo);
  REQUIRE(server);
  Client client;
  InputBuffer input;
  REQUIRE(Handshake(client, *server, input));
  CHECK(std::string(server->version()) == "TLSv1.3");

  const std::string request = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n";
  REQUIRE(SSL_write(client.ssl, request.data(), static_cast<int>(request.size())) ==
          static_cast<int>(request.size()));
  std::string cipher = client.TakeOutput();
  // Fed a byte at a time: nothing comes out before a record is complete.
  size_t total = 0;
  for (char byte : cipher) {
    size_t plain = 0;
    REQUIRE(server->Receive(&byte, 1, &input, &plain) == TlsStream::Result::kOk);
    total += plain;
  }
  CHECK(total == request.size());
  CHECK(input.Pending() == request);

  const std::string reply = "+PONG\r\n$1\r\nx\r\n";
  REQUIRE(server->Encrypt(reply.data(), reply.size()));
  REQUIRE(server->HasOutput());
  const std::string whole = server->Output();
  // A write the socket takes in part: the rest moves to the in-flight
  // buffer, byte for byte, and nothing is left pending.
  uv_buf_t rest = server->StartWrite(3);
  CHECK(std::string(rest.base, rest.len) == whole.substr(3));
  CHECK_FALSE(server->HasOutput());
  client.Give(whole.substr(0, 3) + std::string(rest.base, rest.len));
  server->WriteDone();
  CHECK(client.ReadAll() == reply);
  SSL_CTX_free(ctx);
}

TEST_CASE("TlsStream: a whole reply reaches the client as written") {
  SSL_CTX* ctx = MakeServerContext();
  auto server = TlsStream::Create(ctx, TlsAuthClients::kNo);
  Client client;
  InputBuffer input;
  REQUIRE(Handshake(client, *server, input));
  std::string big(100000, 'y');
  REQUIRE(server->Encrypt(big.data(), big.size()));
  std::string& out = server->Output();
  client.Give(out);
  server->Sent(out.size());
  CHECK_FALSE(server->HasOutput());
  CHECK(client.ReadAll() == big);
  SSL_CTX_free(ctx);
}

TEST_CASE("TlsStream: plain text, and a record header past TLS's limit, fail at once") {
  SSL_CTX* ctx = MakeServerContext();
  InputBuffer input;
  size_t plain = 0;
  auto a = TlsStream::Create(ctx, TlsAuthClients::kNo);
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  CHECK(a->Receive(ping.data(), ping.size(), &input, &plain) == TlsStream::Result::kError);
  CHECK_FALSE(a->error().empty());

  // After a finished handshake, a record announcing 65535 bytes.
  auto b = TlsStream::Create(ctx, TlsAuthClients::kNo);
  Client client;
  REQUIRE(Handshake(client, *b, input));
  const std::string header("\x17\x03\x03\xff\xff", 5);
  CHECK(b->Receive(header.data(), header.size(), &input, &plain) == TlsStream::Result::kError);
  CHECK(plain == 0);
  SSL_CTX_free(ctx);
}

TEST_CASE("TlsStream: a client's close_notify ends the stream") {
  SSL_CTX* ctx = MakeServerContext();
  auto server = TlsStream::Create(ctx, TlsAuthClients::kNo);
  Client client;
  InputBuffer input;
  REQUIRE(Handshake(client, *server, input));
  SSL_shutdown(client.ssl);
  std::string bytes = client.TakeOutput();
  size_t plain = 0;
  CHECK(server->Receive(bytes.data(), bytes.size(), &input, &plain) ==
        TlsStream::Result::kClosed);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace lockd
