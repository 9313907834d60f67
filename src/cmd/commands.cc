// The dispatcher, the delivery of blocked waits' outcomes, the index of
// WATCHed keys that the engine's changes are checked against, and the hand-
// over of those changes to keyspace notifications.
#include "cmd/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "cmd/script_commands.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/strings.h"

namespace lockd {

namespace {

EngineOptions MakeEngineOptions(const Config& config) {
  EngineOptions options;
  options.max_waiters_per_key = static_cast<uint32_t>(config.lock_max_waiters);
  return options;
}

std::string Uppercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// The commands that run at once inside MULTI rather than being queued, as
// in Redis: those that end or guard the transaction, and those that end the
// connection's state.
bool RunsInsideMulti(const CommandSpec& spec) {
  const std::string& n = spec.name;
  return spec.parent == nullptr && (n == "exec" || n == "discard" || n == "multi" ||
                                    n == "watch" || n == "quit" || n == "reset");
}

// 40 hex digits, new at every start, as Redis's run_id: tells a restart
// apart from a long uptime.
std::string RandomRunId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 5; ++i) id += fmt::format("{:08x}", random());
  return id;
}

// The commands a RESP2 client may run while subscribed (Redis 7.0's list;
// RESP3 clients may run anything, their messages being pushes).
bool AllowedWhileSubscribed(const CommandSpec& spec) {
  if (spec.parent != nullptr) return false;
  const std::string& n = spec.name;
  return n == "ping" || n == "subscribe" || n == "unsubscribe" || n == "psubscribe" ||
         n == "punsubscribe" || n == "quit" || n == "reset";
}

// Which Redis event the changes a command makes are (notifications.h).
ChangeSource SourceOf(const CommandSpec* spec) {
  if (spec == nullptr) return ChangeSource::kOther;
  const std::string& n = spec->name;
  if (n == "set" || n == "setnx") return ChangeSource::kSet;
  if (n == "expire" || n == "pexpire" || n == "expireat" || n == "pexpireat") {
    return ChangeSource::kExpire;
  }
  if (n == "persist") return ChangeSource::kPersist;
  if (n == "flushall" || n == "flushdb") return ChangeSource::kFlush;
  return ChangeSource::kOther;
}

const std::string& NotifyKeyspaceEvents(const Config& config) {
  static const std::string kNone;
  auto it = config.compat.find("notify-keyspace-events");
  return it == config.compat.end() ? kNone : it->second;
}

}  // namespace

Commands::Commands(Config* config, ServerHooks* server, const Clock* clock,
                   aof::FileSystem* files)
    : config_(config),
      server_(server),
      clock_(clock),
      pubsub_(std::make_unique<PubSub>(server)),
      notifier_(std::make_unique<Notifier>(pubsub_.get())),
      durability_(std::make_unique<aof::Durability>(config, clock, files)),
      engine_(std::make_unique<Engine>(MakeEngineOptions(*config), this, this)),
      call_stats_(CommandTable::Get().stats_slots()),
      run_id_(RandomRunId()),
      started_(clock->Now()) {
  durability_->set_engine(engine_.get());
  durability_->set_latency_sink([this](std::string_view event, int64_t micros) {
    if (latency_monitor_on()) NoteLatency(event, micros);
  });
  replication_ = std::make_unique<repl::ReplicationSource>(config_, server_, durability_.get());
  notifier_->set_flags(ParseNotifyFlags(NotifyKeyspaceEvents(*config_)));
  LoadOpsConfig();
  // requirepass is the default user's password, then `user` lines and the
  // aclfile may redefine any user (default included), as in Redis.
  acl_ = std::make_unique<acl::Registry>(config_);
  acl_->SetDefaultPassword(config_->requirepass);
  applied_requirepass_ = config_->requirepass;
  acl_status_ = acl_->LoadAtStartup();
}

Commands::~Commands() { durability_->set_tap(nullptr); }

void Commands::Execute(Session& session, const std::vector<std::string_view>& argv,
                       MonoTime now) {
  LOCKD_CHECK(!argv.empty());
  LOCKD_CHECK(!session.blocked());
  session.last_interaction = now;
  // Whatever this command replies waits for the commit, unless it is one of
  // the few whose reply reveals nothing (checked below, once it is known to
  // run).
  const bool awaited_before = session.awaits_commit;
  session.awaits_commit = true;

  const CommandSpec* spec = CommandTable::Get().Find(argv[0]);
  if (spec == nullptr) {
    ReplyUnknownCommand(session, argv);
    return;
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = spec->FindSubcommand(argv[1]);
    if (sub == nullptr) {
      Reject(session, fmt::format(fmt::runtime(errors::kUnknownSubcommandFormat),
                                  argv[1].substr(0, 128), Uppercase(argv[0])));
      return;
    }
    spec = sub;
  }
  // Redis's order: an unknown command or a wrong arity is reported even
  // before authentication.
  if (!ArityMatches(spec->arity, argv.size())) {
    Reject(session, fmt::format(fmt::runtime(errors::kWrongArityFormat), spec->full_name), spec);
    return;
  }
  if (!(spec->flags & kCmdNoAuth) && AuthRequired(session)) {
    Reject(session, errors::kNoAuth, spec);
    return;
  }
  // Redis's order: ACLs right after authentication, before any state check.
  if (acl::CheckResult r = CheckAcl(session, *spec, argv,
                                    session.in_multi ? "multi" : "toplevel", session);
      r.denied != acl::Denied::kNone) {
    switch (r.denied) {
      case acl::Denied::kKey:
        Reject(session, errors::kNoPermKey, spec);
        break;
      case acl::Denied::kChannel:
        Reject(session, errors::kNoPermChannel, spec);
        break;
      default:
        Reject(session, fmt::format(fmt::runtime(errors::kNoPermCommandFormat), spec->full_name),
               spec);
        break;
    }
    return;
  }

  // Redis's order: changes are refused while the log cannot be written,
  // and everything but a few connection and admin commands while it loads.
  // An EXEC counts as a change when it would run one.
  // (The name is compared last: every command comes here.)
  const bool writes = (spec->flags & kCmdWrite) ||
                      (session.in_multi && (session.queued_flags & kCmdWrite) &&
                       spec->parent == nullptr && spec->name == "exec");
  if (writes && durability_->refusing_writes()) {
    Reject(session, durability_->misconf_error(), spec);
    return;
  }
  // Replication, in Redis's order: too few good replicas (min-replicas-to-
  // write), then a write to a replica from anyone but its primary (whose
  // records do not come through here). Unlike Redis, a lockd replica is
  // read-only whatever replica-read-only says: a local write would issue
  // tokens its primary issues too, and queue waiters on keys that only the
  // primary's records may change.
  if (writes && replication_->TooFewGoodReplicas(now)) {
    Reject(session, errors::kNoReplicas, spec);
    return;
  }
  if (writes && replication_->is_replica()) {
    Reject(session, errors::kReadOnlyReplica, spec);
    return;
  }
  // Redis's order: the subscribed-mode rule comes after MISCONF, before
  // LOADING and before MULTI queues anything.
  if (session.subscribed() && session.protocol() == 2 && !AllowedWhileSubscribed(*spec)) {
    Reject(session, fmt::format(fmt::runtime(errors::kSubscribedContextFormat), spec->full_name),
           spec);
    return;
  }
  if (durability_->loading() && !(spec->flags & kCmdLoading)) {
    Reject(session, errors::kLoading, spec);
    return;
  }
  // Outside MULTI only: a queued PING's reply is one element of EXEC's.
  if ((spec->flags & kCmdRevealsNoState) && !session.in_multi) {
    session.awaits_commit = awaited_before;
  }

  session.last_command = spec;
  if (session.in_multi && !RunsInsideMulti(*spec)) {
    if (spec->flags & kCmdNoMulti) {
      Reject(session, errors::kNotAllowedInMulti, spec);
      return;
    }
    Queue(session, *spec, argv);
    return;
  }
  Call(session, argv, *spec, now, /*may_block=*/true);
}

void Commands::CallQueued(Session& session, const CommandSpec& spec,
                          const std::vector<std::string_view>& argv, MonoTime now) {
  // The rules may have changed since the command was queued (Redis checks
  // again at EXEC).
  if (acl::CheckResult r = CheckAcl(session, spec, argv, "multi", session);
      r.denied != acl::Denied::kNone) {
    const char* reason = r.denied == acl::Denied::kKey       ? errors::kNoPermExecKeyReason
                         : r.denied == acl::Denied::kChannel ? errors::kNoPermExecChannelReason
                                                             : errors::kNoPermExecCommandReason;
    std::string message = fmt::format(fmt::runtime(errors::kNoPermExecFormat), reason);
    NoteErrorReply(message);
    session.reply.Error(message);
    return;
  }
  Call(session, argv, spec, now, /*may_block=*/false);
}

void Commands::Call(Session& session, const std::vector<std::string_view>& argv,
                    const CommandSpec& command, MonoTime now, bool may_block) {
  const CommandSpec* spec = &command;
  ++stats_.commands_processed;
  CallStats& calls = call_stats_[spec->stats_index];
  uint64_t errors_before = stats_.error_replies;
  uint64_t nested_before = nested_call_errors_;
  // The handler's time for INFO commandstats, with one clock read per
  // command: a pipelined batch shares `now`, so a command starts at the later
  // of `now` and the end of the command before it.
  MonoTime start = std::max(now, last_command_end_);
  CommandContext ctx{*this, session, argv, *spec, now, may_block};
  const CommandSpec* outer = running_;
  running_ = spec;
  notifier_->OnUnitEnd();  // a key freed by an earlier command is no hand-off
  if (!monitors_.empty()) BeforeCall(session, argv, *spec);
  if (config_->lock_bind_holder_to_user && HolderBindingRefuses(session, *spec, argv, now)) {
    ctx.Error(errors::kNoPermHolderBound);
  } else {
    spec->handler(ctx);
  }
  running_ = outer;
  MonoTime end = clock_->Now();
  last_command_end_ = end;
  auto micros = static_cast<uint64_t>(std::max<int64_t>(end.us - start.us, 0));
  ++calls.calls;
  calls.micros += micros;
  // Allocated once per command name, at its first call.
  if (!calls.latency) calls.latency = std::make_unique<LatencyHistogram>();
  calls.latency->Record(micros);
  // Errors replied by the calls EXEC made count against those, not EXEC.
  uint64_t errors = stats_.error_replies - errors_before;
  if (errors > nested_call_errors_ - nested_before) ++calls.failed_calls;
  nested_call_errors_ = nested_before + errors;
  if (end.us >= next_rate_sample_us_) SampleRates(end);
  AfterCall(session, argv, *spec, static_cast<int64_t>(micros));
}

void Commands::SampleRates(MonoTime now) {
  next_rate_sample_us_ = now.us + RateSampler::kPeriodMicros;
  ops_rate_.Sample(now.us, stats_.commands_processed);
  ServerStatus st = server_->Stats();
  input_rate_.Sample(now.us, st.total_net_input_bytes);
  output_rate_.Sample(now.us, st.total_net_output_bytes);
}

void Commands::NoteErrorReply(std::string_view message) {
  ++stats_.error_replies;
  error_counts_.Note(message);
}

void Commands::ReplyUnknownCommand(Session& session, const std::vector<std::string_view>& argv) {
  ++stats_.unknown_commands;
  // Redis quotes the first arguments, up to about 128 bytes in all. It
  // formats them with printf's %s, which ends each at its first NUL byte.
  auto c_string = [](std::string_view s) { return s.substr(0, s.find('\0')); };
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    size_t room = 128 - args.size();
    args += fmt::format("'{}' ", c_string(argv[i]).substr(0, room));
  }
  Reject(session, fmt::format(fmt::runtime(errors::kUnknownCommandFormat),
                              c_string(argv[0]).substr(0, 128), args));
}

void Commands::Reject(Session& session, std::string_view message, const CommandSpec* spec) {
  ++stats_.rejected_calls;
  if (spec != nullptr) ++call_stats_[spec->stats_index].rejected_calls;
  NoteErrorReply(message);
  if (spec != nullptr && spec->parent == nullptr && spec->name == "exec") {
    // A refused EXEC ends the transaction it would have run, and says why
    // (Redis's execCommandAbort, which drops the reason's "ERR ").
    DiscardTransaction(session);
    std::string_view reason = message;
    if (reason.starts_with("ERR ")) reason.remove_prefix(4);
    session.reply.Error(fmt::format(fmt::runtime(errors::kExecAbortBecauseFormat), reason));
    return;
  }
  // A command refused while queuing dooms the transaction: EXEC will reply
  // EXECABORT (Redis's flagTransaction).
  if (session.in_multi) session.multi_refused = true;
  session.reply.Error(message);
}

void Commands::Queue(Session& session, const CommandSpec& spec,
                     const std::vector<std::string_view>& argv) {
  // A doomed transaction keeps replying QUEUED but holds nothing, as Redis.
  if (!session.multi_refused && !session.watch_dirty) {
    Session::QueuedCommand& q = session.queued.emplace_back();
    q.spec = &spec;
    q.argv.assign(argv.begin(), argv.end());
    for (std::string_view arg : argv) session.queued_bytes += arg.size();
    session.queued_flags |= spec.flags;
  }
  session.reply.Simple("QUEUED");
}

void Commands::Watch(Session& session, std::string_view key) {
  for (const std::string& k : session.watched) {
    if (k == key) return;
  }
  auto it = watchers_.find(key);
  if (it == watchers_.end()) it = watchers_.emplace(std::string(key), std::vector<Session*>{}).first;
  it->second.push_back(&session);
  session.watched.emplace_back(key);
}

void Commands::UnwatchAll(Session& session) {
  for (const std::string& key : session.watched) {
    auto it = watchers_.find(key);
    LOCKD_CHECK(it != watchers_.end());
    std::vector<Session*>& sessions = it->second;
    sessions.erase(std::find(sessions.begin(), sessions.end(), &session));
    if (sessions.empty()) watchers_.erase(it);
  }
  session.watched.clear();
  session.watch_dirty = false;
}

void Commands::DiscardTransaction(Session& session) {
  session.in_multi = false;
  session.multi_refused = false;
  session.queued.clear();
  session.queued.shrink_to_fit();
  session.queued_flags = 0;
  session.queued_bytes = 0;
  UnwatchAll(session);
}

void Commands::OnChange(const Change& change) {
  // Every grant passes here: with no WATCH anywhere this is one check.
  if (!watchers_.empty()) {
    auto it = watchers_.find(change.key);
    if (it != watchers_.end()) {
      for (Session* s : it->second) s->watch_dirty = true;
    }
  }
  durability_->OnChange(change);
  // Replayed changes are history: no one is told of them again.
  if (notifier_->flags() != 0 && !durability_->loading()) {
    notifier_->OnChange(change, SourceOf(running_));
  }
}

void Commands::OnUnitBegin() { durability_->OnUnitBegin(); }
void Commands::OnUnitEnd() {
  durability_->OnUnitEnd();
  notifier_->OnUnitEnd();
}

void Commands::SessionClosed(Session& session) {
  if (session.waiter != nullptr) {
    engine_->CancelWait(session.waiter);
    session.waiter = nullptr;
  }
  DiscardTransaction(session);
  pubsub_->UnsubscribeAll(session);
  StopMonitor(session);
  replication_->SessionClosed(session);
}

bool Commands::Unblock(Session& session, bool with_error) {
  if (session.waiter == nullptr) return false;
  engine_->CancelWait(session.waiter);
  session.waiter = nullptr;
  session.awaits_commit = true;
  if (with_error) {
    NoteErrorReply(errors::kUnblocked);
    session.reply.Error(errors::kUnblocked);
  } else {
    session.reply.Null();
  }
  server_->SessionUnblocked(session);
  return true;
}

void Commands::OnWaitGranted(void* context, Token token) {
  auto* session = static_cast<Session*>(context);
  LOCKD_CHECK(session->waiter != nullptr);
  session->waiter = nullptr;
  session->awaits_commit = true;
  session->reply.Integer(static_cast<int64_t>(token));
  server_->SessionUnblocked(*session);
}

void Commands::OnWaitTimedOut(void* context) {
  auto* session = static_cast<Session*>(context);
  LOCKD_CHECK(session->waiter != nullptr);
  session->waiter = nullptr;
  session->awaits_commit = true;
  session->reply.Null();
  server_->SessionUnblocked(*session);
}

void Commands::ResetStats() {
  stats_ = CommandStats{};
  for (CallStats& calls : call_stats_) calls = CallStats{};
  error_counts_.Clear();
  ops_rate_.Clear();
  input_rate_.Clear();
  output_rate_.Clear();
  engine_->ResetStats();
}

bool Commands::DefaultUserOpen() const {
  const acl::User& d = acl_->default_user();
  return (d.flags & acl::kUserNoPass) && !(d.flags & acl::kUserDisabled);
}

bool Commands::AuthRequired(const Session& session) const {
  return !session.authenticated && !DefaultUserOpen();
}

acl::CheckResult Commands::CheckAcl(const Session& session, const CommandSpec& spec,
                                    std::span<const std::string_view> argv,
                                    std::string_view context, const Session& caller) {
  acl::User& user = UserOf(session);
  if (user.unrestricted) return {};
  acl::CheckResult r = acl_->Check(user, spec, argv);
  if (r.denied != acl::Denied::kNone) {
    std::string object = r.denied == acl::Denied::kCommand ? spec.full_name : std::string(argv[r.arg]);
    LogAclDenial(caller, user.name, r.denied, context, std::move(object));
  }
  return r;
}

void Commands::LogAclDenial(const Session& caller, std::string_view username, acl::Denied reason,
                            std::string_view context, std::string object) {
  acl::LogEntry e;
  e.reason = reason;
  e.context = std::string(context);
  e.object = std::move(object);
  e.username = std::string(username);
  e.ctime_ms = clock_->WallNow().us / 1000;
  e.client_info = DescribeClient(caller, clock_->Now());
  acl_->AddLog(std::move(e));
}

bool Commands::HolderBindingRefuses(const Session& session, const CommandSpec& spec,
                                    std::span<const std::string_view> argv, MonoTime now) {
  // The commands that renew, release, overwrite or delete a lock. Taking a
  // lock (LOCK.ACQUIRE, SET NX, SETNX) is not refused: a lock held by
  // another user is simply busy, as for any other holder.
  const std::string& n = spec.full_name;
  size_t first = 1, last = 1;
  if (n == "del" || n == "unlink") {
    last = argv.size() - 1;
  } else if (n == "set") {
    for (size_t i = 3; i < argv.size(); ++i) {
      if (EqualsIgnoreCase(argv[i], "nx")) return false;
    }
  } else if (n != "lock.renew" && n != "lock.release" && n != "expire" && n != "pexpire" &&
             n != "expireat" && n != "pexpireat" && n != "persist" && n != "delifeq" &&
             n != "delex") {
    return false;
  }
  const std::string& me = UserOf(session).name;
  for (size_t i = first; i <= last && i < argv.size(); ++i) {
    std::optional<LeaseView> lease = engine_->Find(argv[i], now);
    std::string_view owner;
    if (lease && acl::BoundUser(lease->holder, &owner) && owner != me) return true;
  }
  return false;
}

void Commands::KillUserSessions(const acl::User* user) {
  std::vector<Session*> victims;
  server_->ForEachSession([&](Session& s) {
    if (s.user == user) victims.push_back(&s);
  });
  for (Session* s : victims) {
    // Moved off the user before it is freed, and no longer authenticated,
    // as Redis does, even though the connection is about to close.
    s->user = nullptr;
    s->authenticated = false;
    server_->KillSession(*s);
  }
}

void Commands::ConfigChanged() {
  if (config_->requirepass != applied_requirepass_) {
    acl_->SetDefaultPassword(config_->requirepass);
    applied_requirepass_ = config_->requirepass;
  }
  // lock-max-waiters is read by the engine on every queued wait.
  engine_->set_max_waiters_per_key(static_cast<uint32_t>(config_->lock_max_waiters));
  notifier_->set_flags(ParseNotifyFlags(NotifyKeyspaceEvents(*config_)));
  LoadOpsConfig();
  replication_->LoadConfig();
}

}  // namespace lockd
