// Server commands: CONFIG GET|SET|RESETSTAT, TIME, SHUTDOWN, WAIT.
// INFO and COMMAND live in their own files.
#include <fmt/format.h>

#include "util/strings.h"
#include "cmd/commands.h"
#include "config/config_rewrite.h"
#include "util/errors.h"
#include "util/log.h"

namespace lockd {

namespace {

void CmdConfigGet(CommandContext& ctx) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 2; i < ctx.argc(); ++i) {
    for (auto& kv : ConfigGet(ctx.config(), ctx.argv[i])) {
      bool seen = false;
      for (const auto& p : pairs) seen = seen || p.first == kv.first;
      if (!seen) pairs.push_back(std::move(kv));
    }
  }
  ctx.reply().Map(pairs.size());
  for (const auto& [name, value] : pairs) {
    ctx.reply().Bulk(name);
    ctx.reply().Bulk(value);
  }
}

void CmdConfigSet(CommandContext& ctx) {
  // Redis 7.0: a name without its value is a syntax error (the arity check
  // already refused fewer than one pair).
  if (ctx.argc() % 2 != 0) return ctx.Error(errors::kSyntax);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 2; i + 1 < ctx.argc(); i += 2) {
    pairs.emplace_back(std::string(ctx.argv[i]), std::string(ctx.argv[i + 1]));
  }
  // All or nothing, with Redis's checks in Redis's order: unknown,
  // immutable and repeated names first, then the values.
  Config updated = ctx.config();
  std::string failed_name;
  Status s = ConfigSetManyAtRuntime(&updated, pairs, &failed_name);
  if (!s.ok()) {
    if (failed_name.empty()) return ctx.Error(fmt::format("ERR {}", s.message()));
    return ctx.Error(fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                                 failed_name, s.message()));
  }
  // A new TLS setting takes effect by loading a new context now; if that
  // fails nothing is stored, as Redis restores its previous settings.
  if (Status tls = ctx.server().ApplyTlsConfig(updated); !tls.ok()) {
    std::string name = pairs.front().first;
    for (const auto& [n, v] : pairs) {
      if (n.size() > 4 && EqualsIgnoreCase(std::string_view(n).substr(0, 4), "tls-")) {
        name = n;
        break;
      }
    }
    Log(LogLevel::kWarning,
        "Failed applying new configuration. Possibly related to new {} setting. Restoring "
        "previous settings.",
        name);
    return ctx.Error(fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                                 name, tls.message()));
  }
  ctx.config() = std::move(updated);
  LogSetLevel(ctx.config().loglevel);
  ctx.commands.ConfigChanged();
  ctx.reply().Simple("OK");
}

void CmdConfigResetStat(CommandContext& ctx) {
  ctx.commands.ResetStats();
  ctx.server().ResetStats();
  ctx.reply().Simple("OK");
}

void CmdConfigRewrite(CommandContext& ctx) {
  const Config& config = ctx.config();
  if (config.config_file.empty()) return ctx.Error(errors::kConfigRewriteNoFile);
  Status s = RewriteConfigFile(config);
  if (!s.ok()) {
    Log(LogLevel::kWarning, "CONFIG REWRITE failed: {}", s.message());
    return ctx.Error(fmt::format(fmt::runtime(errors::kConfigRewriteFailedFormat), s.message()));
  }
  Log(LogLevel::kNotice, "CONFIG REWRITE executed with success.");
  ctx.reply().Simple("OK");
}

void CmdConfigHelp(CommandContext& ctx) {
  static const char* const kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "REWRITE",
      "    Rewrite the configuration file.",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

void CmdConfig(CommandContext& ctx) { ctx.Error(errors::kSyntax); }

void CmdTime(CommandContext& ctx) {
  WallTime now = ctx.commands.clock().WallNow();
  ctx.reply().Array(2);
  ctx.reply().Bulk(std::to_string(now.us / 1'000'000));
  ctx.reply().Bulk(std::to_string(now.us % 1'000'000));
}

// WAIT numreplicas timeout: blocks until that many replicas acknowledged the
// stream up to this client's writes, or the timeout (src/repl/).
void CmdWait(CommandContext& ctx) { ctx.commands.replication().Wait(ctx); }

void CmdShutdown(CommandContext& ctx) {
  for (size_t i = 1; i < ctx.argc(); ++i) {
    std::string_view opt = ctx.argv[i];
    if (EqualsIgnoreCase(opt, "abort")) return ctx.Error("ERR No shutdown in progress.");
    if (!EqualsIgnoreCase(opt, "nosave") && !EqualsIgnoreCase(opt, "save") &&
        !EqualsIgnoreCase(opt, "now") && !EqualsIgnoreCase(opt, "force")) {
      return ctx.Error(errors::kSyntax);
    }
  }
  // As in Redis, a successful SHUTDOWN sends no reply: the connection closes.
  ctx.server().RequestShutdown();
}

void CmdBgRewriteAof(CommandContext& ctx) {
  Status s = ctx.commands.durability().StartRewrite(ctx.now);
  if (!s.ok()) return ctx.Error(s.message());
  ctx.reply().Simple("Background append only file rewriting started");
}

CommandSpec ConfigSub(const char* name, int arity, CommandHandler handler, const char* summary,
                      std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale,
      .handler = handler,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = summary,
      .since = "2.0.0",
      .group = "server",
      .complexity = "O(N) when N is the number of configuration parameters provided",
      .args = std::move(args),
  };
}

}  // namespace

void AddServerCommands(std::vector<CommandSpec>* out) {
  AddCommandCommand(out);
  AddInfoCommand(out);

  CommandSpec config{
      .name = "config",
      .arity = -2,
      .handler = CmdConfig,
      .acl_categories = {"@slow"},
      .summary = "A container for server configuration commands",
      .since = "2.0.0",
      .group = "server",
      .complexity = "Depends on subcommand.",
  };
  config.subcommands = {
      ConfigSub("get", -3, CmdConfigGet, "Returns the effective values of configuration parameters",
                {ArgDoc{.name = "parameter", .type = "string", .flags = ArgDoc::kMultiple}}),
      ConfigSub("set", -4, CmdConfigSet, "Sets configuration parameters in-flight",
                {ArgDoc{.name = "data", .type = "block", .flags = ArgDoc::kMultiple,
                        .args = {ArgDoc{.name = "parameter", .type = "string"},
                                 ArgDoc{.name = "value", .type = "string"}}}}),
      ConfigSub("resetstat", 2, CmdConfigResetStat, "Resets the server's statistics"),
      ConfigSub("rewrite", 2, CmdConfigRewrite,
                "Persists the effective configuration to file"),
      ConfigSub("help", 2, CmdConfigHelp, "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(config));

  out->push_back(CommandSpec{
      .name = "bgrewriteaof",
      .arity = 1,
      .flags = kCmdAdmin | kCmdNoScript,
      .handler = CmdBgRewriteAof,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "Asynchronously rewrites the append-only file to disk",
      .since = "1.0.0",
      .group = "server",
      .complexity = "O(1)",
  });
  out->push_back(CommandSpec{
      .name = "time",
      .arity = 1,
      .flags = kCmdLoading | kCmdStale | kCmdFast | kCmdRevealsNoState,
      .handler = CmdTime,
      .acl_categories = {"@fast"},
      .summary = "Returns the server time",
      .since = "2.6.0",
      .group = "server",
      .complexity = "O(1)",
  });
  out->push_back(CommandSpec{
      .name = "wait",
      .arity = 3,
      .flags = kCmdNoScript,
      .handler = CmdWait,
      .acl_categories = {"@slow", "@connection"},
      .summary = "Blocks until the asynchronous replication of all preceding write commands "
                 "sent by the connection is completed",
      .since = "3.0.0",
      .group = "generic",
      .complexity = "O(1)",
      .args = {ArgDoc{.name = "numreplicas", .type = "integer"},
               ArgDoc{.name = "timeout", .type = "integer"}},
  });
  out->push_back(CommandSpec{
      .name = "shutdown",
      .arity = -1,
      .flags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale | kCmdNoMulti | kCmdAllowBusy,
      .handler = CmdShutdown,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "Flushes the log and shuts down the server",
      .since = "1.0.0",
      .group = "server",
      .complexity = "O(N) when saving, where N is the total number of keys in all databases",
      .args = {ArgDoc{.name = "save-selector", .type = "oneof", .flags = ArgDoc::kOptional,
                      .args = {ArgDoc{.name = "nosave", .type = "pure-token", .token = "NOSAVE"},
                               ArgDoc{.name = "save", .type = "pure-token", .token = "SAVE"}}},
               ArgDoc{.name = "now", .type = "pure-token", .token = "NOW",
                      .flags = ArgDoc::kOptional},
               ArgDoc{.name = "force", .type = "pure-token", .token = "FORCE",
                      .flags = ArgDoc::kOptional},
               ArgDoc{.name = "abort", .type = "pure-token", .token = "ABORT",
                      .flags = ArgDoc::kOptional}},
  });
}

}  // namespace lockd
