// The dispatcher and the delivery of blocked waits' outcomes.
#include "cmd/commands.h"

#include <fmt/format.h>

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

bool ArityMatches(int arity, size_t argc) {
  if (arity >= 0) return argc == static_cast<size_t>(arity);
  return argc >= static_cast<size_t>(-arity);
}

}  // namespace

Commands::Commands(Config* config, ServerHooks* server, const Clock* clock,
                   aof::FileSystem* files)
    : config_(config),
      server_(server),
      clock_(clock),
      durability_(std::make_unique<aof::Durability>(config, clock, files)),
      engine_(std::make_unique<Engine>(MakeEngineOptions(*config), this, durability_.get())),
      started_(clock->Now()) {
  durability_->set_engine(engine_.get());
}

Commands::~Commands() = default;

void Commands::Execute(Session& session, const std::vector<std::string_view>& argv,
                       MonoTime now) {
  LOCKD_CHECK(!argv.empty());
  LOCKD_CHECK(!session.blocked());
  session.last_interaction = now;

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
    Reject(session, fmt::format(fmt::runtime(errors::kWrongArityFormat), spec->full_name));
    return;
  }
  if (!session.authenticated && !(spec->flags & kCmdNoAuth)) {
    Reject(session, errors::kNoAuth);
    return;
  }

  // Redis's order: changes are refused while the log cannot be written,
  // and everything but a few connection and admin commands while it loads.
  if ((spec->flags & kCmdWrite) && durability_->refusing_writes()) {
    Reject(session, durability_->misconf_error());
    return;
  }
  if (durability_->loading() && !(spec->flags & kCmdLoading)) {
    Reject(session, errors::kLoading);
    return;
  }

  session.last_command = spec;
  ++stats_.commands_processed;
  CommandContext ctx{*this, session, argv, *spec, now};
  spec->handler(ctx);
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

void Commands::Reject(Session& session, std::string_view message) {
  ++stats_.rejected_calls;
  ++stats_.error_replies;
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
  if (with_error) {
    NoteErrorReply();
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
  session->reply.Integer(static_cast<int64_t>(token));
  server_->SessionUnblocked(*session);
}

void Commands::OnWaitTimedOut(void* context) {
  auto* session = static_cast<Session*>(context);
  LOCKD_CHECK(session->waiter != nullptr);
  session->waiter = nullptr;
  session->reply.Null();
  server_->SessionUnblocked(*session);
}

void Commands::ResetStats() {
  stats_ = CommandStats{};
  engine_->ResetStats();
}

void Commands::ConfigChanged() {
  // lock-max-waiters is read by the engine on every queued wait.
  engine_->set_max_waiters_per_key(static_cast<uint32_t>(config_->lock_max_waiters));
}

}  // namespace lockd
