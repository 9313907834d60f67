// Parity of the key-writing commands with a real redis-server 7.0: SET (every
// option and conflict), SETNX, DEL, UNLINK, the EXPIRE family, EXPIRETIME,
// PEXPIRETIME, PERSIST, FLUSHALL and FLUSHDB. The same bytes go to lockd and to
// a redis-server this file starts, and the raw replies are compared byte for
// byte, in RESP2 and after HELLO 3. Replies that depend on the clock are made
// exact (absolute times, TTLs far from a rounding edge). What differs on
// purpose (IFEQ, DELIFEQ, DELEX, deadlines beyond ~139 years, tokens) is
// tested in key_write_test.cc. Without a redis-server the cases are skipped.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

// Unix time in ms, and a time well ahead of it (whole seconds, so that
// EXPIRETIME of a PXAT is exact).
int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Each line runs on both servers, in order, on a keyspace both flushed.
// `{T}` is replaced by a Unix time in seconds an hour ahead, `{TMS}` by the
// same in ms, `{PAST}` by a Unix time in seconds an hour ago.
const char* const kSequence[] = {
    // SET: plain, conditions, GET, and every expiry option.
    "SET k v", "GET k", "TTL k", "PEXPIRETIME k", "SET k v2 GET", "SET k v3 NX", "SET k v3 NX GET",
    "SET k v4 XX", "SET k v4 XX GET", "GET k", "SET nokey v XX", "SET nokey v XX GET",
    "EXISTS nokey", "SET k2 v NX GET", "GET k2", "SET k v nx get", "set K v Nx",
    "SET k v EX 100", "TTL k", "SET k v PX 100000", "TTL k", "SET k w EXAT {T}",
    "EXPIRETIME k", "PEXPIRETIME k", "GET k", "SET k w PXAT {TMS}", "PEXPIRETIME k",
    "SET k x KEEPTTL", "PEXPIRETIME k", "GET k", "SET k x KEEPTTL GET", "SET k y", "TTL k",
    "SET fresh v KEEPTTL", "TTL fresh",
    // Past absolute times: OK (or the old value), and the key is gone.
    "SET k v EXAT {PAST}", "EXISTS k", "SET k v", "SET k w PXAT 1 GET", "EXISTS k",
    "SET k v PXAT 1", "EXISTS k",
    // Repeated options, and conflicts.
    "SET k v EX 1 EX 100", "TTL k", "SET k v GET GET", "SET k v NX NX", "SET k v XX XX",
    "SET k v KEEPTTL KEEPTTL", "SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 10",
    "SET k v PX 10 EXAT 10", "SET k v EXAT 10 PXAT 10", "SET k v KEEPTTL EX 10",
    "SET k v EX 10 KEEPTTL", "SET k v EX", "SET k v PX", "SET k v EXAT", "SET k v PXAT",
    "SET k v foo", "SET k v NX foo", "SET k v EX abc foo", "SET k v IFEQ",
    // Numbers.
    "SET k v EX abc", "SET k v EX 1.5", "SET k v PX -1", "SET k v PX 0", "SET k v EX 0",
    "SET k v EXAT 0", "SET k v PXAT -5", "SET k v EX 9223372036854775807",
    "SET k v EX 9223372036854776", "SET k v PX 9223372036854775807",
    "SET k v PX 9223372036854775800", "SET k v EX 18446744073709551616", "SET k v EX -0",
    "SET k v PX +5", "SET k v NX EX abc",
    // Arity.
    "SET", "SET k", "SETNX", "SETNX k", "SETNX k v x",
    // SETNX.
    "DEL k", "SETNX k v", "SETNX k w", "GET k", "TTL k",
    // DEL and UNLINK.
    "SET a 1", "SET b 2", "DEL a b c a", "EXISTS a b", "SET a 1", "UNLINK a a", "DEL", "UNLINK",
    "DEL nokey",
    // EXPIRE family.
    "SET k v", "EXPIRE k 100", "TTL k", "EXPIRE k 200 NX", "EXPIRE k 50 GT", "EXPIRE k 500 GT",
    "TTL k", "EXPIRE k 1000 LT", "EXPIRE k 50 LT", "TTL k", "EXPIRE k 60 XX", "TTL k",
    "EXPIRE k 100 nx xx", "EXPIRE k 100 NX GT", "EXPIRE k 100 NX LT", "EXPIRE k 100 GT LT",
    "EXPIRE k 100 XX GT", "TTL k", "EXPIRE k 100 foo", "EXPIRE k 100 NX foo", "EXPIRE k abc",
    "EXPIRE k abc foo", "EXPIRE k 1.5", "EXPIRE k", "EXPIRE", "EXPIRE k 9223372036854775807",
    "EXPIRE k 9223372036854776", "EXPIRE k -9223372036854776", "PEXPIRE k 9223372036854775807",
    "EXPIRE nokey 100", "EXPIRE nokey 100 XX", "EXPIRE nokey abc", "EXPIRE nokey 100 foo",
    "PERSIST k", "PERSIST k", "TTL k", "EXPIRE k 100 XX", "EXPIRE k 100 GT", "EXPIRE k 100 LT",
    "TTL k", "PERSIST k", "EXPIRE k 100 NX", "EXPIRE k 100 NX", "TTL k", "PERSIST nokey",
    "PERSIST", "PERSIST a b",
    "PEXPIRE k 100000", "TTL k", "PEXPIRE k 0", "EXISTS k", "SET k v", "EXPIRE k -5", "EXISTS k",
    "SET k v", "PEXPIRE k -1 GT", "PEXPIRE k -1 LT", "EXISTS k",
    "SET k v", "EXPIREAT k {T}", "EXPIRETIME k", "PEXPIREAT k {TMS}", "PEXPIRETIME k",
    "EXPIREAT k {PAST}", "EXISTS k", "SET k v", "PEXPIREAT k 1", "EXISTS k",
    "SET k v", "EXPIREAT k 0", "EXISTS k", "EXPIREAT nokey {T}", "PEXPIREAT nokey {TMS}",
    "EXPIREAT k abc", "EXPIREAT k -9223372036854775808", "PEXPIREAT k -9223372036854775808",
    // EXPIRETIME, PEXPIRETIME.
    "EXPIRETIME nokey", "PEXPIRETIME nokey", "SET k v", "EXPIRETIME k", "PEXPIRETIME k",
    "EXPIRETIME", "EXPIRETIME a b",
    // FLUSHALL and FLUSHDB.
    "SET a 1", "SET b 2 EX 100", "FLUSHALL", "DBSIZE", "SET a 1", "FLUSHDB ASYNC", "DBSIZE",
    "SET a 1", "flushall sync", "DBSIZE", "FLUSHALL foo", "FLUSHALL SYNC ASYNC", "FLUSHDB x y",
    "FLUSHDB async", "FLUSHDB SYNC",
    // Empty values and keys.
    "SET e {EMPTY}", "GET e", "STRLEN e", "SET {EMPTY} v", "GET {EMPTY}", "DEL {EMPTY} e",
};

std::vector<std::string> Expand(const std::string& line, int64_t now_ms) {
  std::vector<std::string> out = Words(line);
  int64_t ahead_s = now_ms / 1000 + 3600;
  for (std::string& w : out) {
    if (w == "{T}") w = std::to_string(ahead_s);
    if (w == "{TMS}") w = std::to_string(ahead_s * 1000 + 123);
    if (w == "{PAST}") w = std::to_string(now_ms / 1000 - 3600);
    if (w == "{EMPTY}") w.clear();
  }
  return out;
}

}  // namespace

TEST_CASE("key write parity: SET, DEL, EXPIRE family, PERSIST, FLUSHALL as redis-server 7.0") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  const int64_t now_ms = UnixMillis();
  for (int proto : {2, 3}) {
    if (proto == 3) {
      // The HELLO replies differ in id and version; the protocol switch is what matters.
      CHECK(p.lockd.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
      CHECK(p.redis.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
    }
    p.Same({"FLUSHALL"});
    for (const char* line : kSequence) {
      INFO("RESP", proto);
      p.Same(Expand(line, now_ms));
    }
  }
}

TEST_CASE("key write parity: a key SET is seen by the read commands as Redis shows it") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (const char* line : {"SET k holder-1 PX 100000", "SET n holder-2", "GET k", "GET n",
                           "STRLEN k", "TYPE k", "TYPE n", "EXISTS k n nokey", "TTL k", "TTL n",
                           "PTTL n", "DBSIZE", "KEYS n", "SCAN 0 MATCH n", "DEL k n",
                           "DBSIZE", "TTL n", "PTTL n"}) {
    p.Same(Words(line));
  }
}

TEST_CASE("key write parity: COMMAND INFO of the key-writing commands") {
  START_REDIS(redis);
  START_SERVER(srv);
  auto lockd = srv.Connect();
  Client redis_client(redis.port());
  REQUIRE(redis_client.ok());
  for (const char* name : {"set", "setnx", "del", "unlink", "expire", "pexpire", "expireat",
                           "pexpireat", "expiretime", "pexpiretime", "persist", "flushall",
                           "flushdb"}) {
    Reply l = lockd->Cmd({"COMMAND", "INFO", name});
    Reply r = redis_client.Cmd({"COMMAND", "INFO", name});
    REQUIRE(l.size() == 1);
    REQUIRE(r.size() == 1);
    const redisReply* le = l.at(0);
    const redisReply* re = r.at(0);
    REQUIRE(le->type == REDIS_REPLY_ARRAY);
    REQUIRE(re->type == REDIS_REPLY_ARRAY);
    // name, arity, flags, first key, last key, step, ACL categories.
    for (size_t i = 0; i < 7; ++i) {
      CHECK_MESSAGE(DescribeElement(le->element[i]) == DescribeElement(re->element[i]), name,
                    " field ", i);
    }
  }
  // COMMAND DOCS of SET is well-formed (one whole RESP value) and names
  // every option.
  RawConn raw(srv.port());
  std::string text = raw.Command({"COMMAND", "DOCS", "set"});
  REQUIRE(ParseResp(text).has_value());
  for (const char* word : {"NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "IFEQ"}) {
    CHECK_MESSAGE(text.find(word) != std::string::npos, word);
  }
}
