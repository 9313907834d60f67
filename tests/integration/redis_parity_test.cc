// Parity with a real redis-server 7.0: the same bytes go to lockd and to a
// redis-server this file starts on a free port, and the raw replies are
// compared byte for byte, in RESP2 and after HELLO 3. Where a reply must
// differ by nature (ids, timings, key order), the comparison says what it
// normalizes. Without a redis-server binary the cases are skipped with a
// message ($REDIS_SERVER names another binary).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

// Commands whose replies (mostly errors) must match on an empty keyspace.
const char* const kSharedCases[] = {
    "PING", "ping hello", "PING a b", "ECHO", "ECHO a b", "echo hi",
    "SELECT abc", "SELECT -1", "SELECT 0", "SELECT 16", "select 0 x",
    "TIME x", "DBSIZE", "DBSIZE x", "KEYS", "KEYS a b", "KEYS *", "keys nomatch*",
    "EXISTS", "EXISTS a", "EXISTS a a b", "TYPE", "TYPE a", "TYPE a b",
    "TTL a", "TTL", "PTTL a", "PTTL a b", "GET a", "GET", "GET a b",
    "STRLEN a", "STRLEN", "STRLEN a b",
    "WAIT 0 abc", "WAIT 0 -1", "WAIT abc 0", "WAIT 0 0", "WAIT 0", "wait 0 1.5",
    "SCAN", "SCAN -1", "SCAN -0", "SCAN +0", "SCAN 0", "SCAN 0x1", "SCAN 1.5",
    "SCAN 18446744073709551615", "SCAN 18446744073709551616", "SCAN 0 COUNT 0",
    "SCAN 0 COUNT -1", "SCAN 0 COUNT abc", "SCAN 0 MATCH", "SCAN 0 MATCH a* COUNT 5",
    "SCAN 0 TYPE string", "SCAN 0 foo bar", "SCAN 0 COUNT 1", "scan 0 count 10 match * type string",
    "CLIENT UNBLOCK 1 timeout extra", "CLIENT UNBLOCK abc", "CLIENT UNBLOCK 99999 foo",
    "CLIENT UNBLOCK 99999 error", "CLIENT UNBLOCK 99999", "CLIENT UNBLOCK",
    "CLIENT KILL USER nobody", "CLIENT KILL USER default", "CLIENT KILL 1.2.3.4:5",
    "CLIENT KILL ID abc", "CLIENT KILL ID 0", "CLIENT KILL ID 99999", "CLIENT KILL foo bar",
    "CLIENT KILL TYPE foo", "CLIENT KILL SKIPME maybe", "CLIENT KILL ADDR 1.1.1.1:1 SKIPME no",
    "CLIENT KILL ID", "CLIENT NO-EVICT maybe", "CLIENT NO-EVICT", "CLIENT SETNAME",
    "CLIENT GETNAME", "CLIENT GETNAME x", "CLIENT ID x", "CLIENT FOO", "CLIENT", "client foo bar",
    "CLIENT LIST TYPE foo", "CLIENT LIST foo", "CLIENT LIST ID abc",
    "CONFIG GET", "CONFIG GET nosuch", "CONFIG", "CONFIG FOO", "CONFIG SET", "CONFIG RESETSTAT x",
    "COMMAND COUNT x", "COMMAND FOO", "COMMAND INFO nosuch", "COMMAND DOCS nosuch",
    "COMMAND GETKEYS", "COMMAND GETKEYS get a", "COMMAND GETKEYS get", "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS ping", "COMMAND GETKEYS exists a b c", "COMMAND GETKEYS client kill x",
    "command getkeys TTL k", "CLIENT LIST ID 0", "CLIENT LIST ID -5 abc", "CLIENT LIST ID",
    "CLIENT LIST TYPE normal ID 1", "CLIENT LIST TYPE replica", "CLIENT LIST TYPE pubsub",
    "HELLO 4", "HELLO abc", "HELLO 1", "HELLO 2 foo", "HELLO 2 AUTH a", "HELLO 2 SETNAME",
    "AUTH a b c", "AUTH x", "AUTH default x",
    "RESET x", "INFO nosuch", "NOSUCHCOMMAND a b",
};

}  // namespace

TEST_CASE("parity: shared commands reply as redis-server 7.0, in RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (int proto : {2, 3}) {
    if (proto == 3) {
      // The HELLO replies differ in id and version; the protocol switch is what matters.
      CHECK(p.lockd.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
      CHECK(p.redis.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
    }
    for (const char* line : kSharedCases) {
      INFO("RESP", proto);
      p.Same(Words(line));
    }
    // Arguments with spaces or empty ones.
    p.Same({"SCAN", ""});
    p.Same({"SCAN", " 1"});
    p.Same({"CLIENT", "SETNAME", "a b"});
    p.Same({"ECHO", ""});
    p.Same({"GET", ""});
  }
  // Last: QUIT takes any arguments, replies OK and closes.
  p.Same({"QUIT", "x"});
}

TEST_CASE("parity: the read commands on a held key, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  // The same string key on both: a lock on lockd, SET ... PX on Redis.
  REQUIRE(p.lockd.Command({"LOCK.ACQUIRE", "k", "holder-1", "100000"}).rfind(":", 0) == 0);
  REQUIRE(p.redis.Command({"SET", "k", "holder-1", "PX", "100000"}) == "+OK\r\n");
  for (int proto : {2, 3}) {
    if (proto == 3) {
      p.lockd.Command({"HELLO", "3"});
      p.redis.Command({"HELLO", "3"});
    }
    for (const char* line : {"GET k", "STRLEN k", "TYPE k", "EXISTS k k nokey", "TTL k",
                             "DBSIZE", "KEYS *", "KEYS k", "KEYS x*", "SCAN 0", "SCAN 0 MATCH k",
                             "SCAN 0 TYPE string"}) {
      INFO("RESP", proto);
      p.Same(Words(line));
    }
  }
}

// Reads a SCAN reply's cursor and keys (RESP2).
bool ParseScanReply(const std::string& bytes, std::string* cursor, std::vector<std::string>* keys) {
  std::optional<RespValue> v = ParseResp(bytes);
  if (!v || v->elems.size() != 2) return false;
  *cursor = v->elems[0].str;
  for (const RespValue& k : v->elems[1].elems) keys->push_back(k.str);
  return true;
}

TEST_CASE("parity: SCAN of a small keyspace fills the page and ends in one call") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    std::string key = "key:" + std::to_string(i);
    expected.push_back(key);
    REQUIRE(p.lockd.Command({"LOCK.ACQUIRE", key, "h", "100000"}).rfind(":", 0) == 0);
    REQUIRE(p.redis.Command({"SET", key, "h", "PX", "100000"}) == "+OK\r\n");
  }
  std::sort(expected.begin(), expected.end());
  // Key order differs by nature (hash tables); the cursor and the set of keys
  // must not.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"SCAN", "0"}, {"SCAN", "0", "COUNT", "10"},
        {"SCAN", "0", "COUNT", "100"}, {"SCAN", "0", "MATCH", "key:*"}}) {
    std::string lc, rc;
    std::vector<std::string> lk, rk;
    REQUIRE(ParseScanReply(p.lockd.Command(args), &lc, &lk));
    REQUIRE(ParseScanReply(p.redis.Command(args), &rc, &rk));
    std::sort(lk.begin(), lk.end());
    std::sort(rk.begin(), rk.end());
    CHECK_MESSAGE(lc == rc, Join(args));
    CHECK_MESSAGE(lc == "0", Join(args));
    CHECK(lk == rk);
    CHECK(lk == expected);
  }
  // Pages of COUNT 2 (which may hold fewer keys: Redis also stops after
  // 10 * COUNT empty slots) return every key, in a few calls.
  std::string cursor = "0";
  std::vector<std::string> all;
  int calls = 0;
  do {
    std::string next;
    std::vector<std::string> page;
    REQUIRE(ParseScanReply(p.lockd.Command({"SCAN", cursor, "COUNT", "2"}), &next, &page));
    all.insert(all.end(), page.begin(), page.end());
    cursor = next;
  } while (cursor != "0" && ++calls < 100);
  CHECK(calls <= 7);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  CHECK(all == expected);
}

TEST_CASE("parity: HELLO and AUTH under requirepass") {
  START_REDIS(redis, "--requirepass", "sekret");
  START_SERVER(srv, "--requirepass", "sekret");
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"HELLO", "HELLO 3", "HELLO 2", "HELLO 3 SETNAME x", "HELLO 3 AUTH default wrong",
        "HELLO 3 AUTH nobody sekret", "HELLO 3 AUTH default", "HELLO 3 SETNAME", "PING",
        "CLIENT KILL USER x", "GET a", "AUTH wrong", "AUTH a b c", "PING x y", "HELLO 5",
        "AUTH default sekret", "PING", "RESET", "PING", "HELLO 2 AUTH default sekret x"}) {
    p.Same(Words(line));
  }
}

// The flags= field of CLIENT INFO.
std::string ClientFlags(RawConn& w) {
  std::string info = w.Command({"CLIENT", "INFO"});
  std::smatch m;
  std::regex re(" flags=([^ ]*) ");
  return std::regex_search(info, m, re) ? m[1].str() : "?";
}

TEST_CASE("parity: RESET keeps CLIENT NO-EVICT as Redis 7.0 does, and clears the name") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  p.Same({"CLIENT", "NO-EVICT", "on"});
  p.Same({"CLIENT", "SETNAME", "worker"});
  CHECK(ClientFlags(p.lockd) == ClientFlags(p.redis));
  // HELLO replies differ in ids; RESET must bring both back to RESP2.
  p.lockd.Command({"HELLO", "3"});
  p.redis.Command({"HELLO", "3"});
  p.Same({"RESET"});
  p.Same({"CLIENT", "GETNAME"});
  CHECK(ClientFlags(p.lockd) == "e");
  CHECK(ClientFlags(p.lockd) == ClientFlags(p.redis));
}

// "name" → "calls=..,rejected_calls=..,failed_calls=.." from INFO commandstats,
// without the timings.
std::map<std::string, std::string> CommandStats(RawConn& w) {
  std::string info = w.Command({"INFO", "commandstats"});
  std::map<std::string, std::string> out;
  std::regex re("cmdstat_([^:]+):calls=(\\d+),usec=\\d+,usec_per_call=\\d+\\.\\d\\d,"
                "rejected_calls=(\\d+),failed_calls=(\\d+)\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    out[(*it)[1]] = "calls=" + (*it)[2].str() + ",rejected=" + (*it)[3].str() +
                    ",failed=" + (*it)[4].str();
  }
  return out;
}

std::set<std::string> LatencyNames(RawConn& w) {
  std::string info = w.Command({"INFO", "latencystats"});
  std::set<std::string> out;
  std::regex re("latency_percentiles_usec_([^:]+):p50=\\d+\\.\\d{3},p99=\\d+\\.\\d{3},"
                "p99\\.9=\\d+\\.\\d{3}\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

std::string InfoValue(RawConn& w, const std::string& section, const std::string& field) {
  return InfoField(w.Command({"INFO", section}), field);
}

TEST_CASE("parity: INFO commandstats, errorstats, latencystats and keyspace hits") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  REQUIRE(p.lockd.Command({"LOCK.ACQUIRE", "k", "h", "100000"}).rfind(":", 0) == 0);
  REQUIRE(p.redis.Command({"SET", "k", "h", "PX", "100000"}) == "+OK\r\n");
  p.Same({"CONFIG", "RESETSTAT"});
  for (const char* line :
       {"PING", "PING", "PING a b", "GET k", "GET nokey", "EXISTS k nokey k", "TYPE k", "TYPE x",
        "TTL k", "PTTL nokey", "STRLEN k", "STRLEN nokey", "KEYS *", "SCAN 0", "DBSIZE",
        "SELECT 16", "CLIENT KILL ID abc", "CLIENT GETNAME", "NOSUCH a", "CLIENT FOO", "WAIT 0 abc",
        "WAIT 0 0", "ECHO", "HELLO 9", "AUTH x"}) {
    p.Same(Words(line));
  }
  std::map<std::string, std::string> l = CommandStats(p.lockd), r = CommandStats(p.redis);
  CHECK(!l.empty());
  CHECK(l == r);
  for (const auto& entry : r) CHECK_MESSAGE(l[entry.first] == entry.second, entry.first);
  // Errors by code, byte for byte (both sorted by name).
  p.Same({"INFO", "errorstats"});
  CHECK(LatencyNames(p.lockd) == LatencyNames(p.redis));
  CHECK(LatencyNames(p.lockd).count("ping") == 1);
  for (const char* field : {"keyspace_hits", "keyspace_misses", "total_error_replies"}) {
    CHECK_MESSAGE(InfoValue(p.lockd, "stats", field) == InfoValue(p.redis, "stats", field),
                  field);
  }
  CHECK(InfoValue(p.lockd, "stats", "keyspace_hits") == "6");
}

// The "# Section" titles of an INFO reply, lockd's own "# Locks" left out.
std::vector<std::string> InfoTitles(RawConn& w, const std::vector<std::string>& args) {
  std::string info = w.Command(args);
  std::vector<std::string> out;
  std::regex re("# ([A-Za-z]+)\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    if ((*it)[1] != "Locks") out.push_back((*it)[1]);
  }
  return out;
}

TEST_CASE("parity: INFO selects sections as Redis does") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"INFO", "INFO default", "INFO all", "INFO everything", "INFO commandstats",
        "INFO errorstats latencystats", "INFO server clients", "info CPU", "INFO nosuch",
        "INFO default commandstats", "INFO keyspace cluster modules"}) {
    std::vector<std::string> args = Words(line);
    CHECK_MESSAGE(InfoTitles(p.lockd, args) == InfoTitles(p.redis, args), line);
  }
  p.Same({"INFO", "nosuch"});
  // run_id: 40 hex digits, new at every start.
  std::string run_id = InfoValue(p.lockd, "server", "run_id");
  CHECK(std::regex_match(run_id, std::regex("[0-9a-f]{40}")));
  START_SERVER(other);
  CHECK(other.Info("server", "run_id") != run_id);
  CHECK(other.Info("server", "run_id").size() == 40);
  for (const char* field : {"instantaneous_ops_per_sec", "instantaneous_input_kbps",
                            "instantaneous_output_kbps"}) {
    CHECK_MESSAGE(!InfoValue(p.lockd, "stats", field).empty(), field);
  }
}
