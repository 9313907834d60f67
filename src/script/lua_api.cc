// The sandbox and the redis.* API that scripts see, as Redis 7.0 builds them:
// base, table, string, math, cjson and bit libraries; no io, loadfile,
// dofile, require or print; `os` with only os.clock; globals that cannot be
// created or changed (errors::kLuaReadonlyTable) and that raise an
// error when a missing one is read. Stock Lua 5.1 has no read-only tables, so
// scripts see proxies: an empty table whose reads go to the real one and whose
// writes fail, with rawset, rawget, next, pairs and setmetatable seeing
// through them.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "lockd/config.h"
#include "script/lua_internal.h"
#include "script/sha1.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/version.h"

extern "C" {
#include <lua-bitop.h>
#include <lua-cjson.h>
}

namespace lockd::script {

namespace {

// Registry key of the set (weak keys) of tables a script must not change.
char kProtectedKey;

int ReadonlyError(lua_State* L) { return luaL_error(L, "%s", errors::kLuaReadonlyTable); }

int MissingGlobal(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, errors::kLuaMissingGlobal,
                    name != nullptr ? name : "?");
}

// Pushes what the protected set holds for the value at `index`: the real
// table for a proxy, true for another protected table, nil otherwise.
void PushProtection(lua_State* L, int index) {
  lua_pushvalue(L, index);
  lua_pushlightuserdata(L, &kProtectedKey);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_insert(L, -2);
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

bool IsProtected(lua_State* L, int index) {
  PushProtection(L, index);
  bool yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

// Marks the table at `index`; `real` (an index, or 0) is the table a proxy
// stands for.
void MarkProtected(lua_State* L, int index, int real) {
  index = index < 0 ? lua_gettop(L) + index + 1 : index;
  real = real < 0 ? lua_gettop(L) + real + 1 : real;
  lua_pushlightuserdata(L, &kProtectedKey);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, index);
  if (real != 0) {
    lua_pushvalue(L, real);
  } else {
    lua_pushboolean(L, 1);
  }
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

// Replaces the table on top with a read-only proxy of it. Its metatable is
// itself shown only through a proxy, so it cannot be changed either.
void MakeProxy(lua_State* L, bool show_meta = true) {
  lua_newtable(L);                // real, proxy
  lua_createtable(L, 0, 3);       // real, proxy, meta
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyError);
  lua_setfield(L, -2, "__newindex");
  // getmetatable shows a read-only view of the metatable (whose own
  // metatable is hidden), never the table whose fields guard the proxy.
  lua_pushvalue(L, -1);
  if (show_meta) {
    MakeProxy(L, false);
  } else {
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
  }
  lua_setfield(L, -2, "__metatable");
  MarkProtected(L, -1, 0);
  lua_setmetatable(L, -2);        // real, proxy
  MarkProtected(L, -1, -2);
  MarkProtected(L, -2, 0);
  lua_remove(L, -2);
}

// A readonly-table error raised by a C function: Redis's text has no
// position then.
int PlainReadonlyError(lua_State* L) {
  lua_pushstring(L, errors::kLuaReadonlyTable);
  return lua_error(L);
}

// rawset, setmetatable, rawget, next and pairs see through the proxies the
// way Redis's read-only tables behave: reads reach the real table, changes
// are refused.
int SafeRawset(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (IsProtected(L, 1)) return PlainReadonlyError(L);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

int SafeSetmetatable(lua_State* L) {
  if (lua_istable(L, 1) && IsProtected(L, 1)) return PlainReadonlyError(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// Replaces a proxy at `index` by its real table.
void Unwrap(lua_State* L, int index) {
  if (!lua_istable(L, index)) return;
  PushProtection(L, index);
  if (lua_istable(L, -1)) {
    lua_replace(L, index);
  } else {
    lua_pop(L, 1);
  }
}

int SafeRawget(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  Unwrap(L, 1);
  lua_settop(L, 2);
  lua_rawget(L, 1);
  return 1;
}

int SafeNext(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  Unwrap(L, 1);
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

int SafePairs(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, lua_upvalueindex(1));  // next
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

int OsClock(lua_State* L) {
  lua_pushnumber(L, static_cast<lua_Number>(std::clock()) / CLOCKS_PER_SEC);
  return 1;
}

// Redis's pcall: an error raised as a table (redis.call's) reaches the
// script as its err string, as in Redis before 7.
int RedisStylePcall(lua_State* L) {
  luaL_checkany(L, 1);
  int argc = lua_gettop(L);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0) {
    lua_remove(L, 1);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) {
        lua_replace(L, -2);
      } else {
        lua_pop(L, 1);
      }
    }
    lua_pushboolean(L, 0);
    lua_insert(L, 1);
  }
  return lua_gettop(L);
}

int Call(lua_State* L, bool raise) {
  Scripting* s = Owner(L);
  Scripting::Running* running = s->running();
  if (running == nullptr) {
    PushError(L, errors::kLuaCallOutsideScript);
    return lua_error(L);
  }
  int argc = lua_gettop(L);
  if (argc == 0) {
    PushError(L, errors::kLuaCallNoArguments);
    return raise ? lua_error(L) : 1;
  }
  std::vector<std::string_view>& argv = s->call_argv();
  argv.clear();
  for (int i = 1; i <= argc; ++i) {
    int type = lua_type(L, i);
    if (type == LUA_TNUMBER) {
      // Lua's own number to string keeps 14 digits; Redis sends 17.
      char buf[64];
      int n = std::snprintf(buf, sizeof(buf), "%.17g", static_cast<double>(lua_tonumber(L, i)));
      lua_pushlstring(L, buf, static_cast<size_t>(n));
      lua_replace(L, i);
    } else if (type != LUA_TSTRING) {
      argv.clear();
      lua_settop(L, 0);
      PushError(L, errors::kLuaCallBadArgument);
      return raise ? lua_error(L) : 1;
    }
    size_t len;
    const char* p = lua_tolstring(L, i, &len);
    argv.emplace_back(p, len);
  }
  // The arguments stay on the stack (the views point into them) until the
  // reply has been converted.
  CommandBridge::Outcome outcome = running->run->bridge->Call(argv, running->protocol);
  argv.clear();
  if (outcome.refused) {
    lua_pushlstring(L, outcome.text.data(), outcome.text.size());
    lua_pushliteral(L, "-");
    lua_insert(L, -2);
    lua_concat(L, 2);
    size_t len;
    const char* text = lua_tolstring(L, -1, &len);
    PushError(L, std::string_view(text, len));
    lua_remove(L, -2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ignore_error_stats_update");
    return raise ? lua_error(L) : 1;
  }
  PushReply(L, outcome.text);
  if (raise && !outcome.text.empty() && outcome.text[0] == '-') return lua_error(L);
  return 1;
}

int RedisCall(lua_State* L) { return Call(L, true); }
int RedisPcall(lua_State* L) { return Call(L, false); }

int Sha1hex(lua_State* L) {
  if (lua_gettop(L) != 1) {
    PushError(L, errors::kLuaWrongArgumentCount);
    return lua_error(L);
  }
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  char hex[40];
  Sha1Hex(std::string_view(s != nullptr ? s : "", s != nullptr ? len : 0), hex);
  lua_pushlstring(L, hex, 40);
  return 1;
}

int ErrorReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    PushError(L, errors::kLuaWrongArguments);
    return 1;
  }
  size_t len;
  const char* s = lua_tolstring(L, 1, &len);
  if (len > 0 && s[0] == '-') {
    PushError(L, std::string_view(s, len));
  } else {
    lua_pushliteral(L, "-");
    lua_pushvalue(L, 1);
    lua_concat(L, 2);
    const char* dashed = lua_tolstring(L, -1, &len);
    PushError(L, std::string_view(dashed, len));
  }
  return 1;
}

int StatusReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    PushError(L, errors::kLuaWrongArguments);
    return 1;
  }
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "ok");
  return 1;
}

// Redis's log levels are lockd's: LL_DEBUG 0 ... LL_WARNING 3.
int RedisLog(lua_State* L) {
  int argc = lua_gettop(L);
  if (argc < 2) {
    PushError(L, errors::kLuaLogArguments);
    return lua_error(L);
  }
  if (!lua_isnumber(L, 1)) {
    PushError(L, errors::kLuaLogLevelType);
    return lua_error(L);
  }
  auto level = static_cast<int>(lua_tonumber(L, 1));
  if (level < static_cast<int>(LogLevel::kDebug) || level > static_cast<int>(LogLevel::kWarning)) {
    PushError(L, errors::kLuaLogLevel);
    return lua_error(L);
  }
  if (!LogEnabled(static_cast<LogLevel>(level))) return 0;
  // Glue the arguments with spaces on the Lua stack (no C++ string across
  // a call that may raise).
  int parts = 0;
  for (int i = 2; i <= argc; ++i) {
    if (lua_isstring(L, i)) {
      if (parts > 0) {
        lua_pushliteral(L, " ");
        ++parts;
      }
      lua_pushvalue(L, i);
      lua_tostring(L, -1);
      ++parts;
    }
  }
  lua_concat(L, parts);
  size_t len;
  const char* text = lua_tolstring(L, -1, &len);
  LogMessage(static_cast<LogLevel>(level), std::string_view(text, len));
  return 0;
}

int SetResp(lua_State* L) {
  Scripting::Running* running = Owner(L)->running();
  if (running == nullptr) {
    PushError(L, errors::kLuaSetRespOutsideScript);
    return lua_error(L);
  }
  if (lua_gettop(L) != 1) {
    PushError(L, errors::kLuaSetRespArguments);
    return lua_error(L);
  }
  auto resp = static_cast<int>(lua_tonumber(L, 1));
  if (resp != 2 && resp != 3) {
    PushError(L, errors::kLuaSetRespVersion);
    return lua_error(L);
  }
  running->protocol = resp;
  return 0;
}

// redis.replicate_commands: always on since Redis 7.0 (scripts replicate
// their effects); kept for old scripts.
int ReplicateCommands(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}

// redis.set_repl: lockd always logs a script's effects; the flags are checked
// as Redis checks them.
int SetRepl(lua_State* L) {
  if (Owner(L)->running() == nullptr) {
    PushError(L, errors::kLuaSetReplOutsideScript);
    return lua_error(L);
  }
  if (lua_gettop(L) != 1) {
    PushError(L, errors::kLuaSetReplArguments);
    return lua_error(L);
  }
  auto flags = static_cast<int>(lua_tonumber(L, -1));
  if ((flags & ~3) != 0) {
    PushError(L, errors::kLuaSetReplFlags);
    return lua_error(L);
  }
  return 0;
}

// redis.breakpoint and redis.debug: there is no debugger session.
int Breakpoint(lua_State* L) {
  lua_pushboolean(L, 0);
  return 1;
}
int Debug(lua_State* /*L*/) { return 0; }

// The version lockd reports as REDIS_VERSION (INFO redis_version): scripts
// that test features by version see the Redis they are compatible with.
int VersionNumber(const char* version) {
  int major = 0, minor = 0, patch = 0;
  std::sscanf(version, "%d.%d.%d", &major, &minor, &patch);
  return (major << 16) | (minor << 8) | patch;
}

void SetFunction(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

void SetNumber(lua_State* L, const char* name, lua_Number n) {
  lua_pushnumber(L, n);
  lua_setfield(L, -2, name);
}

// Opens a library; one that only returns its table (Debian's cjson) is
// made a global here.
void OpenLibrary(lua_State* L, const char* name, lua_CFunction open) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  if (name[0] != '\0' && lua_istable(L, -1)) {
    lua_setfield(L, LUA_GLOBALSINDEX, name);
  } else {
    lua_pop(L, 1);
  }
}

// The handler that turns any error into Redis's {err=, source=, line=}
// table, with the position of the Lua code that raised it (the caller's,
// when a C function such as redis.call raised it).
constexpr const char* kErrorHandler =
    "local getinfo = debug.getinfo\n"
    "return function(e)\n"
    "  local at = getinfo(2, 'Sl')\n"
    "  if at and at.what == 'C' then at = getinfo(3, 'Sl') end\n"
    "  if type(e) ~= 'table' then e = {err = 'ERR ' .. tostring(e)} end\n"
    "  if at then e.source = at.source; e.line = at.currentline end\n"
    "  return e\n"
    "end\n";

}  // namespace

void TimeLimitHook(lua_State* L, lua_Debug* /*ar*/) {
  Scripting* s = Owner(L);
  Scripting::Running* running = s->running();
  if (running == nullptr) return;
  int64_t limit = running->run->time_limit_ms;
  int64_t elapsed_ms = (s->clock()->Now().us - running->started.us) / 1000;
  if (!running->timed_out) {
    if (limit <= 0 || elapsed_ms <= limit) return;
    running->timed_out = true;
    Log(LogLevel::kWarning,
        "Lua script stopped by lua-time-limit after {} milliseconds. Script name is: {}.",
        elapsed_ms, running->run->sha);
  }
  // From now on every instruction raises the error again, so that a pcall
  // in the script cannot catch it and go on.
  lua_sethook(L, TimeLimitHook, LUA_MASKCOUNT, 1);
  char message[160];
  auto end = fmt::format_to_n(message, sizeof(message), fmt::runtime(errors::kScriptTimeLimitFormat),
                              limit);
  // PushError wants "-CODE message" to keep the code.
  lua_pushliteral(L, "-");
  lua_pushlstring(L, message, end.size < sizeof(message) ? end.size : sizeof(message));
  lua_concat(L, 2);
  size_t len;
  const char* text = lua_tolstring(L, -1, &len);
  PushError(L, std::string_view(text, len));
  lua_error(L);
}

void BuildSandbox(lua_State* L, int* handler_ref, int* globals_ref, int* proxy_ref) {
  lua_pushlightuserdata(L, &kProtectedKey);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);

  OpenLibrary(L, "", luaopen_base);
  OpenLibrary(L, LUA_TABLIBNAME, luaopen_table);
  OpenLibrary(L, LUA_STRLIBNAME, luaopen_string);
  OpenLibrary(L, LUA_MATHLIBNAME, luaopen_math);
  OpenLibrary(L, LUA_DBLIBNAME, luaopen_debug);
  OpenLibrary(L, "cjson", luaopen_cjson);
  OpenLibrary(L, "bit", luaopen_bit);

  // The error handler is compiled while `debug` is still there; scripts
  // never see debug.
  luaL_loadbuffer(L, kErrorHandler, std::strlen(kErrorHandler), "=error_handler");
  lua_call(L, 0, 1);
  *handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_pushvalue(L, LUA_GLOBALSINDEX);
  int globals = lua_gettop(L);
  // Redis 7.0 removed getfenv, setfenv and newproxy too (a script could
  // reach around the read-only globals with them).
  for (const char* name : {"debug", "dofile", "loadfile", "print", "require", "module", "getfenv",
                           "setfenv", "newproxy"}) {
    lua_pushnil(L);
    lua_setfield(L, globals, name);
  }
  lua_pushcfunction(L, RedisStylePcall);
  lua_setfield(L, globals, "pcall");
  lua_pushcfunction(L, SafeRawset);
  lua_setfield(L, globals, "rawset");
  lua_pushcfunction(L, SafeRawget);
  lua_setfield(L, globals, "rawget");
  lua_getfield(L, globals, "setmetatable");
  lua_pushcclosure(L, SafeSetmetatable, 1);
  lua_setfield(L, globals, "setmetatable");
  lua_pushcfunction(L, SafeNext);
  lua_pushvalue(L, -1);
  lua_setfield(L, globals, "next");
  lua_pushcclosure(L, SafePairs, 1);
  lua_setfield(L, globals, "pairs");

  lua_createtable(L, 0, 1);
  SetFunction(L, "clock", OsClock);
  lua_setfield(L, globals, "os");

  lua_newtable(L);
  SetFunction(L, "call", RedisCall);
  SetFunction(L, "pcall", RedisPcall);
  SetFunction(L, "log", RedisLog);
  SetNumber(L, "LOG_DEBUG", static_cast<int>(LogLevel::kDebug));
  SetNumber(L, "LOG_VERBOSE", static_cast<int>(LogLevel::kVerbose));
  SetNumber(L, "LOG_NOTICE", static_cast<int>(LogLevel::kNotice));
  SetNumber(L, "LOG_WARNING", static_cast<int>(LogLevel::kWarning));
  SetNumber(L, "REDIS_VERSION_NUM", VersionNumber(kCompatibleRedisVersion));
  lua_pushstring(L, kCompatibleRedisVersion);
  lua_setfield(L, -2, "REDIS_VERSION");
  SetFunction(L, "setresp", SetResp);
  SetFunction(L, "sha1hex", Sha1hex);
  SetFunction(L, "error_reply", ErrorReply);
  SetFunction(L, "status_reply", StatusReply);
  SetFunction(L, "replicate_commands", ReplicateCommands);
  SetFunction(L, "set_repl", SetRepl);
  SetNumber(L, "REPL_NONE", 0);
  SetNumber(L, "REPL_AOF", 1);
  SetNumber(L, "REPL_SLAVE", 2);
  SetNumber(L, "REPL_REPLICA", 2);
  SetNumber(L, "REPL_ALL", 3);
  SetFunction(L, "breakpoint", Breakpoint);
  SetFunction(L, "debug", Debug);
  lua_setfield(L, globals, "redis");

  // Every library table a script reaches becomes a read-only view.
  for (const char* name : {"redis", "string", "math", "table", "cjson", "bit", "os", "coroutine"}) {
    lua_getfield(L, globals, name);
    if (lua_istable(L, -1)) {
      MakeProxy(L);
      lua_setfield(L, globals, name);
    } else {
      lua_pop(L, 1);
    }
  }
  // The string metatable ("x"):upper() goes through the same view.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_getfield(L, globals, "string");
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  MakeProxy(L);
  lua_setfield(L, -2, "__metatable");
  MarkProtected(L, -1, 0);
  lua_pop(L, 2);

  // The globals: the real table raises on a missing name; scripts see a
  // proxy of it, and _G is that proxy.
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, MissingGlobal);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ReadonlyError);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, globals);
  lua_pushvalue(L, globals);
  MakeProxy(L);
  int proxy = lua_gettop(L);
  lua_pushvalue(L, proxy);
  lua_setfield(L, globals, "_G");


  lua_pushvalue(L, proxy);
  lua_replace(L, LUA_GLOBALSINDEX);
  *proxy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  *globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

}  // namespace lockd::script
