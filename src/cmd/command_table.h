// The command table: one entry per command with its arity, flags, handler and
// documentation. The dispatcher checks arity, authentication and flags from
// here once, so handlers never do; COMMAND INFO/DOCS/LIST/COUNT are rendered
// from the same entries, so what clients are told always matches what runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lockd {

struct CommandContext;
using CommandHandler = void (*)(CommandContext& ctx);

// Flags, named as Redis names them in COMMAND INFO.
enum CommandFlag : uint32_t {
  kCmdWrite = 1 << 0,
  kCmdReadOnly = 1 << 1,
  kCmdDenyOom = 1 << 2,
  kCmdAdmin = 1 << 3,
  kCmdNoScript = 1 << 4,
  kCmdBlocking = 1 << 5,
  kCmdLoading = 1 << 6,  // allowed while the log is loading
  kCmdStale = 1 << 7,
  kCmdFast = 1 << 8,
  kCmdNoAuth = 1 << 9,  // allowed before AUTH
  kCmdNoMulti = 1 << 10,
  kCmdAllowBusy = 1 << 11,
  // lockd's own, never shown by COMMAND: the reply reveals no lock state
  // (PING, ECHO, TIME), so it may leave before the iteration's log commit.
  kCmdRevealsNoState = 1 << 12,
  kCmdPubSub = 1 << 13,  // a pub/sub command
};

// One argument, as COMMAND DOCS describes it (and redis-cli turns into hints).
struct ArgDoc {
  enum Flag : uint8_t { kOptional = 1, kMultiple = 2, kMultipleToken = 4 };

  std::string name;
  std::string type;  // key, string, integer, double, pattern, unix-time, pure-token, oneof, block
  std::string token;
  uint8_t flags = 0;
  std::vector<ArgDoc> args;  // oneof and block
  int key_spec_index = -1;
};

// Whether `argc` words (the name included) fit `arity`: exactly that many,
// or at least -arity when it is negative.
inline bool ArityMatches(int arity, size_t argc) {
  if (arity >= 0) return argc == static_cast<size_t>(arity);
  return argc >= static_cast<size_t>(-arity);
}

struct CommandSpec {
  std::string name;  // lowercase; a subcommand's own name ("list")
  int arity = 0;     // counts the command name (and subcommand); negative: at least -arity
  uint32_t flags = 0;
  CommandHandler handler = nullptr;
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
  std::vector<std::string> acl_categories;  // "@fast", "@write", ...
  std::string summary;
  std::string since;
  std::string group;
  std::string complexity;
  std::vector<ArgDoc> args;
  std::vector<CommandSpec> subcommands;
  std::string full_name;  // "client|list" for subcommands; set by CommandTable::Add
  const CommandSpec* parent = nullptr;
  // Where Commands keeps this entry's call statistics; set by CommandTable.
  size_t stats_index = 0;

  const CommandSpec* FindSubcommand(std::string_view name) const;
};

class CommandTable {
 public:
  // Builds the table of every command lockd serves.
  static const CommandTable& Get();

  const CommandSpec* Find(std::string_view name) const;  // case-insensitive
  const std::vector<const CommandSpec*>& All() const { return ordered_; }
  // Every command and subcommand has a distinct stats_index below this.
  size_t stats_slots() const { return stats_slots_; }

 private:
  CommandTable();
  void Add(CommandSpec spec);
  // Fills index_, once every command is in by_name_ (whose nodes never move).
  void BuildIndex();
  static uint32_t NameHash(std::string_view name);

  std::unordered_map<std::string, CommandSpec> by_name_;
  std::vector<const CommandSpec*> ordered_;
  // Find's open-addressing index over by_name_: NameHash, linear probing,
  // null for an empty slot.
  std::vector<const CommandSpec*> index_;
  size_t index_mask_ = 0;
  size_t max_name_len_ = 0;
  size_t stats_slots_ = 0;
};

// Each command family registers its entries (in its own file).
void AddLockCommands(std::vector<CommandSpec>* out);
void AddKeyCommands(std::vector<CommandSpec>* out);
void AddKeyWriteCommands(std::vector<CommandSpec>* out);
void AddTransactionCommands(std::vector<CommandSpec>* out);
void AddClusterCommands(std::vector<CommandSpec>* out);
void AddConnectionCommands(std::vector<CommandSpec>* out);
void AddScriptCommands(std::vector<CommandSpec>* out);
void AddPubSubCommands(std::vector<CommandSpec>* out);
// SLOWLOG, LATENCY, MONITOR, ROLE (cmd/ops_commands.cc).
void AddOpsCommands(std::vector<CommandSpec>* out);
// REPLICAOF, SLAVEOF, PSYNC, SYNC, REPLCONF (repl/repl_commands.cc).
void AddReplicationCommands(std::vector<CommandSpec>* out);
// ACL and its subcommands (cmd/acl_commands.cc).
void AddAclCommands(std::vector<CommandSpec>* out);
void AddServerCommands(std::vector<CommandSpec>* out);  // calls the two below
void AddCommandCommand(std::vector<CommandSpec>* out);
void AddInfoCommand(std::vector<CommandSpec>* out);

}  // namespace lockd
