// The read-only Redis key commands over the same locks, seen as
// string keys whose value is the holder: GET, STRLEN, EXISTS, TYPE, PTTL, TTL,
// KEYS, SCAN, DBSIZE. Replies and edge cases are Redis 7's; the reads of one
// key count as keyspace hits or misses as Redis counts them (KEYS, SCAN and
// DBSIZE do not).
#include <string>
#include <vector>

#include "util/strings.h"
#include "cmd/commands.h"
#include "util/errors.h"
#include "util/glob.h"

namespace lockd {

namespace {

void CmdGet(CommandContext& ctx) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  if (!lease) return ctx.reply().Null();
  ctx.reply().Bulk(acl::VisibleHolder(lease->holder));
}

// The length of the holder; 0 for a free key. redis-cli --bigkeys sizes
// string keys with it.
void CmdStrlen(CommandContext& ctx) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  ctx.reply().Integer(lease ? static_cast<int64_t>(acl::VisibleHolder(lease->holder).size()) : 0);
}

void CmdExists(CommandContext& ctx) {
  int64_t count = 0;
  for (size_t i = 1; i < ctx.argc(); ++i) {
    if (ctx.ReadKey(ctx.argv[i])) ++count;
  }
  ctx.reply().Integer(count);
}

void CmdType(CommandContext& ctx) {
  ctx.reply().Simple(ctx.ReadKey(ctx.argv[1]) ? "string" : "none");
}

void ReplyTtl(CommandContext& ctx, bool millis) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  if (!lease) return ctx.reply().Integer(-2);
  int64_t ms = RemainingMillis(*lease, ctx.now);
  if (ms < 0) return ctx.reply().Integer(-1);
  // TTL rounds to the nearest second, as Redis does.
  ctx.reply().Integer(millis ? ms : (ms + 500) / 1000);
}

void CmdPttl(CommandContext& ctx) { ReplyTtl(ctx, true); }
void CmdTtl(CommandContext& ctx) { ReplyTtl(ctx, false); }

void CmdDbsize(CommandContext& ctx) { ctx.reply().Integer(static_cast<int64_t>(ctx.engine().size())); }

void CmdKeys(CommandContext& ctx) {
  std::string_view pattern = ctx.argv[1];
  bool all = pattern == "*";
  std::vector<std::string> keys;
  uint64_t cursor = 0;
  do {
    cursor = ctx.engine().Scan(cursor, 1024, ctx.now, [&](const LeaseView& lease) {
      if (all || GlobMatch(pattern, lease.key)) keys.emplace_back(lease.key);
    });
  } while (cursor != 0);
  ctx.reply().Array(keys.size());
  for (const std::string& k : keys) ctx.reply().Bulk(k);
}

// Redis reads the cursor with strtoul: an optional sign, then decimal digits;
// "-1" wraps to 2^64-1 (a cursor past the end: the scan is over), an empty
// string is 0, and out-of-range or trailing bytes are an invalid cursor.
bool ParseScanCursor(std::string_view arg, uint64_t* cursor) {
  bool negative = false;
  if (!arg.empty() && (arg[0] == '+' || arg[0] == '-')) {
    negative = arg[0] == '-';
    arg.remove_prefix(1);
    // strtoul without digits after a sign consumes nothing: trailing bytes.
    if (arg.empty()) return false;
  }
  uint64_t value = 0;
  for (char c : arg) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *cursor = negative ? uint64_t{0} - value : value;
  return true;
}

void CmdScan(CommandContext& ctx) {
  uint64_t cursor = 0;
  if (!ParseScanCursor(ctx.argv[1], &cursor)) return ctx.Error(errors::kInvalidCursor);
  std::string_view pattern;
  bool match_all = true;
  int64_t count = 10;
  bool type_matches = true;
  for (size_t i = 2; i < ctx.argc(); i += 2) {
    if (i + 1 >= ctx.argc()) return ctx.Error(errors::kSyntax);
    std::string_view option = ctx.argv[i];
    std::string_view value = ctx.argv[i + 1];
    if (EqualsIgnoreCase(option, "match")) {
      pattern = value;
      match_all = pattern == "*";
    } else if (EqualsIgnoreCase(option, "count")) {
      if (!ParseInt64(value, &count)) return ctx.Error(errors::kNotInteger);
      if (count < 1) return ctx.Error(errors::kSyntax);
    } else if (EqualsIgnoreCase(option, "type")) {
      // Every lock is a string key.
      type_matches = EqualsIgnoreCase(value, "string");
    } else {
      return ctx.Error(errors::kSyntax);
    }
  }
  std::vector<std::string> keys;
  uint64_t next = ctx.engine().Scan(cursor, static_cast<size_t>(count), ctx.now,
                                    [&](const LeaseView& lease) {
                                      if (!type_matches) return;
                                      if (match_all || GlobMatch(pattern, lease.key)) {
                                        keys.emplace_back(lease.key);
                                      }
                                    });
  ReplyWriter& w = ctx.reply();
  w.Array(2);
  w.Bulk(std::to_string(next));
  w.Array(keys.size());
  for (const std::string& k : keys) w.Bulk(k);
}

ArgDoc KeyArg() { return ArgDoc{.name = "key", .type = "key", .key_spec_index = 0}; }

CommandSpec ReadKeyCommand(const char* name, CommandHandler handler, const char* summary) {
  return CommandSpec{
      .name = name,
      .arity = 2,
      .flags = kCmdReadOnly | kCmdFast,
      .handler = handler,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = {"@keyspace", "@read", "@fast"},
      .summary = summary,
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {KeyArg()},
  };
}

}  // namespace

void AddKeyCommands(std::vector<CommandSpec>* out) {
  CommandSpec get = ReadKeyCommand("get", CmdGet, "Returns the holder of a held lock");
  get.group = "string";
  get.acl_categories = {"@read", "@string", "@fast"};
  out->push_back(std::move(get));
  CommandSpec strlen = ReadKeyCommand("strlen", CmdStrlen, "Returns the length of a lock's holder");
  strlen.group = "string";
  strlen.since = "2.2.0";
  strlen.acl_categories = {"@read", "@string", "@fast"};
  out->push_back(std::move(strlen));
  out->push_back(ReadKeyCommand("type", CmdType, "Returns the type of a key: string or none"));
  out->push_back(ReadKeyCommand("pttl", CmdPttl, "Returns the remaining lease time in milliseconds"));
  out->push_back(ReadKeyCommand("ttl", CmdTtl, "Returns the remaining lease time in seconds"));

  CommandSpec exists = ReadKeyCommand("exists", CmdExists, "Counts how many of the keys are held");
  exists.arity = -2;
  exists.last_key = -1;
  exists.complexity = "O(N) where N is the number of keys to check.";
  exists.args = {ArgDoc{.name = "key", .type = "key", .flags = ArgDoc::kMultiple,
                        .key_spec_index = 0}};
  out->push_back(std::move(exists));

  out->push_back(CommandSpec{
      .name = "dbsize",
      .arity = 1,
      .flags = kCmdReadOnly | kCmdFast,
      .handler = CmdDbsize,
      .acl_categories = {"@keyspace", "@read", "@fast"},
      .summary = "Returns the number of held locks",
      .since = "1.0.0",
      .group = "server",
      .complexity = "O(1)",
  });
  out->push_back(CommandSpec{
      .name = "keys",
      .arity = 2,
      .flags = kCmdReadOnly,
      .handler = CmdKeys,
      .acl_categories = {"@keyspace", "@read", "@slow", "@dangerous"},
      .summary = "Returns all held keys matching a pattern",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(N) with N being the number of keys in the database",
      .args = {ArgDoc{.name = "pattern", .type = "pattern"}},
  });
  out->push_back(CommandSpec{
      .name = "scan",
      .arity = -2,
      .flags = kCmdReadOnly,
      .handler = CmdScan,
      .acl_categories = {"@keyspace", "@read", "@slow"},
      .summary = "Iterates over the held keys",
      .since = "2.8.0",
      .group = "generic",
      .complexity = "O(1) for every call. O(N) for a complete iteration.",
      .args = {ArgDoc{.name = "cursor", .type = "integer"},
               ArgDoc{.name = "pattern", .type = "pattern", .token = "MATCH",
                      .flags = ArgDoc::kOptional},
               ArgDoc{.name = "count", .type = "integer", .token = "COUNT",
                      .flags = ArgDoc::kOptional},
               ArgDoc{.name = "type", .type = "string", .token = "TYPE",
                      .flags = ArgDoc::kOptional}},
  });
}

}  // namespace lockd
