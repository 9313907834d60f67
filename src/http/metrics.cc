// The Prometheus exposition of lockd's counters (see metrics.h). Names are
// lockd_<what>, counters end in _total, durations are in seconds; the
// figures are those INFO shows, read from the same places.
#include "http/metrics.h"

#include <malloc.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <iterator>

#include "cmd/command_table.h"

namespace lockd::http {

namespace {

class Exposition {
 public:
  explicit Exposition(std::string* out) : out_(out) {}

  // HELP and TYPE lines, once per metric family.
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(*out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename T>
  void Sample(std::string_view name, T value, std::string_view labels = {}) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(*out_), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(*out_), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  template <typename T>
  void One(std::string_view name, std::string_view type, std::string_view help, T value) {
    Family(name, type, help);
    Sample(name, value);
  }
  // One histogram's samples: a cumulative `_bucket` per bound (microseconds,
  // written in seconds), `+Inf`, `_sum` and `_count`. `at_most(i)` counts the
  // observations at or under bounds_micros[i]; `labels` (may be empty) comes
  // before `le` on every sample.
  template <typename Bound, size_t N, typename AtMost>
  void Histogram(std::string_view family, std::string_view labels,
                 const Bound (&bounds_micros)[N], AtMost&& at_most, uint64_t count,
                 double sum_seconds) {
    const std::string bucket = fmt::format("{}_bucket", family);
    const std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < N; ++i) {
      Sample(bucket, at_most(i),
             fmt::format("{}{}le=\"{}\"", labels, sep,
                         static_cast<double>(bounds_micros[i]) / 1e6));
    }
    Sample(bucket, count, fmt::format("{}{}le=\"+Inf\"", labels, sep));
    Sample(fmt::format("{}_sum", family), sum_seconds, labels);
    Sample(fmt::format("{}_count", family), count, labels);
  }

 private:
  std::string* out_;
};

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Bucket bounds of the command latency histograms, in microseconds.
constexpr uint64_t kCommandBoundsMicros[] = {10,    25,    50,     100,    250,    500,
                                             1000,  2500,  5000,   10000,  25000,  50000,
                                             100000, 250000, 500000, 1000000};

template <typename Visit>
void ForEachSpec(Visit&& visit) {
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    visit(*spec);
    for (const CommandSpec& sub : spec->subcommands) visit(sub);
  }
}

}  // namespace

std::string Unhealthy(Commands& commands) {
  if (commands.durability().loading()) return "loading";
  if (commands.durability().refusing_writes()) return commands.durability().misconf_error();
  return "";
}

std::string RenderMetrics(Commands& commands, MonoTime now) {
  std::string text;
  Exposition e(&text);
  Engine& engine = commands.engine();
  const EngineStats& es = engine.stats();
  ServerStatus st = commands.server().Stats();
  aof::Durability& log = commands.durability();

  // Locks.
  e.One("lockd_locks_held", "gauge", "Keys held right now.", engine.size());
  e.One("lockd_lock_waiters", "gauge", "Clients waiting for a held key.", engine.waiter_count());
  e.One("lockd_lock_grants_total", "counter", "Tokens issued, hand-offs included.", es.grants);
  e.One("lockd_lock_renewals_total", "counter", "Renewals and re-acquires by the holder.",
        es.renewals);
  e.One("lockd_lock_releases_total", "counter", "Successful releases.", es.releases);
  e.One("lockd_lock_expiries_total", "counter", "Leases freed because their deadline passed.",
        es.expiries);
  e.One("lockd_lock_handoffs_total", "counter", "Grants made to a waiter when a key freed.",
        es.handoffs);
  e.One("lockd_lock_wait_timeouts_total", "counter", "Waits that ended without the key.",
        es.wait_timeouts);
  e.One("lockd_lock_last_token", "gauge", "The last fencing token issued.", engine.last_token());
  e.One("lockd_lock_restart_delay_seconds", "gauge",
        "Restart lock-delay left: no key is granted before it ends.",
        static_cast<double>(log.restart_delay_ms(now)) / 1000.0);

  // Commands, by name: one counter family per CallStats field, over the
  // commands that were ever called.
  auto per_command = [&](std::string_view family, std::string_view help,
                         uint64_t CallStats::*field) {
    e.Family(family, "counter", help);
    ForEachSpec([&](const CommandSpec& spec) {
      const CallStats& c = commands.call_stats(spec);
      if (c.calls == 0 && c.rejected_calls == 0 && c.failed_calls == 0) return;
      e.Sample(family, c.*field, fmt::format("cmd=\"{}\"", spec.full_name));
    });
  };
  per_command("lockd_command_calls_total", "Calls of each command.", &CallStats::calls);
  per_command("lockd_command_rejected_calls_total",
              "Calls refused before they ran (arity, auth, loading, ...).",
              &CallStats::rejected_calls);
  per_command("lockd_command_failed_calls_total", "Calls that replied an error.",
              &CallStats::failed_calls);
  e.Family("lockd_command_duration_seconds", "histogram",
           "Time each command took to run (bucket bounds within 6%).");
  ForEachSpec([&](const CommandSpec& spec) {
    const CallStats& c = commands.call_stats(spec);
    const LatencyHistogram* h = c.latency.get();
    if (h == nullptr || h->count() == 0) return;
    e.Histogram(
        "lockd_command_duration_seconds", fmt::format("cmd=\"{}\"", spec.full_name),
        kCommandBoundsMicros, [&](size_t i) { return h->CountAtMost(kCommandBoundsMicros[i]); },
        h->count(), static_cast<double>(c.micros) / 1e6);
  });
  const CommandStats& cs = commands.stats();
  e.One("lockd_commands_processed_total", "counter", "Commands run.", cs.commands_processed);
  e.One("lockd_error_replies_total", "counter", "Error replies sent.", cs.error_replies);

  // Clients.
  e.One("lockd_connected_clients", "gauge", "Client connections, RESP and HTTP.",
        st.connected_clients);
  e.One("lockd_blocked_clients", "gauge", "Clients waiting for a lock.", engine.waiter_count());
  e.One("lockd_connections_received_total", "counter", "Connections accepted.",
        st.total_connections_received);
  e.One("lockd_rejected_connections_total", "counter", "Connections refused by maxclients.",
        st.rejected_connections);
  e.One("lockd_net_input_bytes_total", "counter", "Bytes read from clients.",
        st.total_net_input_bytes);
  e.One("lockd_net_output_bytes_total", "counter", "Bytes written to clients.",
        st.total_net_output_bytes);

  // Memory.
  struct mallinfo2 mi = mallinfo2();
  e.One("lockd_memory_used_bytes", "gauge", "Bytes allocated (INFO used_memory).",
        mi.uordblks + mi.hblkhd);
  e.One("lockd_memory_rss_bytes", "gauge", "Resident set size.", ResidentBytes());

  // The log.
  e.One("lockd_loading", "gauge", "1 while the log is being loaded.", log.loading() ? 1 : 0);
  e.One("lockd_log_size_bytes", "gauge", "Size of the append-only log.", log.log_size());
  e.One("lockd_log_write_failing", "gauge", "1 while the log cannot be written.",
        log.refusing_writes() ? 1 : 0);
  e.One("lockd_log_rewrites_total", "counter", "Log rewrites finished.", log.rewrites());
  e.One("lockd_log_rewrite_in_progress", "gauge", "1 while a rewrite runs.",
        log.rewriting() ? 1 : 0);
  aof::SyncLatency::Snapshot sync = log.sync_latency().Read();
  e.Family("lockd_log_fsync_duration_seconds", "histogram", "Time each fdatasync of the log took.");
  e.Histogram("lockd_log_fsync_duration_seconds", "", aof::SyncLatency::kBoundsMicros,
              [&](size_t i) { return sync.at_most[i]; }, sync.count,
              static_cast<double>(sync.sum_micros) / 1e6);
  return text;
}

}  // namespace lockd::http
