// INFO: Redis's sections and field names where they apply, so that client
// ready-checks (loading:0) and the Prometheus redis_exporter can read lockd,
// plus a "# Locks" section of lockd's own. Commandstats, errorstats and
// latencystats come from the dispatcher's counters (cmd/command_stats.h).
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>

#include "util/strings.h"
#include "cmd/commands.h"
#include "cmd/script_commands.h"
#include "util/version.h"

namespace lockd {

namespace {

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

std::string HumanBytes(double n) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{}B", static_cast<int64_t>(n)) : fmt::format("{:.2f}{}", n, units[u]);
}

struct Section {
  const char* name;
  const char* title;
  bool in_default;  // INFO and INFO default; INFO all and everything show every section
  void (*write)(CommandContext& ctx, std::string* out);
};

void WriteServer(CommandContext& ctx, std::string* out) {
  ServerStatus st = ctx.server().Stats();
  struct utsname u;
  uname(&u);
  int64_t uptime = (ctx.now.us - ctx.commands.started().us) / 1'000'000;
  WallTime wall = ctx.commands.clock().WallNow();
  *out += fmt::format(
      "redis_version:{}\r\nlockd_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
      "redis_mode:standalone\r\nos:{} {} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX "
      "clock_gettime\r\nmultiplexing_api:epoll\r\ngcc_version:{}.{}.{}\r\nprocess_id:{}\r\n"
      "process_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\n"
      "uptime_in_seconds:{}\r\n"
      "uptime_in_days:{}\r\nhz:0\r\nconfigured_hz:0\r\nexecutable:{}\r\nconfig_file:{}\r\n"
      "io_threads_active:0\r\n",
      kCompatibleRedisVersion, kLockdVersion, u.sysname, u.release, u.machine, __GNUC__,
      __GNUC_MINOR__, __GNUC_PATCHLEVEL__, getpid(), ctx.commands.run_id(), st.tcp_port, wall.us, uptime,
      uptime / 86400, st.executable, st.config_file);
}

void WriteClients(CommandContext& ctx, std::string* out) {
  ServerStatus st = ctx.server().Stats();
  *out += fmt::format(
      "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n"
      "blocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:{}\r\n"
      "paused_reading_clients:{}\r\n",
      st.connected_clients, ctx.config().maxclients, ctx.engine().waiter_count(),
      ctx.engine().waiter_count(), st.paused_reading_clients);
}

void WriteMemory(CommandContext& ctx, std::string* out) {
  struct mallinfo2 mi = mallinfo2();
  size_t used = mi.uordblks + mi.hblkhd;
  size_t rss = ResidentBytes();
  *out += fmt::format(
      "used_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\nused_memory_rss_human:{}"
      "\r\nused_memory_peak:{}\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
      "maxmemory_policy:noeviction\r\nmem_fragmentation_ratio:{:.2f}\r\nmem_allocator:libc\r\n",
      used, HumanBytes(static_cast<double>(used)), rss, HumanBytes(static_cast<double>(rss)), used,
      used ? static_cast<double>(rss) / static_cast<double>(used) : 0.0);
  // Redis's script memory fields; before the first script the interpreter
  // does not exist yet.
  const ScriptState* scripts = ctx.commands.scripts_if_started();
  size_t lua = scripts ? scripts->scripting.lua_memory() : 0;
  *out += fmt::format(
      "used_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\n"
      "used_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\n",
      lua, lua, HumanBytes(static_cast<double>(lua)),
      scripts ? scripts->scripting.scripts_memory() : 0,
      scripts ? scripts->scripting.cached_scripts() : 0);
}

void WritePersistence(CommandContext& ctx, std::string* out) {
  ctx.commands.durability().WriteInfo(out, ctx.now);
}

void WriteStats(CommandContext& ctx, std::string* out) {
  ServerStatus st = ctx.server().Stats();
  const CommandStats& cs = ctx.commands.stats();
  const EngineStats& es = ctx.engine().stats();
  *out += fmt::format(
      "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
      "instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n"
      "instantaneous_input_kbps:{:.2f}\r\ninstantaneous_output_kbps:{:.2f}\r\n"
      "rejected_connections:{}\r\n"
      "expired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n"
      "pubsub_channels:{}\r\npubsub_patterns:{}\r\ntotal_error_replies:{}\r\n"
      "unexpected_error_replies:0\r\ntotal_forks:{}\r\nlatest_fork_usec:{}\r\n"
      "sync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
      st.total_connections_received, cs.commands_processed,
      static_cast<int64_t>(ctx.commands.ops_per_sec()), st.total_net_input_bytes,
      st.total_net_output_bytes, ctx.commands.input_kbps(), ctx.commands.output_kbps(),
      st.rejected_connections, es.expiries, cs.keyspace_hits, cs.keyspace_misses,
      ctx.commands.pubsub().NumChannels(), ctx.commands.pubsub().NumPat(), cs.error_replies,
      ctx.commands.durability().rewriter().total_forks(),
      ctx.commands.durability().rewriter().latest_fork_usec(),
      ctx.commands.replication().sync_full(), ctx.commands.replication().sync_partial_ok(),
      ctx.commands.replication().sync_partial_err());
}

void WriteReplication(CommandContext& ctx, std::string* out) {
  ctx.commands.replication().WriteInfo(out, ctx.now);
}

void WriteCpu(CommandContext&, std::string* out) {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  *out += fmt::format("used_cpu_sys:{:.6f}\r\nused_cpu_user:{:.6f}\r\n", seconds(self.ru_stime),
                      seconds(self.ru_utime));
}

// Calls `visit` for every command and subcommand, in the table's order.
template <typename Visit>
void ForEachSpec(Visit&& visit) {
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    visit(*spec);
    for (const CommandSpec& sub : spec->subcommands) visit(sub);
  }
}

void WriteCommandStats(CommandContext& ctx, std::string* out) {
  ForEachSpec([&](const CommandSpec& spec) {
    const CallStats& c = ctx.commands.call_stats(spec);
    if (c.calls == 0 && c.rejected_calls == 0 && c.failed_calls == 0) return;
    double per_call = c.calls ? static_cast<double>(c.micros) / static_cast<double>(c.calls) : 0;
    *out += fmt::format(
        "cmdstat_{}:calls={},usec={},usec_per_call={:.2f},rejected_calls={},failed_calls={}\r\n",
        spec.full_name, c.calls, c.micros, per_call, c.rejected_calls, c.failed_calls);
  });
}

void WriteErrorStats(CommandContext& ctx, std::string* out) {
  for (const auto& [code, count] : ctx.commands.error_counts().counts()) {
    *out += fmt::format("errorstat_{}:count={}\r\n", code, count);
  }
}

void WriteLatencyStats(CommandContext& ctx, std::string* out) {
  ForEachSpec([&](const CommandSpec& spec) {
    const LatencyHistogram* h = ctx.commands.call_stats(spec).latency.get();
    if (h == nullptr || h->count() == 0) return;
    auto at = [h](double p) { return static_cast<double>(h->ValueAtPercentile(p)); };
    *out += fmt::format("latency_percentiles_usec_{}:p50={:.3f},p99={:.3f},p99.9={:.3f}\r\n",
                        spec.full_name, at(50), at(99), at(99.9));
  });
}

void WriteNothing(CommandContext&, std::string*) {}

void WriteCluster(CommandContext&, std::string* out) { *out += "cluster_enabled:0\r\n"; }

void WriteKeyspace(CommandContext& ctx, std::string* out) {
  size_t keys = ctx.engine().size();
  if (keys == 0) return;
  // "expires": the locks with a deadline (SET without one and PERSIST make
  // locks without).
  *out += fmt::format("db0:keys={},expires={},avg_ttl=0\r\n", keys,
                      keys - ctx.engine().leases_without_deadline());
}

void WriteLocks(CommandContext& ctx, std::string* out) {
  const EngineStats& es = ctx.engine().stats();
  *out += fmt::format(
      "locks_held:{}\r\nlocks_waiters:{}\r\nlocks_grants:{}\r\nlocks_renewals:{}\r\n"
      "locks_releases:{}\r\nlocks_expiries:{}\r\nlocks_handoffs:{}\r\nlocks_wait_timeouts:{}\r\n"
      "locks_last_token:{}\r\n",
      ctx.engine().size(), ctx.engine().waiter_count(), es.grants, es.renewals, es.releases,
      es.expiries, es.handoffs, es.wait_timeouts, ctx.engine().last_token());
}

// Redis 7.0's sections in its order, then lockd's own.
const Section kSections[] = {
    {"server", "Server", true, WriteServer},
    {"clients", "Clients", true, WriteClients},
    {"memory", "Memory", true, WriteMemory},
    {"persistence", "Persistence", true, WritePersistence},
    {"stats", "Stats", true, WriteStats},
    {"replication", "Replication", true, WriteReplication},
    {"cpu", "CPU", true, WriteCpu},
    {"modules", "Modules", true, WriteNothing},
    {"commandstats", "Commandstats", false, WriteCommandStats},
    {"errorstats", "Errorstats", true, WriteErrorStats},
    {"latencystats", "Latencystats", false, WriteLatencyStats},
    {"cluster", "Cluster", true, WriteCluster},
    {"keyspace", "Keyspace", true, WriteKeyspace},
    {"locks", "Locks", true, WriteLocks},
};

void CmdInfo(CommandContext& ctx) {
  // As Redis: no argument means "default"; "all" and "everything" add the
  // sections left out by default (lockd has no module sections, so they are
  // the same); any number of names may be given, unknown ones are ignored.
  bool defaults = ctx.argc() == 1;
  bool every = false;
  std::vector<bool> wanted(std::size(kSections), false);
  for (size_t i = 1; i < ctx.argc(); ++i) {
    std::string_view arg = ctx.argv[i];
    if (EqualsIgnoreCase(arg, "all") || EqualsIgnoreCase(arg, "everything")) every = true;
    if (EqualsIgnoreCase(arg, "default")) defaults = true;
    for (size_t s = 0; s < std::size(kSections); ++s) {
      if (EqualsIgnoreCase(arg, kSections[s].name)) wanted[s] = true;
    }
  }
  ctx.commands.SampleRates(ctx.now);
  std::string out;
  for (size_t s = 0; s < std::size(kSections); ++s) {
    if (!every && !(defaults && kSections[s].in_default) && !wanted[s]) continue;
    if (!out.empty()) out += "\r\n";
    out += fmt::format("# {}\r\n", kSections[s].title);
    kSections[s].write(ctx, &out);
  }
  ctx.reply().Verbatim(out);
}

}  // namespace

void AddInfoCommand(std::vector<CommandSpec>* out) {
  out->push_back(CommandSpec{
      .name = "info",
      .arity = -1,
      .flags = kCmdLoading | kCmdStale,
      .handler = CmdInfo,
      .acl_categories = {"@slow", "@dangerous"},
      .summary = "Returns information and statistics about the server",
      .since = "1.0.0",
      .group = "server",
      .complexity = "O(1)",
      .args = {ArgDoc{.name = "section", .type = "string",
                      .flags = ArgDoc::kOptional | ArgDoc::kMultiple}},
  });
}

}  // namespace lockd
