// Scripting without sockets: the Lua interpreter with a fake bridge (canned
// command replies, so every conversion can be driven), and EVAL/SCRIPT through
// the command layer on a manual clock. Byte-for-byte parity with a real
// redis-server is in tests/integration/script_parity_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cmd/commands.h"
#include "cmd/script_commands.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "script/scripting.h"
#include "script/sha1.h"

namespace lockd {
namespace {

// Replies with whatever the test put in `reply`, and remembers the argv.
class FakeBridge final : public script::CommandBridge {
 public:
  Outcome Call(const std::vector<std::string_view>& argv, int protocol) override {
    calls.emplace_back(argv.begin(), argv.end());
    protocols.push_back(protocol);
    if (!refusal.empty()) return Outcome{.refused = true, .text = refusal};
    return Outcome{.text = reply};
  }
  void NoteError(std::string_view message) override { errors.emplace_back(message); }

  std::string reply = "+OK\r\n";
  std::string refusal;
  std::vector<std::vector<std::string>> calls;
  std::vector<int> protocols;
  std::vector<std::string> errors;
};

// A clock that moves on by `step_us` at every reading, so that a script's
// time limit passes without the test waiting.
class SteppingClock final : public Clock {
 public:
  MonoTime Now() const override { return MonoTime{now_us += step_us}; }
  WallTime WallNow() const override { return WallTime{1'700'000'000'000'000}; }
  mutable int64_t now_us = 1'000'000;
  int64_t step_us = 0;
};

struct Lua {
  Lua() : scripting(&clock) {}

  // EVAL body numkeys=keys.size(): the reply as the caller would get it.
  std::string Eval(std::string_view body, std::vector<std::string_view> keys = {},
                   std::vector<std::string_view> args = {}, int protocol = 2,
                   bool read_only = false) {
    std::string sha, error;
    if (!scripting.CompileForEval(body, &sha, &error)) return "-" + error + "\r\n";
    return RunSha(sha, keys, args, protocol, read_only);
  }
  std::string RunSha(const std::string& sha, const std::vector<std::string_view>& keys,
                     const std::vector<std::string_view>& args, int protocol = 2,
                     bool read_only = false) {
    OutputBuffer out;
    ReplyWriter writer(&out, protocol);
    script::ScriptRun run;
    run.sha = sha;
    run.keys = &keys;
    run.args = &args;
    run.read_only = read_only;
    run.time_limit_ms = time_limit_ms;
    run.bridge = &bridge;
    run.out = &writer;
    scripting.Run(run);
    std::string bytes;
    out.ForEachRun(1 << 20, [&](const char* p, size_t n) { bytes.append(p, n); });
    return bytes;
  }

  SteppingClock clock;
  FakeBridge bridge;
  script::Scripting scripting;
  int64_t time_limit_ms = 0;
};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Sha(std::string_view body) {
  char hex[40];
  script::Sha1Hex(body, hex);
  return std::string(hex, 40);
}

TEST_CASE("script: SHA-1 names scripts as Redis does") {
  CHECK(Sha("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(Sha("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(Sha("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  // 56 and 64 bytes: the padding takes a second block.
  CHECK(Sha(std::string(56, 'a')) == "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  CHECK(Sha(std::string(64, 'a')) == "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST_CASE("script: Lua values become RESP replies by Redis's rules") {
  Lua lua;
  CHECK(lua.Eval("return 'x'") == "$1\r\nx\r\n");
  CHECK(lua.Eval("return 3.99") == ":3\r\n");   // truncated, not rounded
  CHECK(lua.Eval("return -3.99") == ":-3\r\n");
  CHECK(lua.Eval("return true") == ":1\r\n");
  CHECK(lua.Eval("return false") == "$-1\r\n");
  CHECK(lua.Eval("return false", {}, {}, 3) == "_\r\n");
  CHECK(lua.Eval("return nil") == "$-1\r\n");
  CHECK(lua.Eval("return {1, 'a', nil, 4}") == "*2\r\n:1\r\n$1\r\na\r\n");  // cut at nil
  CHECK(lua.Eval("return {ok='fine'}") == "+fine\r\n");
  CHECK(lua.Eval("return {err='My error'}") == "-My error\r\n");
  CHECK(lua.Eval("return redis.error_reply('boom')") == "-ERR boom\r\n");
  CHECK(lua.Eval("return redis.error_reply('-CODE boom')") == "-CODE boom\r\n");
  CHECK(lua.Eval("return redis.status_reply('fine')") == "+fine\r\n");
  CHECK(lua.Eval("return {1, {2, {3}}}") == "*2\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n");
  // RESP3 shapes a script builds itself.
  CHECK(lua.Eval("return {double=3.5}") == "$3\r\n3.5\r\n");
  CHECK(lua.Eval("return {double=3.5}", {}, {}, 3) == ",3.5\r\n");
  CHECK(lua.Eval("return {map={a=1}}") == "*2\r\n$1\r\na\r\n:1\r\n");
  CHECK(lua.Eval("return {map={a=1}}", {}, {}, 3) == "%1\r\n$1\r\na\r\n:1\r\n");
  CHECK(lua.Eval("return {set={a=true}}", {}, {}, 3) == "~1\r\n$1\r\na\r\n");
  CHECK(lua.Eval("return {big_number='123'}", {}, {}, 3) == "(123\r\n");
  // With redis.setresp(3) booleans are RESP3 booleans (:1/:0 to RESP2).
  CHECK(lua.Eval("redis.setresp(3) return false") == ":0\r\n");
  CHECK(lua.Eval("redis.setresp(3) return true", {}, {}, 3) == "#t\r\n");
  // A table that contains itself ends in an error element, not a crash.
  std::string deep = lua.Eval("local t = {} t[1] = t return t");
  CHECK(deep.find("-ERR reached lua stack limit\r\n") != std::string::npos);
}

TEST_CASE("script: command replies become Lua values by Redis's rules") {
  Lua lua;
  auto type_of = [&](std::string reply, int resp = 2) {
    lua.bridge.reply = std::move(reply);
    std::string setresp = resp == 3 ? "redis.setresp(3) " : "";
    return lua.Eval(setresp +
                    "local r = redis.pcall('x') if type(r) == 'table' then "
                    "local keys = {} for k, v in pairs(r) do keys[#keys + 1] = tostring(k) .. '=' "
                    ".. type(v) end table.sort(keys) return 'table:' .. table.concat(keys, ',') "
                    "end return type(r) .. ':' .. tostring(r)");
  };
  CHECK(type_of(":42\r\n") == Bulk("number:42"));
  CHECK(type_of("$3\r\nabc\r\n") == Bulk("string:abc"));
  CHECK(type_of("$-1\r\n") == Bulk("boolean:false"));
  CHECK(type_of("*-1\r\n") == Bulk("boolean:false"));
  CHECK(type_of("+OK\r\n") == Bulk("table:ok=string"));
  CHECK(type_of("-ERR bad\r\n") ==
        Bulk("table:err=string,ignore_error_stats_update=boolean"));
  CHECK(type_of("*2\r\n:1\r\n:2\r\n") == Bulk("table:1=number,2=number"));
  CHECK(type_of("_\r\n", 3) == Bulk("nil:nil"));
  CHECK(type_of("#t\r\n", 3) == Bulk("boolean:true"));
  CHECK(type_of(",1.5\r\n", 3) == Bulk("table:double=number"));
  CHECK(type_of("%1\r\n$1\r\na\r\n:1\r\n", 3) == Bulk("table:map=table"));
  CHECK(type_of("~1\r\n$1\r\na\r\n", 3) == Bulk("table:set=table"));
  CHECK(type_of("(12345678901234567890\r\n", 3) == Bulk("table:big_number=string"));
  CHECK(type_of("=7\r\ntxt:abc\r\n", 3) == Bulk("table:verbatim_string=table"));
  // Round trips: what comes in goes back out the same.
  lua.bridge.reply = "*3\r\n:1\r\n$1\r\nb\r\n*1\r\n+OK\r\n";
  CHECK(lua.Eval("return redis.call('x')") == lua.bridge.reply);
  lua.bridge.reply = "%1\r\n$1\r\na\r\n#f\r\n";
  CHECK(lua.Eval("redis.setresp(3) return redis.call('x')", {}, {}, 3) == lua.bridge.reply);
  // The protocol the script asked for reaches the bridge.
  lua.bridge.protocols.clear();
  lua.Eval("redis.call('x') redis.setresp(3) redis.call('x')");
  CHECK(lua.bridge.protocols == std::vector<int>{2, 3});
}

TEST_CASE("script: redis.call arguments: strings and numbers (17 digits), nothing else") {
  Lua lua;
  lua.Eval("redis.call('echo', 'a', 12345678901234567, 3.5, KEYS[1], ARGV[1])", {"k"}, {"v"});
  REQUIRE(lua.bridge.calls.size() == 1);
  CHECK(lua.bridge.calls[0] ==
        std::vector<std::string>{"echo", "a", "12345678901234568", "3.5", "k", "v"});
  std::string sha = Sha("return redis.call('echo', true)");
  CHECK(lua.Eval("return redis.call('echo', true)") ==
        "-ERR Lua redis lib command arguments must be strings or integers script: " + sha +
            ", on @user_script:1.\r\n");
  CHECK(lua.Eval("return redis.pcall()") ==
        "-ERR Please specify at least one argument for this redis lib call\r\n");
}

TEST_CASE("script: errors carry Redis 7.0's texts and where they happened") {
  Lua lua;
  CHECK(lua.Eval("return 1 +") ==
        "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
        "'<eof>'\r\n");
  std::string body = "local x = 1\nerror('boom')";
  CHECK(lua.Eval(body) == "-ERR user_script:2: boom script: " + Sha(body) +
                              ", on @user_script:2.\r\n");
  body = "error({err='X boom'})";
  CHECK(lua.Eval(body) == "-X boom script: " + Sha(body) + ", on @user_script:1.\r\n");
  // A command's error reply, raised by redis.call: counted once (by the
  // command), not again as the script's.
  lua.bridge.reply = "-ERR value is not an integer or out of range\r\n";
  lua.bridge.errors.clear();
  body = "return redis.call('incr', 'k')";
  CHECK(lua.Eval(body) == "-ERR value is not an integer or out of range script: " + Sha(body) +
                              ", on @user_script:1.\r\n");
  CHECK(lua.bridge.errors.empty());
  // redis.pcall hands it to the script instead.
  CHECK(lua.Eval("return redis.pcall('incr', 'k')") ==
        "-ERR value is not an integer or out of range\r\n");
  // A refusal by the bridge (unknown command, arity, ...).
  lua.bridge.refusal = "ERR Unknown Redis command called from script";
  body = "return redis.call('nosuch')";
  CHECK(lua.Eval(body) == "-ERR Unknown Redis command called from script script: " + Sha(body) +
                              ", on @user_script:1.\r\n");
  CHECK(lua.Eval("local ok, e = pcall(function() redis.call('nosuch') end) return e") ==
        "$44\r\nERR Unknown Redis command called from script\r\n");
  lua.bridge.refusal.clear();
  // The script's own errors are counted for INFO errorstats.
  lua.bridge.errors.clear();
  lua.Eval("error('counted')");
  CHECK(lua.bridge.errors.size() == 1);
  // redis.log argument checks (Redis 7.0.15 itself crashes on some of these).
  body = "redis.log(99, 'x')";
  CHECK(lua.Eval(body) == "-ERR Invalid debug level. script: " + Sha(body) +
                              ", on @user_script:1.\r\n");
  body = "redis.log(1)";
  CHECK(lua.Eval(body) == "-ERR redis.log() requires two arguments or more. script: " +
                              Sha(body) + ", on @user_script:1.\r\n");
  body = "error({})";
  CHECK(lua.Eval(body).rfind("-ERR ", 0) == 0);
}

TEST_CASE("script: the sandbox: no io, files, require or print; globals are read-only") {
  Lua lua;
  for (const char* name : {"io", "loadfile", "dofile", "require", "print", "debug", "getfenv",
                           "setfenv", "newproxy", "module", "package"}) {
    std::string body = std::string("return ") + name;
    CAPTURE(name);
    CHECK(lua.Eval(body) == "-ERR user_script:1: Script attempted to access nonexistent global "
                            "variable '" + std::string(name) + "' script: " + Sha(body) +
                                ", on @user_script:1.\r\n");
  }
  CHECK(lua.Eval("return type(os.clock())") == "$6\r\nnumber\r\n");
  CHECK(lua.Eval("return os.time").find("-ERR") == std::string::npos);  // nil, not an error
  CHECK(lua.Eval("return os.time") == "$-1\r\n");
  for (const char* body : {"x = 1", "_G.x = 1", "redis.call = nil", "string.rep = nil",
                           "os.clock = nil", "cjson.encode = nil", "function f() end",
                           "getmetatable(_G).__newindex = nil",
                           "getmetatable('').__index = nil"}) {
    CAPTURE(body);
    CHECK(lua.Eval(body) == "-ERR user_script:1: Attempt to modify a readonly table script: " +
                                Sha(body) + ", on @user_script:1.\r\n");
  }
  for (const char* body : {"rawset(_G, 'x', 1)", "setmetatable(_G, nil)",
                           "rawset(redis, 'call', nil)"}) {
    CAPTURE(body);
    CHECK(lua.Eval(body) == "-ERR Attempt to modify a readonly table script: " + Sha(body) +
                                ", on @user_script:1.\r\n");
  }
  // Nothing of the above took effect.
  CHECK(lua.Eval("return string.rep('a', 3) .. type(redis.call) .. type(rawget(_G, 'x'))") ==
        "$14\r\naaafunctionnil\r\n");
  // Reads see through the read-only views.
  CHECK(lua.Eval("local n = 0 for k in pairs(_G) do n = n + 1 end return n > 10") == ":1\r\n");
  CHECK(lua.Eval("return ('abc'):upper()") == "$3\r\nABC\r\n");
  CHECK(lua.Eval("return cjson.encode({1, 2})") == "$5\r\n[1,2]\r\n");
  CHECK(lua.Eval("return bit.band(7, 3)") == ":3\r\n");
  // KEYS and ARGV are new at every run.
  CHECK(lua.Eval("return {#KEYS, #ARGV, KEYS[1], ARGV[2]}", {"k"}, {"a", "b"}) ==
        "*4\r\n:1\r\n:2\r\n$1\r\nk\r\n$1\r\nb\r\n");
  CHECK(lua.Eval("return {#KEYS, #ARGV}") == "*2\r\n:0\r\n:0\r\n");
}

TEST_CASE("script: cache: EVAL-cached scripts are an LRU of 500, SCRIPT LOADed ones stay") {
  Lua lua;
  std::string sha, error;
  REQUIRE(lua.scripting.Load("return 'loaded'", &sha, &error));
  CHECK(sha == Sha("return 'loaded'"));
  std::string first = Sha("return 0");
  lua.Eval("return 0");
  CHECK(lua.scripting.Exists(first));
  // Using a script keeps it young: touch the first one halfway.
  for (int i = 1; i <= 600; ++i) {
    lua.Eval("return " + std::to_string(i));
    if (i == 300) {
      std::string lower;
      CHECK(lua.scripting.Find(first, &lower));
    }
  }
  CHECK(lua.scripting.eval_cached_scripts() == script::kEvalCacheEntries);
  CHECK(lua.scripting.cached_scripts() == script::kEvalCacheEntries + 1);
  // Evicted, oldest first: "return 1" ... "return 101" ("return 0" was
  // touched after "return 300" was cached).
  CHECK(lua.scripting.Exists(sha));  // loaded: never evicted
  CHECK(lua.scripting.Exists(first));
  CHECK(lua.scripting.Exists(Sha("return 1")) == false);
  CHECK(lua.scripting.Exists(Sha("return 101")) == false);
  CHECK(lua.scripting.Exists(Sha("return 102")));
  CHECK(lua.scripting.Exists(Sha("return 600")));
  std::string lower;
  CHECK(lua.scripting.Find(Sha("return 600").substr(0, 39) + "X", &lower) == false);
  // EVALSHA names are case-insensitive.
  std::string upper = Sha("return 600");
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  CHECK(lua.scripting.Find(upper, &lower));
  CHECK(lower == Sha("return 600"));
  // SCRIPT LOAD of an EVAL-cached script pins it.
  REQUIRE(lua.scripting.Load("return 102", &sha, &error));
  for (int i = 1000; i < 1600; ++i) lua.Eval("return " + std::to_string(i));
  CHECK(lua.scripting.Exists(Sha("return 102")));
  CHECK(lua.scripting.Exists(Sha("return 103")) == false);
  lua.scripting.Flush();
  CHECK(lua.scripting.cached_scripts() == 0);
  CHECK(lua.scripting.Exists(Sha("return 102")) == false);
  CHECK(lua.Eval("return 7") == ":7\r\n");
}

TEST_CASE("script: lua-time-limit stops an endless loop, even one that pcalls") {
  Lua lua;
  lua.time_limit_ms = 1000;
  lua.clock.step_us = 300'000;  // every look at the clock: 300 ms later
  std::string body = "while true do end";
  CHECK(lua.Eval(body) == "-ERR Script killed by lua-time-limit after 1000 ms script: " +
                              Sha(body) + ", on @user_script:1.\r\n");
  body = "while true do pcall(function() while true do end end) end";
  CHECK(lua.Eval(body).rfind("-ERR Script killed by lua-time-limit after 1000 ms", 0) == 0);
  // The state is whole: the next script runs.
  CHECK(lua.Eval("local n = 0 for i = 1, 1000 do n = n + i end return n") == ":500500\r\n");
  // Without a limit nothing stops a script that ends by itself.
  lua.time_limit_ms = 0;
  CHECK(lua.Eval("local n = 0 for i = 1, 300000 do n = n + 1 end return n") == ":300000\r\n");
}

TEST_CASE("script: the Lua heap cap turns an endless allocation into an error") {
  Lua lua;
  lua.scripting.set_memory_limit(16 << 20);
  std::string body = "local t = {} local i = 0 while true do i = i + 1 t[i] = 'x' .. i end";
  CHECK(lua.Eval(body) == "-ERR Script exceeded the Lua memory limit of 16777216 bytes script: " +
                              Sha(body) + "\r\n");
  CHECK(lua.scripting.lua_memory() < (16u << 20));
  CHECK(lua.Eval("return #string.rep('x', 1000)") == ":1000\r\n");
  // Caught by pcall inside the script, it stays an ordinary failure.
  CHECK(lua.Eval("local ok = pcall(string.rep, 'x', 64 * 1024 * 1024) return ok") == "$-1\r\n");
  // Deep recursion is Lua's own error.
  body = "local function f() return f() + 1 end return f()";
  CHECK(lua.Eval(body) == "-ERR user_script:1: stack overflow script: " + Sha(body) +
                              ", on @user_script:1.\r\n");
}

TEST_CASE("script: shebang flags, as Redis 7.0 reads them") {
  Lua lua;
  CHECK(lua.Eval("#!lua\nreturn 1") == ":1\r\n");
  CHECK(lua.Eval("#!lua flags=no-writes,allow-oom\nreturn 2") == ":2\r\n");
  CHECK(lua.Eval("#!lua flags=bogus\nreturn 2") ==
        "-ERR Unexpected flag in script shebang: bogus\r\n");
  CHECK(lua.Eval("#!lua bogus\nreturn 2") == "-ERR Unknown lua shebang option: bogus\r\n");
  CHECK(lua.Eval("#!python\nreturn 2") == "-ERR Unexpected engine in script shebang: #!python\r\n");
  CHECK(lua.Eval("#!lua") == "-ERR Invalid script shebang\r\n");
  std::string body = "#!lua\nerror('line2')";
  CHECK(lua.Eval(body) == "-ERR user_script:2: line2 script: " + Sha(body) +
                              ", on @user_script:2.\r\n");
}

// ---- Through the command layer ----

class NoServer final : public ServerHooks {
 public:
  void ForEachSession(const std::function<void(Session&)>&) override {}
  Session* FindSession(uint64_t) override { return nullptr; }
  void KillSession(Session&) override {}
  void SessionUnblocked(Session&) override {}
  void RequestShutdown() override {}
  ServerStatus Stats() override { return {}; }
  void ResetStats() override {}
};

struct Server {
  Server() : commands(&config, &server, &clock) { session.authenticated = true; }
  std::string Run(std::vector<std::string> words) {
    std::vector<std::string_view> argv(words.begin(), words.end());
    commands.Execute(session, argv, clock.Now());
    std::string out;
    session.out.ForEachRun(1 << 20, [&](const char* p, size_t n) { out.append(p, n); });
    session.out.Clear();
    return out;
  }
  Config config;
  NoServer server;
  ManualClock clock;
  Commands commands;
  Session session{1};
};

TEST_CASE("script commands: numkeys, NOSCRIPT and SCRIPT subcommands in Redis's words") {
  Server s;
  CHECK(s.Run({"eval", "return 1", "2", "a"}) ==
        "-ERR Number of keys can't be greater than number of args\r\n");
  CHECK(s.Run({"eval", "return 1", "-1"}) == "-ERR Number of keys can't be negative\r\n");
  CHECK(s.Run({"eval", "return 1", "x"}) == "-ERR value is not an integer or out of range\r\n");
  CHECK(s.Run({"evalsha", "abc", "x"}) == "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  std::string sha = Sha("return ARGV[1]");
  CHECK(s.Run({"evalsha", sha, "0", "x"}) == "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  CHECK(s.Run({"script", "load", "return ARGV[1]"}) == "$40\r\n" + sha + "\r\n");
  CHECK(s.Run({"evalsha", sha, "0", "x"}) == "$1\r\nx\r\n");
  CHECK(s.Run({"evalsha_ro", sha, "0", "y"}) == "$1\r\ny\r\n");
  CHECK(s.Run({"script", "exists", sha, "nope"}) == "*2\r\n:1\r\n:0\r\n");
  CHECK(s.Run({"script", "kill"}) == "-NOTBUSY No scripts in execution right now.\r\n");
  CHECK(s.Run({"script", "flush", "bogus"}) == "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
  CHECK(s.Run({"script", "flush", "async"}) == "+OK\r\n");
  CHECK(s.Run({"script", "exists", sha}) == "*1\r\n:0\r\n");
  CHECK(s.Run({"script", "load", "return +"}).rfind("-ERR Error compiling script", 0) == 0);
  std::string info = s.Run({"info", "memory"});
  CHECK(info.find("number_of_cached_scripts:0\r\n") != std::string::npos);
  CHECK(info.find("used_memory_lua:") != std::string::npos);
}

TEST_CASE("script commands: redis.call reaches the command table with Redis's refusals") {
  Server s;
  CHECK(s.Run({"eval", "return redis.call('ping')", "0"}) == "+PONG\r\n");
  std::string body = "return redis.call('nosuch')";
  CHECK(s.Run({"eval", body, "0"}) == "-ERR Unknown Redis command called from script script: " +
                                          Sha(body) + ", on @user_script:1.\r\n");
  body = "return redis.call('lock.fence')";
  CHECK(s.Run({"eval", body, "0"}) ==
        "-ERR Wrong number of args calling Redis command from script script: " + Sha(body) +
            ", on @user_script:1.\r\n");
  body = "return redis.call('eval', 'return 1', '0')";
  CHECK(s.Run({"eval", body, "0"}) == "-ERR This Redis command is not allowed from script script: " +
                                          Sha(body) + ", on @user_script:1.\r\n");
  body = "return redis.call('lock.acquire', KEYS[1], 'h', 1000)";
  CHECK(s.Run({"eval_ro", body, "1", "k"}) ==
        "-ERR Write commands are not allowed from read-only scripts. script: " + Sha(body) +
            ", on @user_script:1.\r\n");
  body = "#!lua flags=no-writes\nreturn redis.call('lock.acquire', KEYS[1], 'h', 1000)";
  CHECK(s.Run({"eval", body, "1", "k"}).find("Write commands are not allowed") !=
        std::string::npos);
  CHECK(s.Run({"eval_ro", "#!lua\nreturn 1", "0"}) ==
        "-ERR Can not execute a script with write flag using *_ro command.\r\n");
  CHECK(s.Run({"eval", "return redis.call('lock.fence', KEYS[1])", "1", "k"}) == "$-1\r\n");
}

TEST_CASE("script commands: LOCK.ACQUIRE ... WAIT inside a script answers at once") {
  Server s;
  CHECK(s.Run({"lock.acquire", "k", "other", "10000"}) == ":1\r\n");
  // Outside a script this would block the session for 5 s.
  CHECK(s.Run({"eval", "return redis.call('lock.acquire', KEYS[1], 'me', 1000, 'WAIT', 5000)",
               "1", "k"}) == "$-1\r\n");
  CHECK_FALSE(s.session.blocked());
  CHECK(s.commands.engine().waiter_count() == 0);
  CHECK(s.Run({"eval",
               "local t = redis.call('lock.acquire', KEYS[1], 'me', 1000, 'WAIT', 5000) "
               "return {t, redis.call('lock.fence', KEYS[1])}",
               "1", "k2"}) == "*2\r\n:2\r\n:2\r\n");
  CHECK(s.Run({"eval", "return redis.call('lock.release', KEYS[1], 'me', ARGV[1])", "1", "k2",
               "2"}) == ":1\r\n");
}

}  // namespace
}  // namespace lockd
