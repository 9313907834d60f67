// TLS on lockd's listeners: real TLS clients (OpenSSL, in this file) against
// tls-port and the HTTP listener with http-tls, with certificates the test
// makes with the `openssl` tool: a CA, a server certificate, a client
// certificate, an expired one and one from another CA. Then what a hostile
// peer may cost: plain text, garbage, a 100 MB record header, a handshake
// that never finishes, a flood of handshakes, renegotiation; each costs its
// own connection only while a probe on another connection is served.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"
#include "test_certs.h"

using namespace lockd_test;

namespace {

// The directives of a TLS server on `tls_port`, plus `extra`.
std::vector<std::string> TlsArgs(int tls_port, std::vector<std::string> extra = {}) {
  const TestCertificates& c = TestCerts();
  std::vector<std::string> args = {"--tls-port",      std::to_string(tls_port),
                                   "--tls-cert-file", c.server_crt,
                                   "--tls-key-file",  c.server_key,
                                   "--tls-ca-cert-file", c.ca};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Whether the server closed `fd` (EOF or reset) within `timeout_ms`, reading
// and dropping whatever it sends meanwhile.
bool ClosedWithin(int fd, int timeout_ms) {
  auto start = Clock::now();
  char buf[4096];
  while (ElapsedMs(start) < timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 50);
    if (r <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

// A blocking TLS client. Every read and write is bounded by the socket's
// timeouts, so a broken server fails a test rather than hanging it.
class TlsClient {
 public:
  struct Options {
    std::string cert;  // client certificate and key, if any
    std::string key;
    int max_version = 0;  // e.g. TLS1_2_VERSION; 0: the newest
    bool verify_server = true;
  };

  TlsClient(int port, const Options& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.verify_server) {
      SSL_CTX_load_verify_locations(ctx_, TestCerts().ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (o.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (!o.cert.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, o.cert.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, o.key.c_str(), SSL_FILETYPE_PEM);
    }
    fd_ = ConnectLoopback(port);
    if (fd_ < 0) return;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }

  bool Handshake() {
    if (ssl_ == nullptr) return false;
    ERR_clear_error();
    return SSL_connect(ssl_) == 1;
  }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until `n` bytes arrived in total, EOF, error or `timeout_ms`.
  std::string Read(size_t n, int timeout_ms = 5000) {
    auto start = Clock::now();
    while (buf_.size() < n && !eof_ && ElapsedMs(start) < timeout_ms) {
      char tmp[16384];
      int r = SSL_read(ssl_, tmp, sizeof(tmp));
      if (r > 0) {
        buf_.append(tmp, static_cast<size_t>(r));
        continue;
      }
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      eof_ = true;
    }
    std::string out = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, out.size());
    return out;
  }
  // One command as a multibulk; the reply's first `reply_bytes` bytes.
  std::string Command(const std::vector<std::string>& args, size_t reply_bytes) {
    if (!Send(Multibulk(args))) return "";
    return Read(reply_bytes);
  }
  bool Ping() { return Command({"PING"}, 7) == "+PONG\r\n"; }
  SSL* ssl() { return ssl_; }
  int fd() const { return fd_; }
  std::string PeerSubject() {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return "";
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
    X509_free(cert);
    return name;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

TlsClient::Options WithClientCert() {
  return {TestCerts().client_crt, TestCerts().client_key, 0, true};
}

// The client may finish its side of a TLS 1.3 handshake before the server
// has checked its certificate; the refusal shows on the first exchange.
bool ServedOverTls(int port, const TlsClient::Options& o) {
  TlsClient c(port, o);
  return c.Handshake() && c.Ping();
}

}  // namespace

TEST_CASE("tls: a client with a certificate runs LOCK.* and SET NX PX; the plain port still serves") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  TlsClient c(tls_port, WithClientCert());
  REQUIRE(c.Handshake());
  CHECK(c.PeerSubject() == "/CN=server");
  CHECK(c.Ping());
  std::string token = c.Command({"LOCK.ACQUIRE", "seat:1", "alice", "60000"}, 4);
  CHECK(token == ":1\r\n");
  CHECK(c.Command({"LOCK.FENCE", "seat:1"}, 4) == ":1\r\n");
  CHECK(c.Command({"LOCK.RELEASE", "seat:1", "alice", "1"}, 4) == ":1\r\n");
  CHECK(c.Command({"SET", "seat:2", "bob", "NX", "PX", "60000"}, 5) == "+OK\r\n");
  CHECK(c.Command({"SET", "seat:2", "eve", "NX", "PX", "60000"}, 5) == "$-1\r\n");
  // The same lock table on the plain port.
  auto plain = srv.Connect();
  REQUIRE(plain->ok());
  CHECK(plain->Cmd({"GET", "seat:2"}).str() == "bob");
  // A pipeline and a large reply pass whole through the TLS layer: 2,000
  // commands in one write, then a 3 MB ECHO (past the pause mark).
  std::string batch;
  for (int i = 0; i < 2000; ++i) batch += Multibulk({"PING"});
  REQUIRE(c.Send(batch));
  std::string replies = c.Read(2000 * 7, 10000);
  CHECK(replies.size() == 2000 * 7);
  CHECK(replies.find("+PONG\r\n+PONG\r\n") == 0);
  const std::string big(3 * 1024 * 1024, 'x');
  REQUIRE(c.Send(Multibulk({"ECHO", big})));
  std::string echoed = c.Read(big.size() + 13, 20000);
  CHECK(echoed == "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n");
  CHECK(c.Ping());
  // INFO's byte counters count the plaintext, as Redis's do.
  CHECK(std::stoll(srv.Info("stats", "total_net_output_bytes")) > 3 * 1024 * 1024);
}

TEST_CASE("tls: replies held for the log's sync leave over TLS after it (appendfsync always)") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  ServerOptions options;
  options.appendonly = true;
  options.extra = TlsArgs(tls_port, {"--appendfsync", "always"});
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  TlsClient c(tls_port, WithClientCert());
  REQUIRE(c.Handshake());
  std::string pipeline;
  for (int i = 0; i < 50; ++i) {
    pipeline += Multibulk({"LOCK.ACQUIRE", "k" + std::to_string(i), "h", "60000"});
  }
  REQUIRE(c.Send(pipeline));
  std::string got = c.Read(50 * 4, 10000);
  CHECK(got.size() == 50 * 4);
  CHECK(got.substr(0, 4) == ":1\r\n");
}

TEST_CASE("tls: tls-auth-clients yes refuses a client without a certificate; optional and no accept it") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  TlsClient::Options none;
  CHECK_FALSE(ServedOverTls(tls_port, none));
  CHECK(ServedOverTls(tls_port, WithClientCert()));
  // A change applies to connections accepted afterwards.
  auto admin = srv.Connect();
  REQUIRE(admin->ok());
  CHECK(admin->Cmd({"CONFIG", "SET", "tls-auth-clients", "optional"}).str() == "OK");
  CHECK(ServedOverTls(tls_port, none));
  CHECK(ServedOverTls(tls_port, WithClientCert()));
  // optional still verifies a certificate that is presented.
  CHECK_FALSE(ServedOverTls(tls_port, {TestCerts().stranger_crt, TestCerts().stranger_key, 0, true}));
  CHECK(admin->Cmd({"CONFIG", "SET", "tls-auth-clients", "no"}).str() == "OK");
  CHECK(ServedOverTls(tls_port, none));
  CHECK(admin->Cmd({"CONFIG", "GET", "tls-auth-clients"}).at(1)->str == std::string("no"));
}

TEST_CASE("tls: expired and wrong-CA client certificates are refused") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  const TestCertificates& k = TestCerts();
  CHECK_FALSE(ServedOverTls(tls_port, {k.expired_crt, k.expired_key, 0, true}));
  CHECK_FALSE(ServedOverTls(tls_port, {k.stranger_crt, k.stranger_key, 0, true}));
  // TLS 1.2 fails within the handshake itself.
  TlsClient old(tls_port, {k.stranger_crt, k.stranger_key, TLS1_2_VERSION, true});
  CHECK_FALSE(old.Handshake());
  CHECK(ServedOverTls(tls_port, WithClientCert()));
  auto probe = srv.Connect();
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("tls: CONFIG SET of the certificate reloads the context; a bad file keeps the old one") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  auto admin = srv.Connect();
  REQUIRE(admin->ok());
  TlsClient before(tls_port, WithClientCert());
  REQUIRE(before.Handshake());
  CHECK(before.PeerSubject() == "/CN=server");

  Reply bad = admin->Cmd({"CONFIG", "SET", "tls-cert-file", "/nonexistent.crt"});
  CHECK(bad.str() ==
        "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update "
        "TLS configuration. Check server logs.");
  CHECK(admin->Cmd({"CONFIG", "GET", "tls-cert-file"}).at(1)->str == TestCerts().server_crt);
  CHECK(srv.ReadLog().find("Failed to load certificate: /nonexistent.crt") != std::string::npos);
  Reply protocols = admin->Cmd({"CONFIG", "SET", "tls-protocols", "SSLv3"});
  CHECK(protocols.str().find("Unable to update TLS configuration") != std::string::npos);
  Reply ciphers = admin->Cmd({"CONFIG", "SET", "tls-ciphers", "NO-SUCH-CIPHER"});
  CHECK(ciphers.str().find("'tls-ciphers'") != std::string::npos);
  CHECK(ServedOverTls(tls_port, WithClientCert()));

  // A certificate and key that belong together are a new context.
  Reply good = admin->Cmd({"CONFIG", "SET", "tls-cert-file", TestCerts().server2_crt,
                           "tls-key-file", TestCerts().dir + "/server2.key"});
  CHECK(good.str() == "OK");
  TlsClient after(tls_port, WithClientCert());
  REQUIRE(after.Handshake());
  CHECK(after.PeerSubject() == "/CN=server2");
  CHECK(after.Ping());
  // The connection made before keeps its context and still works.
  CHECK(before.Ping());
  // A key that does not match the certificate is refused.
  Reply mismatch = admin->Cmd({"CONFIG", "SET", "tls-key-file", TestCerts().server_key});
  CHECK(mismatch.str().find("Unable to update TLS configuration") != std::string::npos);
}

TEST_CASE("tls: start-up fails as Redis's when the context cannot be built") {
  REQUIRE(TestCerts().ok);
  RunResult r = RunServerOnce({"--port", std::to_string(FreePort()), "--tls-port",
                               std::to_string(FreePort()), "--tls-cert-file", "/nonexistent.crt",
                               "--tls-key-file", TestCerts().server_key, "--tls-ca-cert-file",
                               TestCerts().ca, "--appendonly", "no", "--dir", TestCerts().dir});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("Failed to load certificate: /nonexistent.crt") != std::string::npos);
  CHECK(r.output.find("Failed to configure TLS. Check logs for more info.") != std::string::npos);
  RunResult no_ca = RunServerOnce({"--port", std::to_string(FreePort()), "--tls-port",
                                   std::to_string(FreePort()), "--tls-cert-file",
                                   TestCerts().server_crt, "--tls-key-file",
                                   TestCerts().server_key, "--appendonly", "no", "--dir",
                                   TestCerts().dir});
  CHECK(no_ca.exit_code == 1);
  CHECK(no_ca.output.find("Either tls-ca-cert-file or tls-ca-cert-dir must be specified") !=
        std::string::npos);
}

TEST_CASE("tls: HTTP over TLS with http-tls") {
  REQUIRE(TestCerts().ok);
  const int http_port = FreePort();
  START_SERVER(srv, "--http-port", std::to_string(http_port), "--http-tls", "yes",
               "--tls-cert-file", TestCerts().server_crt, "--tls-key-file",
               TestCerts().server_key, "--tls-ca-cert-file", TestCerts().ca,
               "--tls-auth-clients", "no");
  TlsClient c(http_port, {});
  REQUIRE(c.Handshake());
  REQUIRE(c.Send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::string head = c.Read(12);
  CHECK(head == "HTTP/1.1 200");
  // Plain HTTP on it is refused.
  int fd = ConnectLoopback(http_port);
  REQUIRE(fd >= 0);
  std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(send(fd, get.data(), get.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(get.size()));
  CHECK(ClosedWithin(fd, 5000));
  close(fd);
}

TEST_CASE("tls hostile: plain text, garbage and oversized record headers each close one connection") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  const std::string inputs[] = {
      Multibulk({"PING"}),
      std::string("\x00\xff garbage \x16\x03\x01 more garbage\r\n", 30),
      // A record header can announce at most 64 KB, past TLS's 16 KB limit.
      std::string("\x16\x03\x01\xff\xff", 5) + std::string(4096, 'A'),
      // A ClientHello whose handshake header announces a 16 MB message,
      // in records that are each valid: the largest a client can claim.
      std::string("\x16\x03\x01\x40\x00\x01\xff\xff\xff", 9) + std::string(0x4000 - 4, 'B') +
          std::string("\x16\x03\x01\x40\x00", 5) + std::string(0x4000, 'C'),
  };
  for (const std::string& bytes : inputs) {
    int fd = ConnectLoopback(tls_port);
    REQUIRE(fd >= 0);
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    CHECK(ClosedWithin(fd, 5000));
    close(fd);
    CHECK(probe->Cmd({"PING"}).str() == "PONG");
  }
  // An oversized record after a finished handshake: refused just the same.
  TlsClient c(tls_port, WithClientCert());
  REQUIRE(c.Handshake());
  REQUIRE(c.Ping());
  const std::string header("\x17\x03\x03\xff\xff", 5);
  CHECK(send(c.fd(), header.data(), header.size(), MSG_NOSIGNAL) == 5);
  CHECK(ClosedWithin(c.fd(), 5000));
  CHECK(ServedOverTls(tls_port, WithClientCert()));
  // Only the probe is left, beside the connection that asks (a closed
  // client may take a moment to be counted).
  CHECK(WaitFor([&] { return srv.Info("clients", "connected_clients") == "2"; }, 5000));
  // A 100 MB stream of garbage costs one read, not 100 MB.
  int fd = ConnectLoopback(tls_port);
  REQUIRE(fd >= 0);
  const int64_t rss_before = srv.RssBytes();
  std::string junk(1024 * 1024, 'Z');
  int64_t sent = 0;
  for (int i = 0; i < 100; ++i) {
    ssize_t w = send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += w;
  }
  CHECK(sent < 100 * 1024 * 1024);  // closed long before
  CHECK(srv.RssBytes() - rss_before < 16 * 1024 * 1024);
  close(fd);
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("tls hostile: a handshake that never finishes is closed after its deadline") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  // Half a ClientHello record, then silence; another sends nothing at all.
  int half = ConnectLoopback(tls_port);
  int silent = ConnectLoopback(tls_port);
  REQUIRE(half >= 0);
  REQUIRE(silent >= 0);
  const std::string partial("\x16\x03\x01\x01\x00\x01\x00", 7);
  send(half, partial.data(), partial.size(), MSG_NOSIGNAL);
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
  // The deadline is 10 s (timeout is 0: idle clients are never closed).
  auto start = Clock::now();
  CHECK(ClosedWithin(half, 20000));
  CHECK(ClosedWithin(silent, 20000));
  CHECK(ElapsedMs(start) >= 5000);
  close(half);
  close(silent);
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
  CHECK(WaitFor([&] { return srv.Info("clients", "connected_clients") == "2"; }, 5000));
}

TEST_CASE("tls hostile: a handshake flood; the plain port keeps answering and memory stays bounded") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port, {"--loglevel", "warning"}));
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  const int64_t rss_before = srv.RssBytes();
  // Real handshakes from other threads, as fast as they go, each dropped
  // at once; plus connections that stop mid-handshake.
  std::atomic<bool> stop{false};
  std::atomic<int> handshakes{0};
  std::vector<std::thread> flooders;
  for (int t = 0; t < 3; ++t) {
    flooders.emplace_back([&] {
      while (!stop) {
        TlsClient c(tls_port, WithClientCert());
        if (c.Handshake()) ++handshakes;
      }
    });
  }
  std::vector<int> stalled;
  for (int i = 0; i < 300; ++i) {
    int fd = ConnectLoopback(tls_port);
    if (fd < 0) break;
    send(fd, "\x16\x03\x01\x02\x00", 5, MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  int probes = 0;
  auto start = Clock::now();
  while (ElapsedMs(start) < 3000) {
    if (probe->Cmd({"PING"}).str() == "PONG") ++probes;
  }
  stop = true;
  for (std::thread& t : flooders) t.join();
  CHECK(handshakes > 10);
  CHECK(probes > 10);
  CHECK(ServedOverTls(tls_port, WithClientCert()));
  // 300 half-open handshakes and the churn: a few MB, not hundreds.
  const int64_t grown = srv.RssBytes() - rss_before;
  INFO("RSS grew by ", grown, " bytes");
  CHECK(grown < int64_t{64} * 1024 * 1024 + SanitizerRssSlack());
  for (int fd : stalled) close(fd);
}

TEST_CASE("tls hostile: TLS 1.2 renegotiation is refused; the server keeps serving") {
  REQUIRE(TestCerts().ok);
  const int tls_port = FreePort();
  START_SERVER(srv, TlsArgs(tls_port));
  TlsClient c(tls_port, {TestCerts().client_crt, TestCerts().client_key, TLS1_2_VERSION, true});
  REQUIRE(c.Handshake());
  CHECK(std::string(SSL_get_version(c.ssl())) == "TLSv1.2");
  // Ask for a new handshake on the open connection, a few times over.
  bool renegotiated = false;
  for (int i = 0; i < 5 && !renegotiated; ++i) {
    if (SSL_renegotiate(c.ssl()) != 1) break;
    if (SSL_do_handshake(c.ssl()) == 1 && SSL_renegotiate_pending(c.ssl()) == 0) {
      renegotiated = SSL_total_renegotiations(c.ssl()) > 0 && c.Ping();
    }
  }
  CHECK_FALSE(renegotiated);
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
  CHECK(ServedOverTls(tls_port, WithClientCert()));
}
