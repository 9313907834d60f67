// Script parity with a real redis-server 7.0: the same EVAL/EVALSHA/SCRIPT
// commands go to lockd and to a redis-server this file starts on a free port,
// and the raw replies are compared byte for byte, in RESP2 and after HELLO 3.
// Left out: commands only lockd has, `os` (lockd keeps os.clock), the version
// number, and the few inputs that crash redis-server 7.0 itself (error({}),
// redis.log with a bad level or too few arguments); the unit tests cover those.
// Without a redis-server binary the cases are skipped with a message
// ($REDIS_SERVER names another binary).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

std::vector<std::string> Eval(const std::string& body, std::vector<std::string> rest = {"0"}) {
  std::vector<std::string> args = {"EVAL", body};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

// Scripts whose replies must match (on an empty keyspace), one per line of
// the table: conversions, the sandbox, errors.
const char* const kScripts[] = {
    // Lua → reply.
    "return 'x'", "return 3.99", "return -3.99", "return 1e20", "return true", "return false",
    "return nil", "return", "return function() end", "return {1, 2, nil, 4}",
    "return {1, 'a', {ok='x'}, true, false, 2.5, {err='e'}}", "return {1, {2, {3, {4}}}}",
    "return {ok='fine'}", "return {err='My error'}", "return {ok='a\\r\\nb'}",
    "return redis.status_reply('fine')", "return redis.error_reply('boom')",
    "return redis.error_reply('-MY boom')", "return redis.error_reply('-nospace')",
    "return redis.status_reply(1)", "return redis.error_reply(1)", "return redis.error_reply()",
    "return {double=3.5}", "return {double=0.1}", "return {map={a=1}}", "return {set={a=true}}",
    "return {big_number='123'}", "return {'a', nil, 'b'}", "return {}",
    "local t = {} t[1] = t return t",
    "redis.setresp(3) return {double=3.5}", "redis.setresp(3) return true",
    "redis.setresp(3) return false", "redis.setresp(3) return {map={a={1,2}}}",
    // Reply → Lua.
    "return redis.call('ping')", "return redis.call('ping', 'hello')",
    "return redis.call('echo', 12345678901234567)", "return redis.call('echo', 3.5)",
    "return redis.call('echo', -0.1)",
    "return redis.call('exists', 'nokey')", "return redis.call('get', 'nokey')",
    "return type(redis.call('get', 'nokey'))", "return redis.call('ttl', 'nokey')",
    "return redis.call('pttl', 'nokey')", "return redis.pcall('ttl')",
    "return redis.call('config', 'get', 'lua-time-limit')",
    "redis.setresp(3) return redis.call('config', 'get', 'lua-time-limit')",
    "redis.setresp(3) return redis.call('get', 'nokey')",
    "redis.setresp(3) return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) return redis.call('ping')",
    "return redis.pcall('get', 'a', 'b')", "return redis.pcall('ttl', 'a', 'b')",
    // redis.call refusals and errors.
    "return redis.call('nosuch')", "return redis.call('get')", "return redis.call()",
    "return redis.call({})", "return redis.pcall({})", "return redis.pcall()",
    "return redis.call('echo', true)", "return redis.call('echo')",
    "return redis.call('eval', 'return 1', '0')", "return redis.call('script', 'flush')",
    "return redis.call('client')", "return redis.call('client', 'nosuch')",
    "return redis.pcall('nosuch')",
    "local ok, e = pcall(function() redis.call('nosuch') end) return e",
    "local ok, e = pcall(function() error({err='X y'}) end) return e",
    "return pcall(function() error('x') end)",
    "return redis.setresp(4)", "return redis.setresp()",
    // Script errors.
    "error('boom')", "error({err='X boom'})", "local x = 1\nerror('line two')", "error()",
    "error(nil)", "error(12)", "assert(false)", "assert(false, 'msg')",
    "local a = nil; return a.b", "return 1 +", "local function f() return f() + 1 end return f()",
    // The sandbox.
    "x = 1", "return y", "_G.x = 1", "return _G.x", "redis.call = nil", "rawset(_G, 'x', 1)",
    "setmetatable(_G, nil)", "string.rep = nil", "getmetatable(_G).__newindex = nil",
    "function f() end", "return io", "return loadfile", "return dofile", "return print",
    "return require", "return debug", "return getfenv", "return setfenv", "return newproxy",
    "return module", "return package",
    "return type(rawget(_G, 'redis'))", "return rawget(_G, 'nosuch')",
    "local n = 0 for k, v in pairs(_G) do n = n + 1 end return n > 10",
    "return next(string) ~= nil", "return type(getmetatable(''))",
    "return ('abc'):upper()", "return string.rep('a', 3)", "return math.floor(2.5)",
    "return table.concat({'a', 'b'}, ',')", "return loadstring('return 5')()",
    "return loadstring('x = 5')()", "return tonumber('12')", "return unpack({1, 2})",
    "return select('#', 1, 2)", "return gcinfo() > 0", "return _VERSION", "return type(_G)",
    "return coroutine.wrap(function() return redis.call('ping') end)()",
    "return cjson.encode({a=1})", "return cjson.decode('[1,2,3]')", "return bit.band(7, 3)",
    "return bit.tohex(65535)", "return redis.sha1hex('')", "return redis.sha1hex('abc')",
    "return redis.sha1hex()",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return redis.log(redis.LOG_DEBUG, 'quiet')",
    "return redis.replicate_commands()", "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(8)", "return redis.set_repl()", "return redis.breakpoint()",
    "return redis.debug('x')",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    // Shebangs.
    "#!lua\nreturn 1", "#!lua flags=no-writes\nreturn 2", "#!lua flags=bogus\nreturn 2",
    "#!lua bogus\nreturn 2", "#!python\nreturn 2", "#!lua", "#!lua\nerror('line2')",
};

}  // namespace

TEST_CASE("script parity: EVAL conversions, sandbox and errors as redis-server 7.0, RESP2/3") {
  RedisReference redis;
  if (redis.missing()) {
    MESSAGE("redis-server not found (set REDIS_SERVER): parity case skipped");
    return;
  }
  REQUIRE_MESSAGE(redis.started(), "redis-server did not start");
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (int proto : {2, 3}) {
    INFO("RESP", proto);
    if (proto == 3) {
      CHECK(p.lockd.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
      CHECK(p.redis.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
    }
    for (const char* body : kScripts) p.Same(Eval(body));
    p.Same(Eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
                {"2", "k1", "k2", "a1", "a2"}));
    p.Same(Eval("return cjson.encode(KEYS)", {"2", "a", "b"}));
    p.Same(Eval("return #KEYS + #ARGV", {"0", "a", "b"}));
    p.Same(Eval("return redis.call('exists', KEYS[1], KEYS[2])", {"2", "a", "b"}));
  }
}

TEST_CASE("script parity: numkeys, NOSCRIPT and SCRIPT subcommands as redis-server 7.0") {
  RedisReference redis;
  if (redis.missing()) {
    MESSAGE("redis-server not found (set REDIS_SERVER): parity case skipped");
    return;
  }
  REQUIRE_MESSAGE(redis.started(), "redis-server did not start");
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  const std::string sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";  // "return 1"
  const std::vector<std::vector<std::string>> cases = {
      {"SCRIPT", "FLUSH"},
      {"EVAL", "return 1", "2", "a"},
      {"EVAL", "return 1", "-1"},
      {"EVAL", "return 1", "x"},
      {"EVAL", "return 1", "1.5"},
      {"EVAL", "return 1"},
      {"EVALSHA", "abc", "0"},
      {"EVALSHA", "abc", "x"},
      {"EVALSHA", sha, "0"},
      {"EVALSHA", sha, "x"},
      {"EVALSHA_RO", sha, "0"},
      {"SCRIPT", "EXISTS", sha, "abc"},
      {"SCRIPT", "LOAD", "return 1"},
      {"SCRIPT", "LOAD", "return 1 +"},
      {"SCRIPT", "LOAD"},
      {"SCRIPT", "EXISTS", sha, "abc"},
      {"SCRIPT", "EXISTS", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"},
      {"SCRIPT", "EXISTS"},
      {"EVALSHA", sha, "0"},
      {"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"},
      {"EVALSHA_RO", sha, "0"},
      {"EVAL_RO", "return 1", "0"},
      {"EVAL_RO", "#!lua\nreturn 1", "0"},
      {"EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"},
      {"EVAL", "return redis.sha1hex(ARGV[1])", "0", "return 1"},
      {"SCRIPT", "FLUSH", "bogus"},
      {"SCRIPT", "FLUSH", "SYNC", "x"},
      {"SCRIPT", "FLUSH", "ASYNC"},
      {"SCRIPT", "EXISTS", sha},
      {"SCRIPT", "FLUSH", "sync"},
      {"SCRIPT", "KILL"},
      {"SCRIPT", "KILL", "x"},
      {"SCRIPT", "DEBUG", "bogus"},
      {"SCRIPT", "DEBUG", "NO"},
      {"SCRIPT", "NOSUCH"},
      {"SCRIPT"},
      {"SCRIPT", "HELP"},
      {"SCRIPT", "HELP", "x"},
      {"EVAL", "return 1", "0"},
      {"SCRIPT", "EXISTS", sha},
  };
  for (int proto : {2, 3}) {
    INFO("RESP", proto);
    if (proto == 3) {
      CHECK(p.lockd.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
      CHECK(p.redis.Command({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
    }
    for (const auto& args : cases) p.Same(args);
  }
}
