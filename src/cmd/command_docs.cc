// COMMAND and its subcommands: every reply is rendered from the command
// table, in Redis 7's shapes, so that clients (redis-cli's hints, cluster
// clients' key lookup) see exactly the commands that run.
#include <fmt/format.h>

#include <algorithm>

#include "util/strings.h"
#include "cmd/commands.h"
#include "util/errors.h"
#include "util/glob.h"

namespace lockd {

namespace {

std::vector<const char*> FlagNames(uint32_t flags) {
  static const std::pair<CommandFlag, const char*> kNames[] = {
      {kCmdWrite, "write"},       {kCmdReadOnly, "readonly"}, {kCmdDenyOom, "denyoom"},
      {kCmdAdmin, "admin"},       {kCmdPubSub, "pubsub"},     {kCmdNoScript, "noscript"},
      {kCmdBlocking, "blocking"},
      {kCmdLoading, "loading"},   {kCmdStale, "stale"},       {kCmdFast, "fast"},
      {kCmdNoAuth, "no_auth"},    {kCmdNoMulti, "no_multi"},  {kCmdAllowBusy, "allow_busy"},
  };
  std::vector<const char*> out;
  for (const auto& [flag, name] : kNames) {
    if (flags & flag) out.push_back(name);
  }
  return out;
}

// The one key specification a lockd command can have: keys from first_key to
// last_key, every key_step arguments.
void WriteKeySpecs(ReplyWriter& w, const CommandSpec& spec) {
  if (spec.first_key == 0) {
    w.Set(0);  // Redis 7.0 replies an empty list as an empty set (~0 in RESP3)
    return;
  }
  w.Array(1);
  w.Map(3);
  w.Bulk("flags");
  if (spec.flags & kCmdWrite) {
    w.Set(3);
    w.Simple("RW");
    w.Simple("access");
    w.Simple("update");
  } else {
    w.Set(2);
    w.Simple("RO");
    w.Simple("access");
  }
  w.Bulk("begin_search");
  w.Map(2);
  w.Bulk("type");
  w.Bulk("index");
  w.Bulk("spec");
  w.Map(1);
  w.Bulk("index");
  w.Integer(spec.first_key);
  w.Bulk("find_keys");
  w.Map(2);
  w.Bulk("type");
  w.Bulk("range");
  w.Bulk("spec");
  w.Map(3);
  w.Bulk("lastkey");
  w.Integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
  w.Bulk("keystep");
  w.Integer(spec.key_step);
  w.Bulk("limit");
  w.Integer(0);
}

void WriteInfo(ReplyWriter& w, const CommandSpec& spec) {
  w.Array(10);
  w.Bulk(spec.full_name);
  w.Integer(spec.arity);
  std::vector<const char*> flags = FlagNames(spec.flags);
  w.Set(flags.size());
  for (const char* f : flags) w.Simple(f);
  w.Integer(spec.first_key);
  w.Integer(spec.last_key);
  w.Integer(spec.key_step);
  w.Set(spec.acl_categories.size());
  for (const std::string& c : spec.acl_categories) w.Simple(c);
  w.Set(0);  // tips
  WriteKeySpecs(w, spec);
  // As Redis 7.0: no subcommands is an empty set (~0 in RESP3), some an array.
  if (spec.subcommands.empty()) {
    w.Set(0);
  } else {
    w.Array(spec.subcommands.size());
  }
  for (const CommandSpec& sub : spec.subcommands) WriteInfo(w, sub);
}

void WriteArg(ReplyWriter& w, const ArgDoc& arg) {
  std::vector<const char*> flags;
  if (arg.flags & ArgDoc::kOptional) flags.push_back("optional");
  if (arg.flags & ArgDoc::kMultiple) flags.push_back("multiple");
  if (arg.flags & ArgDoc::kMultipleToken) flags.push_back("multiple_token");
  size_t pairs = 2 + (arg.key_spec_index >= 0) + !arg.token.empty() + !flags.empty() +
                 !arg.args.empty();
  w.Map(pairs);
  w.Bulk("name");
  w.Bulk(arg.name);
  w.Bulk("type");
  w.Bulk(arg.type);
  if (arg.key_spec_index >= 0) {
    w.Bulk("key_spec_index");
    w.Integer(arg.key_spec_index);
  }
  if (!arg.token.empty()) {
    w.Bulk("token");
    w.Bulk(arg.token);
  }
  if (!flags.empty()) {
    w.Bulk("flags");
    w.Set(flags.size());
    for (const char* f : flags) w.Simple(f);
  }
  if (!arg.args.empty()) {
    w.Bulk("arguments");
    w.Array(arg.args.size());
    for (const ArgDoc& sub : arg.args) WriteArg(w, sub);
  }
}

void WriteDocs(ReplyWriter& w, const CommandSpec& spec) {
  size_t pairs = 4 + !spec.args.empty() + !spec.subcommands.empty();
  w.Map(pairs);
  w.Bulk("summary");
  w.Bulk(spec.summary);
  w.Bulk("since");
  w.Bulk(spec.since);
  w.Bulk("group");
  w.Bulk(spec.group);
  w.Bulk("complexity");
  w.Bulk(spec.complexity);
  if (!spec.args.empty()) {
    w.Bulk("arguments");
    w.Array(spec.args.size());
    for (const ArgDoc& arg : spec.args) WriteArg(w, arg);
  }
  if (!spec.subcommands.empty()) {
    w.Bulk("subcommands");
    w.Map(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      w.Bulk(sub.full_name);
      WriteDocs(w, sub);
    }
  }
}

// "config|get" or "config" → the entry, or null.
const CommandSpec* FindByFullName(std::string_view name) {
  size_t bar = name.find('|');
  const CommandSpec* spec = CommandTable::Get().Find(name.substr(0, bar));
  if (spec == nullptr || bar == std::string_view::npos) return spec;
  return spec->FindSubcommand(name.substr(bar + 1));
}

void CmdCommand(CommandContext& ctx) {
  const auto& all = CommandTable::Get().All();
  ctx.reply().Array(all.size());
  for (const CommandSpec* spec : all) WriteInfo(ctx.reply(), *spec);
}

void CmdCommandCount(CommandContext& ctx) {
  ctx.reply().Integer(static_cast<int64_t>(CommandTable::Get().All().size()));
}

void CmdCommandInfo(CommandContext& ctx) {
  if (ctx.argc() == 2) return CmdCommand(ctx);
  ctx.reply().Array(ctx.argc() - 2);
  for (size_t i = 2; i < ctx.argc(); ++i) {
    const CommandSpec* spec = FindByFullName(ctx.argv[i]);
    if (spec == nullptr) {
      // Redis replies a null bulk here ($-1 in RESP2).
      ctx.reply().Null();
    } else {
      WriteInfo(ctx.reply(), *spec);
    }
  }
}

void CmdCommandDocs(CommandContext& ctx) {
  std::vector<const CommandSpec*> specs;
  if (ctx.argc() == 2) {
    specs = CommandTable::Get().All();
  } else {
    for (size_t i = 2; i < ctx.argc(); ++i) {
      if (const CommandSpec* spec = FindByFullName(ctx.argv[i])) specs.push_back(spec);
    }
  }
  ctx.reply().Map(specs.size());
  for (const CommandSpec* spec : specs) {
    ctx.reply().Bulk(spec->full_name);
    WriteDocs(ctx.reply(), *spec);
  }
}

void CmdCommandList(CommandContext& ctx) {
  std::string_view pattern;
  std::string_view category;
  bool by_pattern = false, by_category = false, by_module = false;
  if (ctx.argc() != 2) {
    if (ctx.argc() != 5 || !EqualsIgnoreCase(ctx.argv[2], "filterby")) {
      return ctx.Error(errors::kSyntax);
    }
    std::string_view kind = ctx.argv[3];
    if (EqualsIgnoreCase(kind, "pattern")) {
      by_pattern = true;
      pattern = ctx.argv[4];
    } else if (EqualsIgnoreCase(kind, "aclcat")) {
      by_category = true;
      category = ctx.argv[4];
    } else if (EqualsIgnoreCase(kind, "module")) {
      by_module = true;  // lockd has no modules
    } else {
      return ctx.Error(errors::kSyntax);
    }
  }
  std::vector<std::string> names;
  auto consider = [&](const CommandSpec& spec) {
    if (by_module) return;
    if (by_pattern && !GlobMatch(pattern, spec.full_name, true)) return;
    if (by_category) {
      bool found = false;
      for (const std::string& c : spec.acl_categories) {
        if (EqualsIgnoreCase(std::string_view(c).substr(1), category)) found = true;
      }
      if (!found) return;
    }
    names.push_back(spec.full_name);
  };
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    consider(*spec);
    for (const CommandSpec& sub : spec->subcommands) consider(sub);
  }
  ctx.reply().Array(names.size());
  for (const std::string& n : names) ctx.reply().Bulk(n);
}

// COMMAND GETKEYS cmd arg...: the key positions of the table entry, with
// Redis's checks in its order.
void CmdCommandGetKeys(CommandContext& ctx) {
  const CommandSpec* spec = CommandTable::Get().Find(ctx.argv[2]);
  if (spec != nullptr && !spec->subcommands.empty() && ctx.argc() >= 4) {
    spec = spec->FindSubcommand(ctx.argv[3]);
  }
  size_t argc = ctx.argc() - 2;
  if (spec == nullptr) return ctx.Error(errors::kInvalidCommandSpecified);
  if (spec->first_key == 0) return ctx.Error(errors::kCommandHasNoKeys);
  if (!ArityMatches(spec->arity, argc)) return ctx.Error(errors::kInvalidArgumentCount);
  int64_t last = spec->last_key >= 0 ? spec->last_key : static_cast<int64_t>(argc) + spec->last_key;
  std::vector<std::string_view> keys;
  for (int64_t i = spec->first_key; i <= last && i < static_cast<int64_t>(argc);
       i += std::max(spec->key_step, 1)) {
    keys.push_back(ctx.argv[static_cast<size_t>(i) + 2]);
  }
  ctx.reply().Array(keys.size());
  for (std::string_view k : keys) ctx.reply().Bulk(k);
}

void CmdCommandHelp(CommandContext& ctx) {
  static const char* const kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all commands.",
      "COUNT",
      "    Return the total number of commands in this server.",
      "LIST",
      "    Return a list of all commands in this server.",
      "INFO [<command-name> ...]",
      "    Return details about multiple commands.",
      "    If no command names are given, documentation details for all",
      "    commands are returned.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple commands.",
      "    If no command names are given, documentation details for all",
      "    commands are returned.",
      "GETKEYS <full-command>",
      "    Return the keys from a full command.",
      "HELP",
      "    Print this help.",
  };
  ctx.Help(kLines);
}

CommandSpec Sub(const char* name, int arity, CommandHandler handler, const char* summary,
                std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = kCmdLoading | kCmdStale,
      .handler = handler,
      .acl_categories = {"@slow", "@connection"},
      .summary = summary,
      .since = "7.0.0",
      .group = "server",
      .complexity = "O(N) where N is the number of commands to look up",
      .args = std::move(args),
  };
}

}  // namespace

void AddCommandCommand(std::vector<CommandSpec>* out) {
  ArgDoc names{.name = "command-name", .type = "string",
               .flags = ArgDoc::kOptional | ArgDoc::kMultiple};
  CommandSpec command{
      .name = "command",
      .arity = -1,
      .flags = kCmdLoading | kCmdStale,
      .handler = CmdCommand,
      .acl_categories = {"@slow", "@connection"},
      .summary = "Returns detailed information about all commands",
      .since = "2.8.13",
      .group = "server",
      .complexity = "O(N) where N is the total number of commands",
  };
  command.subcommands = {
      Sub("count", 2, CmdCommandCount, "Returns a count of commands"),
      Sub("info", -2, CmdCommandInfo, "Returns information about one, multiple or all commands",
          {names}),
      Sub("docs", -2, CmdCommandDocs, "Returns documentary information about one, multiple or "
          "all commands", {names}),
      Sub("list", -2, CmdCommandList, "Returns a list of command names",
          {ArgDoc{.name = "filterby", .type = "oneof", .token = "FILTERBY",
                  .flags = ArgDoc::kOptional,
                  .args = {ArgDoc{.name = "module-name", .type = "string", .token = "MODULE"},
                           ArgDoc{.name = "category", .type = "string", .token = "ACLCAT"},
                           ArgDoc{.name = "pattern", .type = "pattern", .token = "PATTERN"}}}}),
      Sub("getkeys", -4, CmdCommandGetKeys, "Extracts the key names from an arbitrary command",
          {ArgDoc{.name = "command", .type = "string"},
           ArgDoc{.name = "arg", .type = "string", .flags = ArgDoc::kOptional | ArgDoc::kMultiple}}),
      Sub("help", 2, CmdCommandHelp, "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(command));
}

}  // namespace lockd
