// CLUSTER, READONLY, READWRITE, ASKING: lockd is never a cluster, and says so
// as a Redis 7.0 started without cluster-enabled does, so that clients that
// probe for cluster mode on connect (or send READONLY) get the error they
// expect instead of "unknown command".
#include "cmd/commands.h"
#include "util/errors.h"

namespace lockd {

namespace {

void CmdClusterDisabled(CommandContext& ctx) { ctx.Error(errors::kClusterDisabled); }

CommandSpec ClusterCommand(const char* name, int arity, uint32_t flags, const char* summary,
                           const char* since, std::vector<std::string> acl = {"@slow"}) {
  return CommandSpec{
      .name = name,
      .arity = arity,
      .flags = flags,
      .handler = CmdClusterDisabled,
      .acl_categories = std::move(acl),
      .summary = summary,
      .since = since,
      .group = "cluster",
      .complexity = "O(1)",
  };
}

}  // namespace

void AddClusterCommands(std::vector<CommandSpec>* out) {
  const uint32_t kConn = kCmdFast | kCmdLoading | kCmdStale;
  out->push_back(ClusterCommand("readonly", 1, kConn,
                                "Enables read-only queries for a connection to a Redis Cluster "
                                "replica node",
                                "3.0.0", {"@fast", "@connection"}));
  out->push_back(ClusterCommand("readwrite", 1, kConn,
                                "Enables read-write queries for a connection to a Redis Cluster "
                                "replica node",
                                "3.0.0", {"@fast", "@connection"}));
  out->push_back(ClusterCommand("asking", 1, kCmdFast,
                                "Signals that a cluster client is following an -ASK redirect",
                                "3.0.0", {"@fast", "@connection"}));
  CommandSpec cluster = ClusterCommand("cluster", -2, 0, "A container for Redis Cluster commands",
                                       "3.0.0");
  cluster.complexity = "Depends on subcommand.";
  // Redis 7.0's subcommands and arities: an unknown one, or a known one with
  // the wrong arity, is refused by the dispatcher in Redis's words; any
  // other says that cluster support is disabled.
  static const std::pair<const char*, int> kSubcommands[] = {
      {"addslots", -3},       {"addslotsrange", -4}, {"bumpepoch", 2},
      {"count-failure-reports", 3}, {"countkeysinslot", 3}, {"delslots", -3},
      {"delslotsrange", -4},  {"failover", -2},      {"flushslots", 2},
      {"forget", 3},          {"getkeysinslot", 4},  {"help", 2},
      {"info", 2},            {"keyslot", 3},        {"links", 2},
      {"meet", -4},           {"myid", 2},           {"nodes", 2},
      {"replicas", 3},        {"replicate", 3},      {"reset", -2},
      {"saveconfig", 2},      {"set-config-epoch", 3}, {"setslot", -4},
      {"shards", 2},          {"slaves", 3},         {"slots", 2},
  };
  for (const auto& [name, arity] : kSubcommands) {
    cluster.subcommands.push_back(ClusterCommand(name, arity, kCmdLoading | kCmdStale,
                                                 "Cluster support is disabled in lockd", "3.0.0"));
  }
  out->push_back(std::move(cluster));
}

}  // namespace lockd
