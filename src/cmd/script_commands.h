// The command layer's side of scripting: the Lua interpreter and cache
// (script::Scripting) plus the script client, the session whose output
// collects the replies of the commands a script calls. Commands owns one,
// made at the first EVAL or SCRIPT.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cmd/session.h"
#include "script/scripting.h"

namespace lockd {

class Commands;

// Runs redis.call's commands for the script being run: the checks Redis
// makes for a script (unknown, arity, noscript, writes from a read-only
// script, MISCONF) and then the command's handler, with replies collected in
// the script client's output.
class ScriptBridge final : public script::CommandBridge {
 public:
  explicit ScriptBridge(Commands* commands);

  // Set before each script runs. The script's commands run with `caller`'s
  // ACL user, as Redis runs them with the calling client's.
  void Begin(MonoTime now, bool read_only, Session* caller);

  Outcome Call(const std::vector<std::string_view>& argv, int protocol) override;
  void NoteError(std::string_view message) override;

 private:
  Commands* commands_;
  Session session_;     // the script client: never blocked, always authenticated
  std::string scratch_;  // a reply that spans output blocks, made contiguous
  MonoTime now_;
  Session* caller_ = nullptr;
  bool read_only_ = false;
  bool wrote_ = false;  // a write command ran: MISCONF no longer stops the script
};

struct ScriptState {
  explicit ScriptState(Commands* commands);

  script::Scripting scripting;
  ScriptBridge bridge;
  // Reused by every EVAL: views of its KEYS and ARGV.
  std::vector<std::string_view> keys;
  std::vector<std::string_view> args;
  std::string sha;
};

}  // namespace lockd
