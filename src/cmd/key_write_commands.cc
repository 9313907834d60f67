// The Redis key-writing commands over the same locks: SET and SETNX, DEL and
// UNLINK, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, EXPIRETIME/PEXPIRETIME, PERSIST,
// FLUSHALL/FLUSHDB, DELIFEQ and DELEX. A key's value is its lock's holder, so
// SET of a new value is a grant with a new fencing token and DEL is a release
// that hands the key to its next waiter (see engine_keys.cc).
//
// Arguments are checked in Redis 7.0's order and words. Where lockd differs
// on purpose: deadlines more than kMaxTimeoutMillis (~139 years) ahead are
// refused as "invalid expire time" (Redis accepts up to 2^63-1 ms), SET takes
// Valkey's IFEQ, and during the restart lock-delay a SET that would issue a
// token is refused (TRYAGAIN) or, for NX on a free key, answered as busy.
#include <fmt/format.h>

#include <climits>
#include <optional>

#include "cmd/commands.h"
#include "util/errors.h"
#include "util/strings.h"

namespace lockd {

namespace {

// Monotonic deadlines and Unix milliseconds are converted with one
// (wall - monotonic) offset read fresh each time; a PXAT given is read back
// by PEXPIRETIME exactly (the offset moves by far less than 0.5 ms).
int64_t WallOffsetMicros(CommandContext& ctx) {
  const Clock& clock = ctx.commands.clock();
  int64_t mono = clock.Now().us;
  int64_t wall = clock.WallNow().us;
  return wall - mono;
}

int64_t UnixMillisOfDeadline(CommandContext& ctx, MonoTime deadline) {
  int64_t wall_us = deadline.us + WallOffsetMicros(ctx);
  return (wall_us + 500) / 1000;
}

void ReplyInvalidExpire(CommandContext& ctx) {
  ctx.Error(fmt::format(fmt::runtime(errors::kInvalidExpireFormat), ctx.spec.full_name));
}

// The monotonic deadline `ms` milliseconds from now (relative) or at Unix
// time `ms` (absolute). A time at or before now gives `ctx.now` (the caller
// frees the key). False, with the error replied, when it lies further ahead
// than the longest lease lockd keeps.
bool DeadlineOf(CommandContext& ctx, int64_t ms, bool absolute, MonoTime* out) {
  int64_t ahead_ms;
  int64_t base_us = ctx.now.us;
  if (absolute) {
    int64_t offset = WallOffsetMicros(ctx);
    // Unix ms of ctx.now, and how far ahead `ms` is (no overflow: both sides
    // are compared before subtracting).
    int64_t now_ms = (ctx.now.us + offset) / 1000;
    if (ms <= now_ms) {
      *out = ctx.now;
      return true;
    }
    ahead_ms = ms - now_ms;
    if (ahead_ms > kMaxTimeoutMillis) {
      ReplyInvalidExpire(ctx);
      return false;
    }
    *out = MonoTime{ms * 1000 - offset};
    if (*out < ctx.now) *out = ctx.now;
    return true;
  }
  if (ms <= 0) {
    *out = ctx.now;
    return true;
  }
  if (ms > kMaxTimeoutMillis) {
    ReplyInvalidExpire(ctx);
    return false;
  }
  *out = MonoTime{base_us + ms * 1000};
  return true;
}

// ---- SET, SETNX

void ReplySetResult(CommandContext& ctx, const SetResult& r, bool get) {
  switch (r.outcome) {
    case SetOutcome::kSet:
    case SetOutcome::kNotSet:
      if (get) {
        if (r.had_old) return ctx.reply().Bulk(acl::VisibleHolder(r.old_holder));
        return ctx.reply().Null();
      }
      if (r.outcome == SetOutcome::kSet) return ctx.reply().Simple("OK");
      return ctx.reply().Null();
    case SetOutcome::kGrantsClosed: {
      std::optional<MonoTime> until = ctx.engine().grants_closed_until();
      int64_t left_ms = until ? (until->us - ctx.now.us + 999) / 1000 : 0;
      return ctx.Error(fmt::format(fmt::runtime(errors::kGrantsClosedFormat), left_ms));
    }
    case SetOutcome::kTokensExhausted:
      return ctx.Error(errors::kTokensExhausted);
  }
}

// The name's length is known at compile time: no strlen per comparison.
template <size_t N>
bool IsOption(std::string_view arg, const char (&name)[N]) {
  return EqualsIgnoreCase(arg, std::string_view(name, N - 1));
}

enum class SetWord { kNx, kXx, kIfeq, kGet, kKeepttl, kEx, kPx, kExat, kPxat, kOther };

// Which of SET's option words `arg` is, case-insensitively, in one look at
// its length and letters (every SET runs this for each option). The words
// are all letters, and a byte `c` has c | 0x20 == a lowercase letter exactly
// when `c` is that letter in either case.
SetWord SetWordOf(std::string_view arg) {
  auto lower = [&](size_t i) { return static_cast<char>(arg[i] | 0x20); };
  switch (arg.size()) {
    case 2:
      if (lower(1) != 'x') return SetWord::kOther;
      switch (lower(0)) {
        case 'n': return SetWord::kNx;
        case 'x': return SetWord::kXx;
        case 'e': return SetWord::kEx;
        case 'p': return SetWord::kPx;
        default: return SetWord::kOther;
      }
    case 3:
      return lower(0) == 'g' && lower(1) == 'e' && lower(2) == 't' ? SetWord::kGet
                                                                   : SetWord::kOther;
    case 4:
      if (lower(0) == 'i') {
        return lower(1) == 'f' && lower(2) == 'e' && lower(3) == 'q' ? SetWord::kIfeq
                                                                     : SetWord::kOther;
      }
      if (lower(1) != 'x' || lower(2) != 'a' || lower(3) != 't') return SetWord::kOther;
      if (lower(0) == 'e') return SetWord::kExat;
      return lower(0) == 'p' ? SetWord::kPxat : SetWord::kOther;
    case 7:
      return IsOption(arg, "keepttl") ? SetWord::kKeepttl : SetWord::kOther;
    default:
      return SetWord::kOther;
  }
}

void CmdSet(CommandContext& ctx) {
  // Redis 7.0's parser: an option conflicting with one already seen, or one
  // missing its argument, is a syntax error; a repeated expire option keeps
  // the last value. Numbers are checked only after every option parsed.
  enum Expire { kNone, kEx, kPx, kExat, kPxat };
  SetOptions options;
  bool nx = false, xx = false, ifeq = false, keepttl = false;
  Expire expire = kNone;
  std::string_view expire_arg;
  const size_t argc = ctx.argc();
  for (size_t j = 3; j < argc; ++j) {
    const SetWord word = SetWordOf(ctx.argv[j]);
    const bool has_next = j + 1 < argc;
    if (word == SetWord::kNx && !xx && !ifeq) {
      nx = true;
    } else if (word == SetWord::kXx && !nx && !ifeq) {
      xx = true;
    } else if (word == SetWord::kIfeq && !nx && !xx && has_next) {
      ifeq = true;
      options.compare = ctx.argv[++j];
    } else if (word == SetWord::kGet) {
      options.get_old = true;
    } else if (word == SetWord::kKeepttl && expire == kNone) {
      keepttl = true;
    } else if (word == SetWord::kEx && !keepttl && (expire == kNone || expire == kEx) && has_next) {
      expire = kEx;
      expire_arg = ctx.argv[++j];
    } else if (word == SetWord::kPx && !keepttl && (expire == kNone || expire == kPx) && has_next) {
      expire = kPx;
      expire_arg = ctx.argv[++j];
    } else if (word == SetWord::kExat && !keepttl && (expire == kNone || expire == kExat) &&
               has_next) {
      expire = kExat;
      expire_arg = ctx.argv[++j];
    } else if (word == SetWord::kPxat && !keepttl && (expire == kNone || expire == kPxat) &&
               has_next) {
      expire = kPxat;
      expire_arg = ctx.argv[++j];
    } else {
      return ctx.Error(errors::kSyntax);
    }
  }
  if (expire != kNone) {
    int64_t ms;
    if (!ParseInt64(expire_arg, &ms)) return ctx.Error(errors::kNotInteger);
    const bool seconds = expire == kEx || expire == kExat;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) return ReplyInvalidExpire(ctx);
    if (seconds) ms *= 1000;
    options.deadline_mode = SetDeadlineMode::kAt;
    if (!DeadlineOf(ctx, ms, expire == kExat || expire == kPxat, &options.deadline)) return;
  } else if (keepttl) {
    options.deadline_mode = SetDeadlineMode::kKeep;
  }
  options.condition = nx   ? SetCondition::kIfFree
                      : xx ? SetCondition::kIfHeld
                      : ifeq ? SetCondition::kIfEquals
                             : SetCondition::kNone;
  // Under lock-bind-holder-to-user both the value and the compared value
  // are the stored forms, bound to this session's user.
  if (ifeq) options.compare = ctx.StoredHolder(options.compare, 1);
  SetResult r = ctx.engine().Set(ctx.argv[1], ctx.StoredHolder(ctx.argv[2]), options, ctx.now);
  // Redis tells of a SET with an expire option as "set" then "expire".
  if (r.outcome == SetOutcome::kSet && expire != kNone) {
    ctx.commands.notifier().Notify(kNotifyGeneric, "expire", ctx.argv[1]);
  }
  // GET reads the key as GET does, a keyspace hit or miss (as Redis counts it).
  if (options.get_old) ctx.commands.NoteKeyRead(r.had_old);
  ReplySetResult(ctx, r, options.get_old);
}

void CmdSetnx(CommandContext& ctx) {
  SetOptions options;
  options.condition = SetCondition::kIfFree;
  SetResult r = ctx.engine().Set(ctx.argv[1], ctx.StoredHolder(ctx.argv[2]), options, ctx.now);
  if (r.outcome == SetOutcome::kTokensExhausted) return ctx.Error(errors::kTokensExhausted);
  ctx.reply().Integer(r.outcome == SetOutcome::kSet ? 1 : 0);
}

// ---- DEL, UNLINK, DELIFEQ, DELEX

void CmdDel(CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < ctx.argc(); ++i) {
    if (ctx.engine().Delete(ctx.argv[i], ctx.now)) ++deleted;
  }
  ctx.reply().Integer(deleted);
}

// Deletes `key` when its holder equals (or, with `equal` false, differs
// from) `value`; a free key is never deleted.
void DeleteIf(CommandContext& ctx, std::string_view key, std::string_view value, bool equal) {
  std::optional<LeaseView> lease = ctx.engine().Find(key, ctx.now);
  if (!lease || (acl::VisibleHolder(lease->holder) == value) != equal) return ctx.reply().Integer(0);
  ctx.reply().Integer(ctx.engine().Delete(key, ctx.now) ? 1 : 0);
}

void CmdDelifeq(CommandContext& ctx) { DeleteIf(ctx, ctx.argv[1], ctx.argv[2], true); }

void CmdDelex(CommandContext& ctx) {
  if (ctx.argc() == 2) {
    ctx.reply().Integer(ctx.engine().Delete(ctx.argv[1], ctx.now) ? 1 : 0);
    return;
  }
  if (ctx.argc() != 4) return ctx.Error(errors::kSyntax);
  if (IsOption(ctx.argv[2], "ifeq")) return DeleteIf(ctx, ctx.argv[1], ctx.argv[3], true);
  if (IsOption(ctx.argv[2], "ifne")) return DeleteIf(ctx, ctx.argv[1], ctx.argv[3], false);
  ctx.Error(errors::kSyntax);
}

// ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST, EXPIRETIME, PEXPIRETIME

void ExpireGeneric(CommandContext& ctx, bool absolute, bool seconds) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < ctx.argc(); ++j) {
    std::string_view opt = ctx.argv[j];
    if (IsOption(opt, "nx")) {
      nx = true;
    } else if (IsOption(opt, "xx")) {
      xx = true;
    } else if (IsOption(opt, "gt")) {
      gt = true;
    } else if (IsOption(opt, "lt")) {
      lt = true;
    } else {
      return ctx.Error(fmt::format(fmt::runtime(errors::kUnsupportedOptionFormat), opt));
    }
  }
  if (nx && (xx || gt || lt)) return ctx.Error(errors::kExpireNxWithOthers);
  if (gt && lt) return ctx.Error(errors::kExpireGtAndLt);

  int64_t when;
  if (!ParseInt64(ctx.argv[2], &when)) return ctx.Error(errors::kNotInteger);
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) return ReplyInvalidExpire(ctx);
    when *= 1000;
  }
  MonoTime deadline;
  if (!DeadlineOf(ctx, when, absolute, &deadline)) return;

  std::optional<LeaseView> lease = ctx.engine().Find(ctx.argv[1], ctx.now);
  if (!lease) return ctx.reply().Integer(0);
  // Redis's rules: no deadline counts as an infinite one.
  const std::optional<MonoTime>& current = lease->deadline;
  if (nx && current) return ctx.reply().Integer(0);
  if (xx && !current) return ctx.reply().Integer(0);
  if (gt && (!current || deadline <= *current)) return ctx.reply().Integer(0);
  if (lt && current && deadline >= *current) return ctx.reply().Integer(0);
  ctx.engine().SetDeadline(ctx.argv[1], deadline, ctx.now);
  ctx.reply().Integer(1);
}

void CmdExpire(CommandContext& ctx) { ExpireGeneric(ctx, false, true); }
void CmdPexpire(CommandContext& ctx) { ExpireGeneric(ctx, false, false); }
void CmdExpireat(CommandContext& ctx) { ExpireGeneric(ctx, true, true); }
void CmdPexpireat(CommandContext& ctx) { ExpireGeneric(ctx, true, false); }

void CmdPersist(CommandContext& ctx) {
  std::optional<LeaseView> lease = ctx.engine().Find(ctx.argv[1], ctx.now);
  if (!lease || !lease->deadline) return ctx.reply().Integer(0);
  ctx.engine().SetDeadline(ctx.argv[1], std::nullopt, ctx.now);
  ctx.reply().Integer(1);
}

void ReplyExpireTime(CommandContext& ctx, bool millis) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  if (!lease) return ctx.reply().Integer(-2);
  if (!lease->deadline) return ctx.reply().Integer(-1);
  int64_t ms = UnixMillisOfDeadline(ctx, *lease->deadline);
  ctx.reply().Integer(millis ? ms : (ms + 500) / 1000);
}

void CmdExpiretime(CommandContext& ctx) { ReplyExpireTime(ctx, false); }
void CmdPexpiretime(CommandContext& ctx) { ReplyExpireTime(ctx, true); }

// ---- FLUSHALL, FLUSHDB

void CmdFlushall(CommandContext& ctx) {
  if (ctx.argc() > 2) return ctx.Error(errors::kSyntax);
  // ASYNC and SYNC both free at once: a lock's end must be visible to the
  // next command, and every key with waiters is handed to its head waiter.
  if (ctx.argc() == 2 && !IsOption(ctx.argv[1], "sync") && !IsOption(ctx.argv[1], "async")) {
    return ctx.Error(errors::kSyntax);
  }
  ctx.engine().FlushAll(ctx.now);
  ctx.reply().Simple("OK");
}

// ---- The table entries.

ArgDoc Key() { return ArgDoc{.name = "key", .type = "key", .key_spec_index = 0}; }
ArgDoc Arg(const char* name, const char* type) { return ArgDoc{.name = name, .type = type}; }
ArgDoc PureToken(const char* name, const char* token) {
  return ArgDoc{.name = name, .type = "pure-token", .token = token};
}
ArgDoc Valued(const char* name, const char* type, const char* token) {
  return ArgDoc{.name = name, .type = type, .token = token};
}
ArgDoc OneOf(const char* name, std::vector<ArgDoc> args) {
  return ArgDoc{.name = name, .type = "oneof", .flags = ArgDoc::kOptional, .args = std::move(args)};
}

CommandSpec KeyCommand(const char* name, int arity, uint32_t flags, CommandHandler handler,
                       std::vector<std::string> acl, const char* summary, const char* since,
                       const char* group, std::vector<ArgDoc> args) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = std::move(acl),
      .summary = summary,
      .since = since,
      .group = group,
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

CommandSpec ExpireCommand(const char* name, CommandHandler handler, const char* time_name,
                          const char* time_type, const char* summary, const char* since) {
  return KeyCommand(
      name, -3, kCmdWrite | kCmdFast, handler, {"@keyspace", "@write", "@fast"}, summary, since,
      "generic",
      {Key(), Arg(time_name, time_type),
       OneOf("condition", {PureToken("nx", "NX"), PureToken("xx", "XX"), PureToken("gt", "GT"),
                           PureToken("lt", "LT")})});
}

}  // namespace

void AddKeyWriteCommands(std::vector<CommandSpec>* out) {
  out->push_back(KeyCommand(
      "set", -3, kCmdWrite | kCmdDenyOom, CmdSet, {"@write", "@string", "@slow"},
      "Sets a lock's holder (a new holder gets a new fencing token), with an optional deadline",
      "1.0.0", "string",
      {Key(), Arg("value", "string"),
       OneOf("condition", {PureToken("nx", "NX"), PureToken("xx", "XX"),
                           Valued("comparison-value", "string", "IFEQ")}),
       ArgDoc{.name = "get", .type = "pure-token", .token = "GET", .flags = ArgDoc::kOptional},
       OneOf("expiration", {Valued("seconds", "integer", "EX"),
                            Valued("milliseconds", "integer", "PX"),
                            Valued("unix-time-seconds", "unix-time", "EXAT"),
                            Valued("unix-time-milliseconds", "unix-time", "PXAT"),
                            PureToken("keepttl", "KEEPTTL")})}));
  out->push_back(KeyCommand("setnx", 3, kCmdWrite | kCmdDenyOom | kCmdFast, CmdSetnx,
                            {"@write", "@string", "@fast"},
                            "Sets a lock's holder only when the key is free, with no deadline",
                            "1.0.0", "string", {Key(), Arg("value", "string")}));

  CommandSpec del = KeyCommand(
      "del", -2, kCmdWrite, CmdDel, {"@keyspace", "@write", "@slow"},
      "Frees one or more locks, handing each to its next waiter", "1.0.0", "generic",
      {ArgDoc{.name = "key", .type = "key", .flags = ArgDoc::kMultiple, .key_spec_index = 0}});
  del.last_key = -1;
  del.complexity = "O(N) where N is the number of keys that will be removed.";
  CommandSpec unlink = del;
  unlink.name = "unlink";
  unlink.flags = kCmdWrite | kCmdFast;
  unlink.handler = CmdDel;
  unlink.acl_categories = {"@keyspace", "@write", "@fast"};
  unlink.since = "4.0.0";
  unlink.complexity = "O(1) for each key removed.";
  out->push_back(std::move(del));
  out->push_back(std::move(unlink));

  out->push_back(KeyCommand("delifeq", 3, kCmdWrite | kCmdFast, CmdDelifeq,
                            {"@write", "@string", "@fast"},
                            "Frees a lock only if its holder equals the value", "9.0.0", "string",
                            {Key(), Arg("value", "string")}));
  out->push_back(KeyCommand(
      "delex", -2, kCmdWrite | kCmdFast, CmdDelex, {"@write", "@string", "@fast"},
      "Frees a lock, optionally only if its holder equals (IFEQ) or differs from (IFNE) a value",
      "8.4.0", "string",
      {Key(), OneOf("condition", {Valued("ifeq-value", "string", "IFEQ"),
                                  Valued("ifne-value", "string", "IFNE")})}));

  out->push_back(ExpireCommand("expire", CmdExpire, "seconds", "integer",
                               "Sets a lock's deadline in seconds from now (keeps its token)",
                               "1.0.0"));
  out->push_back(ExpireCommand("pexpire", CmdPexpire, "milliseconds", "integer",
                               "Sets a lock's deadline in milliseconds from now (keeps its token)",
                               "2.6.0"));
  out->push_back(ExpireCommand("expireat", CmdExpireat, "unix-time-seconds", "unix-time",
                               "Sets a lock's deadline as a Unix time in seconds", "1.2.0"));
  out->push_back(ExpireCommand("pexpireat", CmdPexpireat, "unix-time-milliseconds", "unix-time",
                               "Sets a lock's deadline as a Unix time in milliseconds", "2.6.0"));
  out->push_back(KeyCommand("persist", 2, kCmdWrite | kCmdFast, CmdPersist,
                            {"@keyspace", "@write", "@fast"},
                            "Removes a lock's deadline (keeps its token)", "2.2.0", "generic",
                            {Key()}));
  out->push_back(KeyCommand("expiretime", 2, kCmdReadOnly | kCmdFast, CmdExpiretime,
                            {"@keyspace", "@read", "@fast"},
                            "Returns a lock's deadline as a Unix time in seconds", "7.0.0",
                            "generic", {Key()}));
  out->push_back(KeyCommand("pexpiretime", 2, kCmdReadOnly | kCmdFast, CmdPexpiretime,
                            {"@keyspace", "@read", "@fast"},
                            "Returns a lock's deadline as a Unix time in milliseconds", "7.0.0",
                            "generic", {Key()}));

  for (const char* name : {"flushall", "flushdb"}) {
    CommandSpec flush = KeyCommand(
        name, -1, kCmdWrite, CmdFlushall, {"@keyspace", "@write", "@slow", "@dangerous"},
        "Frees every lock; a lock with waiters goes to its head waiter", "1.0.0", "server",
        {OneOf("flush-type", {PureToken("async", "ASYNC"), PureToken("sync", "SYNC")})});
    flush.first_key = flush.last_key = flush.key_step = 0;
    flush.complexity = "O(N) where N is the total number of keys in all databases";
    out->push_back(std::move(flush));
  }
}

}  // namespace lockd
