// Operator commands: SLOWLOG, LATENCY, MONITOR and ROLE, with Redis 7.0's
// replies, and what the dispatcher tells them after every command
// (Commands::AfterCall). The stores themselves are slowlog.{h,cc} and
// latency_monitor.{h,cc}.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "cmd/commands.h"
#include "util/errors.h"
#include "util/split_args.h"
#include "util/strings.h"

namespace lockd {

namespace {

// ---- SLOWLOG

void CmdSlowlogGet(CommandContext& ctx) {
  if (ctx.argc() > 3) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat),
                                 ctx.argv[1].substr(0, 128), "SLOWLOG"));
  }
  int64_t count = 10;
  if (ctx.argc() == 3 && (!ParseInt64(ctx.argv[2], &count) || count < -1)) {
    return ctx.Error(errors::kSlowlogCount);
  }
  const auto& entries = ctx.commands.slowlog().entries();
  size_t n = count == -1 ? entries.size() : std::min(entries.size(), static_cast<size_t>(count));
  ReplyWriter& w = ctx.reply();
  w.Array(n);
  for (size_t i = 0; i < n; ++i) {
    const SlowLogEntry& e = entries[i];
    w.Array(6);
    w.Integer(static_cast<int64_t>(e.id));
    w.Integer(e.unix_seconds);
    w.Integer(e.micros);
    w.Array(e.argv.size());
    for (const std::string& arg : e.argv) w.Bulk(arg);
    w.Bulk(e.addr);
    w.Bulk(e.name);
  }
}

void CmdSlowlogLen(CommandContext& ctx) {
  ctx.reply().Integer(static_cast<int64_t>(ctx.commands.slowlog().size()));
}

void CmdSlowlogReset(CommandContext& ctx) {
  ctx.commands.slowlog().Reset();
  ctx.reply().Simple("OK");
}

void CmdSlowlogHelp(CommandContext& ctx) {
  static constexpr std::array<const char*, 12> kLines = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

// ---- LATENCY

void CmdLatencyLatest(CommandContext& ctx) {
  const auto& events = ctx.commands.latency().events();
  ReplyWriter& w = ctx.reply();
  w.Array(events.size());
  for (const auto& [name, series] : events) {
    const LatencyMonitor::Sample& last = LatencyMonitor::Latest(series);
    w.Array(4);
    w.Bulk(name);
    w.Integer(last.unix_seconds);
    w.Integer(last.millis);
    w.Integer(series.max);
  }
}

void CmdLatencyHistory(CommandContext& ctx) {
  const LatencyMonitor::Series* series = ctx.commands.latency().Find(ctx.argv[2]);
  ReplyWriter& w = ctx.reply();
  if (series == nullptr) return w.Array(0);
  size_t n = 0;
  LatencyMonitor::ForEachSample(*series, [&](const LatencyMonitor::Sample&) { ++n; });
  w.Array(n);
  LatencyMonitor::ForEachSample(*series, [&](const LatencyMonitor::Sample& s) {
    w.Array(2);
    w.Integer(s.unix_seconds);
    w.Integer(s.millis);
  });
}

void CmdLatencyReset(CommandContext& ctx) {
  size_t resets = 0;
  if (ctx.argc() == 2) {
    resets = ctx.commands.latency().Reset();
  } else {
    for (size_t i = 2; i < ctx.argc(); ++i) {
      if (!ctx.argv[i].empty()) resets += ctx.commands.latency().Reset(ctx.argv[i]);
    }
  }
  ctx.reply().Integer(static_cast<int64_t>(resets));
}

void CmdLatencyHelp(CommandContext& ctx) {
  // Redis's text less DOCTOR, GRAPH and HISTOGRAM, which lockd does not
  // have (INFO latencystats gives the per-command percentiles).
  static constexpr std::array<const char*, 10> kLines = {
      "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "HISTORY <event>",
      "    Return time-latency samples for the <event> class.",
      "LATEST",
      "    Return the latest latency samples for all events.",
      "RESET [<event> ...]",
      "    Reset latency data of one or more <event> classes.",
      "    (default: reset all data for all event classes)",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

// ---- MONITOR, ROLE

void CmdMonitor(CommandContext& ctx) {
  // A client in a transaction or a script expects one reply per command.
  if (!ctx.may_block) return ctx.Error(errors::kMonitorDenyBlocking);
  // As Redis: a second MONITOR is ignored, without a reply.
  if (ctx.session.monitor) return;
  ctx.commands.StartMonitor(ctx.session);
  ctx.reply().Simple("OK");
}

// Redis's shapes: master, offset, [ip, port, offset] per online replica; or
// slave, host, port, link state, offset (src/repl/).
void CmdRole(CommandContext& ctx) { ctx.commands.replication().WriteRole(ctx.reply()); }

void CmdContainer(CommandContext& ctx) { ctx.Error(errors::kSyntax); }

// EVAL and its kin: shown to monitors before their script's commands.
bool RunsScript(const CommandSpec& top) {
  const std::string& n = top.name;
  return n == "eval" || n == "evalsha" || n == "eval_ro" || n == "evalsha_ro";
}

CommandSpec Sub(const char* name, int arity, CommandHandler handler, const char* summary,
                std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale,
      .handler = handler,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = summary,
      .since = "2.2.12",
      .group = "server",
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

CommandSpec Container(const char* name, const char* summary) {
  return CommandSpec{
      .name = name,
      .arity = -2,
      .handler = CmdContainer,
      .acl_categories = {"@slow"},
      .summary = summary,
      .since = "2.2.12",
      .group = "server",
      .complexity = "Depends on subcommand.",
  };
}

}  // namespace

void Commands::LoadOpsConfig() {
  slowlog_slower_than_us_ = CompatInt(*config_, "slowlog-log-slower-than", 10000);
  slowlog_max_len_ = CompatInt(*config_, "slowlog-max-len", 128);
  latency_threshold_ms_ = CompatInt(*config_, "latency-monitor-threshold", 0);
  slowlog_.Trim(static_cast<size_t>(std::max<int64_t>(slowlog_max_len_, 0)));
}

void Commands::AfterCall(const Session& session, const std::vector<std::string_view>& argv,
                         const CommandSpec& spec, int64_t micros) {
  const CommandSpec& top = spec.parent != nullptr ? *spec.parent : spec;
  if (latency_threshold_ms_ > 0) {
    latency_.AddIfNeeded((spec.flags & kCmdFast) ? "fast-command" : "command", micros / 1000,
                         latency_threshold_ms_, clock_->WallNow().us / 1'000'000);
  }
  // EXEC is not logged itself: the commands it ran are (Redis's rule).
  // (The name is compared last: every command comes here.)
  if (slowlog_slower_than_us_ >= 0 && micros >= slowlog_slower_than_us_ && top.name != "exec") {
    slowlog_.Add(argv, micros, clock_->WallNow().us / 1'000'000, session.addr, session.name,
                 static_cast<size_t>(std::max<int64_t>(slowlog_max_len_, 0)));
  }
  // Administrative commands are never shown to monitors, as in Redis;
  // scripts were shown before they ran (BeforeCall).
  if (!monitors_.empty() && !(spec.flags & kCmdAdmin) && !(top.flags & kCmdAdmin) &&
      !RunsScript(top)) {
    FeedMonitors(&session, argv);
  }
}

void Commands::BeforeCall(const Session& session, const std::vector<std::string_view>& argv,
                          const CommandSpec& spec) {
  if (RunsScript(spec.parent != nullptr ? *spec.parent : spec)) FeedMonitors(&session, argv);
}

void Commands::ScriptCalled(const std::vector<std::string_view>& argv, const CommandSpec& spec) {
  const CommandSpec& top = spec.parent != nullptr ? *spec.parent : spec;
  if (monitors_.empty() || (spec.flags & kCmdAdmin) || (top.flags & kCmdAdmin)) return;
  FeedMonitors(nullptr, argv);
}

void Commands::NoteLatency(std::string_view event, int64_t micros) {
  latency_.AddIfNeeded(event, micros / 1000, latency_threshold_ms_,
                       clock_->WallNow().us / 1'000'000);
}

void Commands::StartMonitor(Session& session) {
  session.monitor = true;
  monitors_.push_back(&session);
}

void Commands::StopMonitor(Session& session) {
  if (!session.monitor) return;
  session.monitor = false;
  monitors_.erase(std::find(monitors_.begin(), monitors_.end(), &session));
}

void Commands::FeedMonitors(const Session* session, const std::vector<std::string_view>& argv) {
  // Redis's line: +<unix seconds>.<micros> [0 <addr>] "arg" "arg" ...
  const int64_t wall = clock_->WallNow().us;
  std::string line = fmt::format("+{}.{:06} [0 ", wall / 1'000'000, wall % 1'000'000);
  if (session == nullptr) {
    line += "lua";
  } else if (session->unix_socket) {
    line += "unix:";
    line += config_->unixsocket;
  } else {
    line += session->addr;
  }
  line += "]";
  size_t until = argv.size();
  const size_t hidden = RedactedFrom(argv, &until);
  for (size_t i = 0; i < argv.size(); ++i) {
    line += ' ';
    line += i >= hidden && i < until ? std::string("\"(redacted)\"") : QuoteArg(argv[i]);
  }
  line += "\r\n";
  for (Session* monitor : monitors_) {
    monitor->reply.Raw(line);
    monitor->awaits_commit = true;
    server_->SessionHasOutput(*monitor);
  }
}

void AddOpsCommands(std::vector<CommandSpec>* out) {
  CommandSpec slowlog = Container("slowlog", "A container for slow log commands");
  slowlog.subcommands = {
      Sub("get", -2, CmdSlowlogGet, "Returns the slow log's entries",
          {ArgDoc{.name = "count", .type = "integer", .flags = ArgDoc::kOptional}}),
      Sub("len", 2, CmdSlowlogLen, "Returns the number of entries in the slow log"),
      Sub("reset", 2, CmdSlowlogReset, "Clears all entries from the slow log"),
      Sub("help", 2, CmdSlowlogHelp, "Show helpful text about the different subcommands"),
  };
  out->push_back(std::move(slowlog));

  CommandSpec latency = Container("latency", "A container for latency diagnostics commands");
  latency.subcommands = {
      Sub("latest", 2, CmdLatencyLatest, "Returns the latest latency samples for all events"),
      Sub("history", 3, CmdLatencyHistory, "Returns timestamp-latency samples for an event",
          {ArgDoc{.name = "event", .type = "string"}}),
      Sub("reset", -2, CmdLatencyReset, "Resets the latency data for one or more events",
          {ArgDoc{
              .name = "event", .type = "string", .flags = ArgDoc::kOptional | ArgDoc::kMultiple}}),
      Sub("help", 2, CmdLatencyHelp, "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(latency));

  out->push_back(CommandSpec{
      .name = "monitor",
      .arity = 1,
      .flags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale,
      .handler = CmdMonitor,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "Listens for all requests received by the server in real-time",
      .since = "1.0.0",
      .group = "server",
      .complexity = "",
  });
  out->push_back(CommandSpec{
      .name = "role",
      .arity = 1,
      .flags = kCmdNoScript | kCmdLoading | kCmdStale | kCmdFast,
      .handler = CmdRole,
      .acl_categories = {"@admin", "@fast", "@dangerous"},
      .summary = "Returns the replication role",
      .since = "2.8.12",
      .group = "server",
      .complexity = "O(1)",
  });
}

}  // namespace lockd
