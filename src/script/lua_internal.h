// Shared by the files of src/script/ only: the Lua headers and the helpers
// that the sandbox, the redis.* API and the conversions use.
#pragma once

#include <lua.hpp>

#include <string_view>

#include "lockd/resp.h"
#include "script/scripting.h"

namespace lockd::script {

struct Scripting::Running {
  const ScriptRun* run = nullptr;
  int protocol = 2;  // redis.setresp: how command replies reach the script
  MonoTime started;
  bool timed_out = false;
  bool write_dirty = false;
};

// The Scripting that owns `L` (the allocator's user data).
inline Scripting* Owner(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<Scripting*>(ud);
}

// Pushes an error table {err = "<CODE> <message>"} as Redis's
// luaPushErrorBuff does: "-CODE message" keeps its code, anything else gets
// ERR; CR and LF at either end of the message are trimmed.
void PushError(lua_State* L, std::string_view text);

// Builds the sandbox in a fresh state: libraries, the redis table, the
// read-only globals. Returns the error handler's registry reference and
// fills the two globals references.
void BuildSandbox(lua_State* L, int* handler_ref, int* globals_ref, int* proxy_ref);

// Converts one RESP reply (bytes a command wrote) into a Lua value pushed on
// the stack, as Redis converts a redis.call reply.
void PushReply(lua_State* L, std::string_view resp);

// Writes the Lua value on top of the stack to `out` as Redis converts a
// script's return value, and pops it. `script_protocol` is the script's
// redis.setresp (it decides how booleans reply). Each error reply written is
// reported to `bridge` unless it was already counted.
void WriteValue(lua_State* L, ReplyWriter* out, int script_protocol, CommandBridge* bridge);

// The count hook that stops a script past its time limit.
void TimeLimitHook(lua_State* L, lua_Debug* ar);

}  // namespace lockd::script
