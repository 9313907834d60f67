// ACL and its subcommands (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI,
// CAT, LOG, GENPASS, DRYRUN, SAVE, LOAD, HELP), with Redis 7.0's replies and
// errors. The users and rules live in acl::Registry; this file turns them
// into replies and ends the sessions of users that go away.
#include <fmt/format.h>
#include <openssl/rand.h>

#include "cmd/commands.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/strings.h"

namespace lockd {

namespace {

const std::string& AclFile(const Config& config) {
  static const std::string kNone;
  auto it = config.compat.find("aclfile");
  return it == config.compat.end() ? kNone : it->second;
}

bool HasSpaces(std::string_view s) {
  for (char c : s) {
    if (c == 0 || c == ' ' || (c >= '\t' && c <= '\r')) return true;
  }
  return false;
}

// Subscribed clients of `user` whose channels or patterns its new rules no
// longer allow are closed (Redis's ACLKillPubsubClientsIfNeeded).
void KillRevokedSubscribers(CommandContext& ctx, acl::User* user) {
  acl::Registry& acl = ctx.commands.acl();
  std::vector<Session*> victims;
  ctx.server().ForEachSession([&](Session& s) {
    if (s.user != user || !s.subscribed()) return;
    bool kill = false;
    for (const std::string& p : s.patterns) kill |= !acl.ChannelAllowed(*user, p, true);
    for (const std::string& c : s.channels) kill |= !acl.ChannelAllowed(*user, c, false);
    if (kill) victims.push_back(&s);
  });
  for (Session* s : victims) ctx.server().KillSession(*s);
}

void CmdAclSetUser(CommandContext& ctx) {
  std::string_view name = ctx.argv[2];
  if (HasSpaces(name)) return ctx.Error(errors::kAclUsernameSpaces);
  std::vector<std::string_view> args(ctx.argv.begin() + 3, ctx.argv.end());
  std::vector<std::string> ops;
  size_t bad = 0;
  if (!acl::Registry::MergeSelectorArgs(args, &ops, &bad)) {
    return ctx.Error(
        fmt::format(fmt::runtime(errors::kAclUnmatchedParenFormat), ctx.argv[3 + bad]));
  }
  std::vector<std::string_view> views(ops.begin(), ops.end());
  acl::Registry& acl = ctx.commands.acl();
  bool existed = acl.Find(name) != nullptr;
  if (Status s = acl.SetUser(name, views); !s.ok()) return ctx.Error("ERR " + s.message());
  if (existed) KillRevokedSubscribers(ctx, acl.Find(name));
  ctx.reply().Simple("OK");
}

void CmdAclDelUser(CommandContext& ctx) {
  for (size_t i = 2; i < ctx.argc(); ++i) {
    if (ctx.argv[i] == "default") return ctx.Error(errors::kAclDefaultUndeletable);
  }
  int64_t deleted = 0;
  for (size_t i = 2; i < ctx.argc(); ++i) {
    std::unique_ptr<acl::User> u = ctx.commands.acl().Remove(ctx.argv[i]);
    if (u == nullptr) continue;
    ctx.commands.KillUserSessions(u.get());
    ++deleted;
  }
  ctx.reply().Integer(deleted);
}

void DescribeSelectorFields(CommandContext& ctx, const acl::Selector& s) {
  ReplyWriter& w = ctx.reply();
  w.Bulk("commands");
  w.Bulk(ctx.commands.acl().DescribeCommands(s));
  w.Bulk("keys");
  w.Bulk(acl::Registry::DescribeKeys(s));
  w.Bulk("channels");
  w.Bulk(acl::Registry::DescribeChannels(s));
}

void CmdAclGetUser(CommandContext& ctx) {
  acl::User* u = ctx.commands.acl().Find(ctx.argv[2]);
  if (u == nullptr) return ctx.reply().Null();
  ReplyWriter& w = ctx.reply();
  w.Map(6);
  w.Bulk("flags");
  static const std::pair<uint32_t, const char*> kFlags[] = {
      {acl::kUserEnabled, "on"},
      {acl::kUserDisabled, "off"},
      {acl::kUserNoPass, "nopass"},
      {acl::kUserSkipSanitize, "skip-sanitize-payload"},
      {acl::kUserSanitize, "sanitize-payload"},
  };
  size_t n = 0;
  for (const auto& [flag, name] : kFlags) n += (u->flags & flag) != 0;
  w.Set(n);
  for (const auto& [flag, name] : kFlags) {
    if (u->flags & flag) w.Bulk(name);
  }
  w.Bulk("passwords");
  w.Array(u->passwords.size());
  for (const std::string& p : u->passwords) w.Bulk(p);
  DescribeSelectorFields(ctx, u->selectors[0]);
  w.Bulk("selectors");
  w.Array(u->selectors.size() - 1);
  for (size_t i = 1; i < u->selectors.size(); ++i) {
    w.Map(3);
    DescribeSelectorFields(ctx, u->selectors[i]);
  }
}

void CmdAclList(CommandContext& ctx) {
  acl::Registry& acl = ctx.commands.acl();
  ctx.reply().Array(acl.users().size());
  for (const auto& [name, u] : acl.users()) {
    ctx.reply().Bulk("user " + name + " " + acl.Describe(*u));
  }
}

void CmdAclUsers(CommandContext& ctx) {
  acl::Registry& acl = ctx.commands.acl();
  ctx.reply().Array(acl.users().size());
  for (const auto& [name, u] : acl.users()) ctx.reply().Bulk(name);
}

void CmdAclWhoami(CommandContext& ctx) { ctx.reply().Bulk(ctx.commands.UserOf(ctx.session).name); }

void CmdAclLoad(CommandContext& ctx) {
  const std::string& file = AclFile(ctx.config());
  if (file.empty()) return ctx.Error(errors::kAclNoAclFile);
  std::vector<std::unique_ptr<acl::User>> dropped;
  if (Status s = ctx.commands.acl().LoadFile(file, &dropped); !s.ok()) {
    return ctx.Error("ERR " + s.message());
  }
  // Every user but default was replaced: their connections end, as Redis
  // ends them, even when the file defines the same user again.
  for (const auto& u : dropped) ctx.commands.KillUserSessions(u.get());
  ctx.reply().Simple("OK");
}

void CmdAclSave(CommandContext& ctx) {
  const std::string& file = AclFile(ctx.config());
  if (file.empty()) return ctx.Error(errors::kAclNoAclFile);
  if (Status s = ctx.commands.acl().SaveFile(file); !s.ok()) {
    Log(LogLevel::kWarning, "{}", s.message());
    return ctx.Error(errors::kAclSaveFailed);
  }
  ctx.reply().Simple("OK");
}

void CmdAclCat(CommandContext& ctx) {
  if (ctx.argc() > 3) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat), ctx.argv[1], "ACL"));
  }
  if (ctx.argc() == 2) {
    std::span<const acl::CategoryInfo> cats = acl::Categories();
    ctx.reply().Array(cats.size());
    for (const acl::CategoryInfo& c : cats) ctx.reply().Bulk(c.name);
    return;
  }
  uint64_t flag = acl::CategoryFlag(ctx.argv[2]);
  if (flag == 0) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kAclUnknownCategoryFormat), ctx.argv[2]));
  }
  std::vector<std::string> names = ctx.commands.acl().CommandsIn(flag);
  ctx.reply().Array(names.size());
  for (const std::string& n : names) ctx.reply().Bulk(n);
}

void CmdAclGenPass(CommandContext& ctx) {
  if (ctx.argc() > 3) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat), ctx.argv[1], "ACL"));
  }
  int64_t bits = 256;
  if (ctx.argc() == 3 && !ParseInt64(ctx.argv[2], &bits)) return ctx.Error(errors::kNotInteger);
  if (bits <= 0 || bits > 4096) return ctx.Error(errors::kAclGenpassBits);
  size_t chars = static_cast<size_t>((bits + 3) / 4);
  unsigned char random[1024];
  LOCKD_CHECK(RAND_bytes(random, static_cast<int>((chars + 1) / 2)) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string pass;
  for (size_t i = 0; i < chars; ++i) {
    unsigned char b = random[i / 2];
    pass.push_back(kHex[i % 2 == 0 ? b >> 4 : b & 15]);
  }
  ctx.reply().Bulk(pass);
}

void CmdAclLog(CommandContext& ctx) {
  if (ctx.argc() > 3) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat), ctx.argv[1], "ACL"));
  }
  acl::Registry& acl = ctx.commands.acl();
  int64_t count = 10;
  if (ctx.argc() == 3) {
    if (EqualsIgnoreCase(ctx.argv[2], "reset")) {
      acl.ResetLog();
      return ctx.reply().Simple("OK");
    }
    if (!ParseInt64(ctx.argv[2], &count)) return ctx.Error(errors::kNotInteger);
    if (count < 0) count = 0;
  }
  size_t n = std::min(static_cast<size_t>(count), acl.log().size());
  int64_t now_ms = ctx.commands.clock().WallNow().us / 1000;
  ReplyWriter& w = ctx.reply();
  w.Array(n);
  for (size_t i = 0; i < n; ++i) {
    const acl::LogEntry& e = acl.log()[i];
    w.Map(7);
    w.Bulk("count");
    w.Integer(static_cast<int64_t>(e.count));
    w.Bulk("reason");
    w.Bulk(e.reason == acl::Denied::kCommand   ? "command"
           : e.reason == acl::Denied::kKey     ? "key"
           : e.reason == acl::Denied::kChannel ? "channel"
                                               : "auth");
    w.Bulk("context");
    w.Bulk(e.context);
    w.Bulk("object");
    w.Bulk(e.object);
    w.Bulk("username");
    w.Bulk(e.username);
    w.Bulk("age-seconds");
    w.Double(static_cast<double>(now_ms - e.ctime_ms) / 1000);
    w.Bulk("client-info");
    w.Bulk(e.client_info);
  }
}

void CmdAclDryRun(CommandContext& ctx) {
  acl::Registry& acl = ctx.commands.acl();
  acl::User* u = acl.Find(ctx.argv[2]);
  if (u == nullptr) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kAclDryrunNoUserFormat), ctx.argv[2]));
  }
  const CommandSpec* spec = CommandTable::Get().Find(ctx.argv[3]);
  if (spec != nullptr && !spec->subcommands.empty() && ctx.argc() >= 5) {
    spec = spec->FindSubcommand(ctx.argv[4]);
  }
  if (spec == nullptr) {
    return ctx.Error(fmt::format(fmt::runtime(errors::kAclDryrunNoCommandFormat), ctx.argv[3]));
  }
  std::span<const std::string_view> argv(ctx.argv.data() + 3, ctx.argc() - 3);
  acl::CheckResult r = acl.Check(*u, *spec, argv);
  switch (r.denied) {
    case acl::Denied::kNone:
      return ctx.reply().Simple("OK");
    case acl::Denied::kKey:
      return ctx.reply().Bulk(fmt::format("This user has no permissions to access the '{}' key",
                                          argv[r.arg]));
    case acl::Denied::kChannel:
      return ctx.reply().Bulk(fmt::format(
          "This user has no permissions to access the '{}' channel", argv[r.arg]));
    default:
      return ctx.reply().Bulk(fmt::format("This user has no permissions to run the '{}' command",
                                          spec->full_name));
  }
}

void CmdAclHelp(CommandContext& ctx) {
  static const char* const kLines[] = {
      "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CAT [<category>]",
      "    List all commands that belong to <category>, or all command categories",
      "    when no category is specified.",
      "DELUSER <username> [<username> ...]",
      "    Delete a list of users.",
      "DRYRUN <username> <command> [<arg> ...]",
      "    Returns whether the user can execute the given command without executing the command.",
      "GETUSER <username>",
      "    Get the user's details.",
      "GENPASS [<bits>]",
      "    Generate a secure 256-bit user password. The optional `bits` argument can",
      "    be used to specify a different size.",
      "LIST",
      "    Show users details in config file format.",
      "LOAD",
      "    Reload users from the ACL file.",
      "LOG [<count> | RESET]",
      "    Show the ACL log entries.",
      "SAVE",
      "    Save the current config to the ACL file.",
      "SETUSER <username> <attribute> [<attribute> ...]",
      "    Create or modify a user with the specified attributes.",
      "USERS",
      "    List all the registered usernames.",
      "WHOAMI",
      "    Return the current connection username.",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

void CmdAcl(CommandContext& ctx) { ctx.Error(errors::kSyntax); }

ArgDoc Arg(const char* name, const char* type, uint8_t flags = 0) {
  return ArgDoc{.name = name, .type = type, .flags = flags};
}

CommandSpec Sub(const char* name, int arity, uint32_t flags, CommandHandler handler,
                const char* summary, std::vector<ArgDoc> args = {}) {
  std::vector<std::string> categories;
  if (flags & kCmdAdmin) categories = {"@admin", "@slow", "@dangerous"};
  else categories = {"@slow"};
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = std::move(categories),
      .summary = summary,
      .since = "6.0.0",
      .group = "server",
      .complexity = "O(1)",
      .args = std::move(args),
  };
}

}  // namespace

void AddAclCommands(std::vector<CommandSpec>* out) {
  const uint32_t kBase = kCmdNoScript | kCmdLoading | kCmdStale;
  const uint32_t kAdmin = kBase | kCmdAdmin;
  CommandSpec acl{
      .name = "acl",
      .arity = -2,
      .handler = CmdAcl,
      .acl_categories = {"@slow"},
      .summary = "A container for Access List Control commands",
      .since = "6.0.0",
      .group = "server",
      .complexity = "Depends on subcommand.",
  };
  acl.subcommands = {
      Sub("cat", -2, kBase, CmdAclCat, "Lists the ACL categories, or the commands inside a category",
          {Arg("category", "string", ArgDoc::kOptional)}),
      Sub("deluser", -3, kAdmin, CmdAclDelUser, "Deletes ACL users, and terminates their connections",
          {Arg("username", "string", ArgDoc::kMultiple)}),
      Sub("dryrun", -4, kAdmin, CmdAclDryRun,
          "Simulates the execution of a command by a user, without executing the command",
          {Arg("username", "string"), Arg("command", "string"),
           Arg("arg", "string", ArgDoc::kOptional | ArgDoc::kMultiple)}),
      Sub("genpass", -2, kBase, CmdAclGenPass,
          "Generates a pseudorandom, secure password that can be used to identify ACL users",
          {Arg("bits", "integer", ArgDoc::kOptional)}),
      Sub("getuser", 3, kAdmin, CmdAclGetUser, "Lists the ACL rules of a user",
          {Arg("username", "string")}),
      Sub("help", 2, kCmdLoading | kCmdStale, CmdAclHelp,
          "Returns helpful text about the different subcommands"),
      Sub("list", 2, kAdmin, CmdAclList, "Dumps the effective rules in ACL file format"),
      Sub("load", 2, kAdmin, CmdAclLoad, "Reloads the rules from the configured ACL file"),
      Sub("log", -2, kAdmin, CmdAclLog, "Lists recent security events generated due to ACL rules",
          {ArgDoc{.name = "operation", .type = "oneof", .flags = ArgDoc::kOptional,
                  .args = {Arg("count", "integer"),
                           ArgDoc{.name = "reset", .type = "pure-token", .token = "RESET"}}}}),
      Sub("save", 2, kAdmin, CmdAclSave, "Saves the effective ACL rules in the configured ACL file"),
      Sub("setuser", -3, kAdmin, CmdAclSetUser, "Creates and modifies an ACL user and its rules",
          {Arg("username", "string"), Arg("rule", "string", ArgDoc::kOptional | ArgDoc::kMultiple)}),
      Sub("users", 2, kAdmin, CmdAclUsers, "Lists all ACL users"),
      Sub("whoami", 2, kBase, CmdAclWhoami,
          "Returns the authenticated username of the current connection"),
  };
  out->push_back(std::move(acl));
}

}  // namespace lockd
