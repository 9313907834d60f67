// INFO: Redis's sections and field names where they apply, so that client
// ready-checks (loading:0) and the Prometheus redis_exporter can read lockd,
// plus a "# Locks" section of lockd's own.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>

#include "util/strings.h"
#include "cmd/commands.h"
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
  bool in_default;
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
      "process_supervised:no\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\n"
      "uptime_in_days:{}\r\nhz:0\r\nconfigured_hz:0\r\nexecutable:{}\r\nconfig_file:{}\r\n"
      "io_threads_active:0\r\n",
      kCompatibleRedisVersion, kLockdVersion, u.sysname, u.release, u.machine, __GNUC__,
      __GNUC_MINOR__, __GNUC_PATCHLEVEL__, getpid(), st.tcp_port, wall.us, uptime,
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
  (void)ctx;
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
      "total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\n"
      "expired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:0\r\nkeyspace_misses:0\r\n"
      "pubsub_channels:0\r\npubsub_patterns:0\r\ntotal_error_replies:{}\r\n"
      "unexpected_error_replies:0\r\n",
      st.total_connections_received, cs.commands_processed, st.total_net_input_bytes,
      st.total_net_output_bytes, st.rejected_connections, es.expiries, cs.error_replies);
}

void WriteReplication(CommandContext&, std::string* out) {
  *out += "role:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n";
}

void WriteCpu(CommandContext&, std::string* out) {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  *out += fmt::format("used_cpu_sys:{:.6f}\r\nused_cpu_user:{:.6f}\r\n", seconds(self.ru_stime),
                      seconds(self.ru_utime));
}

void WriteKeyspace(CommandContext& ctx, std::string* out) {
  size_t keys = ctx.engine().size();
  if (keys == 0) return;
  // Every lock with a deadline counts as "expires"; keys without one only
  // arise from later SET/PERSIST support, so this is exact for now.
  *out += fmt::format("db0:keys={},expires={},avg_ttl=0\r\n", keys, keys);
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

const Section kSections[] = {
    {"server", true, WriteServer},           {"clients", true, WriteClients},
    {"memory", true, WriteMemory},           {"persistence", true, WritePersistence},
    {"stats", true, WriteStats},             {"replication", true, WriteReplication},
    {"cpu", true, WriteCpu},                 {"keyspace", true, WriteKeyspace},
    {"locks", true, WriteLocks},
};

void CmdInfo(CommandContext& ctx) {
  bool all = ctx.argc() == 1;
  std::vector<bool> wanted(std::size(kSections), false);
  for (size_t i = 1; i < ctx.argc(); ++i) {
    std::string_view arg = ctx.argv[i];
    if (EqualsIgnoreCase(arg, "all") || EqualsIgnoreCase(arg, "everything") ||
        EqualsIgnoreCase(arg, "default")) {
      all = true;
    }
    for (size_t s = 0; s < std::size(kSections); ++s) {
      if (EqualsIgnoreCase(arg, kSections[s].name)) wanted[s] = true;
    }
  }
  std::string out;
  for (size_t s = 0; s < std::size(kSections); ++s) {
    if (!(all && kSections[s].in_default) && !wanted[s]) continue;
    if (!out.empty()) out += "\r\n";
    std::string title = kSections[s].name;
    title[0] = static_cast<char>(title[0] - 'a' + 'A');
    out += "# " + title + "\r\n";
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
