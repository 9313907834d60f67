// The Redis 7.0 compatibility directives: the generated table, then one
// validator per kind with Redis's parsing rules and error texts.
#include "config/compat_directives.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "config/values.h"

namespace lockd::config_internal {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kULongLongMax = std::numeric_limits<uint64_t>::max();
constexpr bool kRuntime = true;
constexpr bool kImmutable = false;

// Generated from Redis 7.0.15's static_configs[] (hidden debug-only entries
// and those lockd implements in directives.cc left out), defaults from its
// CONFIG GET. Sorted by name.
const CompatSpec kCompat[] = {
    {"acl-pubsub-default", nullptr, kRuntime, false, CompatType::kEnum, "resetchannels", {.values = {{"allchannels", 0}, {"resetchannels", 1}}}},
    {"aclfile", nullptr, kImmutable, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"acllog-max-len", nullptr, kRuntime, false, CompatType::kNumber, "128", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"active-defrag-cycle-max", nullptr, kRuntime, false, CompatType::kNumber, "25", {.lo = 1, .hi = 99, .flags = 0}},
    {"active-defrag-cycle-min", nullptr, kRuntime, false, CompatType::kNumber, "1", {.lo = 1, .hi = 99, .flags = 0}},
    {"active-defrag-ignore-bytes", nullptr, kRuntime, false, CompatType::kNumber, "104857600", {.lo = 1, .hi = kInt64Max, .flags = kMemoryValue | kUnsignedRange}},
    {"active-defrag-max-scan-fields", nullptr, kRuntime, false, CompatType::kNumber, "1000", {.lo = 1, .hi = kInt64Max, .flags = 0}},
    {"active-defrag-threshold-lower", nullptr, kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 1000, .flags = 0}},
    {"active-defrag-threshold-upper", nullptr, kRuntime, false, CompatType::kNumber, "100", {.lo = 0, .hi = 1000, .flags = 0}},
    {"active-expire-effort", nullptr, kRuntime, false, CompatType::kNumber, "1", {.lo = 1, .hi = 10, .flags = 0}},
    {"activedefrag", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"activerehashing", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"always-show-logo", nullptr, kImmutable, false, CompatType::kBool, "no", {}},
    {"aof-disable-auto-gc", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"aof-rewrite-incremental-fsync", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"aof-timestamp-enabled", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"aof-use-rdb-preamble", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"aof_rewrite_cpulist", nullptr, kImmutable, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"appenddirname", nullptr, kImmutable, false, CompatType::kString, "appendonlydir", {.check = StringCheck::kAofDirname}},
    {"bgsave_cpulist", nullptr, kImmutable, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"bind-source-addr", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"bio_cpulist", nullptr, kImmutable, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"cluster-allow-pubsubshard-when-down", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"cluster-allow-reads-when-down", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"cluster-allow-replica-migration", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"cluster-announce-bus-port", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 65535, .flags = 0}},
    {"cluster-announce-hostname", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"cluster-announce-ip", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"cluster-announce-port", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 65535, .flags = 0}},
    {"cluster-announce-tls-port", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 65535, .flags = 0}},
    {"cluster-config-file", nullptr, kImmutable, false, CompatType::kString, "nodes.conf", {.check = StringCheck::kNone}},
    {"cluster-enabled", nullptr, kImmutable, false, CompatType::kBool, "no", {}},
    {"cluster-link-sendbuf-limit", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = kULongLongMax, .flags = kMemoryValue | kUnsignedRange}},
    {"cluster-migration-barrier", nullptr, kRuntime, false, CompatType::kNumber, "1", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"cluster-node-timeout", nullptr, kRuntime, false, CompatType::kNumber, "15000", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"cluster-port", nullptr, kImmutable, false, CompatType::kNumber, "0", {.lo = 0, .hi = 65535, .flags = 0}},
    {"cluster-preferred-endpoint-type", nullptr, kRuntime, false, CompatType::kEnum, "ip", {.values = {{"ip", 0}, {"hostname", 1}, {"unknown-endpoint", 2}}}},
    {"cluster-replica-no-failover", "cluster-slave-no-failover", kRuntime, false, CompatType::kBool, "no", {}},
    {"cluster-replica-validity-factor", "cluster-slave-validity-factor", kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"cluster-require-full-coverage", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"crash-log-enabled", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"crash-memcheck-enabled", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"databases", nullptr, kImmutable, false, CompatType::kNumber, "16", {.lo = 1, .hi = 2147483647, .flags = 0}},
    {"dbfilename", nullptr, kRuntime, false, CompatType::kString, "dump.rdb", {.check = StringCheck::kDbFilename}},
    {"disable-thp", nullptr, kImmutable, false, CompatType::kBool, "yes", {}},
    {"dynamic-hz", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"enable-debug-command", nullptr, kImmutable, false, CompatType::kEnum, "no", {.values = {{"no", 0}, {"yes", 1}, {"local", 2}}}},
    {"enable-module-command", nullptr, kImmutable, false, CompatType::kEnum, "no", {.values = {{"no", 0}, {"yes", 1}, {"local", 2}}}},
    {"enable-protected-configs", nullptr, kImmutable, false, CompatType::kEnum, "no", {.values = {{"no", 0}, {"yes", 1}, {"local", 2}}}},
    {"hash-max-listpack-entries", "hash-max-ziplist-entries", kRuntime, false, CompatType::kNumber, "512", {.lo = 0, .hi = kInt64Max, .flags = kUnsignedRange}},
    {"hash-max-listpack-value", "hash-max-ziplist-value", kRuntime, false, CompatType::kNumber, "64", {.lo = 0, .hi = kInt64Max, .flags = kMemoryValue | kUnsignedRange}},
    {"hll-sparse-max-bytes", nullptr, kRuntime, false, CompatType::kNumber, "3000", {.lo = 0, .hi = kInt64Max, .flags = kMemoryValue | kUnsignedRange}},
    {"hz", nullptr, kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"ignore-warnings", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"io-threads", nullptr, kImmutable, false, CompatType::kNumber, "1", {.lo = 1, .hi = 128, .flags = 0}},
    {"io-threads-do-reads", nullptr, kImmutable, false, CompatType::kBool, "no", {}},
    {"jemalloc-bg-thread", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"latency-monitor-threshold", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"latency-tracking", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"latency-tracking-info-percentiles", nullptr, kRuntime, true, CompatType::kSpecial, "50 99 99.9", {}},
    {"lazyfree-lazy-eviction", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"lazyfree-lazy-expire", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"lazyfree-lazy-server-del", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"lazyfree-lazy-user-del", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"lazyfree-lazy-user-flush", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"lfu-decay-time", nullptr, kRuntime, false, CompatType::kNumber, "1", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"lfu-log-factor", nullptr, kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"list-compress-depth", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"list-max-listpack-size", "list-max-ziplist-size", kRuntime, false, CompatType::kNumber, "-2", {.lo = -2147483648, .hi = 2147483647, .flags = 0}},
    {"masterauth", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"masteruser", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"maxmemory", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = kULongLongMax, .flags = kMemoryValue | kUnsignedRange}},
    {"maxmemory-clients", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = -100, .hi = kInt64Max, .flags = kMemoryValue | kPercentValue}},
    {"maxmemory-eviction-tenacity", nullptr, kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 100, .flags = 0}},
    {"maxmemory-policy", nullptr, kRuntime, false, CompatType::kEnum, "noeviction", {.values = {{"volatile-lru", 0}, {"volatile-lfu", 1}, {"volatile-random", 2}, {"volatile-ttl", 3}, {"allkeys-lru", 4}, {"allkeys-lfu", 5}, {"allkeys-random", 6}, {"noeviction", 7}}}},
    {"maxmemory-samples", nullptr, kRuntime, false, CompatType::kNumber, "5", {.lo = 1, .hi = 2147483647, .flags = 0}},
    {"min-replicas-max-lag", "min-slaves-max-lag", kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"min-replicas-to-write", "min-slaves-to-write", kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"no-appendfsync-on-rewrite", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"notify-keyspace-events", nullptr, kRuntime, false, CompatType::kSpecial, "", {}},
    {"oom-score-adj", nullptr, kRuntime, false, CompatType::kEnum, "no", {.values = {{"no", 0}, {"yes", 1}, {"relative", 1}, {"absolute", 2}}}},
    {"oom-score-adj-values", nullptr, kRuntime, true, CompatType::kSpecial, "0 200 800", {}},
    {"proc-title-template", nullptr, kRuntime, false, CompatType::kString, "{title} {listen-addr} {server-mode}", {.check = StringCheck::kNone}},
    {"propagation-error-behavior", nullptr, kRuntime, false, CompatType::kEnum, "ignore", {.values = {{"ignore", 0}, {"panic", 1}, {"panic-on-replicas", 2}}}},
    {"protected-mode", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"rdb-del-sync-files", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"rdb-save-incremental-fsync", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"rdbchecksum", nullptr, kImmutable, false, CompatType::kBool, "yes", {}},
    {"rdbcompression", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"repl-backlog-size", nullptr, kRuntime, false, CompatType::kNumber, "1048576", {.lo = 1, .hi = kInt64Max, .flags = kMemoryValue}},
    {"repl-backlog-ttl", nullptr, kRuntime, false, CompatType::kNumber, "3600", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"repl-disable-tcp-nodelay", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"repl-diskless-load", nullptr, kRuntime, false, CompatType::kEnum, "disabled", {.values = {{"disabled", 0}, {"on-empty-db", 1}, {"swapdb", 2}}}},
    {"repl-diskless-sync", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"repl-diskless-sync-delay", nullptr, kRuntime, false, CompatType::kNumber, "5", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"repl-diskless-sync-max-replicas", nullptr, kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"repl-ping-replica-period", "repl-ping-slave-period", kRuntime, false, CompatType::kNumber, "10", {.lo = 1, .hi = 2147483647, .flags = 0}},
    {"repl-timeout", nullptr, kRuntime, false, CompatType::kNumber, "60", {.lo = 1, .hi = 2147483647, .flags = 0}},
    {"replica-announce-ip", "slave-announce-ip", kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"replica-announce-port", "slave-announce-port", kRuntime, false, CompatType::kNumber, "0", {.lo = 0, .hi = 65535, .flags = 0}},
    {"replica-announced", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"replica-ignore-disk-write-errors", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"replica-ignore-maxmemory", "slave-ignore-maxmemory", kRuntime, false, CompatType::kBool, "yes", {}},
    {"replica-lazy-flush", "slave-lazy-flush", kRuntime, false, CompatType::kBool, "no", {}},
    {"replica-priority", "slave-priority", kRuntime, false, CompatType::kNumber, "100", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"replica-read-only", "slave-read-only", kRuntime, false, CompatType::kBool, "yes", {}},
    {"replica-serve-stale-data", "slave-serve-stale-data", kRuntime, false, CompatType::kBool, "yes", {}},
    {"replicaof", "slaveof", kImmutable, true, CompatType::kSpecial, "", {}},
    {"sanitize-dump-payload", nullptr, kRuntime, false, CompatType::kEnum, "no", {.values = {{"no", 0}, {"yes", 1}, {"clients", 2}}}},
    {"server_cpulist", nullptr, kImmutable, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"set-max-intset-entries", nullptr, kRuntime, false, CompatType::kNumber, "512", {.lo = 0, .hi = kInt64Max, .flags = kUnsignedRange}},
    {"set-proc-title", nullptr, kImmutable, false, CompatType::kBool, "yes", {}},
    {"shutdown-on-sigint", nullptr, kRuntime, true, CompatType::kEnum, "default", {.values = {{"default", 0}, {"save", 1}, {"nosave", 2}, {"now", 3}, {"force", 4}}}},
    {"shutdown-on-sigterm", nullptr, kRuntime, true, CompatType::kEnum, "default", {.values = {{"default", 0}, {"save", 1}, {"nosave", 2}, {"now", 3}, {"force", 4}}}},
    {"shutdown-timeout", nullptr, kRuntime, false, CompatType::kNumber, "10", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"slowlog-log-slower-than", nullptr, kRuntime, false, CompatType::kNumber, "10000", {.lo = -1, .hi = kInt64Max, .flags = 0}},
    {"slowlog-max-len", nullptr, kRuntime, false, CompatType::kNumber, "128", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"socket-mark-id", nullptr, kImmutable, false, CompatType::kNumber, "0", {.lo = 0, .hi = 4294967295LL, .flags = kUnsignedRange}},
    {"stop-writes-on-bgsave-error", nullptr, kRuntime, false, CompatType::kBool, "yes", {}},
    {"stream-node-max-bytes", nullptr, kRuntime, false, CompatType::kNumber, "4096", {.lo = 0, .hi = kInt64Max, .flags = kMemoryValue | kUnsignedRange}},
    {"stream-node-max-entries", nullptr, kRuntime, false, CompatType::kNumber, "100", {.lo = 0, .hi = kInt64Max, .flags = 0}},
    {"supervised", nullptr, kImmutable, false, CompatType::kEnum, "no", {.values = {{"upstart", 0}, {"systemd", 1}, {"auto", 2}, {"no", 3}}}},
    {"syslog-enabled", nullptr, kImmutable, false, CompatType::kBool, "no", {}},
    {"syslog-facility", nullptr, kImmutable, false, CompatType::kEnum, "local0", {.values = {{"user", 0}, {"local0", 1}, {"local1", 2}, {"local2", 3}, {"local3", 4}, {"local4", 5}, {"local5", 6}, {"local6", 7}, {"local7", 8}}}},
    {"syslog-ident", nullptr, kImmutable, false, CompatType::kString, "redis", {.check = StringCheck::kNone}},
    {"tcp-backlog", nullptr, kImmutable, false, CompatType::kNumber, "511", {.lo = 0, .hi = 2147483647, .flags = 0}},
    {"tls-cluster", nullptr, kRuntime, false, CompatType::kBool, "no", {}},
    {"tls-dh-params-file", nullptr, kRuntime, false, CompatType::kString, "", {.check = StringCheck::kNone}},
    {"tracking-table-max-keys", nullptr, kRuntime, false, CompatType::kNumber, "1000000", {.lo = 0, .hi = kInt64Max, .flags = kUnsignedRange}},
    {"zset-max-listpack-entries", "zset-max-ziplist-entries", kRuntime, false, CompatType::kNumber, "128", {.lo = 0, .hi = kInt64Max, .flags = kUnsignedRange}},
    {"zset-max-listpack-value", "zset-max-ziplist-value", kRuntime, false, CompatType::kNumber, "64", {.lo = 0, .hi = kInt64Max, .flags = kMemoryValue | kUnsignedRange}},
};

constexpr const char* kYesNoError = "argument must be 'yes' or 'no'";

std::string SetBool(const std::vector<std::string>& a, std::string* out) {
  bool v = false;
  if (!ParseYesNo(a[0], &v)) return kYesNoError;
  *out = v ? "yes" : "no";
  return "";
}

std::string SetString(const CompatSpec& spec, const std::vector<std::string>& a,
                      std::string* out) {
  const std::string& v = a[0];
  if (spec.rule.check == StringCheck::kDbFilename && v.find('/') != std::string::npos) {
    return "dbfilename can't be a path, just a filename";
  }
  if (spec.rule.check == StringCheck::kAofDirname) {
    if (v.empty()) return "appenddirname can't be empty";
    if (v.find('/') != std::string::npos || v.find('\\') != std::string::npos) {
      return "appenddirname can't be a path, just a dirname";
    }
  }
  *out = v;
  return "";
}

std::string EnumError(const CompatSpec& spec) {
  std::string err = "argument(s) must be one of the following: ";
  for (size_t i = 0; i < spec.rule.values.size(); i++) {
    if (i > 0) err += ", ";
    err += spec.rule.values[i].name;
  }
  return err;
}

// The first name of the value `text` names, or nullptr.
const char* EnumName(const CompatSpec& spec, std::string_view text) {
  for (const CompatEnumValue& v : spec.rule.values) {
    if (!EqualsIgnoreCase(text, v.name)) continue;
    for (const CompatEnumValue& first : spec.rule.values) {
      if (first.id == v.id) return first.name;
    }
  }
  return nullptr;
}

std::string SetEnum(const CompatSpec& spec, const std::vector<std::string>& a, std::string* out) {
  if (!spec.multi_arg) {
    const char* name = a.size() == 1 ? EnumName(spec, a[0]) : nullptr;
    if (name == nullptr) return EnumError(spec);
    *out = name;
    return "";
  }
  // shutdown-on-sigint/sigterm: a set of flags.
  bool save = false, nosave = false;
  std::string joined;
  for (const std::string& arg : a) {
    const char* name = EnumName(spec, arg);
    if (name == nullptr) return EnumError(spec);
    save = save || std::string_view(name) == "save";
    nosave = nosave || std::string_view(name) == "nosave";
    if (std::string_view(name) == "default") continue;
    if (!joined.empty()) joined += " ";
    joined += name;
  }
  if (save && nosave) return "shutdown options SAVE and NOSAVE can't be used simultaneously";
  *out = joined.empty() ? "default" : joined;
  return "";
}

// Redis's numericParseString and numericBoundaryCheck.
std::string SetNumber(const CompatSpec& spec, const std::vector<std::string>& a,
                      std::string* out) {
  const std::string& text = a[0];
  const int flags = spec.rule.flags;
  int64_t v = 0;
  bool parsed = false;
  if ((flags & kMemoryValue) && ParseMemory(text, &v)) parsed = true;
  if (!parsed && (flags & kPercentValue) && text.size() > 1 && text.back() == '%' &&
      ParseInt64(std::string_view(text).substr(0, text.size() - 1), &v) && v >= 0) {
    v = -v;
    parsed = true;
  }
  // A plain integer only when no other form applies, as in Redis.
  if (!parsed && (flags & ~kUnsignedRange) == 0 && ParseInt64(text, &v)) parsed = true;
  if (!parsed) {
    if ((flags & kMemoryValue) && (flags & kPercentValue)) {
      return "argument must be a memory or percent value";
    }
    if (flags & kMemoryValue) return "argument must be a memory value";
    return "argument couldn't be parsed into an integer";
  }
  if (flags & kUnsignedRange) {
    const uint64_t u = static_cast<uint64_t>(v);
    if (u > spec.rule.hi || u < static_cast<uint64_t>(spec.rule.lo)) {
      return fmt::format("argument must be between {} and {} inclusive",
                         static_cast<uint64_t>(spec.rule.lo), spec.rule.hi);
    }
  } else if ((flags & kPercentValue) && v < 0) {
    if (v < spec.rule.lo) {
      return fmt::format("percentage argument must be less or equal to {}", -spec.rule.lo);
    }
  } else if (v > static_cast<int64_t>(spec.rule.hi) || v < spec.rule.lo) {
    return fmt::format("argument must be between {} and {} inclusive", spec.rule.lo,
                       static_cast<int64_t>(spec.rule.hi));
  }
  if ((flags & kPercentValue) && v < 0) {
    *out = fmt::format("{}%", -v);
  } else if (flags & kUnsignedRange) {
    *out = std::to_string(static_cast<uint64_t>(v));
  } else {
    *out = std::to_string(v);
  }
  return "";
}

std::string SetSpecial(const CompatSpec& spec, const std::vector<std::string>& a,
                       std::string* out) {
  const std::string_view name = spec.name;
  if (name == "notify-keyspace-events") {
    if (a.size() != 1) return "wrong number of arguments";
    // Redis keeps a set of classes and shows it in its own order, with 'A'
    // for all of g$lshzxetd ('m' and 'n' are not in 'A'). 'L' is lockd's
    // class of lock events (cmd/notifications.h), outside 'A' too, shown last.
    constexpr std::string_view kClasses = "g$lshzxetdnKEmL";
    constexpr std::string_view kAll = "g$lshzxetd";
    std::string seen;
    for (const char c : a[0]) {
      if (c == 'A') {
        seen += kAll;
      } else if (kClasses.find(c) != std::string_view::npos) {
        seen.push_back(c);
      } else {
        return "Invalid event class character. Use 'Ag$lshzxeKEtmdnL'.";
      }
    }
    auto has = [&seen](char c) { return seen.find(c) != std::string::npos; };
    bool all = true;
    for (const char c : kAll) all = all && has(c);
    // As Redis's keyspaceEventsFlagsToString, 'A' hides 'n' as well.
    std::string shown = all ? "A" : "";
    for (const char c : std::string_view("g$lshzxetdn")) {
      if (!all && has(c)) shown.push_back(c);
    }
    for (const char c : std::string_view("KEmL")) {
      if (has(c)) shown.push_back(c);
    }
    *out = shown;
    return "";
  }
  if (name == "oom-score-adj-values") {
    if (a.size() != 3) return "wrong number of arguments";
    std::string joined;
    for (const std::string& arg : a) {
      int64_t v = 0;
      if (!ParseInt64(arg, &v) || v < -2000 || v > 2000) {
        return "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
      }
      if (!joined.empty()) joined += " ";
      joined += std::to_string(v);
    }
    *out = joined;
    return "";
  }
  if (name == "latency-tracking-info-percentiles") {
    if (a.size() == 1 && a[0].empty()) {
      *out = "";
      return "";
    }
    std::string joined;
    for (const std::string& arg : a) {
      char* end = nullptr;
      const double p = std::strtod(arg.c_str(), &end);
      if (arg.empty() || *end != '\0') return "Invalid latency-tracking-info-percentiles parameters";
      if (p > 100.0 || p < 0.0) {
        return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
      }
      if (!joined.empty()) joined += " ";
      joined += fmt::format("{}", p);
    }
    *out = joined;
    return "";
  }
  // replicaof: "no one" (no primary), or the primary's host and port, kept
  // as "host port" for the replica link (src/repl/replica_link.cc).
  if (a.size() != 2) return "wrong number of arguments";
  if (EqualsIgnoreCase(a[0], "no") && EqualsIgnoreCase(a[1], "one")) {
    *out = "";
    return "";
  }
  char* end = nullptr;
  const long port = std::strtol(a[1].c_str(), &end, 10);
  if (a[1].empty() || *end != '\0' || port < 0 || port > 65535) return "Invalid master port";
  *out = a[0] + " " + std::to_string(port);
  return "";
}

}  // namespace

std::span<const CompatSpec> CompatDirectives() { return kCompat; }

std::string SetCompat(const CompatSpec& spec, Config* config, const std::vector<std::string>& args) {
  if (args.empty()) return "wrong number of arguments";
  std::string value;
  std::string err;
  switch (spec.type) {
    case CompatType::kBool:
      err = SetBool(args, &value);
      break;
    case CompatType::kString:
      err = SetString(spec, args, &value);
      break;
    case CompatType::kEnum:
      err = SetEnum(spec, args, &value);
      break;
    case CompatType::kNumber:
      err = SetNumber(spec, args, &value);
      break;
    case CompatType::kSpecial:
      err = SetSpecial(spec, args, &value);
      break;
  }
  if (!err.empty()) return err;
  // Redis features lockd lacks: their "off" value only, so that a file
  // asking for them fails loudly instead of starting a server without them.
  const std::string_view name = spec.name;
  if (name == "cluster-enabled" && value == "yes") {
    return "lockd has no cluster mode: only 'no' is accepted";
  }
  // Redis takes any hz and shows it held to 1..500.
  if (name == "hz") value = std::to_string(std::clamp<int64_t>(std::stoll(value), 1, 500));
  config->compat[spec.name] = value;
  return "";
}

std::string GetCompat(const CompatSpec& spec, const Config& config) {
  const auto it = config.compat.find(spec.name);
  return it == config.compat.end() ? spec.default_value : it->second;
}

bool IsIgnoredRedisDirective(std::string_view name, size_t arg_count) {
  // Redis 7.0's deprecated_configs[]: read with exactly one argument.
  return arg_count == 1 &&
         (EqualsIgnoreCase(name, "list-max-ziplist-entries") ||
          EqualsIgnoreCase(name, "list-max-ziplist-value") ||
          EqualsIgnoreCase(name, "lua-replicate-commands"));
}

}  // namespace lockd::config_internal
