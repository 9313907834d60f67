// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP,
// and the bridge through which a script's redis.call runs any command of the
// table that Redis would let a script run. A script's changes reach the log
// as one unit (MULTI ... EXEC records), never as the script text.
#include "cmd/script_commands.h"

#include <fmt/format.h>

#include <limits>

#include "cmd/commands.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/strings.h"

namespace lockd {

ScriptBridge::ScriptBridge(Commands* commands) : commands_(commands), session_(0) {
  session_.authenticated = true;
  session_.name = "lua";
}

void ScriptBridge::Begin(MonoTime now, bool read_only, Session* caller) {
  now_ = now;
  caller_ = caller;
  session_.user = caller->user;
  read_only_ = read_only;
  wrote_ = false;
}

script::CommandBridge::Outcome ScriptBridge::Call(const std::vector<std::string_view>& argv,
                                                  int protocol) {
  session_.out.Clear();
  session_.reply.set_protocol(protocol);
  // Redis's order of checks for a script's command (script.c scriptCall).
  const CommandSpec* spec = CommandTable::Get().Find(argv[0]);
  if (spec != nullptr && !spec->subcommands.empty() && argv.size() >= 2) {
    spec = spec->FindSubcommand(argv[1]);
  }
  std::string_view refusal;
  if (spec == nullptr) {
    refusal = errors::kScriptUnknownCommand;
  } else if (!ArityMatches(spec->arity, argv.size())) {
    refusal = errors::kScriptWrongArity;
  } else if (spec->flags & kCmdNoScript) {
    refusal = errors::kScriptNoScriptCommand;
  } else if (acl::CheckResult r = commands_->CheckAcl(session_, *spec, argv, "lua", *caller_);
             r.denied != acl::Denied::kNone) {
    refusal = r.denied == acl::Denied::kKey       ? errors::kScriptNoPermKey
              : r.denied == acl::Denied::kChannel ? errors::kScriptNoPermChannel
                                                  : errors::kScriptNoPermCommand;
  } else if (commands_->config().lock_bind_holder_to_user &&
             commands_->HolderBindingRefuses(session_, *spec, argv, now_)) {
    refusal = errors::kNoPermHolderBound;
  } else if (spec->flags & kCmdWrite) {
    if (read_only_) {
      refusal = errors::kScriptWriteInReadOnly;
    } else if (!wrote_ && commands_->durability().refusing_writes()) {
      // Once a script has changed something it is not stopped halfway.
      scratch_ = commands_->durability().misconf_error();
      refusal = scratch_;
    } else if (commands_->replication().is_replica()) {
      refusal = errors::kReadOnlyReplica;
    } else if (!wrote_ && commands_->replication().TooFewGoodReplicas(commands_->clock().Now())) {
      refusal = errors::kNoReplicas;
    } else {
      wrote_ = true;
    }
  }
  if (!refusal.empty()) {
    commands_->NoteErrorReply(refusal);
    return Outcome{.refused = true, .text = refusal};
  }

  CommandContext ctx{*commands_, session_, argv, *spec, now_};
  ctx.may_block = false;
  spec->handler(ctx);
  LOCKD_CHECK(!session_.blocked());
  commands_->ScriptCalled(argv, *spec);

  size_t runs = 0;
  std::string_view first;
  session_.out.ForEachRun(2, [&](const char* data, size_t len) {
    if (runs++ == 0) first = std::string_view(data, len);
  });
  if (runs <= 1) return Outcome{.text = first};
  scratch_.clear();
  session_.out.ForEachRun(std::numeric_limits<size_t>::max(),
                          [&](const char* data, size_t len) { scratch_.append(data, len); });
  return Outcome{.text = scratch_};
}

void ScriptBridge::NoteError(std::string_view message) { commands_->NoteErrorReply(message); }

ScriptState::ScriptState(Commands* commands)
    : scripting(&commands->clock()), bridge(commands) {}

ScriptState& Commands::scripts() {
  if (scripts_ == nullptr) scripts_ = std::make_unique<ScriptState>(this);
  return *scripts_;
}

namespace {

void EvalGeneric(CommandContext& ctx, bool by_sha, bool read_only) {
  // Redis answers a name that cannot be a SHA1 before looking at numkeys.
  if (by_sha && ctx.argv[1].size() != 40) return ctx.Error(errors::kNoScript);
  int64_t numkeys;
  if (!ParseInt64(ctx.argv[2], &numkeys)) return ctx.Error(errors::kNotInteger);
  if (numkeys > static_cast<int64_t>(ctx.argc()) - 3) return ctx.Error(errors::kNumKeysTooMany);
  if (numkeys < 0) return ctx.Error(errors::kNumKeysNegative);

  ScriptState& st = ctx.commands.scripts();
  if (by_sha) {
    if (!st.scripting.Find(ctx.argv[1], &st.sha)) return ctx.Error(errors::kNoScript);
  } else {
    std::string error;
    if (!st.scripting.CompileForEval(ctx.argv[1], &st.sha, &error)) return ctx.Error(error);
  }
  if (read_only && st.scripting.IsWriteScript(st.sha)) {
    return ctx.Error(errors::kScriptWriteFlagOnRo);
  }
  auto first_key = ctx.argv.begin() + 3;
  st.keys.assign(first_key, first_key + numkeys);
  st.args.assign(first_key + numkeys, ctx.argv.end());

  script::ScriptRun run;
  run.sha = st.sha;
  run.keys = &st.keys;
  run.args = &st.args;
  run.read_only = read_only || st.scripting.IsNoWritesScript(st.sha);
  run.time_limit_ms = ctx.config().lua_time_limit;
  run.bridge = &st.bridge;
  run.out = &ctx.reply();
  st.bridge.Begin(ctx.now, run.read_only, &ctx.session);
  // Everything the script changes is one unit in the log; a script that
  // changed nothing leaves no records.
  ctx.commands.durability().OnUnitBegin();
  st.scripting.Run(run);
  ctx.commands.durability().OnUnitEnd();
}

void CmdEval(CommandContext& ctx) { EvalGeneric(ctx, false, false); }
void CmdEvalSha(CommandContext& ctx) { EvalGeneric(ctx, true, false); }
void CmdEvalRo(CommandContext& ctx) { EvalGeneric(ctx, false, true); }
void CmdEvalShaRo(CommandContext& ctx) { EvalGeneric(ctx, true, true); }

void CmdScript(CommandContext& ctx) { ctx.Error(errors::kSyntax); }

void CmdScriptExists(CommandContext& ctx) {
  ScriptState& st = ctx.commands.scripts();
  ctx.reply().Array(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); ++i) {
    ctx.reply().Integer(st.scripting.Exists(ctx.argv[i]) ? 1 : 0);
  }
}

void CmdScriptFlush(CommandContext& ctx) {
  // ASYNC frees in the background in Redis; lockd's cache is small enough
  // to free at once either way.
  if (ctx.argc() > 3 || (ctx.argc() == 3 && !EqualsIgnoreCase(ctx.argv[2], "sync") &&
                         !EqualsIgnoreCase(ctx.argv[2], "async"))) {
    return ctx.Error(errors::kScriptFlushOption);
  }
  ctx.commands.scripts().scripting.Flush();
  ctx.reply().Simple("OK");
}

void CmdScriptLoad(CommandContext& ctx) {
  ScriptState& st = ctx.commands.scripts();
  std::string error;
  if (!st.scripting.Load(ctx.argv[2], &st.sha, &error)) return ctx.Error(error);
  ctx.reply().Bulk(st.sha);
}

// Scripts never outlive the command that runs them (lua-time-limit stops
// them), so there is never one to kill.
void CmdScriptKill(CommandContext& ctx) { ctx.Error(errors::kNotBusy); }

// The Lua debugger is not part of lockd: NO (its default) is accepted.
void CmdScriptDebug(CommandContext& ctx) {
  if (EqualsIgnoreCase(ctx.argv[2], "no")) return ctx.reply().Simple("OK");
  if (EqualsIgnoreCase(ctx.argv[2], "yes") || EqualsIgnoreCase(ctx.argv[2], "sync")) {
    return ctx.Error(errors::kScriptDebugUnsupported);
  }
  ctx.Error(errors::kScriptDebugOption);
}

void CmdScriptHelp(CommandContext& ctx) {
  static constexpr const char* kLines[] = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DEBUG (YES|SYNC|NO)",
      "    Set the debug mode for subsequent scripts executed.",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the scripts cache.",
      "    * SYNC: Synchronously flush the scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

ArgDoc ScriptArg() { return ArgDoc{.name = "script", .type = "string"}; }
ArgDoc Sha1Arg() { return ArgDoc{.name = "sha1", .type = "string"}; }

std::vector<ArgDoc> EvalArgs(ArgDoc first) {
  return {std::move(first), ArgDoc{.name = "numkeys", .type = "integer"},
          ArgDoc{.name = "key", .type = "key", .flags = ArgDoc::kOptional | ArgDoc::kMultiple,
                 .key_spec_index = 0},
          ArgDoc{.name = "arg", .type = "string", .flags = ArgDoc::kOptional | ArgDoc::kMultiple}};
}

CommandSpec EvalSpec(const char* name, CommandHandler handler, bool read_only, ArgDoc first,
                     const char* summary) {
  return CommandSpec{
      .name = name,
      .arity = -3,
      .flags = kCmdNoScript | kCmdStale | (read_only ? kCmdReadOnly : 0u),
      .handler = handler,
      .acl_categories = {"@slow", "@scripting"},
      .summary = summary,
      .since = read_only ? "7.0.0" : "2.6.0",
      .group = "scripting",
      .complexity = "Depends on the script that is executed.",
      .args = EvalArgs(std::move(first)),
  };
}

CommandSpec ScriptSub(const char* name, int arity, uint32_t flags, CommandHandler handler,
                      const char* summary, std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = {"@slow", "@scripting"},
      .summary = summary,
      .since = "2.6.0",
      .group = "scripting",
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

}  // namespace

void AddScriptCommands(std::vector<CommandSpec>* out) {
  out->push_back(EvalSpec("eval", CmdEval, false, ScriptArg(), "Executes a server-side Lua script"));
  out->push_back(EvalSpec("evalsha", CmdEvalSha, false, Sha1Arg(),
                          "Executes a server-side Lua script by SHA1 digest"));
  out->push_back(EvalSpec("eval_ro", CmdEvalRo, true, ScriptArg(),
                          "Executes a read-only server-side Lua script"));
  out->push_back(EvalSpec("evalsha_ro", CmdEvalShaRo, true, Sha1Arg(),
                          "Executes a read-only server-side Lua script by SHA1 digest"));

  CommandSpec script{
      .name = "script",
      .arity = -2,
      .handler = CmdScript,
      .acl_categories = {"@slow"},
      .summary = "A container for Lua scripts management commands",
      .since = "2.6.0",
      .group = "scripting",
      .complexity = "Depends on subcommand.",
  };
  script.subcommands = {
      ScriptSub("debug", 3, kCmdNoScript, CmdScriptDebug,
                "Sets the debug mode of server-side Lua scripts",
                {ArgDoc{.name = "mode", .type = "oneof",
                        .args = {ArgDoc{.name = "yes", .type = "pure-token", .token = "YES"},
                                 ArgDoc{.name = "sync", .type = "pure-token", .token = "SYNC"},
                                 ArgDoc{.name = "no", .type = "pure-token", .token = "NO"}}}}),
      ScriptSub("exists", -3, kCmdNoScript, CmdScriptExists,
                "Determines whether server-side Lua scripts exist in the script cache",
                {ArgDoc{.name = "sha1", .type = "string", .flags = ArgDoc::kMultiple}}),
      ScriptSub("flush", -2, kCmdNoScript, CmdScriptFlush,
                "Removes all server-side Lua scripts from the script cache",
                {ArgDoc{.name = "flush-type", .type = "oneof", .flags = ArgDoc::kOptional,
                        .args = {ArgDoc{.name = "async", .type = "pure-token", .token = "ASYNC"},
                                 ArgDoc{.name = "sync", .type = "pure-token", .token = "SYNC"}}}}),
      ScriptSub("kill", 2, kCmdNoScript | kCmdAllowBusy, CmdScriptKill,
                "Terminates a server-side Lua script during execution"),
      ScriptSub("load", 3, kCmdNoScript | kCmdStale, CmdScriptLoad,
                "Loads a server-side Lua script to the script cache", {ScriptArg()}),
      ScriptSub("help", 2, kCmdLoading | kCmdStale, CmdScriptHelp,
                "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(script));
}

}  // namespace lockd
