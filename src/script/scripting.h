// Scripting: the embedded Lua 5.1 interpreter that runs EVAL scripts as
// Redis 7.0 does, and the script cache. One Lua state lives as long as the
// server (SCRIPT FLUSH makes a new one); a script never outlives the command
// that runs it, so nothing here knows the event loop.
//
// What a script reaches of the server goes through a CommandBridge (the
// command layer implements it): redis.call hands it an argv and gets back the
// command's reply as RESP bytes, which are converted to Lua values here; the
// script's return value is converted back and written to the caller's
// ReplyWriter. Conversions, error texts and the sandbox follow Redis 7.0
// (src/script_lua.c, eval.c, script.c); see DESIGN.md, "Scripts".
//
// Bounds: a script that runs past its time limit is stopped with an error
// (a count hook checks the clock), and the Lua heap is capped (a custom
// allocator refuses to grow past the limit while a script runs), so neither
// an endless loop nor an endless allocation takes the server down.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lockd/clock.h"
#include "lockd/resp.h"
#include "script/lua_allocator.h"

struct lua_State;

namespace lockd::script {

// What redis.call reaches. Implemented by the command layer.
class CommandBridge {
 public:
  struct Outcome {
    // True: the command did not run, `text` is the refusal with its code
    // ("ERR Unknown Redis command called from script"). False: `text` holds
    // the command's reply as RESP bytes (error replies included).
    bool refused = false;
    std::string_view text;
  };

  virtual ~CommandBridge() = default;
  // Runs argv (not empty) as a command of the script, its reply encoded in
  // RESP `protocol` (2 or 3). The bytes stay valid until the next Call.
  virtual Outcome Call(const std::vector<std::string_view>& argv, int protocol) = 0;
  // The script's own reply is an error: counted for INFO errorstats.
  virtual void NoteError(std::string_view message) = 0;
};

// Scripts cached by EVAL are kept in an LRU of this many (Redis 7.4's rule),
// so that a client that builds a new script text per call cannot grow memory
// without bound; SCRIPT LOADed ones stay until SCRIPT FLUSH.
inline constexpr size_t kEvalCacheEntries = 500;
// The Lua heap's cap while a script runs or compiles (see DESIGN.md).
inline constexpr size_t kDefaultMemoryLimit = size_t{1} << 30;
// How many Lua instructions run between two looks at the clock.
inline constexpr int kHookInstructions = 100000;

struct ScriptRun {
  std::string_view sha;  // 40 lowercase hex digits (from Find or Compile)
  const std::vector<std::string_view>* keys = nullptr;
  const std::vector<std::string_view>* args = nullptr;
  bool read_only = false;          // EVAL_RO / EVALSHA_RO
  int64_t time_limit_ms = 0;       // 0: no limit
  CommandBridge* bridge = nullptr;
  ReplyWriter* out = nullptr;      // the caller's replies
};

class Scripting {
 public:
  // `clock` decides when a script has run too long.
  explicit Scripting(const Clock* clock, size_t memory_limit = kDefaultMemoryLimit);
  ~Scripting();
  Scripting(const Scripting&) = delete;
  Scripting& operator=(const Scripting&) = delete;

  // EVAL: finds the script by the SHA1 of `body`, compiling and caching it
  // (in the LRU) when new. On success *sha names it; on a compile error
  // *error holds the reply text ("ERR Error compiling script ...").
  bool CompileForEval(std::string_view body, std::string* sha, std::string* error);
  // SCRIPT LOAD: the same, but the script stays until SCRIPT FLUSH.
  bool Load(std::string_view body, std::string* sha, std::string* error);
  // EVALSHA: whether the script named `sha` (any case) is cached; *lower
  // receives its lowercase name.
  bool Find(std::string_view sha, std::string* lower);
  bool Exists(std::string_view sha) const;
  // For a cached script (lowercase name): whether its "#!lua" line declares
  // flags without no-writes (EVAL_RO refuses it), and whether it declares
  // no-writes (its write commands are refused).
  bool IsWriteScript(std::string_view sha) const;
  bool IsNoWritesScript(std::string_view sha) const;
  // SCRIPT FLUSH: forgets every script and starts a fresh Lua state.
  void Flush();

  // Runs a cached script and writes its reply (or error) to run.out.
  void Run(const ScriptRun& run);

  size_t cached_scripts() const { return cache_.size(); }
  size_t eval_cached_scripts() const { return lru_.size(); }
  // Bytes held by the Lua heap (INFO used_memory_lua).
  size_t lua_memory() const { return heap_used_; }
  // Bytes of cached script bodies (INFO used_memory_scripts_eval).
  size_t scripts_memory() const { return scripts_bytes_; }
  void set_memory_limit(size_t bytes) { memory_limit_ = bytes; }

  // For the Lua C functions of the redis.* API (lua_api.cc) and the hook.
  struct Running;
  Running* running() { return running_; }
  const Clock* clock() const { return clock_; }
  std::vector<std::string_view>& call_argv() { return call_argv_; }

 private:
  struct Entry {
    int ref = 0;              // the compiled function in the Lua registry
    size_t body_bytes = 0;
    bool loaded = false;      // SCRIPT LOAD: never evicted
    // A "#!lua" first line: flags declared (else Redis's compatibility mode).
    bool shebang = false;
    bool no_writes = false;   // #!lua flags=no-writes
    std::list<std::string>::iterator lru;  // when !loaded
  };
  // Names are SHA1s in hex: their first 16 characters are already evenly
  // spread, so they make the hash at once (EVALSHA looks its name up a few
  // times per call; a full string hash cost more than the lookups).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      if (s.size() < 16) return std::hash<std::string_view>{}(s);
      uint64_t a, b;
      std::memcpy(&a, s.data(), 8);
      std::memcpy(&b, s.data() + 8, 8);
      return static_cast<size_t>((a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull);
    }
  };

  // KEYS or ARGV as the script sees it (see SetArray in scripting.cc).
  struct ArrayGlobal {
    const char* name;
    int ref = 0;   // the table in the Lua registry, 0 before the first run
    int size = 0;  // the entries 1..size it was last filled with
  };

  void Open();
  void Close();
  void SetArray(ArrayGlobal* array, const std::vector<std::string_view>& items);
  // The cache entry of a lowercase name: the one Find or Compile found last
  // when it is that name (EVALSHA asks for the same script a few times).
  const Entry* Lookup(std::string_view sha) const;
  bool Compile(std::string_view body, bool load, std::string* sha, std::string* error);
  void Evict(std::unordered_map<std::string, Entry, NameHash, std::equal_to<>>::iterator it);
  static void* Allocate(void* ud, void* ptr, size_t osize, size_t nsize);

  const Clock* clock_;
  // Declared before the state, so that it outlives it.
  LuaAllocator allocator_;
  lua_State* lua_ = nullptr;
  size_t memory_limit_;
  size_t heap_used_ = 0;
  // The cap applies while a script compiles or runs, not while the server
  // itself builds tables or converts a reply (a refusal there would leave
  // a half-written reply).
  bool limit_on_ = false;
  std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> cache_;
  std::list<std::string> lru_;  // EVAL-cached names, most recent first
  size_t scripts_bytes_ = 0;
  int error_handler_ref_ = 0;
  int globals_ref_ = 0;  // the real globals table (KEYS and ARGV go there)
  int proxy_ref_ = 0;    // the read-only view of it that scripts see as _G
  ArrayGlobal keys_{"KEYS"};
  ArrayGlobal args_{"ARGV"};
  // The entry Find or Compile found last (null after an eviction or flush).
  const std::pair<const std::string, Entry>* last_ = nullptr;
  Running* running_ = nullptr;
  std::vector<std::string_view> call_argv_;  // reused by every redis.call
};

}  // namespace lockd::script
