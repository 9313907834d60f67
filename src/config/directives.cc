// The directive table with Redis 7's bounds, error texts and
// CONFIG GET formats (memory values as plain byte counts, unixsocketperm in
// octal, client-output-buffer-limit as "normal h s t slave h s t pubsub h s t").
// Where lockd differs from redis-server, the entry says why.
#include "config/directives.h"

#include <fmt/format.h>
#include <sys/un.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "config/values.h"

namespace lockd::config_internal {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kUInt32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kOneMb = 1024 * 1024;
// Redis's CONFIG_BINDADDR_MAX.
constexpr size_t kMaxBindAddresses = 16;

constexpr const char* kYesNoError = "argument must be 'yes' or 'no'";
constexpr const char* kNotInteger = "argument couldn't be parsed into an integer";
constexpr const char* kNotMemory = "argument must be a memory value";
constexpr const char* kNotOctal = "argument couldn't be parsed as an octal number";
constexpr const char* kObufArity = "Wrong number of arguments in buffer limit configuration.";
constexpr const char* kObufClass = "Invalid client class specified in buffer limit configuration.";
constexpr const char* kObufValue =
    "Error in hard, soft or soft_seconds setting in buffer limit configuration.";

std::string RangeError(int64_t lo, int64_t hi) {
  return fmt::format("argument must be between {} and {} inclusive", lo, hi);
}

// Each Parse* helper returns "" and sets `*out`, or returns Redis's reason.

std::string ParseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  if (!ParseInt64(text, &v)) return kNotInteger;
  if (v < lo || v > hi) return RangeError(lo, hi);
  *out = v;
  return "";
}

std::string ParseMem(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  if (!ParseMemory(text, &v)) return kNotMemory;
  if (v < lo || v > hi) return RangeError(lo, hi);
  *out = v;
  return "";
}

std::string ParseBool(const std::string& text, bool* out) {
  return ParseYesNo(text, out) ? "" : kYesNoError;
}

// Int64 fields share one setter shape; the field and bounds are template
// arguments so that the table stays a list of plain function pointers.
template <int64_t Config::*Field, int64_t Lo, int64_t Hi>
std::string SetInt(Config* c, const std::vector<std::string>& a) {
  return ParseInt(a[0], Lo, Hi, &(c->*Field));
}
template <int64_t Config::*Field>
std::string GetInt(const Config& c) {
  return std::to_string(c.*Field);
}
template <int64_t Config::*Field, int64_t Lo>
std::string SetMem(Config* c, const std::vector<std::string>& a) {
  return ParseMem(a[0], Lo, kInt64Max, &(c->*Field));
}
template <bool Config::*Field>
std::string SetBool(Config* c, const std::vector<std::string>& a) {
  return ParseBool(a[0], &(c->*Field));
}
template <bool Config::*Field>
std::string GetBool(const Config& c) {
  return c.*Field ? "yes" : "no";
}
template <std::string Config::*Field>
std::string SetString(Config* c, const std::vector<std::string>& a) {
  c->*Field = a[0];
  return "";
}
template <std::string Config::*Field>
std::string GetString(const Config& c) {
  return c.*Field;
}

std::string SetPort(Config* c, const std::vector<std::string>& a) {
  int64_t v = 0;
  std::string err = ParseInt(a[0], 0, 65535, &v);
  if (err.empty()) c->port = static_cast<int>(v);
  return err;
}

std::string SetBind(Config* c, const std::vector<std::string>& a) {
  if (a.size() > kMaxBindAddresses) return "Too many bind addresses specified.";
  for (const std::string& address : a) {
    // Redis reads a lone "" as "listen on no TCP address"; lockd always
    // listens on TCP, so an empty address can only be a mistake.
    if (address.empty() || address == "-") return "bind addresses must not be empty";
  }
  c->bind = a;
  return "";
}

std::string GetBind(const Config& c) {
  std::string out;
  for (size_t i = 0; i < c.bind.size(); i++) {
    if (i > 0) out.push_back(' ');
    out += c.bind[i];
  }
  return out;
}

std::string SetHttpPort(Config* c, const std::vector<std::string>& a) {
  int64_t v = 0;
  std::string err = ParseInt(a[0], 0, 65535, &v);
  if (err.empty()) c->http_port = static_cast<int>(v);
  return err;
}

std::string GetHttpPort(const Config& c) { return std::to_string(c.http_port); }

// "" (the default) follows `bind`; CONFIG GET shows it as given.
std::string SetHttpBind(Config* c, const std::vector<std::string>& a) {
  if (a.size() == 1 && a[0].empty()) {
    c->http_bind.clear();
    return "";
  }
  if (a.size() > kMaxBindAddresses) return "Too many bind addresses specified.";
  for (const std::string& address : a) {
    if (address.empty() || address == "-") return "bind addresses must not be empty";
  }
  c->http_bind = a;
  return "";
}

std::string GetHttpBind(const Config& c) {
  std::string out;
  for (size_t i = 0; i < c.http_bind.size(); i++) {
    if (i > 0) out.push_back(' ');
    out += c.http_bind[i];
  }
  return out;
}

std::string SetUnixSocket(Config* c, const std::vector<std::string>& a) {
  // Checked here rather than at listen time so that the error names the
  // directive; sun_path holds the path and its terminating NUL.
  constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;
  if (a[0].size() > kMaxPath) {
    return fmt::format("unix socket path is longer than {} bytes", kMaxPath);
  }
  c->unixsocket = a[0];
  return "";
}

std::string SetUnixSocketPerm(Config* c, const std::vector<std::string>& a) {
  int64_t v = 0;
  if (!ParseOctal(a[0], &v)) return kNotOctal;
  if (v > 0777) return "argument must be between 0 and 777 inclusive";
  c->unixsocketperm = static_cast<int>(v);
  return "";
}

std::string GetUnixSocketPerm(const Config& c) { return fmt::format("{:o}", c.unixsocketperm); }

std::string SetDir(Config* c, const std::vector<std::string>& a) {
  if (a[0].empty()) return "dir can't be empty";
  // Trailing slashes are dropped so that "dir ./" (redis.conf's spelling)
  // and "dir ." are the same value. main() changes into this directory.
  std::string dir = a[0];
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  c->dir = dir;
  return "";
}

std::string SetAppendFilename(Config* c, const std::vector<std::string>& a) {
  const std::string& name = a[0];
  if (name.empty()) return "appendfilename can't be empty";
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "." ||
      name == "..") {
    return "appendfilename can't be a path, just a filename";
  }
  c->appendfilename = name;
  return "";
}

// Redis lists its enum values in this order in its error message.
std::string SetAppendFsync(Config* c, const std::vector<std::string>& a) {
  if (EqualsIgnoreCase(a[0], "everysec")) {
    c->appendfsync = AppendFsync::kEverySec;
  } else if (EqualsIgnoreCase(a[0], "always")) {
    c->appendfsync = AppendFsync::kAlways;
  } else if (EqualsIgnoreCase(a[0], "no")) {
    c->appendfsync = AppendFsync::kNo;
  } else {
    return "argument(s) must be one of the following: everysec, always, no";
  }
  return "";
}

std::string GetAppendFsync(const Config& c) { return AppendFsyncName(c.appendfsync); }

std::string SetLogLevel(Config* c, const std::vector<std::string>& a) {
  for (const LogLevel level : {LogLevel::kDebug, LogLevel::kVerbose, LogLevel::kNotice,
                               LogLevel::kWarning, LogLevel::kNothing}) {
    if (EqualsIgnoreCase(a[0], LogLevelName(level))) {
      c->loglevel = level;
      return "";
    }
  }
  // Redis 7.0's text: its list has no "nothing" (7.2 added the level, which
  // lockd takes as well).
  return "argument(s) must be one of the following: debug, verbose, notice, warning";
}

std::string GetLogLevel(const Config& c) { return LogLevelName(c.loglevel); }

std::string SetOutputLimit(Config* c, const std::vector<std::string>& a) {
  if (a.empty() || a.size() % 4 != 0) return kObufArity;
  // Everything is checked before anything is stored: one bad class refuses
  // the whole line, as in Redis.
  Config updated = *c;
  for (size_t i = 0; i < a.size(); i += 4) {
    OutputLimit* target;
    if (EqualsIgnoreCase(a[i], "normal")) {
      target = &updated.output_limit_normal;
    } else if (EqualsIgnoreCase(a[i], "replica") || EqualsIgnoreCase(a[i], "slave")) {
      target = &updated.output_limit_replica;
    } else if (EqualsIgnoreCase(a[i], "pubsub")) {
      target = &updated.output_limit_pubsub;
    } else {
      return kObufClass;
    }
    OutputLimit limit;
    // Redis keeps soft_seconds in an int; lockd holds it to the same range,
    // which also keeps soft_seconds * 1000000 (its microsecond form) far
    // from int64 overflow.
    if (!ParseMemory(a[i + 1], &limit.hard_bytes) || !ParseMemory(a[i + 2], &limit.soft_bytes) ||
        !ParseInt64(a[i + 3], &limit.soft_seconds) || limit.soft_seconds < 0 ||
        limit.soft_seconds > kInt32Max) {
      return kObufValue;
    }
    *target = limit;
  }
  c->output_limit_normal = updated.output_limit_normal;
  c->output_limit_replica = updated.output_limit_replica;
  c->output_limit_pubsub = updated.output_limit_pubsub;
  return "";
}

// Redis 7.0 names the replica class "slave" in CONFIG GET.
std::string GetOutputLimit(const Config& c) {
  auto one = [](const char* name, const OutputLimit& l) {
    return fmt::format("{} {} {} {}", name, l.hard_bytes, l.soft_bytes, l.soft_seconds);
  };
  return one("normal", c.output_limit_normal) + " " + one("slave", c.output_limit_replica) + " " +
         one("pubsub", c.output_limit_pubsub);
}

std::string GetPort(const Config& c) { return std::to_string(c.port); }

// lockd keeps no RDB snapshots. `save` is still accepted, so that redis.conf
// files and the tools that read it (redis-benchmark asks CONFIG GET save)
// work, and it always reads as "" (snapshots off).
std::string SetSave(Config*, const std::vector<std::string>& a) {
  if (a.size() == 1 && a[0].empty()) return "";
  if (a.size() % 2 != 0) return "Invalid save parameters";
  for (const std::string& v : a) {
    int64_t n;
    if (!ParseInt64(v, &n) || n < 0) return "Invalid save parameters";
  }
  return "";
}

std::string GetSave(const Config&) { return ""; }

std::string SetTlsPort(Config* c, const std::vector<std::string>& a) {
  int64_t v = 0;
  std::string err = ParseInt(a[0], 0, 65535, &v);
  if (err.empty()) c->tls_port = static_cast<int>(v);
  return err;
}

std::string GetTlsPort(const Config& c) { return std::to_string(c.tls_port); }

// Redis's enum text, its values in Redis's order.
std::string SetTlsAuthClients(Config* c, const std::vector<std::string>& a) {
  for (const TlsAuthClients v :
       {TlsAuthClients::kNo, TlsAuthClients::kYes, TlsAuthClients::kOptional}) {
    if (EqualsIgnoreCase(a[0], TlsAuthClientsName(v))) {
      c->tls_auth_clients = v;
      return "";
    }
  }
  return "argument(s) must be one of the following: no, yes, optional";
}

std::string SetReplicaAck(Config* c, const std::vector<std::string>& a) {
  for (const ReplicaAck v : {ReplicaAck::kReservations, ReplicaAck::kAlways}) {
    if (EqualsIgnoreCase(a[0], ReplicaAckName(v))) {
      c->lock_replica_ack = v;
      return "";
    }
  }
  return "argument(s) must be one of the following: reservations, always";
}

std::string GetReplicaAck(const Config& c) { return ReplicaAckName(c.lock_replica_ack); }

std::string GetTlsAuthClients(const Config& c) { return TlsAuthClientsName(c.tls_auth_clients); }

constexpr bool kRuntime = true;
constexpr bool kImmutable = false;

const Directive kDirectives[] = {
    {"port", 1, 1, kImmutable, false, SetPort, GetPort},
    {"bind", 1, -1, kImmutable, true, SetBind, GetBind},
    {"unixsocket", 1, 1, kImmutable, false, SetUnixSocket, GetString<&Config::unixsocket>},
    {"unixsocketperm", 1, 1, kImmutable, false, SetUnixSocketPerm, GetUnixSocketPerm},
    {"requirepass", 1, 1, kRuntime, false, SetString<&Config::requirepass>,
     GetString<&Config::requirepass>},
    {"maxclients", 1, 1, kRuntime, false, SetInt<&Config::maxclients, 1, kUInt32Max>,
     GetInt<&Config::maxclients>},
    {"timeout", 1, 1, kRuntime, false, SetInt<&Config::timeout, 0, kInt32Max>,
     GetInt<&Config::timeout>},
    {"tcp-keepalive", 1, 1, kRuntime, false, SetInt<&Config::tcp_keepalive, 0, kInt32Max>,
     GetInt<&Config::tcp_keepalive>},
    {"dir", 1, 1, kImmutable, false, SetDir, GetString<&Config::dir>},
    {"appendonly", 1, 1, kImmutable, false, SetBool<&Config::appendonly>,
     GetBool<&Config::appendonly>},
    {"appendfilename", 1, 1, kImmutable, false, SetAppendFilename,
     GetString<&Config::appendfilename>},
    {"appendfsync", 1, 1, kRuntime, false, SetAppendFsync, GetAppendFsync},
    {"aof-load-truncated", 1, 1, kRuntime, false, SetBool<&Config::aof_load_truncated>,
     GetBool<&Config::aof_load_truncated>},
    {"auto-aof-rewrite-percentage", 1, 1, kRuntime, false,
     SetInt<&Config::auto_aof_rewrite_percentage, 0, kInt32Max>,
     GetInt<&Config::auto_aof_rewrite_percentage>},
    {"auto-aof-rewrite-min-size", 1, 1, kRuntime, false,
     SetMem<&Config::auto_aof_rewrite_min_size, 0>, GetInt<&Config::auto_aof_rewrite_min_size>},
    // Redis 7.0's name is busy-reply-threshold, lua-time-limit its alias;
    // CONFIG SET errors name the former, as Redis's do.
    {"busy-reply-threshold", 1, 1, kRuntime, false, SetInt<&Config::lua_time_limit, 0, kInt64Max>,
     GetInt<&Config::lua_time_limit>},
    {"lua-time-limit", 1, 1, kRuntime, false, SetInt<&Config::lua_time_limit, 0, kInt64Max>,
     GetInt<&Config::lua_time_limit>, "busy-reply-threshold"},
    {"proto-max-bulk-len", 1, 1, kRuntime, false, SetMem<&Config::proto_max_bulk_len, kOneMb>,
     GetInt<&Config::proto_max_bulk_len>},
    {"client-query-buffer-limit", 1, 1, kRuntime, false,
     SetMem<&Config::client_query_buffer_limit, kOneMb>,
     GetInt<&Config::client_query_buffer_limit>},
    {"client-output-buffer-limit", 4, -1, kRuntime, true, SetOutputLimit, GetOutputLimit},
    {"loglevel", 1, 1, kRuntime, false, SetLogLevel, GetLogLevel},
    {"logfile", 1, 1, kImmutable, false, SetString<&Config::logfile>, GetString<&Config::logfile>},
    {"pidfile", 1, 1, kImmutable, false, SetString<&Config::pidfile>, GetString<&Config::pidfile>},
    {"daemonize", 1, 1, kImmutable, false, SetBool<&Config::daemonize>,
     GetBool<&Config::daemonize>},
    {"save", 1, -1, kRuntime, true, SetSave, GetSave},
    // The engine counts waiters per key in 32 bits.
    {"lock-max-waiters", 1, 1, kRuntime, false, SetInt<&Config::lock_max_waiters, 1, kUInt32Max>,
     GetInt<&Config::lock_max_waiters>},
    // What replies wait for when min-replicas-to-write asks for replicas.
    {"lock-replica-ack", 1, 1, kRuntime, false, SetReplicaAck, GetReplicaAck},
    {"http-port", 1, 1, kImmutable, false, SetHttpPort, GetHttpPort},
    {"http-bind", 1, -1, kImmutable, true, SetHttpBind, GetHttpBind},
    // TLS. Every setting may change at run time, as in Redis: CONFIG SET
    // loads a new context from them (Server::ApplyTlsConfig) or fails leaving
    // the old one, and a new tls-port opens its listener before the old one
    // closes (or fails leaving the old one).
    {"tls-port", 1, 1, kRuntime, false, SetTlsPort, GetTlsPort},
    {"tls-cert-file", 1, 1, kRuntime, false, SetString<&Config::tls_cert_file>,
     GetString<&Config::tls_cert_file>},
    {"tls-key-file", 1, 1, kRuntime, false, SetString<&Config::tls_key_file>,
     GetString<&Config::tls_key_file>},
    {"tls-key-file-pass", 1, 1, kRuntime, false, SetString<&Config::tls_key_file_pass>,
     GetString<&Config::tls_key_file_pass>},
    {"tls-client-cert-file", 1, 1, kRuntime, false, SetString<&Config::tls_client_cert_file>,
     GetString<&Config::tls_client_cert_file>},
    {"tls-client-key-file", 1, 1, kRuntime, false, SetString<&Config::tls_client_key_file>,
     GetString<&Config::tls_client_key_file>},
    {"tls-client-key-file-pass", 1, 1, kRuntime, false,
     SetString<&Config::tls_client_key_file_pass>, GetString<&Config::tls_client_key_file_pass>},
    {"tls-ca-cert-file", 1, 1, kRuntime, false, SetString<&Config::tls_ca_cert_file>,
     GetString<&Config::tls_ca_cert_file>},
    {"tls-ca-cert-dir", 1, 1, kRuntime, false, SetString<&Config::tls_ca_cert_dir>,
     GetString<&Config::tls_ca_cert_dir>},
    {"tls-auth-clients", 1, 1, kRuntime, false, SetTlsAuthClients, GetTlsAuthClients},
    {"tls-protocols", 1, 1, kRuntime, false, SetString<&Config::tls_protocols>,
     GetString<&Config::tls_protocols>},
    {"tls-ciphers", 1, 1, kRuntime, false, SetString<&Config::tls_ciphers>,
     GetString<&Config::tls_ciphers>},
    {"tls-ciphersuites", 1, 1, kRuntime, false, SetString<&Config::tls_ciphersuites>,
     GetString<&Config::tls_ciphersuites>},
    {"tls-prefer-server-ciphers", 1, 1, kRuntime, false,
     SetBool<&Config::tls_prefer_server_ciphers>, GetBool<&Config::tls_prefer_server_ciphers>},
    {"tls-session-caching", 1, 1, kRuntime, false, SetBool<&Config::tls_session_caching>,
     GetBool<&Config::tls_session_caching>},
    {"tls-session-cache-size", 1, 1, kRuntime, false,
     SetInt<&Config::tls_session_cache_size, 0, kInt32Max>,
     GetInt<&Config::tls_session_cache_size>},
    {"tls-session-cache-timeout", 1, 1, kRuntime, false,
     SetInt<&Config::tls_session_cache_timeout, 0, kInt32Max>,
     GetInt<&Config::tls_session_cache_timeout>},
    {"tls-replication", 1, 1, kRuntime, false, SetBool<&Config::tls_replication>,
     GetBool<&Config::tls_replication>},
    // lockd's own: the HTTP listener speaks TLS with the context above.
    {"http-tls", 1, 1, kImmutable, false, SetBool<&Config::http_tls>, GetBool<&Config::http_tls>},
    // lockd's own: binds a lock's holder to the ACL user that took it. Fixed
    // at start, so that one run never mixes the two rules.
    {"lock-bind-holder-to-user", 1, 1, kImmutable, false,
     SetBool<&Config::lock_bind_holder_to_user>, GetBool<&Config::lock_bind_holder_to_user>},
};

}  // namespace

std::span<const Directive> AllDirectives() {
  static const std::vector<Directive> all = [] {
    std::vector<Directive> out(std::begin(kDirectives), std::end(kDirectives));
    for (const CompatSpec& spec : CompatDirectives()) {
      const int max_args = spec.multi_arg ? -1 : 1;
      out.push_back({spec.name, 1, max_args, spec.runtime_mutable, spec.multi_arg, nullptr, nullptr,
                     nullptr, &spec});
      if (spec.alias != nullptr) {
        out.push_back({spec.alias, 1, max_args, spec.runtime_mutable, spec.multi_arg, nullptr,
                       nullptr, spec.name, &spec});
      }
    }
    return out;
  }();
  return all;
}

const Directive* FindDirective(std::string_view name) {
  for (const Directive& d : AllDirectives()) {
    if (EqualsIgnoreCase(name, d.name)) return &d;
  }
  return nullptr;
}

std::string SetDirectiveValue(const Directive& d, Config* config,
                              const std::vector<std::string>& args) {
  return d.compat != nullptr ? SetCompat(*d.compat, config, args) : d.set(config, args);
}

std::string GetDirectiveValue(const Directive& d, const Config& config) {
  return d.compat != nullptr ? GetCompat(*d.compat, config) : d.get(config);
}

}  // namespace lockd::config_internal
