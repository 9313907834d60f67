// MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis 7.0's replies and errors.
//
// A transaction is session state (Session::in_multi, queued, watched) plus
// one dispatcher rule (Commands::Execute queues while in_multi). EXEC runs
// the queue back to back within one loop iteration, so no other client's
// command comes between, as one unit in the log, and never blocks.
#include <fmt/format.h>

#include "cmd/commands.h"
#include "util/check.h"
#include "util/errors.h"

namespace lockd {

namespace {

void CmdMulti(CommandContext& ctx) {
  // Neither this error nor WATCH's below dooms the open transaction: Redis
  // replies them from the handler, not as a refusal.
  if (ctx.session.in_multi) return ctx.Error(errors::kMultiNested);
  ctx.session.in_multi = true;
  ctx.reply().Simple("OK");
}

void CmdDiscard(CommandContext& ctx) {
  if (!ctx.session.in_multi) return ctx.Error(errors::kDiscardWithoutMulti);
  ctx.commands.DiscardTransaction(ctx.session);
  ctx.reply().Simple("OK");
}

void CmdExec(CommandContext& ctx) {
  Session& s = ctx.session;
  if (!s.in_multi) return ctx.Error(errors::kExecWithoutMulti);
  // A watched lease whose deadline has passed counts as changed even if the
  // timer has not freed it yet (Redis 7.0 treats a key expired since WATCH
  // so): looking it up expires it now, and the change marks this session.
  if (!s.watch_dirty) {
    for (size_t i = 0; i < s.watched.size() && !s.watch_dirty; ++i) {
      (void)ctx.engine().Find(s.watched[i], ctx.now);
    }
  }
  if (s.multi_refused) {
    ctx.commands.DiscardTransaction(s);
    return ctx.Error(errors::kExecAbort);
  }
  if (s.watch_dirty) {
    ctx.commands.DiscardTransaction(s);
    return ctx.reply().NullArray();
  }
  // The queue leaves the session first: its commands may touch the
  // session's state (RESET is not queued, but CLIENT KILL of itself is).
  std::vector<Session::QueuedCommand> queued = std::move(s.queued);
  ctx.commands.DiscardTransaction(s);
  ctx.reply().Array(queued.size());
  // One atomic unit in the log: a crash keeps all of the transaction's
  // changes or none (the log writes its MULTI only once something changed).
  ctx.commands.durability().OnUnitBegin();
  std::vector<std::string_view> argv;
  for (const Session::QueuedCommand& q : queued) {
    argv.assign(q.argv.begin(), q.argv.end());
    ctx.commands.CallQueued(s, *q.spec, argv, ctx.now);
    LOCKD_CHECK(!s.blocked());
  }
  ctx.commands.durability().OnUnitEnd();
}

void CmdWatch(CommandContext& ctx) {
  if (ctx.session.in_multi) return ctx.Error(errors::kWatchInsideMulti);
  // Already doomed: watching more changes nothing (as Redis).
  if (!ctx.session.watch_dirty) {
    for (size_t i = 1; i < ctx.argc(); ++i) {
      // A lease past its deadline is expired first, so that WATCH starts
      // from the key's state as of now and that expiry is not a change
      // after it.
      (void)ctx.engine().Find(ctx.argv[i], ctx.now);
      ctx.commands.Watch(ctx.session, ctx.argv[i]);
    }
  }
  ctx.reply().Simple("OK");
}

void CmdUnwatch(CommandContext& ctx) {
  ctx.commands.UnwatchAll(ctx.session);
  ctx.reply().Simple("OK");
}

CommandSpec Transaction(const char* name, int arity, uint32_t flags, CommandHandler handler,
                        std::vector<std::string> acl, const char* summary, const char* since,
                        const char* complexity) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = std::move(acl),
      .summary = summary,
      .since = since,
      .group = "transactions",
      .complexity = complexity,
  };
}

}  // namespace

void AddTransactionCommands(std::vector<CommandSpec>* out) {
  const uint32_t kFlags = kCmdNoScript | kCmdLoading | kCmdStale | kCmdFast | kCmdAllowBusy;
  out->push_back(Transaction("multi", 1, kFlags, CmdMulti, {"@fast", "@transaction"},
                             "Mark the start of a transaction block", "1.2.0", "O(1)"));
  out->push_back(Transaction("exec", 1, kCmdNoScript | kCmdLoading | kCmdStale, CmdExec,
                             {"@slow", "@transaction"}, "Execute all commands issued after MULTI",
                             "1.2.0", "Depends on commands in the transaction"));
  out->push_back(Transaction("discard", 1, kFlags, CmdDiscard, {"@fast", "@transaction"},
                             "Discard all commands issued after MULTI", "2.0.0", "O(N), when N is the number of "
                             "queued commands"));
  CommandSpec watch = Transaction("watch", -2, kFlags, CmdWatch, {"@fast", "@transaction"},
                                  "Watch the given keys to determine execution of the "
                                  "MULTI/EXEC block", "2.2.0", "O(1) for every key.");
  watch.first_key = 1;
  watch.last_key = -1;
  watch.key_step = 1;
  watch.args = {ArgDoc{.name = "key", .type = "key", .flags = ArgDoc::kMultiple,
                       .key_spec_index = 0}};
  out->push_back(std::move(watch));
  out->push_back(Transaction("unwatch", 1, kFlags, CmdUnwatch, {"@fast", "@transaction"},
                             "Forget about all watched keys", "2.2.0", "O(1)"));
}

}  // namespace lockd
