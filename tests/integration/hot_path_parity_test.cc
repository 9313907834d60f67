// Parity with a real redis-server 7.0 where the request hot path takes
// shortcuts: SET's option words (matched by length and letters), command
// names in any case and their near misses (a folded hash), and whole
// commands read in one pass next to the odd header forms left to the general
// parser. The same bytes go to both servers; the replies must be the same
// bytes. Without a redis-server the cases are skipped.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

TEST_CASE("hot path parity: SET option words in any case, and near misses") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"SET k v nx", "SET k v NX", "SET k v nX", "DEL k", "SET k v Nx PX 100000", "SET k v xX",
        "SET k v XX", "SET k v gEt", "SET k v GET", "SET k v kEePtTl", "SET k v KEEPTTL",
        "SET k v ex 100", "SET k v Ex 100", "SET k v eX 100", "SET k v px 100000",
        "SET k v pX 100000", "SET k v exAT 1", "SET k v PxAt 1000", "SET k v EXAT 1",
        "SET k v PXAT 1000",
        // One byte off, in length or in a letter (including bytes that
        // differ from a letter only in the case bit: '.' for 'N', '8'
        // for 'X', '@' for '`').
        "SET k v n", "SET k v nxx", "SET k v mx", "SET k v ox", "SET k v ny", "SET k v n8",
        "SET k v .x", "SET k v wx", "SET k v yx", "SET k v dx", "SET k v fx", "SET k v qx",
        "SET k v ge", "SET k v gett", "SET k v fet", "SET k v gdt", "SET k v geu", "SET k v G%T",
        "SET k v keepttL", "SET k v keepttx", "SET k v keepttlx", "SET k v kee", "SET k v ifeqq",
        "SET k v ex", "SET k v exa", "SET k v exatt 1", "SET k v axat 1", "SET k v ebat 1",
        "SET k v exbt 1", "SET k v exau 1", "SET k v qxat 1", "SET k v oxat 1", "SET k v ixat 1",
        "SET k v ifeX 1", "SET k v ifeq", "SET k v nx xx", "SET k v NX GET PX 100000",
        "SET k v EX 10 PX 10", "SET k v PX 0", "SET k v PX -1", "SET k v PX 01",
        "SET k v PX 99999999999", "SET k v PX 9223372036854775807",
        "SET k v PX 9223372036854775808", "SET k v EX 9223372036854776", "SET k v PX +1",
        "SET k v PX 1x", "GET k", "DEL k"}) {
    p.Same(Words(line));
  }
  // Option words holding bytes a case fold could confuse.
  for (std::string word : {std::string("n\xd8"), std::string("\xcex"), std::string("N\0", 2),
                           std::string("\0X", 2), std::string("ge\x14"), std::string("\x07xat")}) {
    p.Same({"SET", "k", "v", word});
  }
}

TEST_CASE("hot path parity: command names in any case, and near misses") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"ping",    "PING",    "pInG",   "Ping x",  "echo hi", "ECHO hi",  "eChO hi",
        "set k v", "SeT k v", "gEt k",  "GET k",   "dEl k",   "exists k", "EXISTS k",
        "pin",     "pingg",   "p1ng",   "PIN\x07", "@et k",   "`et k",    "sett k v",
        "se k",    "s k",     "dbsize", "DBSIZE",  "DbSiZe"}) {
    p.Same(Words(line));
  }
  p.Same({"PING", "x"});
  p.Same({std::string(70, 'x')});
  p.Same({std::string(1, '\xd0')});
  // Unknown names and arguments holding NUL bytes: Redis's error text ends
  // each of them at the NUL, as printf's %s does.
  p.Same({std::string("no\0such", 7), std::string("a\0b", 3), "c"});
  p.Same({std::string("\0", 1)});
}

TEST_CASE("hot path parity: whole commands and the header forms left to the general parser") {
  START_REDIS(redis);
  START_SERVER(srv);
  // Each input is sent on a fresh connection to each server; what comes back
  // before the reply to a trailing PING (or the close) must be the same.
  const std::vector<std::string> inputs = {
      "*1\r\n$4\r\nPING\r\n",
      "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
      "*2\r\n$4\r\nECHO\r\n$00\r\n\r\n",
      "*2\r\n$4\r\nECHO\r\n$01\r\nx\r\n",
      "*02\r\n$4\r\nECHO\r\n$1\r\nx\r\n",
      "*2\r\n$4\r\nECHO\r\n$1\r\nxAB",
      "*2\r\n$4\r\nECHO\r\n$1\rXxAB",
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$17\r\nholder-0123456789\r\n",
      "*6\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n30000\r\n",
      "*0\r\n",
      "*-1\r\n",
      "*1\r\n$-1\r\n",
      "*1\r\n$+4\r\nPING\r\n",
      "*1\r\n$4 \r\nPING\r\n",
      "*+1\r\n$4\r\nPING\r\n",
      "*1\r\n#4\r\nPING\r\n",
  };
  for (const std::string& input : inputs) {
    INFO("input: ", Show(input));
    std::string replies[2];
    int ports[2] = {srv.port(), redis.port()};
    for (int side = 0; side < 2; ++side) {
      RawConn c(ports[side]);
      REQUIRE(c.ok());
      REQUIRE(c.Send(input + "*1\r\n$4\r\nPING\r\n"));
      std::string got;
      for (int n = 0; n < 4; ++n) {
        std::string v = c.ReadValue(2000);
        if (v.empty()) break;
        got += v;
        if (v == "+PONG\r\n") break;
      }
      replies[side] = got;
    }
    CHECK_MESSAGE(replies[0] == replies[1], "redis: ", Show(replies[1]),
                  "\n  lockd: ", Show(replies[0]));
  }
}
