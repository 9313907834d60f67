// The Lua state's life, the script cache (SCRIPT LOADed scripts plus an LRU
// of EVAL-cached ones) and one script's run: KEYS and ARGV, the time-limit
// hook, the heap cap, the error or value it replies.
#include "script/scripting.h"

#include <fmt/format.h>

#include <cstdlib>

#include "script/lua_internal.h"
#include "script/sha1.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/log.h"

namespace lockd::script {

namespace {

int Panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  Log(LogLevel::kWarning, "Lua panic: {}", message != nullptr ? message : "?");
  std::abort();
}

// Whether the table on top has no metatable and holds exactly the keys
// 1..n, visited by next() in that order (whatever their values). Raises no
// error: next() from nil, then from each key it gave, is always valid.
bool HoldsOnly(lua_State* L, int n) {
  if (lua_getmetatable(L, -1)) {
    lua_pop(L, 1);
    return false;
  }
  int seen = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (seen == n || lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) != seen + 1) {
      lua_pop(L, 1);
      return false;
    }
    ++seen;
  }
  return seen == n;
}

// Reads "#!lua [flags=a,b]" at the top of a body: returns false with the
// error, else the length of the first line (0 without one).
bool ParseShebang(std::string_view body, size_t* length, bool* no_writes, std::string* error) {
  *length = 0;
  *no_writes = false;
  if (body.substr(0, 2) != "#!") return true;
  size_t eol = body.find('\n');
  if (eol == std::string_view::npos) {
    *error = errors::kShebangInvalid;
    return false;
  }
  *length = eol;
  std::vector<std::string_view> parts;
  std::string_view line = body.substr(0, eol);
  while (!line.empty()) {
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    size_t end = line.find_first_of(" \t\r");
    parts.push_back(line.substr(0, end));
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  if (parts.empty()) {
    *error = errors::kShebangNoEngine;
    return false;
  }
  if (parts[0] != "#!lua") {
    *error = fmt::format(fmt::runtime(errors::kShebangEngineFormat), parts[0]);
    return false;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].substr(0, 6) != "flags=") {
      *error = fmt::format(fmt::runtime(errors::kShebangOptionFormat), parts[i]);
      return false;
    }
    std::string_view flags = parts[i].substr(6);
    for (;;) {
      size_t comma = flags.find(',');
      std::string_view flag = flags.substr(0, comma);
      if (flag == "no-writes") {
        *no_writes = true;
      } else if (flag != "allow-oom" && flag != "allow-stale" && flag != "no-cluster" &&
                 flag != "allow-cross-slot-keys") {
        *error = fmt::format(fmt::runtime(errors::kShebangFlagFormat), flag);
        return false;
      }
      if (comma == std::string_view::npos) break;
      flags.remove_prefix(comma + 1);
    }
  }
  return true;
}

}  // namespace

Scripting::Scripting(const Clock* clock, size_t memory_limit)
    : clock_(clock), memory_limit_(memory_limit) {
  Open();
}

Scripting::~Scripting() { Close(); }

void* Scripting::Allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* self = static_cast<Scripting*>(ud);
  if (nsize == 0) {
    self->allocator_.Reallocate(ptr, osize, 0);
    self->heap_used_ -= osize;
    return nullptr;
  }
  // Lua raises "not enough memory" when this returns null; only growth
  // past the cap while a script runs is refused.
  if (nsize > osize && self->limit_on_ &&
      self->heap_used_ - osize + nsize > self->memory_limit_) {
    return nullptr;
  }
  void* p = self->allocator_.Reallocate(ptr, osize, nsize);
  if (p == nullptr) return nullptr;
  self->heap_used_ = self->heap_used_ - osize + nsize;
  return p;
}

void Scripting::Open() {
  heap_used_ = 0;
  keys_.ref = 0;
  keys_.size = 0;
  args_.ref = 0;
  args_.size = 0;
  last_ = nullptr;
  lua_ = lua_newstate(Allocate, this);
  LOCKD_CHECK(lua_ != nullptr);
  lua_atpanic(lua_, Panic);
  BuildSandbox(lua_, &error_handler_ref_, &globals_ref_, &proxy_ref_);
  lua_settop(lua_, 0);
}

void Scripting::Close() {
  if (lua_ != nullptr) lua_close(lua_);
  lua_ = nullptr;
  cache_.clear();
  lru_.clear();
  scripts_bytes_ = 0;
  last_ = nullptr;
}

void Scripting::Flush() {
  Close();
  Open();
}

bool Scripting::Compile(std::string_view body, bool load, std::string* sha, std::string* error) {
  char hex[40];
  Sha1Hex(body, hex);
  std::string_view name(hex, 40);
  if (auto it = cache_.find(name); it != cache_.end()) {
    Entry& e = it->second;
    if (load && !e.loaded) {
      lru_.erase(e.lru);
      e.loaded = true;
    } else if (!e.loaded) {
      lru_.splice(lru_.begin(), lru_, e.lru);
    }
    last_ = &*it;
    sha->assign(name);
    return true;
  }
  size_t shebang = 0;
  bool no_writes = false;
  if (!ParseShebang(body, &shebang, &no_writes, error)) return false;
  // The shebang line is skipped but its newline kept, so line numbers in
  // errors match the text the client sent.
  limit_on_ = true;
  int rc = luaL_loadbuffer(lua_, body.data() + shebang, body.size() - shebang, "@user_script");
  limit_on_ = false;
  if (rc != 0) {
    const char* message = lua_tostring(lua_, -1);
    *error = fmt::format(fmt::runtime(errors::kScriptCompileFormat),
                         message != nullptr ? message : "?");
    lua_pop(lua_, 1);
    return false;
  }
  Entry e;
  e.ref = luaL_ref(lua_, LUA_REGISTRYINDEX);
  e.body_bytes = body.size();
  e.loaded = load;
  e.shebang = body.substr(0, 2) == "#!";
  e.no_writes = no_writes;
  std::string key(name);
  if (!load) {
    lru_.push_front(key);
    e.lru = lru_.begin();
  }
  scripts_bytes_ += body.size() + 40;
  cache_.emplace(std::move(key), e);
  if (lru_.size() > kEvalCacheEntries) Evict(cache_.find(lru_.back()));
  last_ = &*cache_.find(name);
  sha->assign(name);
  return true;
}

void Scripting::Evict(
    std::unordered_map<std::string, Entry, NameHash, std::equal_to<>>::iterator it) {
  luaL_unref(lua_, LUA_REGISTRYINDEX, it->second.ref);
  if (last_ == &*it) last_ = nullptr;
  scripts_bytes_ -= it->second.body_bytes + 40;
  lru_.erase(it->second.lru);
  cache_.erase(it);
}

bool Scripting::CompileForEval(std::string_view body, std::string* sha, std::string* error) {
  return Compile(body, false, sha, error);
}

bool Scripting::Load(std::string_view body, std::string* sha, std::string* error) {
  return Compile(body, true, sha, error);
}

bool Scripting::Find(std::string_view sha, std::string* lower) {
  if (sha.size() != 40) return false;
  char name[40];
  for (size_t i = 0; i < 40; ++i) {
    char c = sha[i];
    name[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  auto it = cache_.find(std::string_view(name, 40));
  if (it == cache_.end()) return false;
  if (!it->second.loaded) lru_.splice(lru_.begin(), lru_, it->second.lru);
  last_ = &*it;
  lower->assign(name, 40);
  return true;
}

const Scripting::Entry* Scripting::Lookup(std::string_view sha) const {
  if (last_ != nullptr && last_->first == sha) return &last_->second;
  auto it = cache_.find(sha);
  return it != cache_.end() ? &it->second : nullptr;
}

bool Scripting::Exists(std::string_view sha) const {
  if (sha.size() != 40) return false;
  char name[40];
  for (size_t i = 0; i < 40; ++i) {
    char c = sha[i];
    name[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return cache_.find(std::string_view(name, 40)) != cache_.end();
}

bool Scripting::IsWriteScript(std::string_view sha) const {
  const Entry* e = Lookup(sha);
  return e != nullptr && e->shebang && !e->no_writes;
}

bool Scripting::IsNoWritesScript(std::string_view sha) const {
  const Entry* e = Lookup(sha);
  return e != nullptr && e->no_writes;
}

// KEYS and ARGV. Redis builds both tables afresh for every script; lockd
// refills the tables of the run before when that run left them as they
// were filled: no metatable and no key but 1..size. Only a table could
// tell, and no script can keep one past its run (the globals are read-only,
// every library table is a read-only view, and a script's locals die with
// it), so what a run could notice is only what an earlier run did to the
// table; a table changed in any way but its values is replaced by a fresh
// one. A refill never adds keys, so next() visits 1..n in order as in a
// fresh table: more items than last time take a fresh table too.
void Scripting::SetArray(ArrayGlobal* array, const std::vector<std::string_view>& items) {
  lua_State* L = lua_;
  const int n = static_cast<int>(items.size());
  bool reuse = false;
  if (array->ref != 0 && n <= array->size) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, array->ref);
    reuse = HoldsOnly(L, array->size);
    if (!reuse) lua_pop(L, 1);
  }
  if (!reuse) {
    lua_createtable(L, n, 0);
    if (array->ref == 0) {
      lua_pushvalue(L, -1);
      array->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
      lua_pushvalue(L, -1);
      lua_rawseti(L, LUA_REGISTRYINDEX, array->ref);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, globals_ref_);
    lua_pushstring(L, array->name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  for (int i = 0; i < n; ++i) {
    lua_pushlstring(L, items[static_cast<size_t>(i)].data(), items[static_cast<size_t>(i)].size());
    lua_rawseti(L, -2, i + 1);
  }
  for (int i = n; reuse && i < array->size; ++i) {
    lua_pushnil(L);
    lua_rawseti(L, -2, i + 1);
  }
  array->size = n;
  lua_pop(L, 1);
}

void Scripting::Run(const ScriptRun& run) {
  const Entry* entry = Lookup(run.sha);
  LOCKD_CHECK(entry != nullptr);
  lua_State* L = lua_;
  Running running;
  running.run = &run;
  running_ = &running;

  lua_settop(L, 0);
  // A script may have replaced its thread's globals (setfenv(0, t)): every
  // run starts from the read-only view again.
  lua_rawgeti(L, LUA_REGISTRYINDEX, proxy_ref_);
  lua_replace(L, LUA_GLOBALSINDEX);
  lua_rawgeti(L, LUA_REGISTRYINDEX, error_handler_ref_);
  lua_rawgeti(L, LUA_REGISTRYINDEX, entry->ref);
  SetArray(&keys_, *run.keys);
  SetArray(&args_, *run.args);

  if (run.time_limit_ms > 0) {
    running.started = clock_->Now();
    lua_sethook(L, TimeLimitHook, LUA_MASKCOUNT, kHookInstructions);
  }
  limit_on_ = true;
  int rc = lua_pcall(L, 0, 1, 1);
  limit_on_ = false;
  if (run.time_limit_ms > 0) lua_sethook(L, nullptr, 0, 0);

  if (rc == 0) {
    WriteValue(L, run.out, running.protocol, run.bridge);
  } else {
    std::string message;
    bool counted = false;
    if (rc == LUA_ERRMEM) {
      message = fmt::format(fmt::runtime(errors::kScriptOutOfMemoryFormat), memory_limit_);
      message += fmt::format(" script: {}", run.sha);
    } else if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      const char* err = lua_tostring(L, -1);
      // error({}) has no text: Redis 7.0 crashes there; lockd says so.
      message = err != nullptr ? err : errors::kScriptErrorWithoutText;
      lua_getfield(L, -2, "source");
      lua_getfield(L, -3, "line");
      if (lua_isstring(L, -2) && lua_isstring(L, -1)) {
        message += fmt::format(" script: {}, on {}:{}.", run.sha, lua_tostring(L, -2),
                               lua_tostring(L, -1));
      }
      lua_getfield(L, -4, "ignore_error_stats_update");
      counted = lua_toboolean(L, -1);
      lua_pop(L, 4);
    } else {
      const char* err = lua_tostring(L, -1);
      message = fmt::format(fmt::runtime(errors::kScriptRunFormat), run.sha,
                            err != nullptr ? err : "execution failure");
    }
    run.out->Error(message);
    if (!counted) run.bridge->NoteError(message);
  }
  lua_settop(L, 0);
  running_ = nullptr;
  // Garbage is left to Lua's own incremental collector, which works in
  // small steps as the heap grows and starts a cycle when the heap is twice
  // what the last one left alive: the heap stays within about twice the
  // live data (the libraries and cached scripts, ~40 KB for a few scripts),
  // however many scripts run. Redis 7.0 also forces a 50 KB step every 50
  // scripts; a lock script leaves a few hundred bytes of garbage, so that
  // step restarted a whole cycle (marking every live object) every 50 runs,
  // a fifth of an EVALSHA's instructions, to keep the heap a few KB smaller.
  if (rc == LUA_ERRMEM || heap_used_ > memory_limit_ / 4) {
    // What the script allocated is mostly garbage now: give it back at once
    // rather than let the next script run into the cap.
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
}

}  // namespace lockd::script
