// Replication over TLS, and the TLS listener moved at run time: a replica
// with tls-replication reaches its primary's tls-port, verifies the
// primary's certificate against its CA, presents tls-client-cert-file (or
// else tls-cert-file), authenticates with masterauth, syncs in full and
// continues from the backlog over TLS; a primary the CA did not sign leaves
// the link down and retrying; CONFIG SET tls-replication applies to the
// next connection; CONFIG SET tls-port opens, moves and closes the listener.
// Certificates are made with the `openssl` tool, as in tls_test.cc.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "replication_util.h"
#include "test_certs.h"

namespace lockd_test {
namespace {

// The certificate directives (server certificate, our CA), plus `extra`.
std::vector<std::string> CertArgs(std::vector<std::string> extra = {}) {
  const TestCertificates& c = TestCerts();
  std::vector<std::string> args = {"--tls-cert-file", c.server_crt, "--tls-key-file",
                                   c.server_key, "--tls-ca-cert-file", c.ca};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A primary serving TLS on `tls_port` (and plain text on its own port).
std::unique_ptr<TestServer> StartPrimary(const std::string& dir, int tls_port,
                                         std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"--tls-port", std::to_string(tls_port)});
  return StartNode(dir, CertArgs(std::move(extra)));
}

// replication_util's CaughtUp, with the primary's offset read on the test's
// own connection: a fresh one cannot read INFO once the primary has a
// password, which the first case sets midway.
bool CaughtUp(Client& primary, const TestServer& replica, int timeout_ms = 15000) {
  return WaitFor(
      [&] {
        if (replica.Info("replication", "master_link_status") != "up") return false;
        std::string want =
            InfoField(primary.Cmd({"INFO", "replication"}).str(), "master_repl_offset");
        return !want.empty() && replica.Info("replication", "slave_repl_offset") == want;
      },
      timeout_ms, 20);
}

// The link stays down for `ms` (it never came up meanwhile).
bool StaysDown(const TestServer& replica, int ms) {
  return !WaitFor([&] { return replica.Info("replication", "master_link_status") == "up"; }, ms,
                  50);
}

// A blocking TLS client with the client certificate; reads and writes are
// bounded by the socket's timeouts.
class TlsClient {
 public:
  explicit TlsClient(int port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, TestCerts().ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_use_certificate_chain_file(ctx_, TestCerts().client_crt.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, TestCerts().client_key.c_str(), SSL_FILETYPE_PEM);
    fd_ = ConnectLoopback(port);
    if (fd_ < 0) return;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Handshake() {
    if (ssl_ == nullptr) return false;
    ERR_clear_error();
    return SSL_connect(ssl_) == 1;
  }
  bool Ping() {
    const std::string ping = "*1\r\n$4\r\nPING\r\n";
    if (SSL_write(ssl_, ping.data(), static_cast<int>(ping.size())) <= 0) return false;
    std::string got;
    while (got.size() < 7) {
      char buf[64];
      int r = SSL_read(ssl_, buf, static_cast<int>(7 - got.size()));
      if (r <= 0) return false;
      got.append(buf, static_cast<size_t>(r));
    }
    return got == "+PONG\r\n";
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

bool ServedOverTls(int port) {
  TlsClient c(port);
  return c.Handshake() && c.Ping();
}

}  // namespace

TEST_CASE("replication tls: full sync, stream, masterauth and a partial resync over tls-port") {
  REQUIRE(TestCerts().ok);
  ScratchDir pdir, rdir;
  const int primary_tls = FreePort();
  auto primary = StartPrimary(pdir.path, primary_tls);
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "seat:1", "alice", "60000"}).integer() == 1);
  const int replica_tls = FreePort();
  auto replica = StartReplica(rdir.path, primary_tls,
                              CertArgs({"--tls-replication", "yes", "--tls-port",
                                        std::to_string(replica_tls)}));
  // The snapshot arrived over TLS: the primary's tls-port speaks nothing else.
  REQUIRE(CaughtUp(*c, *replica));
  auto rc = replica->Connect();
  CHECK(rc->Cmd({"LOCK.FENCE", "seat:1"}).integer() == 1);
  // The stream follows over the same link.
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "seat:2", "bob", "60000"}).integer() == 2);
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"LOCK.FENCE", "seat:2"}).integer() == 2);
  // The replica announces the port its own TLS clients use, as Redis does
  // under tls-replication (Sentinel reaches replicas there).
  std::string info = c->Cmd({"INFO", "replication"}).str();
  CHECK(InfoField(info, "connected_slaves") == "1");
  CHECK(InfoField(info, "slave0").find("port=" + std::to_string(replica_tls) + ",") !=
        std::string::npos);
  CHECK(InfoField(c->Cmd({"INFO", "stats"}).str(), "sync_full") == "1");

  // A password on the primary; the replica's masterauth goes over TLS when
  // the link is cut and comes back, and the backlog covers what it missed.
  REQUIRE(c->Cmd({"CONFIG", "SET", "requirepass", "s3cret"}).str() == "OK");
  REQUIRE(rc->Cmd({"CONFIG", "SET", "masterauth", "s3cret"}).str() == "OK");
  CHECK(c->Cmd({"CLIENT", "KILL", "TYPE", "replica"}).integer() == 1);
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "seat:3", "carol", "60000"}).integer() == 3);
  REQUIRE(WaitFor(
      [&] { return InfoField(c->Cmd({"INFO", "stats"}).str(), "sync_partial_ok") == "1"; }, 15000));
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"LOCK.FENCE", "seat:3"}).integer() == 3);
  CHECK(InfoField(c->Cmd({"INFO", "stats"}).str(), "sync_full") == "1");
  CHECK(replica->ReadLog().find("Successful partial resynchronization") != std::string::npos);

  // A wrong masterauth is refused over TLS like over TCP: the link stays
  // down, and the replica keeps serving reads.
  REQUIRE(rc->Cmd({"CONFIG", "SET", "masterauth", "wrong"}).str() == "OK");
  CHECK(c->Cmd({"CLIENT", "KILL", "TYPE", "replica"}).integer() == 1);
  CHECK(StaysDown(*replica, 2500));
  CHECK(replica->ReadLog().find("Unable to AUTH to MASTER") != std::string::npos);
  CHECK(rc->Cmd({"LOCK.FENCE", "seat:3"}).integer() == 3);
}

TEST_CASE("replication tls: a primary the CA did not sign leaves the link down and retrying") {
  REQUIRE(TestCerts().ok);
  ScratchDir pdir, rdir;
  const int primary_tls = FreePort();
  auto primary = StartPrimary(pdir.path, primary_tls);
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"SET", "k", "v", "PX", "60000"}).str() == "OK");
  // The replica trusts only the other CA.
  const TestCertificates& certs = TestCerts();
  auto replica = StartReplica(rdir.path, primary_tls,
                              {"--tls-replication", "yes", "--tls-cert-file", certs.server_crt,
                               "--tls-key-file", certs.server_key, "--tls-ca-cert-file",
                               certs.other_ca});
  CHECK(StaysDown(*replica, 3500));
  CHECK(replica->Running());
  CHECK(replica->Info("replication", "master_link_status") == "down");
  std::string log = replica->ReadLog();
  CHECK(log.find("Error condition on socket for SYNC") != std::string::npos);
  CHECK(log.find("certificate verify failed") != std::string::npos);
  // It kept retrying: the first good CA brings the link up.
  auto rc = replica->Connect();
  REQUIRE(rc->Cmd({"CONFIG", "SET", "tls-ca-cert-file", certs.ca}).str() == "OK");
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"GET", "k"}).str() == "v");
}

TEST_CASE("replication tls: the replica presents tls-client-cert-file, else tls-cert-file") {
  REQUIRE(TestCerts().ok);
  ScratchDir pdir, rdir;
  const int primary_tls = FreePort();
  // tls-auth-clients yes (the default): the primary wants a certificate its
  // CA signed.
  auto primary = StartPrimary(pdir.path, primary_tls);
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"SET", "k", "v", "PX", "60000"}).str() == "OK");
  // The replica's server certificate is from the other CA; with no client
  // certificate it presents that one, which the primary refuses.
  const TestCertificates& certs = TestCerts();
  auto replica = StartReplica(rdir.path, primary_tls,
                              {"--tls-replication", "yes", "--tls-cert-file", certs.stranger_crt,
                               "--tls-key-file", certs.stranger_key, "--tls-ca-cert-file",
                               certs.ca});
  CHECK(StaysDown(*replica, 3000));
  // Its client certificate is one the primary's CA signed.
  auto rc = replica->Connect();
  REQUIRE(rc->Cmd({"CONFIG", "SET", "tls-client-cert-file", certs.client_crt,
                   "tls-client-key-file", certs.client_key})
              .str() == "OK");
  CHECK(rc->Cmd({"CONFIG", "GET", "tls-client-cert-file"}).at(1)->str == certs.client_crt);
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"GET", "k"}).str() == "v");
  // A client key that does not load fails the CONFIG SET, as Redis's does.
  Reply bad = rc->Cmd({"CONFIG", "SET", "tls-client-key-file", certs.dir + "/missing.key"});
  CHECK(bad.is_error());
  CHECK(bad.str().find("Unable to update TLS configuration") != std::string::npos);
  CHECK(rc->Cmd({"CONFIG", "GET", "tls-client-key-file"}).at(1)->str == certs.client_key);
}

TEST_CASE("replication tls: CONFIG SET tls-replication applies to the next connection") {
  REQUIRE(TestCerts().ok);
  ScratchDir pdir, rdir;
  const int primary_tls = FreePort();
  auto primary = StartPrimary(pdir.path, primary_tls);
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"SET", "k", "v", "PX", "60000"}).str() == "OK");
  // Plain text to a TLS port: the handshake fails, again and again.
  auto replica = StartReplica(rdir.path, primary_tls, CertArgs());
  CHECK(StaysDown(*replica, 2500));
  auto rc = replica->Connect();
  REQUIRE(rc->Cmd({"CONFIG", "SET", "tls-replication", "yes"}).str() == "OK");
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"GET", "k"}).str() == "v");
  // Turned off, the link that is up stays up (Redis changes no live link).
  REQUIRE(rc->Cmd({"CONFIG", "SET", "tls-replication", "no"}).str() == "OK");
  REQUIRE(c->Cmd({"SET", "k2", "v2", "PX", "60000"}).str() == "OK");
  REQUIRE(CaughtUp(*c, *replica));
  CHECK(rc->Cmd({"GET", "k2"}).str() == "v2");
}

TEST_CASE("tls-port: CONFIG SET opens, moves and closes the TLS listener") {
  REQUIRE(TestCerts().ok);
  // Certificates configured, no TLS listener yet.
  START_SERVER(srv, CertArgs());
  auto c = srv.Connect();
  const int p1 = FreePort();
  REQUIRE(c->Cmd({"CONFIG", "SET", "tls-port", std::to_string(p1)}).str() == "OK");
  CHECK(c->Cmd({"CONFIG", "GET", "tls-port"}).at(1)->str == std::to_string(p1));
  CHECK(ServedOverTls(p1));
  TlsClient kept(p1);
  REQUIRE(kept.Handshake());
  REQUIRE(kept.Ping());

  // Moved: the new port serves, the old one is closed, and a connection
  // accepted on the old one stays.
  const int p2 = FreePort();
  REQUIRE(c->Cmd({"CONFIG", "SET", "tls-port", std::to_string(p2)}).str() == "OK");
  CHECK(ServedOverTls(p2));
  CHECK(ConnectLoopback(p1) < 0);
  CHECK(kept.Ping());

  // A port that cannot be bound: an error, and nothing changes.
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(holder, 1) == 0);
  socklen_t len = sizeof(addr);
  getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  const int taken = ntohs(addr.sin_port);
  Reply busy = c->Cmd({"CONFIG", "SET", "tls-port", std::to_string(taken)});
  CHECK(busy.str() ==
        "ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on "
        "this port. Check server logs.");
  close(holder);
  CHECK(c->Cmd({"CONFIG", "GET", "tls-port"}).at(1)->str == std::to_string(p2));
  CHECK(ServedOverTls(p2));

  // 0 closes it; the plain port serves on.
  REQUIRE(c->Cmd({"CONFIG", "SET", "tls-port", "0"}).str() == "OK");
  CHECK(ConnectLoopback(p2) < 0);
  CHECK(kept.Ping());
  CHECK(c->Cmd({"PING"}).str() == "PONG");
  CHECK(srv.Running());
}

TEST_CASE("tls-port: CONFIG SET without certificates fails and leaves no listener") {
  START_SERVER(srv);
  auto c = srv.Connect();
  const int p = FreePort();
  Reply r = c->Cmd({"CONFIG", "SET", "tls-port", std::to_string(p)});
  CHECK(r.str() ==
        "ERR CONFIG SET failed (possibly related to argument 'tls-port') - Unable to update TLS "
        "configuration. Check server logs.");
  CHECK(std::string(c->Cmd({"CONFIG", "GET", "tls-port"}).at(1)->str) == "0");
  CHECK(ConnectLoopback(p) < 0);
}

}  // namespace lockd_test
