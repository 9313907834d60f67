// ACL users against the real server: lock-bind-holder-to-user (tenant A
// acquires, tenant B with the right token is refused, A releases; the
// binding survives a restart), requirepass as the default user's password,
// users from the config file and the aclfile, scripts with their caller's
// permissions, DELUSER and CLIENT KILL USER, EXEC's second check, and HTTP
// Basic credentials.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"

using namespace lockd_test;

namespace {

constexpr const char* kBoundText =
    "NOPERM this lock is held by another user: only the user that acquired it may renew, "
    "release, overwrite or delete it";

std::unique_ptr<Client> As(const TestServer& srv, const std::string& user,
                           const std::string& pass) {
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"AUTH", user, pass});
  REQUIRE_MESSAGE(r.is_status(), r.Describe());
  return c;
}

void MakeTenants(const TestServer& srv) {
  auto admin = srv.Connect();
  REQUIRE(admin->ok());
  for (const char* t : {"tenantA", "tenantB"}) {
    Reply r = admin->Cmd({"ACL", "SETUSER", t, "on", std::string(">pw-") + t, "~seat:*",
                          "+@lock", "+@string", "+@keyspace", "+@connection"});
    REQUIRE_MESSAGE(r.is_status(), r.Describe());
  }
}

std::string Post(int port, const std::string& path, const std::string& auth,
                 const std::string& body) {
  return HttpOnce(port, "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                            (auth.empty() ? "" : "Authorization: " + auth + "\r\n") +
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

}  // namespace

TEST_CASE("acl: lock-bind-holder-to-user: B is refused with A's token, A releases, across a restart") {
  ScratchDir dir;
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.extra = {"--lock-bind-holder-to-user", "yes", "--aclfile", dir.path + "/users.acl"};
  std::ofstream(dir.path + "/users.acl")
      << "user default on nopass ~* &* +@all\n"
         "user tenantA on >pw-tenantA ~seat:* resetchannels -@all +@lock +@string +@keyspace\n"
         "user tenantB on >pw-tenantB ~seat:* resetchannels -@all +@lock +@string +@keyspace\n";
  std::string token;
  {
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto a = As(srv, "tenantA", "pw-tenantA");
    auto b = As(srv, "tenantB", "pw-tenantB");
    Reply t = a->Cmd({"LOCK.ACQUIRE", "seat:1", "worker", "60000"});
    REQUIRE(t.is_int());
    token = std::to_string(t.integer());
    // Same holder string, same token: still refused, by user.
    CHECK(b->Cmd({"LOCK.RELEASE", "seat:1", "worker", token}).str() == kBoundText);
    CHECK(b->Cmd({"LOCK.RENEW", "seat:1", "worker", token, "60000"}).str() == kBoundText);
    CHECK(b->Cmd({"SET", "seat:1", "thief"}).str() == kBoundText);
    CHECK(b->Cmd({"DEL", "seat:1"}).str() == kBoundText);
    CHECK(b->Cmd({"PEXPIRE", "seat:1", "1"}).str() == kBoundText);
    // Taking it is not refused: the lock is simply busy.
    CHECK(b->Cmd({"SET", "seat:1", "worker", "NX", "PX", "1000"}).is_nil());
    CHECK(b->Cmd({"LOCK.ACQUIRE", "seat:1", "worker", "1000"}).is_nil());
    // Everyone reads the holder as it was sent.
    CHECK(b->Cmd({"GET", "seat:1"}).str() == "worker");
    CHECK(a->Cmd({"LOCK.FENCE", "seat:1"}).integer() == t.integer());
    // A re-acquires (same holder, same user: same token) and renews.
    CHECK(a->Cmd({"LOCK.ACQUIRE", "seat:1", "worker", "60000"}).integer() == t.integer());
    CHECK(a->Cmd({"LOCK.RENEW", "seat:1", "worker", token, "60000"}).integer() == 1);
    CHECK(srv.StopWith(SIGTERM) == 0);
  }
  {
    // The binding is in the log: after a restart B is still refused.
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto a = As(srv, "tenantA", "pw-tenantA");
    auto b = As(srv, "tenantB", "pw-tenantB");
    CHECK(b->Cmd({"LOCK.RELEASE", "seat:1", "worker", token}).str() == kBoundText);
    Reply info = a->Cmd({"LOCK.INFO", "seat:1"});
    REQUIRE(info.size() == 8);
    CHECK(ElementString(info.at(1)) == "worker");
    CHECK(a->Cmd({"LOCK.RELEASE", "seat:1", "worker", token}).integer() == 1);
    // Free again: B may take it, and then A is the one refused.
    REQUIRE(b->Cmd({"SET", "seat:1", "b-worker", "PX", "60000"}).is_status());
    CHECK(a->Cmd({"DEL", "seat:1"}).str() == kBoundText);
    CHECK(b->Cmd({"DEL", "seat:1"}).integer() == 1);
  }
}

TEST_CASE("acl: without lock-bind-holder-to-user, another user with the token may release") {
  TestServer srv;
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  MakeTenants(srv);
  auto a = As(srv, "tenantA", "pw-tenantA");
  auto b = As(srv, "tenantB", "pw-tenantB");
  Reply t = a->Cmd({"LOCK.ACQUIRE", "seat:1", "worker", "60000"});
  REQUIRE(t.is_int());
  CHECK(b->Cmd({"LOCK.RELEASE", "seat:1", "worker", std::to_string(t.integer())}).integer() == 1);
}

TEST_CASE("acl: requirepass is the default user's password; AUTH, HELLO AUTH and ACL LOG") {
  TestServer srv({"--requirepass", "secret"});
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  REQUIRE(c->ok());
  CHECK(c->Cmd({"GET", "k"}).str() == "NOAUTH Authentication required.");
  CHECK(c->Cmd({"AUTH", "wrong"}).str() ==
        "WRONGPASS invalid username-password pair or user is disabled.");
  CHECK(c->Cmd({"AUTH", "default", "secret"}).is_status());
  CHECK(c->Cmd({"ACL", "WHOAMI"}).str() == "default");
  CHECK(c->Cmd({"ACL", "SETUSER", "ops", "on", ">opspw", "+@all", "~*"}).is_status());
  Reply log = c->Cmd({"ACL", "LOG"});
  REQUIRE(log.size() == 1);
  // count, reason, context, object, username, ...
  CHECK(ElementString(log.at(0)->element[3]) == "auth");
  CHECK(ElementString(log.at(0)->element[7]) == "AUTH");
  CHECK(ElementString(log.at(0)->element[9]) == "default");
  auto d = srv.Connect();
  REQUIRE(d->ok());
  CHECK(d->Cmd({"HELLO", "2", "AUTH", "ops", "opspw"}).is_array());
  CHECK(d->Cmd({"ACL", "WHOAMI"}).str() == "ops");
  CHECK(d->Cmd({"CLIENT", "INFO"}).str().find(" user=ops ") != std::string::npos);
  // CONFIG SET requirepass changes the default user's password at once.
  CHECK(c->Cmd({"CONFIG", "SET", "requirepass", "other"}).is_status());
  auto e = srv.Connect();
  CHECK(e->Cmd({"AUTH", "secret"}).is_error());
  CHECK(e->Cmd({"AUTH", "other"}).is_status());
}

TEST_CASE("acl: NOPERM for commands, keys and channels; EXEC checks again") {
  TestServer srv;
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto admin = srv.Connect();
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "r", "on", "nopass", "%R~seat:*", "&news", "+@read",
                      "+@connection", "+@transaction", "+publish"})
              .is_status());
  auto r = As(srv, "r", "x");
  CHECK(r->Cmd({"SET", "seat:1", "v"}).str() ==
        "NOPERM this user has no permissions to run the 'set' command");
  CHECK(r->Cmd({"GET", "other"}).str() ==
        "NOPERM this user has no permissions to access one of the keys used as arguments");
  CHECK(r->Cmd({"PUBLISH", "sports", "m"}).str() ==
        "NOPERM this user has no permissions to access one of the channels used as arguments");
  CHECK(r->Cmd({"PUBLISH", "news", "m"}).integer() == 0);
  CHECK(r->Cmd({"GET", "seat:1"}).is_nil());
  // Queued while allowed, refused at EXEC once the rules changed.
  CHECK(r->Cmd({"MULTI"}).is_status());
  CHECK(r->Cmd({"GET", "seat:1"}).str() == "QUEUED");
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "r", "-get"}).is_status());
  Reply exec = r->Cmd({"EXEC"});
  REQUIRE(exec.size() == 1);
  CHECK(ElementString(exec.at(0)).starts_with(
      "NOPERM ACLs rules changed between the moment the transaction was accumulated"));
  Reply dry = admin->Cmd({"ACL", "DRYRUN", "r", "GET", "seat:1"});
  CHECK(dry.str() == "This user has no permissions to run the 'get' command");
}

TEST_CASE("acl: scripts run with the caller's permissions") {
  TestServer srv;
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto admin = srv.Connect();
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "s", "on", "nopass", "~seat:*", "+eval", "+get",
                      "+@connection"})
              .is_status());
  auto s = As(srv, "s", "x");
  CHECK(s->Cmd({"EVAL", "return redis.call('get', KEYS[1])", "1", "seat:1"}).is_nil());
  std::string denied = s->Cmd({"EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "seat:1"}).str();
  CHECK_MESSAGE(denied.starts_with(
                    "ERR The user executing the script can't run this command or subcommand"),
                denied);
  std::string key = s->Cmd({"EVAL", "return redis.call('get', 'other')", "0"}).str();
  CHECK_MESSAGE(key.starts_with("ERR The user executing the script can't access at least one of "
                                "the keys mentioned in the command arguments"),
                key);
  // The default user runs the same script freely.
  CHECK(admin->Cmd({"EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "seat:1"}).is_status());
}

TEST_CASE("acl: DELUSER and ACL LOAD close the user's connections; CLIENT KILL USER") {
  TestServer srv;
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto admin = srv.Connect();
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*"}).is_status());
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "kicked", "on", "nopass", "+@all", "~*"}).is_status());
  auto g = As(srv, "gone", "x");
  auto k = As(srv, "kicked", "x");
  CHECK(admin->Cmd({"CLIENT", "KILL", "USER", "nosuch"}).str() == "ERR No such user 'nosuch'");
  CHECK(admin->Cmd({"CLIENT", "KILL", "USER", "kicked"}).integer() == 1);
  CHECK(admin->Cmd({"ACL", "DELUSER", "gone", "nosuch"}).integer() == 1);
  CHECK(admin->Cmd({"ACL", "DELUSER", "default"}).str() == "ERR The 'default' user cannot be removed");
  Reply after_g = g->Cmd({"PING"});
  Reply after_k = k->Cmd({"PING"});
  CHECK_FALSE(after_g.is_status());
  CHECK_FALSE(after_k.is_status());
  CHECK(admin->Cmd({"PING"}).is_status());
}

TEST_CASE("acl: user lines in the config file; a bad rule stops the start") {
  ScratchDir dir;
  std::ofstream(dir.path + "/lockd.conf") << "user default on >rootpw ~* &* +@all\n"
                                             "user reader on >rpw ~* +@read\n";
  ServerOptions options;
  options.extra = {"--include", dir.path + "/lockd.conf"};
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  CHECK(c->Cmd({"GET", "k"}).str() == "NOAUTH Authentication required.");
  CHECK(c->Cmd({"AUTH", "reader", "rpw"}).is_status());
  CHECK(c->Cmd({"GET", "k"}).is_nil());
  CHECK(c->Cmd({"SET", "k", "v"}).is_error());

  RunResult bad = RunServerOnce({"--port", std::to_string(FreePort()), "--appendonly", "no",
                                 "--dir", dir.path, "--user", "x", "+nosuch"});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.output.find("Error loading ACL rule '+nosuch' for the user named 'x'") !=
                    std::string::npos,
                bad.output);
}

TEST_CASE("acl: HTTP Basic credentials name ACL users; Bearer is the default user's password") {
  const int http_port = FreePort();
  TestServer srv({"--http-port", std::to_string(http_port), "--requirepass", "secret"});
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto admin = srv.Connect();
  REQUIRE(admin->Cmd({"AUTH", "secret"}).is_status());
  REQUIRE(admin->Cmd({"ACL", "SETUSER", "web", "on", ">webpw", "~seat:*", "+@lock"}).is_status());
  const std::string body = R"({"key":"seat:1","holder":"h","ttl_ms":60000})";
  const std::string other = R"({"key":"other","holder":"h","ttl_ms":60000})";
  // web:webpw and web:bad in base64.
  const std::string good = "Basic d2ViOndlYnB3";
  const std::string bad = "Basic d2ViOmJhZA==";
  CHECK(Post(http_port, "/v1/acquire", good, body).starts_with("HTTP/1.1 200"));
  CHECK(Post(http_port, "/v1/acquire", bad, body).starts_with("HTTP/1.1 401"));
  CHECK(Post(http_port, "/v1/acquire", "", body).starts_with("HTTP/1.1 401"));
  // The user's key patterns apply: NOPERM is a 400 like other errors.
  std::string denied = Post(http_port, "/v1/acquire", good, other);
  CHECK_MESSAGE(denied.find("NOPERM") != std::string::npos, denied);
  CHECK(Post(http_port, "/v1/acquire", "Bearer secret", other).starts_with("HTTP/1.1 200"));
}

TEST_CASE("acl: ACL SETUSER's user and rules are redacted in SLOWLOG, as Redis redacts them") {
  TestServer srv({"--slowlog-log-slower-than", "0"});
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  REQUIRE(c->Cmd({"ACL", "SETUSER", "u", "on", ">topsecret"}).is_status());
  Reply log = c->Cmd({"SLOWLOG", "GET", "2"});
  REQUIRE(log.size() >= 1);
  std::string shown;
  for (size_t i = 0; i < log.size(); ++i) shown += DescribeElement(log.at(i));
  CHECK_MESSAGE(shown.find("topsecret") == std::string::npos, shown);
  CHECK_MESSAGE(shown.find("(redacted)") != std::string::npos, shown);
}
