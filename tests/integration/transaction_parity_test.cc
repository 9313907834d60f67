// Transactions and client handshakes, compared byte for byte with a real
// redis-server 7.0 (the pattern and helpers of redis_parity_test.cc): the
// same commands go to both, in RESP2 and after HELLO 3. Where a step must
// differ (lockd changes a key with LOCK.ACQUIRE, Redis with SET; HELLO's id
// and version), each side gets its own command and only the replies that
// must match are compared. Skipped without a redis-server binary.
#include <doctest/doctest.h>

#include <regex>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

// Runs `lines` (space-separated words) on both servers in order, comparing
// each reply.
void SameAll(Pair& p, std::initializer_list<const char*> lines) {
  for (const char* line : lines) p.Same(Words(line));
}

// HELLO's reply with the connection id and the server version blanked, the
// two fields that differ by nature.
std::string NormalizeHello(const std::string& reply) {
  std::string out = std::regex_replace(reply, std::regex(R"(\$2\r\nid\r\n:\d+\r\n)"),
                                       "$$2\r\nid\r\n:ID\r\n");
  return std::regex_replace(out, std::regex(R"(\$7\r\nversion\r\n\$\d+\r\n[0-9.]+\r\n)"),
                            "$$7\r\nversion\r\nVERSION\r\n");
}

// Sends HELLO `args` to both and checks the replies match but for id and version.
void SameHello(Pair& p, const std::vector<std::string>& args) {
  std::string l = p.lockd.Command(args);
  std::string r = p.redis.Command(args);
  CHECK_MESSAGE(NormalizeHello(l) == NormalizeHello(r), Join(args), "\n  redis: ", Show(r),
                "\n  lockd: ", Show(l));
}

}  // namespace

TEST_CASE("transaction parity: MULTI/EXEC/DISCARD/WATCH errors and replies, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    if (proto == 3) SameHello(p, {"HELLO", "3"});
    // Outside MULTI.
    SameAll(p, {"EXEC", "DISCARD", "UNWATCH", "WATCH", "EXEC x", "DISCARD x", "MULTI x",
                "UNWATCH x", "WATCH a b c", "UNWATCH"});
    // An empty transaction, nested MULTI and WATCH inside it (neither dooms it).
    SameAll(p, {"MULTI", "EXEC", "MULTI", "MULTI", "WATCH k", "PING", "EXEC"});
    // Queued replies and runtime errors as entries of EXEC's array.
    SameAll(p, {"MULTI", "PING", "ECHO hi", "GET k", "EXISTS k nokey", "PTTL k", "PING a b",
                "SELECT x", "SELECT 0", "UNWATCH", "EXEC"});
    // Refusals while queuing: EXECABORT.
    SameAll(p, {"MULTI", "NOSUCH a b", "PING", "EXEC"});
    SameAll(p, {"MULTI", "GET", "EXEC"});
    SameAll(p, {"MULTI", "GET k", "SHUTDOWN", "EXEC"});
    SameAll(p, {"MULTI", "CLIENT NOPE", "EXEC"});
    SameAll(p, {"MULTI", "DISCARD x", "MULTI x", "WATCH", "EXEC"});
    // EXEC with arguments ends the transaction.
    SameAll(p, {"MULTI", "PING", "EXEC x", "EXEC"});
    // DISCARD.
    SameAll(p, {"MULTI", "PING", "DISCARD", "DISCARD", "EXEC"});
    // WATCH and UNWATCH with nothing changed.
    SameAll(p, {"WATCH k other", "MULTI", "GET k", "EXEC", "WATCH k", "UNWATCH", "MULTI", "EXEC"});
    // RESET inside MULTI ends it (and returns to RESP2).
    SameAll(p, {"MULTI", "GET k", "RESET", "EXEC"});
  }
}

TEST_CASE("transaction parity: a WATCHed key changed by another client, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  int n = 0;
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    RawConn other_lockd(srv.port());
    RawConn other_redis(redis.port());
    if (proto == 3) SameHello(p, {"HELLO", "3"});
    std::string key = "k" + std::to_string(++n);
    p.Same({"WATCH", key});
    // The change: a lock on lockd, a string on Redis.
    REQUIRE(other_lockd.Command({"LOCK.ACQUIRE", key, "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Command({"SET", key, "h"}) == "+OK\r\n");
    SameAll(p, {"MULTI", "PING"});
    p.Same({"EXISTS", key});
    p.Same({"EXEC"});
    // EXEC forgot the watch: the next one runs.
    SameAll(p, {"MULTI", "PING", "EXEC"});
    // Changes to other keys, and changes before WATCH, are no conflict.
    p.Same({"WATCH", key});
    REQUIRE(other_lockd.Command({"LOCK.ACQUIRE", key + "x", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Command({"SET", key + "x", "h"}) == "+OK\r\n");
    p.Same({"WATCH", key + "x"});
    REQUIRE(other_lockd.Command({"LOCK.ACQUIRE", key + "y", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Command({"SET", key + "y", "h"}) == "+OK\r\n");
    SameAll(p, {"MULTI", "EXEC"});
    // The same, with the key changed after MULTI (between queued commands).
    p.Same({"WATCH", key + "y"});
    SameAll(p, {"MULTI", "PING"});
    REQUIRE(other_lockd.Command({"LOCK.ACQUIRE", key + "y", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Command({"SET", key + "y", "h2"}) == "+OK\r\n");
    SameAll(p, {"EXEC"});
  }
}

TEST_CASE("transaction parity: QUIT inside MULTI replies OK and closes") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  SameAll(p, {"MULTI", "PING", "QUIT"});
  CHECK(p.lockd.ReadValue(2000).empty());
  CHECK(p.redis.ReadValue(2000).empty());
}

TEST_CASE("handshake parity: what redis-py, go-redis and ioredis send on connect") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    // go-redis v9 and redis-py 5: HELLO 3 first, maybe with AUTH and SETNAME
    // (without a password the default user takes any).
    if (proto == 3) {
      SameHello(p, {"HELLO", "3"});
      SameHello(p, {"HELLO", "3", "SETNAME", "app"});
      SameHello(p, {"HELLO", "3", "AUTH", "default", "anything", "SETNAME", "app"});
    } else {
      SameHello(p, {"HELLO", "2"});
      SameHello(p, {"HELLO"});
    }
    // Then, pipelined and with errors ignored: SELECT, READONLY (cluster
    // clients), CLIENT SETNAME; ioredis's ready check sends INFO.
    SameAll(p, {"SELECT 0", "CLIENT SETNAME app", "CLIENT GETNAME", "READONLY", "READWRITE",
                "ASKING", "CLUSTER INFO", "CLUSTER SLOTS", "CLUSTER NODES", "CLUSTER MYID",
                "CLUSTER", "CLUSTER NOPE", "CLUSTER INFO x", "cluster keyslot", "CLIENT NOPE",
                "CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type internal-ip", "CLIENT",
                "AUTH pw", "AUTH default pw", "PING", "ECHO ready"});
    // What the commands say of themselves (EXEC and WATCH differ: lockd has
    // no skip_slowlog flag, and its key specs always say "access").
    SameAll(p, {"COMMAND INFO readonly readwrite asking", "COMMAND INFO multi discard unwatch"});
    // Redis 7.0 has no CLIENT SETINFO (7.2 added it); lockd answers as 7.2,
    // and the connection goes on in step with Redis's.
    CHECK(p.lockd.Command({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}) == "+OK\r\n");
    CHECK(p.redis.Command({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}).rfind("-ERR", 0) == 0);
    p.Same({"PING"});
  }
}

TEST_CASE("handshake parity: with a password, HELLO 3 AUTH and the commands before it") {
  START_REDIS(redis, "--requirepass", "pw");
  START_SERVER(srv, "--requirepass", "pw");
  Pair p(srv.port(), redis.port());
  // Before authenticating: what a client that sends its setup before AUTH sees.
  SameAll(p, {"CLIENT SETNAME app", "SELECT 0", "MULTI", "PING", "EXEC", "READONLY",
              "HELLO 3", "HELLO 3 AUTH default wrong", "HELLO 3 AUTH nobody pw"});
  SameHello(p, {"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"});
  SameAll(p, {"CLIENT GETNAME", "MULTI", "PING", "CLIENT SETNAME app2", "EXEC", "CLIENT GETNAME"});
  // A new connection authenticating the RESP2 way, as redis-py 4 does.
  Pair q(srv.port(), redis.port());
  SameAll(q, {"AUTH pw", "CLIENT SETNAME app", "SELECT 0", "PING"});
}
