// Configuration read as redis-server 7.0 reads it: one quoted argument of a
// multi-argument directive is split again, numeric directives keep to the
// range their use can hold, enum errors use Redis's exact text, `include`
// works as in Redis 7 (relative to the working directory, globs, nesting),
// and Redis 7.0 directives lockd has no use for load with their validation.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/directives.h"
#include "lockd/config.h"

namespace lockd {
namespace {

Status RunArgs(std::vector<const char*> argv, Config* c) {
  argv.insert(argv.begin(), "lockd-server");
  CommandLineAction action;
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), c, &action);
}

std::string GetOne(const Config& c, std::string_view name) {
  for (const auto& [n, v] : ConfigGet(c, name)) {
    if (n == name) return v;
  }
  return "<none>";
}

// A temporary directory that is the working directory for its lifetime.
struct TempCwd {
  TempCwd() {
    char tmpl[] = "/tmp/lockd-conf-XXXXXX";
    path = mkdtemp(tmpl) != nullptr ? tmpl : "";
    old = std::filesystem::current_path();
    std::filesystem::current_path(path);
  }
  ~TempCwd() {
    std::filesystem::current_path(old);
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void Write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(path + "/" + name).parent_path());
    std::ofstream(path + "/" + name) << text;
  }
  std::string path;
  std::filesystem::path old;
};

}  // namespace

TEST_CASE("a quoted multi-word value of a multi-argument directive is split, as redis-server does") {
  Config c;
  Status s = RunArgs({"--bind", "127.0.0.1 -::1", "--save", "900 1", "--client-output-buffer-limit",
                      "normal 10mb 5mb 60"},
                     &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.bind == std::vector<std::string>{"127.0.0.1", "-::1"});
  CHECK(c.output_limit_normal == OutputLimit{10 * 1024 * 1024, 5 * 1024 * 1024, 60});
  CHECK(GetOne(c, "save") == "");

  // CONFIG GET's output reads back in, as one argument in a file too.
  Config from_file;
  s = ParseConfigText("bind \"127.0.0.1 -::1\"\nclient-output-buffer-limit \"pubsub 1mb 1mb 5\"\n",
                      "t.conf", &from_file);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(from_file.bind == std::vector<std::string>{"127.0.0.1", "-::1"});
  CHECK(from_file.output_limit_pubsub == OutputLimit{1024 * 1024, 1024 * 1024, 5});

  // A value that cannot be split says why, instead of counting no arguments.
  Config unbalanced;
  s = RunArgs({"--bind", "127.0.0.1 \"::1"}, &unbalanced);
  CHECK_FALSE(s.ok());
  CHECK_MESSAGE(s.message().find("Unbalanced quotes") != std::string::npos, s.message());

  // A single-argument directive is not split: the space stays an error.
  Config p;
  CHECK_FALSE(RunArgs({"--port", "7000 7001"}, &p).ok());

  // `--save` with no value (last, or before another option) is `save ""`.
  Config last;
  CHECK(RunArgs({"--port", "7000", "--save"}, &last).ok());
  Config before_option;
  s = RunArgs({"--save", "--port", "7001"}, &before_option);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(before_option.port == 7001);
  // Other options still take a "--" token as their value.
  Config pass;
  REQUIRE(RunArgs({"--requirepass", "--x"}, &pass).ok());
  CHECK(pass.requirepass == "--x");
  // --port 0 with a unix socket is a valid start-up configuration.
  Config unix_only;
  REQUIRE(RunArgs({"--port", "0", "--unixsocket", "/tmp/x.sock"}, &unix_only).ok());
  CHECK(unix_only.port == 0);
  CHECK(unix_only.unixsocket == "/tmp/x.sock");
}

TEST_CASE("numeric directives hold to the range their use can hold, everywhere") {
  // lock-max-waiters is a 32-bit count in the engine.
  Config c;
  Status s = ApplyDirective(&c, "lock-max-waiters", {"4294967296"});
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("argument must be between 1 and 4294967295 inclusive") !=
        std::string::npos);
  CHECK(c.lock_max_waiters == 10000);
  REQUIRE(ApplyDirective(&c, "lock-max-waiters", {"4294967295"}).ok());
  CHECK(c.lock_max_waiters == 4294967295);
  s = ConfigSetAtRuntime(&c, "lock-max-waiters", "4294967297");
  CHECK(s.message() == "argument must be between 1 and 4294967295 inclusive");
  CHECK_FALSE(RunArgs({"--lock-max-waiters", "4294967296"}, &c).ok());
  CHECK_FALSE(ParseConfigText("lock-max-waiters 4294967296\n", "t.conf", &c).ok());

  // soft_seconds is kept to Redis's int, so that its microsecond form
  // (soft_seconds * 1000000) cannot overflow.
  constexpr const char* kObufValue =
      "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
  Config o;
  s = ConfigSetAtRuntime(&o, "client-output-buffer-limit", "normal 0 1 9223372036854775807");
  CHECK(s.message() == kObufValue);
  s = ConfigSetAtRuntime(&o, "client-output-buffer-limit", "normal 0 1 2147483648");
  CHECK(s.message() == kObufValue);
  CHECK(o == Config());
  REQUIRE(ConfigSetAtRuntime(&o, "client-output-buffer-limit", "normal 0 1 2147483647").ok());
  CHECK(o.output_limit_normal.soft_seconds == 2147483647);
  CHECK_FALSE(RunArgs({"--client-output-buffer-limit", "normal 0 1 9223372036854775807"}, &o).ok());

  // Redis's ranges and texts for the rest (checked against redis-server 7.0).
  struct Case {
    const char* name;
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"port", "65536", "argument must be between 0 and 65535 inclusive"},
      {"maxclients", "4294967296", "argument must be between 1 and 4294967295 inclusive"},
      {"timeout", "2147483648", "argument must be between 0 and 2147483647 inclusive"},
      {"tcp-keepalive", "2147483648", "argument must be between 0 and 2147483647 inclusive"},
      {"auto-aof-rewrite-percentage", "2147483648",
       "argument must be between 0 and 2147483647 inclusive"},
      {"hz", "abc", "argument couldn't be parsed into an integer"},
      {"active-defrag-cycle-max", "100", "argument must be between 1 and 99 inclusive"},
      {"maxmemory", "abc", "argument must be a memory value"},
      {"maxmemory-clients", "200%", "percentage argument must be less or equal to 100"},
      {"maxmemory-clients", "-1", "argument must be a memory or percent value"},
      {"slowlog-log-slower-than", "-2",
       "argument must be between -1 and 9223372036854775807 inclusive"},
  };
  for (const Case& k : cases) {
    INFO(k.name, " ", k.value);
    Config x;
    Status r = ApplyDirective(&x, k.name, {k.value});
    REQUIRE_FALSE(r.ok());
    CHECK(r.message().find(k.message) != std::string::npos);
  }
}

TEST_CASE("every enum directive refuses a bad value with Redis 7.0's text") {
  Config c;
  CHECK(ConfigSetAtRuntime(&c, "appendfsync", "x").message() ==
        "argument(s) must be one of the following: everysec, always, no");
  CHECK(ConfigSetAtRuntime(&c, "loglevel", "x").message() ==
        "argument(s) must be one of the following: debug, verbose, notice, warning");
  CHECK(ConfigSetAtRuntime(&c, "maxmemory-policy", "x").message() ==
        "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
        "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
  CHECK(ConfigSetAtRuntime(&c, "oom-score-adj", "x").message() ==
        "argument(s) must be one of the following: no, yes, relative, absolute");
  int enums = 0;
  for (const config_internal::Directive& d : config_internal::AllDirectives()) {
    const bool is_enum = (d.compat != nullptr && d.compat->type == config_internal::CompatType::kEnum) ||
                         std::string_view(d.name) == "appendfsync" ||
                         std::string_view(d.name) == "loglevel" ||
                         std::string_view(d.name) == "tls-auth-clients";
    if (!is_enum) continue;
    enums++;
    INFO(d.name);
    Config x;
    const Status s = ApplyDirective(&x, d.name, {"no-such-value"});
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("argument(s) must be one of the following: ") != std::string::npos);
  }
  CHECK(enums == 17);  // Redis 7.0 has 17 (tls-auth-clients included)
}

TEST_CASE("Redis 7.0 directives without a use in lockd load, validate, and show in CONFIG GET") {
  Config c;
  Status s = ParseConfigText(
      "protected-mode yes\ntcp-backlog 511\ndatabases 16\nmaxmemory 100mb\n"
      "maxmemory-policy ALLKEYS-LRU\noom-score-adj-values 0 200 800\nnotify-keyspace-events \"\"\n"
      "slaveof no one\nlist-max-ziplist-entries 512\nhash-max-ziplist-entries 64\n",
      "t.conf", &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(GetOne(c, "protected-mode") == "yes");
  CHECK(GetOne(c, "maxmemory") == "104857600");
  CHECK(GetOne(c, "maxmemory-policy") == "allkeys-lru");
  // An alias and its directive are one value, as in Redis.
  CHECK(GetOne(c, "hash-max-listpack-entries") == "64");
  CHECK(GetOne(c, "hash-max-ziplist-entries") == "64");
  CHECK(GetOne(Config(), "hash-max-listpack-entries") == "512");

  // Values shown as Redis shows them.
  Config shown;
  REQUIRE(ConfigSetAtRuntime(&shown, "notify-keyspace-events", "KEA").ok());
  CHECK(GetOne(shown, "notify-keyspace-events") == "AKE");
  REQUIRE(ConfigSetAtRuntime(&shown, "notify-keyspace-events", "Exn").ok());
  CHECK(GetOne(shown, "notify-keyspace-events") == "xnE");
  REQUIRE(ConfigSetAtRuntime(&shown, "notify-keyspace-events", "AKEmn").ok());
  CHECK(GetOne(shown, "notify-keyspace-events") == "AKEm");
  REQUIRE(ConfigSetAtRuntime(&shown, "hz", "1000").ok());
  CHECK(GetOne(shown, "hz") == "500");
  REQUIRE(ConfigSetAtRuntime(&shown, "maxmemory-clients", "5%").ok());
  CHECK(GetOne(shown, "maxmemory-clients") == "5%");
  REQUIRE(ConfigSetAtRuntime(&shown, "oom-score-adj", "relative").ok());
  CHECK(GetOne(shown, "oom-score-adj") == "yes");
  CHECK(ConfigSetAtRuntime(&shown, "dbfilename", "x.rdb").message() ==
        "can't set protected config");

  Config bad;
  CHECK(ParseConfigText("protected-mode maybe\n", "t.conf", &bad).message().find(
            "argument must be 'yes' or 'no'") != std::string::npos);
  // What lockd does not do fails loudly rather than starting without it.
  CHECK_FALSE(ParseConfigText("cluster-enabled yes\n", "t.conf", &bad).ok());
  // replicaof is served now: a primary's address, or a bad port refused.
  Config follows;
  CHECK(ParseConfigText("replicaof 10.0.0.1 6379\n", "t.conf", &follows).ok());
  CHECK(follows.compat["replicaof"] == "10.0.0.1 6379");
  CHECK_FALSE(ParseConfigText("replicaof 10.0.0.1 port\n", "t.conf", &bad).ok());
  CHECK_FALSE(ParseConfigText("rename-command FLUSHALL \"\"\n", "t.conf", &bad).ok());
  // A name Redis does not know is still an error.
  CHECK_FALSE(ParseConfigText("maxmemory-nosuch 1\n", "t.conf", &bad).ok());
}

TEST_CASE("Debian's unchanged /etc/redis/redis.conf loads") {
  std::ifstream in("/etc/redis/redis.conf");
  if (!in) {
    MESSAGE("no /etc/redis/redis.conf on this machine");
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  Config c;
  Status s = ParseConfigText(text.str(), "/etc/redis/redis.conf", &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.port == 6379);
  CHECK(c.daemonize);
  CHECK_FALSE(c.appendonly);
  CHECK(c.appendfsync == AppendFsync::kEverySec);
  CHECK(GetOne(c, "protected-mode") == "yes");
}

TEST_CASE("include reads files relative to the working directory, globs in order, nested") {
  TempCwd cwd;
  REQUIRE_FALSE(cwd.path.empty());
  cwd.Write("base.conf", "port 7001\ntimeout 5\n");
  cwd.Write("conf.d/20-b.conf", "timeout 20\ninclude nested.conf\n");
  cwd.Write("conf.d/10-a.conf", "timeout 10\nmaxclients 77\n");
  cwd.Write("nested.conf", "tcp-keepalive 9\n");
  Config c;
  Status s = ParseConfigText(
      "include base.conf\ninclude conf.d/*.conf\ninclude empty.d/*.conf\nport 7002\n", "main.conf",
      &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.port == 7002);          // a later line overrides the included file
  CHECK(c.timeout == 20);         // glob matches in sorted order
  CHECK(c.maxclients == 77);
  CHECK(c.tcp_keepalive == 9);    // nested include
  // The same from the command line's config file.
  cwd.Write("top.conf", "include base.conf\n");
  Config top;
  REQUIRE(RunArgs({"top.conf"}, &top).ok());
  CHECK(top.port == 7001);
  // And as an option, as redis-server reads its options as config lines.
  Config opt;
  REQUIRE(RunArgs({"--timeout", "3", "--include", "base.conf"}, &opt).ok());
  CHECK(opt.port == 7001);
  CHECK(opt.timeout == 5);

  Config bad;
  s = ParseConfigText("include missing.conf\n", "main.conf", &bad);
  CHECK(s.message().find("can't open config file 'missing.conf'") != std::string::npos);
  cwd.Write("broken.conf", "\nport abc\n");
  s = ParseConfigText("include broken.conf\n", "main.conf", &bad);
  CHECK(s.message().find("'broken.conf', at line 2") != std::string::npos);
  cwd.Write("self.conf", "include self.conf\n");
  CHECK_FALSE(ParseConfigText("include self.conf\n", "main.conf", &bad).ok());
}

}  // namespace lockd
