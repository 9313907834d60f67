// Configuration: every directive, parsed from a redis.conf-style
// file and `--directive value` arguments, validated, and readable and settable
// by name for CONFIG GET / CONFIG SET.
//
// Parsing never exits the process; it returns a Status whose message names
// the directive (and, for files, the line), and main() turns it into exit 1.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockd/status.h"

namespace lockd {

enum class AppendFsync { kAlways, kEverySec, kNo };
enum class LogLevel { kDebug, kVerbose, kNotice, kWarning, kNothing };
// tls-auth-clients: whether a TLS client must present a certificate.
enum class TlsAuthClients { kNo, kYes, kOptional };
// lock-replica-ack: what a primary's replies wait for when
// min-replicas-to-write asks for replicas (DESIGN.md, replication): only the
// token and lease reservations, or every reply that may reveal a change.
enum class ReplicaAck { kReservations, kAlways };

// One class of client-output-buffer-limit: close the client when its pending
// output passes `hard_bytes`, or stays above `soft_bytes` for `soft_seconds`.
// Zero disables a limit.
struct OutputLimit {
  int64_t hard_bytes = 0;
  int64_t soft_bytes = 0;
  int64_t soft_seconds = 0;

  bool operator==(const OutputLimit&) const = default;
};

struct Config {
  int port = 6379;
  std::vector<std::string> bind = {"127.0.0.1", "-::1"};  // '-' prefix: skip if unavailable
  std::string unixsocket;                                 // empty: none
  int unixsocketperm = 0;                                 // octal; 0: default umask
  std::string requirepass;                                // empty: no AUTH needed
  int64_t maxclients = 10000;
  int64_t timeout = 0;          // seconds idle before a client is closed; 0: never
  int64_t tcp_keepalive = 300;  // seconds; 0: off
  std::string dir = ".";
  bool appendonly = true;
  std::string appendfilename = "appendonly.aof";
  AppendFsync appendfsync = AppendFsync::kAlways;
  bool aof_load_truncated = true;
  int64_t auto_aof_rewrite_percentage = 100;
  int64_t auto_aof_rewrite_min_size = 64LL * 1024 * 1024;
  int64_t lua_time_limit = 5000;  // ms
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  int64_t client_query_buffer_limit = 1024LL * 1024 * 1024;
  OutputLimit output_limit_normal{0, 0, 0};
  OutputLimit output_limit_replica{256LL * 1024 * 1024, 64LL * 1024 * 1024, 60};
  OutputLimit output_limit_pubsub{32LL * 1024 * 1024, 8LL * 1024 * 1024, 60};
  LogLevel loglevel = LogLevel::kNotice;
  std::string logfile;  // empty: standard output
  std::string pidfile;  // empty: none
  bool daemonize = false;
  int64_t lock_max_waiters = 10000;
  ReplicaAck lock_replica_ack = ReplicaAck::kReservations;
  // The HTTP/JSON listener: 0 = off; http_bind empty = the addresses of `bind`.
  int http_port = 0;
  std::vector<std::string> http_bind;
  // TLS, as Redis 7.0's tls-* directives: tls_port 0 = no TLS listener;
  // http_tls serves the HTTP listener over TLS with the same certificates.
  // Empty strings mean "not set", as Redis reads them.
  int tls_port = 0;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_key_file_pass;
  // The certificate a replica presents to its primary; unset (either one),
  // it presents tls_cert_file/tls_key_file, as Redis does.
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  std::string tls_client_key_file_pass;
  std::string tls_ca_cert_file;
  std::string tls_ca_cert_dir;
  TlsAuthClients tls_auth_clients = TlsAuthClients::kYes;
  std::string tls_protocols;  // "": TLSv1.2 and TLSv1.3
  std::string tls_ciphers;
  std::string tls_ciphersuites;
  bool tls_prefer_server_ciphers = false;
  bool tls_session_caching = true;
  int64_t tls_session_cache_size = 20480;
  int64_t tls_session_cache_timeout = 300;  // seconds
  bool tls_replication = false;  // a replica reaches its primary over TLS
  bool http_tls = false;
  // lockd's own: a lock's holder is bound to the ACL user that took it, and
  // other users may not renew, release, overwrite or delete it.
  bool lock_bind_holder_to_user = false;

  // `user <name> <rule> ...` lines, in order (name first, then its rules):
  // loaded into the ACL at start, as redis-server loads them.
  std::vector<std::vector<std::string>> acl_users;

  // Redis 7.0 directives accepted for compatibility, with no effect on
  // lockd: canonical name -> the value CONFIG GET shows. Absent: the default.
  std::map<std::string, std::string> compat;

  // Not a directive: the absolute path of the config file named on the
  // command line (empty when none), for CONFIG REWRITE and INFO's config_file.
  std::string config_file;

  bool operator==(const Config&) const = default;
};

// What the command line asked for besides configuration.
enum class CommandLineAction { kRun, kVersion, kHelp };

// Parses `lockd-server [config-file] [--directive value ...]` into `*config`
// (starting from defaults): the file first, then the overrides in order. A
// config file argument of "-" reads standard input, as redis-server does.
//
// As in redis-server, the token after `--name` is always its first argument
// (so `--requirepass --x` sets the password "--x"), and further arguments run
// until the next token starting with "--". `-v`/`--version` and
// `-h`/`--help` set `*action` and return at once. On error `*config` holds
// the defaults and the message names the directive, or the unreadable file.
Status ParseCommandLine(int argc, const char* const* argv, Config* config,
                        CommandLineAction* action);

// The text `--help` prints: usage and a pointer to conf/lockd.conf.
std::string CommandLineUsage(std::string_view program);

// Parses redis.conf text ("directive arg ..." lines, '#' comments, quoted
// arguments as redis.conf allows). `origin` names the source in errors, which
// read like redis-server's below its "*** FATAL CONFIG FILE ERROR ***" header
// (main() prints the header):
//   Reading the configuration file 'lockd.conf', at line 2
//   >>> 'port "abc"'
//   Invalid argument 'abc' for 'port': argument couldn't be parsed into an integer
// Directives apply on top of `*config`, which is changed only on success.
Status ParseConfigText(std::string_view text, std::string_view origin, Config* config);

// Sets one directive from its arguments, validating them. Names are
// case-insensitive. Errors name the directive ("Invalid argument 'x' for
// 'port': ...", "Bad directive or wrong number of arguments: ..."); on error
// `*config` is unchanged.
Status ApplyDirective(Config* config, std::string_view name, const std::vector<std::string>& args);

// Whether `name` (any case) is a directive, and whether CONFIG SET may change
// it while the server runs.
bool IsConfigName(std::string_view name);
bool IsConfigMutableAtRuntime(std::string_view name);

// CONFIG GET: every (name, value) pair whose name matches the glob `pattern`
// (case-insensitively, as Redis), values formatted as redis-server formats
// them. `dir` is shown as stored: main() stores the absolute path after it
// changes into the directory, which is what redis-server shows.
std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern);

// CONFIG SET of one directive at run time: refuses directives that cannot
// change while running ("can't set immutable config") and invalid values,
// leaving `config` unchanged on error. The message is Redis's wording for the
// part after "ERR CONFIG SET failed (possibly related to argument 'x') - ",
// except for an unknown name, whose message is complete after "ERR ":
// "Unknown option or number of arguments for CONFIG SET - 'x'" (check
// IsConfigName first to tell the two apart). Directives that take several
// arguments (client-output-buffer-limit) split `value` on spaces.
Status ConfigSetAtRuntime(Config* config, std::string_view name, std::string_view value);

// Redis 7's `CONFIG SET name value [name value ...]`: all or nothing. The
// first unknown name, protected (dir, dbfilename) or immutable directive,
// repeated name (an alias is a name of its own, as in Redis 7.0) or invalid
// value fails the whole call, leaving
// `*config` unchanged; `*failed_name` is then the name to put in "possibly
// related to argument '...'" (as given for a name error, as the table spells
// it for a value error, as Redis does), or empty when the name is unknown (the message
// is then complete, as for ConfigSetAtRuntime).
Status ConfigSetManyAtRuntime(Config* config,
                              const std::vector<std::pair<std::string, std::string>>& pairs,
                              std::string* failed_name);

// "512mb", "1gb", "100k", "42": bytes (k = 1000, kb = 1024, as redis.conf).
bool ParseMemory(std::string_view text, int64_t* bytes);

const char* AppendFsyncName(AppendFsync v);
const char* LogLevelName(LogLevel v);
const char* TlsAuthClientsName(TlsAuthClients v);
const char* ReplicaAckName(ReplicaAck v);

// A Redis directive kept in `config.compat`, read as an integer: its value,
// or `fallback` when it is unset or not a number.
int64_t CompatInt(const Config& config, const char* name, int64_t fallback);

}  // namespace lockd
