// The dispatcher and the delivery of blocked waits' outcomes.
#include "cmd/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "cmd/script_commands.h"
#include "util/check.h"
#include "util/errors.h"

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

// 40 hex digits, new at every start, as Redis's run_id: tells a restart
// apart from a long uptime.
std::string RandomRunId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 5; ++i) id += fmt::format("{:08x}", random());
  return id;
}

}  // namespace

Commands::Commands(Config* config, ServerHooks* server, const Clock* clock,
                   aof::FileSystem* files)
    : config_(config),
      server_(server),
      clock_(clock),
      durability_(std::make_unique<aof::Durability>(config, clock, files)),
      engine_(std::make_unique<Engine>(MakeEngineOptions(*config), this, durability_.get())),
      call_stats_(CommandTable::Get().stats_slots()),
      run_id_(RandomRunId()),
      started_(clock->Now()) {
  durability_->set_engine(engine_.get());
}

Commands::~Commands() = default;

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
  if (!session.authenticated && !(spec->flags & kCmdNoAuth)) {
    Reject(session, errors::kNoAuth, spec);
    return;
  }

  // Redis's order: changes are refused while the log cannot be written,
  // and everything but a few connection and admin commands while it loads.
  if ((spec->flags & kCmdWrite) && durability_->refusing_writes()) {
    Reject(session, durability_->misconf_error(), spec);
    return;
  }
  if (durability_->loading() && !(spec->flags & kCmdLoading)) {
    Reject(session, errors::kLoading, spec);
    return;
  }

  session.last_command = spec;
  ++stats_.commands_processed;
  CallStats& calls = call_stats_[spec->stats_index];
  uint64_t errors_before = stats_.error_replies;
  // The handler's time for INFO commandstats, with one clock read per
  // command: a pipelined batch shares `now`, so a command starts at the later
  // of `now` and the end of the command before it.
  MonoTime start = std::max(now, last_command_end_);
  if (spec->flags & kCmdRevealsNoState) session.awaits_commit = awaited_before;
  CommandContext ctx{*this, session, argv, *spec, now};
  spec->handler(ctx);
  MonoTime end = clock_->Now();
  last_command_end_ = end;
  auto micros = static_cast<uint64_t>(std::max<int64_t>(end.us - start.us, 0));
  ++calls.calls;
  calls.micros += micros;
  // Allocated once per command name, at its first call.
  if (!calls.latency) calls.latency = std::make_unique<LatencyHistogram>();
  calls.latency->Record(micros);
  if (stats_.error_replies != errors_before) ++calls.failed_calls;
  if (end.us >= next_rate_sample_us_) SampleRates(end);
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
  // Redis quotes the first arguments, up to about 128 bytes in all.
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    size_t room = 128 - args.size();
    args += fmt::format("'{}' ", argv[i].substr(0, room));
  }
  Reject(session, fmt::format(fmt::runtime(errors::kUnknownCommandFormat),
                              argv[0].substr(0, 128), args));
}

void Commands::Reject(Session& session, std::string_view message, const CommandSpec* spec) {
  ++stats_.rejected_calls;
  if (spec != nullptr) ++call_stats_[spec->stats_index].rejected_calls;
  NoteErrorReply(message);
  session.reply.Error(message);
}

void Commands::SessionClosed(Session& session) {
  if (session.waiter != nullptr) {
    engine_->CancelWait(session.waiter);
    session.waiter = nullptr;
  }
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

void Commands::ConfigChanged() {
  // lock-max-waiters is read by the engine on every queued wait.
  engine_->set_max_waiters_per_key(static_cast<uint32_t>(config_->lock_max_waiters));
}

}  // namespace lockd
