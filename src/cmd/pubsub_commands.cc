// Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
// PUBLISH and PUBSUB, with Redis 7.0's replies. The registry and message
// format are in pubsub.{h,cc}; the subscribed-mode rule of RESP2 clients is
// the dispatcher's (commands.cc).
#include <fmt/format.h>

#include <array>

#include "cmd/commands.h"
#include "cmd/pubsub.h"
#include "util/errors.h"

namespace lockd {

namespace {

void CmdSubscribe(CommandContext& ctx) {
  for (size_t i = 1; i < ctx.argc(); ++i) {
    ctx.commands.pubsub().Subscribe(ctx.session, ctx.argv[i]);
    PubSub::ReplySubscription(ctx.session, "subscribe", ctx.argv[i]);
  }
}

void CmdPSubscribe(CommandContext& ctx) {
  for (size_t i = 1; i < ctx.argc(); ++i) {
    ctx.commands.pubsub().PSubscribe(ctx.session, ctx.argv[i]);
    PubSub::ReplySubscription(ctx.session, "psubscribe", ctx.argv[i]);
  }
}

// UNSUBSCRIBE and PUNSUBSCRIBE: the names given, or every subscription of
// the kind; with none to remove, one reply with a null name (Redis's rule).
void UnsubscribeGeneric(CommandContext& ctx, bool patterns) {
  PubSub& pubsub = ctx.commands.pubsub();
  Session& s = ctx.session;
  const char* kind = patterns ? "punsubscribe" : "unsubscribe";
  auto remove = [&](std::string_view name) {
    if (patterns) {
      pubsub.PUnsubscribe(s, name);
    } else {
      pubsub.Unsubscribe(s, name);
    }
    PubSub::ReplySubscription(s, kind, name);
  };
  if (ctx.argc() > 1) {
    for (size_t i = 1; i < ctx.argc(); ++i) remove(ctx.argv[i]);
    return;
  }
  const std::vector<std::string>& mine = patterns ? s.patterns : s.channels;
  if (mine.empty()) return PubSub::ReplySubscription(s, kind, "", /*null_name=*/true);
  pubsub.UnsubscribeAll(s, patterns, [&](std::string_view name, size_t left) {
    PubSub::ReplySubscription(s, kind, name, left, /*null_name=*/false);
  });
}

void CmdUnsubscribe(CommandContext& ctx) { UnsubscribeGeneric(ctx, false); }
void CmdPUnsubscribe(CommandContext& ctx) { UnsubscribeGeneric(ctx, true); }

void CmdPublish(CommandContext& ctx) {
  size_t receivers = ctx.commands.pubsub().Publish(ctx.argv[1], ctx.argv[2]);
  ctx.reply().Integer(static_cast<int64_t>(receivers));
}

// Redis's reply to PUBSUB CHANNELS with too many arguments.
void ReplySubcommandSyntax(CommandContext& ctx) {
  ctx.Error(fmt::format(fmt::runtime(errors::kSubcommandSyntaxFormat), ctx.argv[1].substr(0, 128),
                        "PUBSUB"));
}

void CmdPubsubChannels(CommandContext& ctx) {
  std::string_view pattern = ctx.argc() > 2 ? ctx.argv[2] : "*";
  if (ctx.argc() > 3) return ReplySubcommandSyntax(ctx);
  std::vector<std::string> names = ctx.commands.pubsub().Channels(pattern);
  ctx.reply().Array(names.size());
  for (const std::string& name : names) ctx.reply().Bulk(name);
}

void CmdPubsubNumsub(CommandContext& ctx) {
  ctx.reply().Array((ctx.argc() - 2) * 2);
  for (size_t i = 2; i < ctx.argc(); ++i) {
    ctx.reply().Bulk(ctx.argv[i]);
    ctx.reply().Integer(static_cast<int64_t>(ctx.commands.pubsub().NumSub(ctx.argv[i])));
  }
}

void CmdPubsubNumpat(CommandContext& ctx) {
  ctx.reply().Integer(static_cast<int64_t>(ctx.commands.pubsub().NumPat()));
}

// lockd has no cluster, hence no shard channels: always none.
void CmdPubsubShardChannels(CommandContext& ctx) {
  if (ctx.argc() > 3) return ReplySubcommandSyntax(ctx);
  ctx.reply().Array(0);
}

void CmdPubsubShardNumsub(CommandContext& ctx) {
  ctx.reply().Array((ctx.argc() - 2) * 2);
  for (size_t i = 2; i < ctx.argc(); ++i) {
    ctx.reply().Bulk(ctx.argv[i]);
    ctx.reply().Integer(0);
  }
}

void CmdPubsubHelp(CommandContext& ctx) {
  static constexpr std::array<const char*, 14> kLines = {
      "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CHANNELS [<pattern>]",
      "    Return the currently active channels matching a <pattern> (default: '*').",
      "NUMPAT",
      "    Return number of subscriptions to patterns.",
      "NUMSUB [<channel> ...]",
      "    Return the number of subscribers for the specified channels, excluding",
      "    pattern subscriptions(default: no channels).",
      "SHARDCHANNELS [<pattern>]",
      "    Return the currently active shard level channels matching a <pattern> (default: '*').",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Return the number of subscribers for the specified shard level channel(s)",
      "HELP",
      "    Prints this help.",
  };
  ctx.Help(kLines);
}

void CmdPubsub(CommandContext& ctx) { ctx.Error(errors::kSyntax); }

ArgDoc Arg(const char* name, const char* type, uint8_t flags = 0) {
  return ArgDoc{.name = name, .type = type, .flags = flags};
}

CommandSpec PubSubCommand(const char* name, int arity, uint32_t flags, CommandHandler handler,
                          const char* summary, std::vector<ArgDoc> args, const char* complexity) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = handler,
      .acl_categories = {"@pubsub", "@slow"},
      .summary = summary,
      .since = "2.0.0",
      .group = "pubsub",
      .complexity = complexity,
      .args = std::move(args),
  };
}

CommandSpec PubsubSub(const char* name, int arity, CommandHandler handler, const char* summary,
                      std::vector<ArgDoc> args = {}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = kCmdPubSub | kCmdLoading | kCmdStale,
      .handler = handler,
      .acl_categories = {"@pubsub", "@slow"},
      .summary = summary,
      .since = "2.8.0",
      .group = "pubsub",
      .complexity = "O(N)",
      .args = std::move(args),
  };
}

}  // namespace

void AddPubSubCommands(std::vector<CommandSpec>* out) {
  constexpr uint32_t kSubscribeFlags = kCmdPubSub | kCmdNoScript | kCmdLoading | kCmdStale;
  out->push_back(PubSubCommand("subscribe", -2, kSubscribeFlags, CmdSubscribe,
                               "Listens for messages published to channels",
                               {Arg("channel", "string", ArgDoc::kMultiple)},
                               "O(N) where N is the number of channels to subscribe to."));
  out->push_back(PubSubCommand("unsubscribe", -1, kSubscribeFlags, CmdUnsubscribe,
                               "Stops listening to messages posted to channels",
                               {Arg("channel", "string", ArgDoc::kOptional | ArgDoc::kMultiple)},
                               "O(N) where N is the number of channels to unsubscribe."));
  out->push_back(PubSubCommand("psubscribe", -2, kSubscribeFlags, CmdPSubscribe,
                               "Listens for messages published to channels that match one or "
                               "more patterns",
                               {Arg("pattern", "pattern", ArgDoc::kMultiple)},
                               "O(N) where N is the number of patterns to subscribe to."));
  out->push_back(PubSubCommand("punsubscribe", -1, kSubscribeFlags, CmdPUnsubscribe,
                               "Stops listening to messages published to channels that match "
                               "one or more patterns",
                               {Arg("pattern", "pattern", ArgDoc::kOptional | ArgDoc::kMultiple)},
                               "O(N) where N is the number of patterns to unsubscribe."));
  CommandSpec publish = PubSubCommand(
      "publish", 3, kCmdPubSub | kCmdLoading | kCmdStale | kCmdFast, CmdPublish,
      "Posts a message to a channel", {Arg("channel", "string"), Arg("message", "string")},
      "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the "
      "total number of subscribed patterns (by any client).");
  publish.acl_categories = {"@pubsub", "@fast"};
  out->push_back(std::move(publish));

  CommandSpec pubsub = PubSubCommand("pubsub", -2, 0, CmdPubsub, "A container for Pub/Sub commands",
                                     {}, "Depends on subcommand.");
  // A container's own categories are only @slow, as in Redis.
  pubsub.acl_categories = {"@slow"};
  pubsub.subcommands = {
      PubsubSub("channels", -2, CmdPubsubChannels, "Returns the active channels",
                {Arg("pattern", "pattern", ArgDoc::kOptional)}),
      PubsubSub("numsub", -2, CmdPubsubNumsub, "Returns a count of subscribers to channels",
                {Arg("channel", "string", ArgDoc::kOptional | ArgDoc::kMultiple)}),
      PubsubSub("numpat", 2, CmdPubsubNumpat, "Returns a count of unique pattern subscriptions"),
      PubsubSub("shardchannels", -2, CmdPubsubShardChannels, "Returns the active shard channels",
                {Arg("pattern", "pattern", ArgDoc::kOptional)}),
      PubsubSub("shardnumsub", -2, CmdPubsubShardNumsub,
                "Returns the count of subscribers of shard channels",
                {Arg("shardchannel", "string", ArgDoc::kOptional | ArgDoc::kMultiple)}),
      PubsubSub("help", 2, CmdPubsubHelp, "Returns helpful text about the different subcommands"),
  };
  out->push_back(std::move(pubsub));
}

}  // namespace lockd
