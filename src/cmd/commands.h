// Commands: the command layer's entry point. It owns the engine, runs each
// parsed command through the dispatcher (lookup, arity, auth), and delivers
// the end of blocked waits to their sessions.
//
// Flow: net hands over (session, argv) → Execute → handler → engine → reply
// appended to the session's output buffer. Nothing is written to a socket
// here; the network layer sends replies before the loop sleeps.
//
// Inside MULTI the dispatcher queues instead of running (the one rule
// transactions add to it); EXEC runs the queue through the same call path.
// Commands also stands between the engine and the log as the ChangeListener,
// so that a change to a WATCHed key marks its watchers before it is logged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acl/acl.h"
#include "acl/holder_binding.h"
#include "aof/durability.h"
#include "cmd/command_stats.h"
#include "cmd/command_table.h"
#include "cmd/latency_monitor.h"
#include "cmd/notifications.h"
#include "cmd/pubsub.h"
#include "cmd/server_hooks.h"
#include "cmd/session.h"
#include "cmd/slowlog.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "lockd/engine.h"
#include "repl/replication_source.h"

namespace lockd {

struct CommandStats {
  uint64_t commands_processed = 0;
  uint64_t unknown_commands = 0;
  uint64_t rejected_calls = 0;  // arity, auth and other dispatcher refusals
  uint64_t error_replies = 0;
  // Reads of a key by GET, EXISTS, TYPE, TTL, ... that found it or not.
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;
};

class Commands;
struct ScriptState;

// Everything a handler may touch while it runs. may_block is false inside
// EXEC and scripts: a command that would wait answers as if its wait had
// ended at once, as Redis's blocking commands do there.
struct CommandContext {
  Commands& commands;
  Session& session;
  const std::vector<std::string_view>& argv;
  const CommandSpec& spec;
  MonoTime now;
  bool may_block = true;
  // Room for the stored form of holders under lock-bind-holder-to-user.
  std::string holder_buf[2];

  ReplyWriter& reply() { return session.reply; }
  Engine& engine();
  Config& config();
  ServerHooks& server();
  size_t argc() const { return argv.size(); }
  // Replies an error (text from util/errors.h) and counts it for INFO.
  void Error(std::string_view message);
  // The lease on `key` for a read command, counted as a keyspace hit or miss.
  std::optional<LeaseView> ReadKey(std::string_view key);
  // Replies a subcommand's HELP text: one status line per entry.
  void Help(std::span<const char* const> lines);
  // The holder as the engine stores it for this session (bound to its ACL
  // user under lock-bind-holder-to-user; `slot` picks one of two buffers).
  std::string_view StoredHolder(std::string_view holder, int slot = 0);
};

// One line of CLIENT LIST / CLIENT INFO (and ACL LOG's client-info).
std::string DescribeClient(const Session& s, MonoTime now);

class Commands final : public WaitListener, public ChangeListener {
 public:
  // `files` null: the real file system (tests inject failures through it).
  Commands(Config* config, ServerHooks* server, const Clock* clock,
           aof::FileSystem* files = nullptr);
  ~Commands() override;

  // Runs one command for `session`. argv is not empty.
  void Execute(Session& session, const std::vector<std::string_view>& argv, MonoTime now);

  // The session's connection is closing: leave any wait queue, drop its
  // transaction and watched keys.
  void SessionClosed(Session& session);

  // ---- ACL (src/acl/, cmd/acl_commands.cc).
  acl::Registry& acl() { return *acl_; }
  // Whether loading the ACL users at start failed (the server then exits).
  const Status& acl_status() const { return acl_status_; }
  acl::User& UserOf(const Session& session) {
    return session.user ? *session.user : acl_->default_user();
  }
  // Redis's authRequired: the default user has a password (or is off) and
  // the connection has not authenticated.
  bool AuthRequired(const Session& session) const;
  // A new connection starts authenticated when the default user needs no
  // password.
  bool DefaultUserOpen() const;
  // The ACL check of one command run by `session` (for a script, the
  // script client with its caller's user; `caller` is then the real
  // client, named in ACL LOG). Logs a denial.
  acl::CheckResult CheckAcl(const Session& session, const CommandSpec& spec,
                            std::span<const std::string_view> argv, std::string_view context,
                            const Session& caller);
  void LogAclDenial(const Session& caller, std::string_view username, acl::Denied reason,
                    std::string_view context, std::string object);
  // lock-bind-holder-to-user: whether the command would renew, release,
  // overwrite or delete a lock bound to another user than the session's.
  bool HolderBindingRefuses(const Session& session, const CommandSpec& spec,
                            std::span<const std::string_view> argv, MonoTime now);
  // Ends every session of `user` (DELUSER, ACL LOAD): each is moved to the
  // default user, unauthenticated, and closed after its pending replies.
  void KillUserSessions(const acl::User* user);

  // ---- Transactions (cmd/transaction_commands.cc holds the handlers).
  // EXEC: runs one queued command as the dispatcher would, but never blocks.
  void CallQueued(Session& session, const CommandSpec& spec,
                  const std::vector<std::string_view>& argv, MonoTime now);
  // WATCH: a later change to `key` makes this session's EXEC fail.
  void Watch(Session& session, std::string_view key);
  void UnwatchAll(Session& session);
  // Leaves MULTI (if in it), drops the queue and every watched key.
  void DiscardTransaction(Session& session);

  // CLIENT UNBLOCK: ends a blocked wait with a null reply or an error.
  bool Unblock(Session& session, bool with_error);

  // Pub/sub channels and keyspace notifications (pubsub.h, notifications.h).
  PubSub& pubsub() { return *pubsub_; }
  Notifier& notifier() { return *notifier_; }

  // SLOWLOG, LATENCY and MONITOR (cmd/ops_commands.cc).
  SlowLog& slowlog() { return slowlog_; }
  LatencyMonitor& latency() { return latency_; }
  // Latency of a loop activity outside commands ("expire-cycle",
  // "aof-write"), recorded when latency-monitor-threshold is on.
  bool latency_monitor_on() const { return latency_threshold_ms_ > 0; }
  void NoteLatency(std::string_view event, int64_t micros);
  // A command a script called through redis.call, for MONITOR.
  void ScriptCalled(const std::vector<std::string_view>& argv, const CommandSpec& spec);
  void StartMonitor(Session& session);
  void StopMonitor(Session& session);

  Engine& engine() { return *engine_; }
  aof::Durability& durability() { return *durability_; }
  // Replication (src/repl/): the primary side, and the replica side's link
  // once the network layer set it.
  repl::ReplicationSource& replication() { return *replication_; }
  Config& config() { return *config_; }
  ServerHooks& server() { return *server_; }
  const Clock& clock() const { return *clock_; }
  const CommandStats& stats() const { return stats_; }
  void ResetStats();
  MonoTime started() const { return started_; }
  // Counts an error reply for INFO stats and errorstats (by its code; a
  // protocol error without the text counts as ERR).
  void NoteErrorReply(std::string_view message = "ERR");
  // INFO commandstats/errorstats/latencystats and the instantaneous rates.
  const CallStats& call_stats(const CommandSpec& spec) const {
    return call_stats_[spec.stats_index];
  }
  void NoteKeyRead(bool hit) { ++(hit ? stats_.keyspace_hits : stats_.keyspace_misses); }
  const ErrorCounts& error_counts() const { return error_counts_; }
  const std::string& run_id() const { return run_id_; }
  // Feeds the instantaneous_* samplers (every command does; INFO too).
  void SampleRates(MonoTime now);
  double ops_per_sec() const { return ops_rate_.PerSecond(); }
  double input_kbps() const { return input_rate_.PerSecond() / 1024; }
  double output_kbps() const { return output_rate_.PerSecond() / 1024; }
  // Applies configuration that the engine or logging caches (after CONFIG SET).
  void ConfigChanged();
  // EVAL and SCRIPT: the Lua interpreter and script cache, made at first use
  // (script_commands.cc); null before.
  ScriptState& scripts();
  const ScriptState* scripts_if_started() const { return scripts_.get(); }

  // WaitListener.
  void OnWaitGranted(void* context, Token token) override;
  void OnWaitTimedOut(void* context) override;

  // ChangeListener: marks the watchers of a changed key, then hands every
  // call on to the log.
  void OnChange(const Change& change) override;
  void OnUnitBegin() override;
  void OnUnitEnd() override;

 private:
  // Runs the handler with its statistics: every command that is not queued
  // or refused comes through here.
  void Call(Session& session, const std::vector<std::string_view>& argv, const CommandSpec& spec,
            MonoTime now, bool may_block);
  void Queue(Session& session, const CommandSpec& spec, const std::vector<std::string_view>& argv);
  void ReplyUnknownCommand(Session& session, const std::vector<std::string_view>& argv);
  // A dispatcher refusal: the error reply, counted for INFO (and against
  // `spec`, when the command is known).
  void Reject(Session& session, std::string_view message, const CommandSpec* spec = nullptr);
  // After a command ran: the slow log, the latency monitor and the MONITOR
  // clients hear of it (ops_commands.cc).
  void AfterCall(const Session& session, const std::vector<std::string_view>& argv,
                 const CommandSpec& spec, int64_t micros);
  // `session` null: a script's call, shown as from "[0 lua]".
  void FeedMonitors(const Session* session, const std::vector<std::string_view>& argv);
  // Before a command runs: EVAL and friends are shown to monitors before
  // the commands their script calls, as Redis shows them.
  void BeforeCall(const Session& session, const std::vector<std::string_view>& argv,
                  const CommandSpec& spec);
  // Caches slowlog-log-slower-than, slowlog-max-len and
  // latency-monitor-threshold (ops_commands.cc).
  void LoadOpsConfig();

  Config* config_;
  ServerHooks* server_;
  const Clock* clock_;
  // Built before the engine, which reports changes into the notifier.
  std::unique_ptr<PubSub> pubsub_;
  std::unique_ptr<Notifier> notifier_;
  // The command running now (null between commands, e.g. in a timer's
  // expiry): what a change is notified as.
  const CommandSpec* running_ = nullptr;
  SlowLog slowlog_;
  LatencyMonitor latency_;
  int64_t slowlog_slower_than_us_ = 10000;  // < 0: off
  int64_t slowlog_max_len_ = 128;
  int64_t latency_threshold_ms_ = 0;  // 0: off
  std::vector<Session*> monitors_;    // in the order they started
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  // WATCHed key → the sessions watching it. Empty unless someone watches, so
  // that a grant costs one emptiness check here. Built before the engine,
  // which reports changes into it.
  std::unordered_map<std::string, std::vector<Session*>, KeyHash, std::equal_to<>> watchers_;
  // The log listens to the engine's changes: built first, destroyed last.
  std::unique_ptr<aof::Durability> durability_;
  std::unique_ptr<Engine> engine_;
  // Taps the log's records: built after it, destroyed before it.
  std::unique_ptr<repl::ReplicationSource> replication_;
  CommandStats stats_;
  std::vector<CallStats> call_stats_;  // by CommandSpec::stats_index
  ErrorCounts error_counts_;
  RateSampler ops_rate_;
  RateSampler input_rate_;
  RateSampler output_rate_;
  int64_t next_rate_sample_us_ = 0;
  MonoTime last_command_end_;
  // Errors replied inside every Call so far: what a call's nested calls
  // (EXEC's queued commands) replied, so that they are not its failures.
  uint64_t nested_call_errors_ = 0;
  std::string run_id_;
  MonoTime started_;
  std::unique_ptr<ScriptState> scripts_;
  std::unique_ptr<acl::Registry> acl_;
  Status acl_status_;
  std::string applied_requirepass_;  // requirepass as last given to the default user
};

// Milliseconds left on a lease, rounded up so a held lease never shows 0; -1
// when it has no deadline. LOCK.INFO, PTTL and TTL all report this.
inline int64_t RemainingMillis(const LeaseView& lease, MonoTime now) {
  if (!lease.deadline) return -1;
  return (lease.deadline->us - now.us + 999) / 1000;
}

inline std::optional<LeaseView> CommandContext::ReadKey(std::string_view key) {
  std::optional<LeaseView> lease = commands.engine().Find(key, now);
  commands.NoteKeyRead(lease.has_value());
  return lease;
}

inline Engine& CommandContext::engine() { return commands.engine(); }
inline Config& CommandContext::config() { return commands.config(); }
inline ServerHooks& CommandContext::server() { return commands.server(); }
inline void CommandContext::Error(std::string_view message) {
  commands.NoteErrorReply(message);
  session.reply.Error(message);
}
inline std::string_view CommandContext::StoredHolder(std::string_view holder, int slot) {
  if (!commands.config().lock_bind_holder_to_user) return holder;
  return acl::BindHolder(commands.UserOf(session).name, holder, &holder_buf[slot]);
}
inline void CommandContext::Help(std::span<const char* const> lines) {
  session.reply.Array(lines.size());
  for (const char* line : lines) session.reply.Simple(line);
}

}  // namespace lockd
