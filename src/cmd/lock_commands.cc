// LOCK.ACQUIRE, LOCK.RENEW, LOCK.RELEASE, LOCK.FENCE, LOCK.INFO:
// argument checks in Redis's words, then one engine call each.
#include <fmt/format.h>

#include "util/strings.h"
#include "cmd/commands.h"
#include "util/errors.h"

namespace lockd {

namespace {

// Parses ttl_ms; replies the error and returns false when it is unusable.
bool ParseTtl(CommandContext& ctx, std::string_view arg, int64_t* ttl_ms) {
  if (!ParseInt64(arg, ttl_ms)) {
    ctx.Error(errors::kNotInteger);
    return false;
  }
  // Bounded above so that now + ttl can never overflow.
  if (*ttl_ms < 1 || *ttl_ms > kMaxTimeoutMillis) {
    ctx.Error(fmt::format(fmt::runtime(errors::kInvalidExpireFormat), ctx.spec.full_name));
    return false;
  }
  return true;
}

bool ParseToken(CommandContext& ctx, std::string_view arg, Token* token) {
  int64_t v;
  if (!ParseInt64(arg, &v)) {
    ctx.Error(errors::kNotInteger);
    return false;
  }
  // Tokens are positive; a non-positive one simply matches no lease.
  *token = v > 0 ? static_cast<Token>(v) : 0;
  return true;
}

void CmdAcquire(CommandContext& ctx) {
  std::string_view key = ctx.argv[1];
  std::string_view holder = ctx.argv[2];
  int64_t ttl_ms;
  if (!ParseTtl(ctx, ctx.argv[3], &ttl_ms)) return;
  int64_t wait_ms = 0;
  for (size_t i = 4; i < ctx.argc(); ++i) {
    if (EqualsIgnoreCase(ctx.argv[i], "wait") && i + 1 < ctx.argc()) {
      if (!ParseInt64(ctx.argv[++i], &wait_ms)) return ctx.Error(errors::kNotInteger);
      if (wait_ms < 0) return ctx.Error(errors::kTimeoutNegative);
      if (wait_ms > kMaxTimeoutMillis) return ctx.Error(errors::kTimeoutOutOfRange);
    } else {
      return ctx.Error(errors::kSyntax);
    }
  }
  if (holder.empty()) return ctx.Error(errors::kEmptyHolder);
  // Inside a script or a transaction nothing may wait: WAIT behaves as 0.
  if (!ctx.may_block) wait_ms = 0;

  AcquireResult r = ctx.engine().Acquire(key, ctx.StoredHolder(holder), ttl_ms, ctx.now, wait_ms, &ctx.session);
  switch (r.outcome) {
    case AcquireOutcome::kGranted:
    case AcquireOutcome::kReacquired:
      ctx.reply().Integer(static_cast<int64_t>(r.token));
      return;
    case AcquireOutcome::kBusy:
      ctx.reply().Null();
      return;
    case AcquireOutcome::kQueued:
      // The reply comes later, from Commands::OnWaitGranted/OnWaitTimedOut;
      // the network layer holds back this client's next commands meanwhile.
      ctx.session.waiter = r.waiter;
      ctx.session.blocked_since = ctx.now;
      return;
    case AcquireOutcome::kTooManyWaiters:
      ctx.Error(errors::kMaxWaiters);
      return;
    case AcquireOutcome::kTokensExhausted:
      ctx.Error(errors::kTokensExhausted);
      return;
  }
}

void CmdRenew(CommandContext& ctx) {
  Token token;
  int64_t ttl_ms;
  if (!ParseToken(ctx, ctx.argv[3], &token)) return;
  if (!ParseTtl(ctx, ctx.argv[4], &ttl_ms)) return;
  if (ctx.argv[2].empty()) return ctx.Error(errors::kEmptyHolder);
  bool ok = ctx.engine().Renew(ctx.argv[1], ctx.StoredHolder(ctx.argv[2]), token, ttl_ms,
                                 ctx.now);
  ctx.reply().Integer(ok ? 1 : 0);
}

void CmdRelease(CommandContext& ctx) {
  Token token;
  if (!ParseToken(ctx, ctx.argv[3], &token)) return;
  if (ctx.argv[2].empty()) return ctx.Error(errors::kEmptyHolder);
  bool ok = ctx.engine().Release(ctx.argv[1], ctx.StoredHolder(ctx.argv[2]), token, ctx.now);
  ctx.reply().Integer(ok ? 1 : 0);
}

void CmdFence(CommandContext& ctx) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  if (!lease) return ctx.reply().Null();
  ctx.reply().Integer(static_cast<int64_t>(lease->token));
}

void CmdInfo(CommandContext& ctx) {
  std::optional<LeaseView> lease = ctx.ReadKey(ctx.argv[1]);
  if (!lease) return ctx.reply().Null();
  ReplyWriter& w = ctx.reply();
  w.Map(4);
  w.Bulk("holder");
  w.Bulk(acl::VisibleHolder(lease->holder));
  w.Bulk("token");
  w.Integer(static_cast<int64_t>(lease->token));
  w.Bulk("ttl_ms");
  w.Integer(RemainingMillis(*lease, ctx.now));
  w.Bulk("waiters");
  w.Integer(lease->waiters);
}

ArgDoc Key() { return ArgDoc{.name = "key", .type = "key", .key_spec_index = 0}; }
ArgDoc Arg(const char* name, const char* type) { return ArgDoc{.name = name, .type = type}; }

}  // namespace

void AddLockCommands(std::vector<CommandSpec>* out) {
  const std::vector<std::string> write_fast = {"@write", "@fast", "@lock"};
  out->push_back(CommandSpec{
      .name = "lock.acquire",
      .arity = -4,
      .flags = kCmdWrite | kCmdDenyOom | kCmdFast | kCmdBlocking,
      .handler = CmdAcquire,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = {"@write", "@fast", "@blocking", "@lock"},
      .summary = "Acquires the lock on a key for ttl_ms milliseconds, optionally waiting for it; "
                 "returns the fencing token, or null when not granted",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {Key(), Arg("holder", "string"), Arg("ttl_ms", "integer"),
               ArgDoc{.name = "wait_ms", .type = "integer", .token = "WAIT",
                      .flags = ArgDoc::kOptional}},
  });
  out->push_back(CommandSpec{
      .name = "lock.renew",
      .arity = 5,
      .flags = kCmdWrite | kCmdDenyOom | kCmdFast,
      .handler = CmdRenew,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = write_fast,
      .summary = "Extends a held lock to ttl_ms from now, keeping its token",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {Key(), Arg("holder", "string"), Arg("token", "integer"), Arg("ttl_ms", "integer")},
  });
  out->push_back(CommandSpec{
      .name = "lock.release",
      .arity = 4,
      .flags = kCmdWrite | kCmdFast,
      .handler = CmdRelease,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = write_fast,
      .summary = "Releases a held lock and grants it to the next waiter",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {Key(), Arg("holder", "string"), Arg("token", "integer")},
  });
  out->push_back(CommandSpec{
      .name = "lock.fence",
      .arity = 2,
      .flags = kCmdReadOnly | kCmdFast,
      .handler = CmdFence,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = {"@read", "@fast", "@lock"},
      .summary = "Returns the fencing token of the current holder, or null when the key is free",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {Key()},
  });
  out->push_back(CommandSpec{
      .name = "lock.info",
      .arity = 2,
      .flags = kCmdReadOnly | kCmdFast,
      .handler = CmdInfo,
      .first_key = 1, .last_key = 1, .key_step = 1,
      .acl_categories = {"@read", "@fast", "@lock"},
      .summary = "Returns the holder, token, remaining ttl and number of waiters of a lock",
      .since = "1.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {Key()},
  });
}

}  // namespace lockd
