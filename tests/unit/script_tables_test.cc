// KEYS and ARGV as a script sees them, run after run: Redis builds both
// tables afresh for every script, and lockd refills the tables of the run
// before when it can. Whatever a script did to them (values changed or
// removed, keys added, a metatable set, the table raised as an error), the
// next script must see fresh tables. Also: the Lua heap stays bounded over
// many runs, and the script cache's shortcut to the last script found never
// outlives an eviction or a flush.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lockd/clock.h"
#include "lockd/resp.h"
#include "script/scripting.h"

namespace lockd {
namespace {

class NullBridge final : public script::CommandBridge {
 public:
  Outcome Call(const std::vector<std::string_view>& /*argv*/, int /*protocol*/) override {
    return Outcome{.text = "+OK\r\n"};
  }
  void NoteError(std::string_view /*message*/) override {}
};

class FixedClock final : public Clock {
 public:
  MonoTime Now() const override { return MonoTime{1'000'000}; }
  WallTime WallNow() const override { return WallTime{1'700'000'000'000'000}; }
};

struct Lua {
  Lua() : scripting(&clock) {}

  std::string Eval(std::string_view body, std::vector<std::string_view> keys = {},
                   std::vector<std::string_view> args = {}) {
    std::string sha, error;
    if (!scripting.CompileForEval(body, &sha, &error)) return "-" + error + "\r\n";
    OutputBuffer out;
    ReplyWriter writer(&out, 2);
    script::ScriptRun run;
    run.sha = sha;
    run.keys = &keys;
    run.args = &args;
    run.bridge = &bridge;
    run.out = &writer;
    scripting.Run(run);
    std::string bytes;
    out.ForEachRun(1 << 20, [&](const char* p, size_t n) { bytes.append(p, n); });
    return bytes;
  }

  FixedClock clock;
  NullBridge bridge;
  script::Scripting scripting;
};

// Describes both tables: every key and value that pairs() visits, in its
// order, then #KEYS, #ARGV and whether either has a metatable.
constexpr const char* kDescribe =
    "local out = {}\n"
    "for _, t in ipairs({KEYS, ARGV}) do\n"
    "  local s = ''\n"
    "  for k, v in pairs(t) do s = s .. tostring(k) .. '=' .. tostring(v) .. ';' end\n"
    "  out[#out + 1] = s\n"
    "end\n"
    "out[#out + 1] = #KEYS .. ' ' .. #ARGV\n"
    "out[#out + 1] = tostring(getmetatable(KEYS) ~= nil or getmetatable(ARGV) ~= nil)\n"
    "return out\n";

std::string Described(std::string_view keys, std::string_view args, std::string_view lengths) {
  auto bulk = [](std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
  };
  return "*4\r\n" + bulk(keys) + bulk(args) + bulk(lengths) + bulk("false");
}

TEST_CASE("script tables: values a script changed in KEYS and ARGV are not seen by the next") {
  Lua lua;
  CHECK(lua.Eval(kDescribe, {"k1", "k2"}, {"a1"}) == Described("1=k1;2=k2;", "1=a1;", "2 1"));
  CHECK(lua.Eval("KEYS[1] = 'changed' ARGV[1] = 42 KEYS[2] = nil return 1", {"k1", "k2"},
                 {"a1"}) == ":1\r\n");
  CHECK(lua.Eval(kDescribe, {"x1", "x2"}, {"b1"}) == Described("1=x1;2=x2;", "1=b1;", "2 1"));
  // Values removed, then fewer items: the entries past them are gone.
  CHECK(lua.Eval("KEYS[1] = nil ARGV[1] = nil return 1", {"k1", "k2"}, {"a1"}) == ":1\r\n");
  CHECK(lua.Eval(kDescribe, {"y1"}, {}) == Described("1=y1;", "", "1 0"));
  CHECK(lua.Eval(kDescribe, {}, {"c1"}) == Described("", "1=c1;", "0 1"));
}

TEST_CASE("script tables: keys a script added to KEYS and ARGV are not seen by the next") {
  Lua lua;
  CHECK(lua.Eval("KEYS[3] = 'extra' KEYS.name = 'x' ARGV[2] = 'more' table.insert(ARGV, 'z') "
                 "return #ARGV",
                 {"k1", "k2"}, {"a1"}) == ":3\r\n");
  CHECK(lua.Eval(kDescribe, {"x1", "x2"}, {"b1"}) == Described("1=x1;2=x2;", "1=b1;", "2 1"));
  // Added and removed again within the run.
  CHECK(lua.Eval("KEYS.tmp = 1 KEYS.tmp = nil ARGV[9] = 1 ARGV[9] = nil return 1", {"k1"},
                 {"a1"}) == ":1\r\n");
  CHECK(lua.Eval(kDescribe, {"y1"}, {"c1"}) == Described("1=y1;", "1=c1;", "1 1"));
  // More items than the run before, after a run that added some.
  CHECK(lua.Eval("KEYS[2] = 'mine' return 1", {"k1"}, {}) == ":1\r\n");
  CHECK(lua.Eval(kDescribe, {"z1", "z2", "z3"}, {"d1", "d2"}) ==
        Described("1=z1;2=z2;3=z3;", "1=d1;2=d2;", "3 2"));
}

TEST_CASE("script tables: a metatable a script set on KEYS or ARGV is not seen by the next") {
  Lua lua;
  CHECK(lua.Eval("setmetatable(KEYS, {__index = function() return 'ghost' end}) "
                 "setmetatable(ARGV, {__len = function() return 99 end}) return KEYS[5]",
                 {"k1"}, {"a1"}) == "$5\r\nghost\r\n");
  CHECK(lua.Eval(kDescribe, {"x1"}, {"b1"}) == Described("1=x1;", "1=b1;", "1 1"));
  CHECK(lua.Eval("return KEYS[5]", {"x1"}, {"b1"}) == "$-1\r\n");
}

TEST_CASE("script tables: KEYS raised as an error is not seen changed by the next script") {
  Lua lua;
  // The error handler writes where the error happened into the table raised.
  std::string reply = lua.Eval("error(KEYS)", {"k1"}, {"a1"});
  CHECK(reply.rfind("-", 0) == 0);
  CHECK(lua.Eval(kDescribe, {"x1"}, {"b1"}) == Described("1=x1;", "1=b1;", "1 1"));
  reply = lua.Eval("ARGV.err = 'mine' error(ARGV)", {"k1"}, {"a1"});
  CHECK(reply.rfind("-mine", 0) == 0);
  CHECK(lua.Eval(kDescribe, {"x1"}, {"b1"}) == Described("1=x1;", "1=b1;", "1 1"));
}

TEST_CASE("script tables: a script cannot keep KEYS or ARGV for a later run") {
  Lua lua;
  // Every place that outlives a run refuses to be written.
  for (const char* body :
       {"kept = KEYS", "_G.kept = ARGV", "rawset(_G, 'kept', KEYS)", "redis.kept = KEYS",
        "string.kept = ARGV", "setmetatable(_G, {__index = KEYS})",
        "getmetatable('').__index = KEYS", "rawset(getmetatable(''), 'kept', KEYS)"}) {
    CAPTURE(body);
    std::string reply = lua.Eval(body, {"k1"}, {"a1"});
    CHECK(reply.rfind("-", 0) == 0);
    CHECK(reply.find("readonly table") != std::string::npos);
  }
  CHECK(lua.Eval("return type(kept)", {"k1"}, {}).find("Script attempted to access nonexistent "
                                                       "global variable 'kept'") !=
        std::string::npos);
}

TEST_CASE("script tables: the Lua heap stays bounded over many runs") {
  Lua lua;
  const char* release =
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
      "else return 0 end";
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("rl:key:" + std::to_string(i));
  lua.Eval(release, {keys[0]}, {"holder"});
  size_t most = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string arg = "holder-" + std::to_string(i);
    lua.Eval(release, {keys[static_cast<size_t>(i) % keys.size()]}, {arg});
    most = std::max(most, lua.scripting.lua_memory());
  }
  // The heap of a fresh state with one script is ~40 KB; garbage is
  // collected as it is made, not left to grow with the number of runs.
  CHECK(most < size_t{512} * 1024);
}

TEST_CASE("script tables: the cache's last-found shortcut does not outlive an eviction") {
  Lua lua;
  std::string first_sha, error;
  const char* first = "#!lua\nreturn 1";
  REQUIRE(lua.scripting.CompileForEval(first, &first_sha, &error));
  CHECK(lua.scripting.IsWriteScript(first_sha));
  // 500 more EVAL-cached scripts push the first out of the LRU.
  for (int i = 0; i < 500; ++i) {
    std::string sha;
    REQUIRE(lua.scripting.CompileForEval("return " + std::to_string(i), &sha, &error));
  }
  std::string lower;
  CHECK_FALSE(lua.scripting.Find(first_sha, &lower));
  CHECK_FALSE(lua.scripting.IsWriteScript(first_sha));
  REQUIRE(lua.scripting.CompileForEval(first, &first_sha, &error));
  CHECK(lua.scripting.Find(first_sha, &lower));
  lua.scripting.Flush();
  CHECK_FALSE(lua.scripting.IsWriteScript(first_sha));
  CHECK_FALSE(lua.scripting.Find(first_sha, &lower));
  CHECK(lua.Eval("return KEYS[1] .. ARGV[1]", {"k"}, {"a"}) == "$2\r\nka\r\n");
}

}  // namespace
}  // namespace lockd
