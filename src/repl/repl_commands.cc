// The replication commands: REPLICAOF (and its old name SLAVEOF), PSYNC and
// REPLCONF, with Redis 7.0's arguments, replies and errors. WAIT, ROLE and
// INFO replication live with their families and call into the same
// ReplicationSource.
#include <fmt/format.h>

#include "cmd/command_table.h"
#include "cmd/commands.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/strings.h"

namespace lockd {

namespace {

void CmdReplicaOf(CommandContext& ctx) {
  repl::PrimaryLink* link = ctx.commands.replication().link();
  if (EqualsIgnoreCase(ctx.argv[1], "no") && EqualsIgnoreCase(ctx.argv[2], "one")) {
    ctx.config().compat["replicaof"] = "";  // what CONFIG REWRITE writes
    if (link != nullptr && link->following()) {
      link->Unfollow();
      Log(LogLevel::kNotice, "MASTER MODE enabled (user request from 'id={} addr={}')",
          ctx.session.id, ctx.session.addr);
    }
    return ctx.reply().Simple("OK");
  }
  if (ctx.session.replica) return ctx.Error(errors::kReplicaOfFromReplica);
  int64_t port;
  if (!ParseInt64(ctx.argv[2], &port) || port < 0 || port > 65535) {
    return ctx.Error(errors::kInvalidMasterPort);
  }
  if (link == nullptr) return ctx.Error("ERR replication is not available in this process");
  std::string host(ctx.argv[1]);
  if (link->following()) {
    repl::LinkStatus status = link->status();
    if (status.host == host && status.port == port) {
      Log(LogLevel::kNotice, "REPLICAOF would result into synchronization with the master we are "
                             "already connected with. No operation performed.");
      return ctx.reply().Simple("OK Already connected to specified master");
    }
  }
  link->Follow(host, static_cast<int>(port));
  ctx.config().compat["replicaof"] = fmt::format("{} {}", host, port);
  Log(LogLevel::kNotice, "REPLICAOF {}:{} enabled (user request from 'id={} addr={}')", host, port,
      ctx.session.id, ctx.session.addr);
  ctx.reply().Simple("OK");
}

void CmdPsync(CommandContext& ctx) { ctx.commands.replication().Psync(ctx); }

// SYNC is PSYNC's old form: always a full resync.
void CmdSync(CommandContext& ctx) {
  static const std::vector<std::string_view> kArgv = {"psync", "?", "-1"};
  CommandContext psync{ctx.commands, ctx.session, kArgv, ctx.spec, ctx.now, ctx.may_block};
  ctx.commands.replication().Psync(psync);
}

void CmdReplconf(CommandContext& ctx) { ctx.commands.replication().Replconf(ctx); }

CommandSpec ReplicaOfSpec(const char* name, const char* since) {
  return CommandSpec{
      .name = name,
      .arity = 3,
      .flags = kCmdAdmin | kCmdNoScript | kCmdStale,
      .handler = CmdReplicaOf,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "Configures a server as replica of another, or promotes it to a master",
      .since = since,
      .group = "server",
      .complexity = "O(1)",
      .args = {ArgDoc{.name = "host", .type = "string"}, ArgDoc{.name = "port", .type = "integer"}},
  };
}

}  // namespace

void AddReplicationCommands(std::vector<CommandSpec>* out) {
  out->push_back(ReplicaOfSpec("replicaof", "5.0.0"));
  out->push_back(ReplicaOfSpec("slaveof", "1.0.0"));
  out->push_back(CommandSpec{
      .name = "psync",
      .arity = -3,
      .flags = kCmdAdmin | kCmdNoScript | kCmdNoMulti,
      .handler = CmdPsync,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "An internal command used in replication",
      .since = "2.8.0",
      .group = "server",
      .complexity = "",
      .args = {ArgDoc{.name = "replicationid", .type = "string"},
               ArgDoc{.name = "offset", .type = "integer"}},
  });
  out->push_back(CommandSpec{
      .name = "sync",
      .arity = 1,
      .flags = kCmdAdmin | kCmdNoScript | kCmdNoMulti,
      .handler = CmdSync,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "An internal command used in replication",
      .since = "1.0.0",
      .group = "server",
      .complexity = "",
  });
  out->push_back(CommandSpec{
      .name = "replconf",
      .arity = -1,
      .flags = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale | kCmdAllowBusy,
      .handler = CmdReplconf,
      .acl_categories = {"@admin", "@slow", "@dangerous"},
      .summary = "An internal command for configuring the replication stream",
      .since = "3.0.0",
      .group = "server",
      .complexity = "O(1)",
  });
}

}  // namespace lockd
