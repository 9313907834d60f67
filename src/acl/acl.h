// ACL users as Redis 7.0 has them: users with flags and SHA-256 passwords,
// selectors (a root one plus optional "(...)" ones) holding a bitmap of
// allowed command ids, key patterns with read/write permissions and channel
// patterns; the rules that change them, their description (ACL LIST, ACL
// SAVE) and the permission check the dispatcher runs on every command.
//
// Invariants: the default user always exists and is never freed, so a
// Session may point at it (or at any user) until the user is deleted, when
// Registry::ForgetUser's caller moves the sessions off it first. A check
// costs a few word tests for an unrestricted user and a scan of
// precompiled key patterns otherwise; nothing is allocated per command.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lockd/config.h"
#include "lockd/status.h"

namespace lockd {
struct CommandSpec;
}

namespace lockd::acl {

// Command ids are the table's stats indexes. The last bit is never a
// command: +@all sets it, so that a description can tell "+@all minus some"
// from "-@all plus some" (Redis's USER_COMMAND_BITS_COUNT-1 trick).
inline constexpr size_t kCommandBits = 1024;
inline constexpr size_t kFutureCommandsBit = kCommandBits - 1;
using CommandBitmap = std::array<uint64_t, kCommandBits / 64>;

// Bounds per selector and user, so that one user's memory is bounded
// whatever ACL SETUSER is sent (Redis has none; these are far above any
// real use).
inline constexpr size_t kMaxPatterns = 1024;   // key patterns, and channel patterns
inline constexpr size_t kMaxPasswords = 1024;
inline constexpr size_t kMaxSelectors = 64;
inline constexpr size_t kMaxFirstArgs = 1024;

// Redis 7.0's categories in its order, then lockd's own "lock".
struct CategoryInfo {
  const char* name;
  uint64_t flag;
};
std::span<const CategoryInfo> Categories();
// 0 when unknown (case-insensitive, as Redis).
uint64_t CategoryFlag(std::string_view name);

enum KeyPerm : uint8_t { kKeyRead = 1, kKeyWrite = 2, kKeyAll = 3 };

// A key or channel pattern, classified once so that the common forms
// ("seat:*", "exact") are matched with one comparison instead of a glob.
struct Pattern {
  enum Kind : uint8_t { kExact, kPrefix, kGlob };
  std::string text;
  uint8_t perms = kKeyAll;  // key patterns only
  Kind kind = kGlob;

  static Pattern Compile(std::string_view text, uint8_t perms);
  bool Matches(std::string_view s) const;
};

enum SelectorFlag : uint32_t {
  kSelectorRoot = 1,
  kSelectorAllKeys = 2,
  kSelectorAllChannels = 4,
  kSelectorAllCommands = 8,
};

struct Selector {
  uint32_t flags = 0;
  CommandBitmap allowed{};
  std::vector<Pattern> keys;
  std::vector<std::string> channels;
  // +select|0: a first argument allowed for an otherwise denied command.
  std::map<size_t, std::vector<std::string>> first_args;

  bool Allows(size_t id) const { return (allowed[id / 64] >> (id % 64)) & 1; }
};

enum UserFlag : uint32_t {
  kUserEnabled = 1,
  kUserDisabled = 2,
  kUserNoPass = 4,
  kUserSkipSanitize = 8,
  kUserSanitize = 16,
};

struct User {
  std::string name;
  uint32_t flags = kUserDisabled;
  std::vector<std::string> passwords;  // lowercase hex SHA-256
  std::vector<Selector> selectors;     // [0] is the root selector
  // Cached by Registry after every change: all commands, keys and channels.
  bool unrestricted = false;

  bool enabled() const { return !(flags & kUserDisabled); }
};

// What a check refused, in Redis's order of relevance (ACL_DENIED_*).
enum class Denied : uint8_t { kNone = 0, kCommand = 1, kKey = 2, kAuth = 3, kChannel = 4 };
struct CheckResult {
  Denied denied = Denied::kNone;
  size_t arg = 0;  // the key or channel argument refused
};

// One ACL LOG entry, with Redis 7.0's fields.
struct LogEntry {
  uint64_t count = 1;
  Denied reason = Denied::kCommand;
  std::string context;  // toplevel, multi, lua
  std::string object;
  std::string username;
  int64_t ctime_ms = 0;
  std::string client_info;
};

// lowercase hex SHA-256 of `password`.
std::string HashPassword(std::string_view password);

class Registry {
 public:
  explicit Registry(const Config* config);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  User& default_user() { return *default_user_; }
  const User& default_user() const { return *default_user_; }
  User* Find(std::string_view name);
  const std::map<std::string, std::unique_ptr<User>>& users() const { return users_; }

  // ACL SETUSER: applies `ops` to a copy of the user (new or existing) and
  // stores it only if every op is valid. On error the message is Redis's
  // reply text without its "ERR ".
  Status SetUser(std::string_view name, std::span<const std::string_view> ops);
  // Removes a user (never "default"); the caller has moved its sessions.
  std::unique_ptr<User> Remove(std::string_view name);
  // requirepass: the default user's only password, or nopass when empty.
  void SetDefaultPassword(std::string_view password);

  // The user, when `password` opens it (enabled, nopass or a matching hash).
  User* Authenticate(std::string_view name, std::string_view password);

  // The permission check of one command with its arguments.
  CheckResult Check(const User& user, const CommandSpec& spec,
                    std::span<const std::string_view> argv) const;
  // Whether `user` may use `channel` (literal: as a pattern, compared
  // exactly, as PSUBSCRIBE's patterns are).
  bool ChannelAllowed(const User& user, std::string_view channel, bool literal) const;

  // "on #<hash> ~* &* +@all", as ACL LIST shows a user after its name.
  std::string Describe(const User& user) const;
  // ACL GETUSER's "commands" field of one selector.
  std::string DescribeCommands(const Selector& s) const;
  static std::string DescribeKeys(const Selector& s);
  static std::string DescribeChannels(const Selector& s);

  // Every command and subcommand in the category, as ACL CAT lists them.
  std::vector<std::string> CommandsIn(uint64_t category) const;

  // Users from `user` config lines and the aclfile, at start.
  Status LoadAtStartup();
  // ACL LOAD / SAVE with the aclfile. LoadFile replaces every user but
  // default's object (whose rules are copied in place) and returns the
  // users it dropped, whose sessions the caller must end.
  Status LoadFile(const std::string& path, std::vector<std::unique_ptr<User>>* dropped);
  Status SaveFile(const std::string& path) const;

  // ACL LOG.
  void AddLog(LogEntry entry);
  const std::deque<LogEntry>& log() const { return log_; }  // newest first
  void ResetLog() { log_.clear(); }

  // Splits "(a b" "c)" arguments into one selector op, as Redis does; on
  // an unmatched '(' returns false with the index of its argument.
  static bool MergeSelectorArgs(std::span<const std::string_view> args,
                                std::vector<std::string>* out, size_t* bad_index);
  // Applies one op to `user` (Redis's ACLSetUser); the error text or "".
  std::string ApplyOp(User* user, std::string_view op) const;

 private:
  struct CommandAcl;  // per command id: categories, key rules, channel kind

  void BuildCommandIndex();
  std::string ApplySelectorOp(Selector* s, std::string_view op) const;
  void ChangeCommand(Selector* s, const CommandSpec& spec, bool allow) const;
  void ChangeCategory(Selector* s, uint64_t category, bool allow) const;
  void CountCategory(const Selector& s, uint64_t category, size_t* on, size_t* off) const;
  Selector NewSelector(uint32_t flags) const;
  void Refresh(User* user) const;
  CheckResult CheckSelector(const Selector& s, const CommandSpec& spec, size_t id,
                            std::span<const std::string_view> argv) const;
  std::unique_ptr<User> NewUser(std::string_view name) const;
  std::unique_ptr<User> MakeDefaultUser() const;

  const Config* config_;
  std::map<std::string, std::unique_ptr<User>> users_;
  User* default_user_ = nullptr;
  std::deque<LogEntry> log_;
  std::vector<CommandAcl> commands_;      // by command id
  std::vector<const CommandSpec*> specs_;  // by command id
  // Every command and subcommand in describe order (top-level by name,
  // each followed by its subcommands).
  std::vector<const CommandSpec*> ordered_;
};

}  // namespace lockd::acl
