// Tests for configuration: redis.conf parsing and quoting, every directive's
// good and bad values, the command line, CONFIG GET formatting and CONFIG SET
// at run time, and conf/lockd.conf itself.
#include "lockd/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/directives.h"
#include "config/split_args.h"
#include "util/split_args.h"

namespace lockd {
namespace {

using Args = std::vector<std::string>;

// Applies one directive to a default Config and returns the result.
Status Apply(Config* c, std::string_view name, Args args) { return ApplyDirective(c, name, args); }

// Parses "name args..." as a one-line file on top of the defaults.
Config ParseOk(std::string_view text) {
  Config c;
  Status s = ParseConfigText(text, "test.conf", &c);
  INFO(s.message());
  CHECK(s.ok());
  return c;
}

std::string ParseError(std::string_view text) {
  Config c;
  Status s = ParseConfigText(text, "test.conf", &c);
  CHECK_FALSE(s.ok());
  CHECK(c == Config());  // nothing applied on error
  return s.message();
}

std::string Get(const Config& c, std::string_view name) {
  auto pairs = ConfigGet(c, name);
  REQUIRE(pairs.size() == 1);
  CHECK(pairs[0].first == name);
  return pairs[0].second;
}

// Runs ParseCommandLine on a list of arguments (argv[0] included).
Status RunCommandLine(std::vector<const char*> argv, Config* c, CommandLineAction* action) {
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), c, action);
}

// A temporary file holding `text`, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/lockd-config-test-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    path_ = name;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const char* path() const { return path_.c_str(); }

 private:
  std::string path_;
};

std::string ReadLockdConf() {
  // The tests run from the repository root; __FILE__ covers other working
  // directories when it is an absolute path.
  std::string from_source = __FILE__;
  from_source = from_source.substr(0, from_source.rfind("tests/unit/")) + "conf/lockd.conf";
  for (const std::string& path : {std::string("conf/lockd.conf"), from_source}) {
    std::ifstream in(path);
    if (in) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      return buffer.str();
    }
  }
  FAIL("conf/lockd.conf not found");
  return "";
}

TEST_CASE("SplitConfigArgs follows sdssplitargs") {
  Args args;
  REQUIRE(SplitConfigArgs("  set  a\tb  ", &args));
  CHECK(args == Args{"set", "a", "b"});

  REQUIRE(SplitConfigArgs(R"("a b" 'c d' "")", &args));
  CHECK(args == Args{"a b", "c d", ""});

  REQUIRE(SplitConfigArgs(R"("\n\r\t\b\a\\\"\x41\x7a\q")", &args));
  CHECK(args == Args{std::string("\n\r\t\b\a\\\"Azq")});

  // "\x4" without two hex digits is just an escaped 'x' followed by text.
  REQUIRE(SplitConfigArgs(R"("\x4g")", &args));
  CHECK(args == Args{"x4g"});

  // Single quotes only know \'.
  REQUIRE(SplitConfigArgs(R"('it\'s \n')", &args));
  CHECK(args == Args{"it's \\n"});

  // A quote may start in the middle of a word.
  REQUIRE(SplitConfigArgs(R"(ab"c d")", &args));
  CHECK(args == Args{"abc d"});

  // Binary bytes survive.
  REQUIRE(SplitConfigArgs(R"("\x00\xff")", &args));
  CHECK(args == Args{std::string("\0\xff", 2)});

  REQUIRE(SplitConfigArgs("", &args));
  CHECK(args.empty());

  CHECK_FALSE(SplitConfigArgs(R"("unterminated)", &args));
  CHECK_FALSE(SplitConfigArgs(R"('unterminated)", &args));
  CHECK_FALSE(SplitConfigArgs(R"("closed"glued)", &args));
  CHECK_FALSE(SplitConfigArgs(R"('closed'glued)", &args));
  CHECK_FALSE(SplitConfigArgs(R"("ends with backslash\)", &args));
}

TEST_CASE("QuoteConfigArg is sdscatrepr") {
  CHECK(QuoteArg("abc") == "\"abc\"");
  CHECK(QuoteArg("a\"b\\c\n\r\t\a\b") == R"("a\"b\\c\n\r\t\a\b")");
  CHECK(QuoteArg(std::string("\x01\xff", 2)) == R"("\x01\xff")");
}

TEST_CASE("ParseMemory reads redis.conf sizes") {
  int64_t v = -1;
  CHECK(ParseMemory("0", &v));
  CHECK(v == 0);
  CHECK(ParseMemory("42", &v));
  CHECK(v == 42);
  CHECK(ParseMemory("42b", &v));
  CHECK(v == 42);
  CHECK(ParseMemory("1k", &v));
  CHECK(v == 1000);
  CHECK(ParseMemory("1kb", &v));
  CHECK(v == 1024);
  CHECK(ParseMemory("1K", &v));
  CHECK(v == 1000);
  CHECK(ParseMemory("1KB", &v));
  CHECK(v == 1024);
  CHECK(ParseMemory("2m", &v));
  CHECK(v == 2'000'000);
  CHECK(ParseMemory("2mb", &v));
  CHECK(v == 2 * 1024 * 1024);
  CHECK(ParseMemory("3g", &v));
  CHECK(v == 3'000'000'000LL);
  CHECK(ParseMemory("3Gb", &v));
  CHECK(v == 3LL * 1024 * 1024 * 1024);
  CHECK(ParseMemory("9223372036854775807", &v));
  CHECK(v == INT64_MAX);

  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5mb", "1 kb", "0x10", "mb", "1tb", "1kbb",
                          "9223372036854775808", "9007199254740993gb"}) {
    INFO(bad);
    CHECK_FALSE(ParseMemory(bad, &v));
  }
}

TEST_CASE("an empty text and comments leave the defaults") {
  CHECK(ParseOk("") == Config());
  CHECK(ParseOk("\n\n   \n\t\n") == Config());
  CHECK(ParseOk("# port 1\n   # port 2\n#\n") == Config());
}

TEST_CASE("directives are one a line, any case, CRLF tolerated") {
  Config c = ParseOk("PORT 7000\r\n  Timeout   5  \n\tloglevel WARNING\n");
  CHECK(c.port == 7000);
  CHECK(c.timeout == 5);
  CHECK(c.loglevel == LogLevel::kWarning);
}

TEST_CASE("quoted arguments reach the directive unquoted") {
  Config c = ParseOk("requirepass \"p a\\\"ss\\x21\"\nlogfile '/tmp/my log'\n");
  CHECK(c.requirepass == "p a\"ss!");
  CHECK(c.logfile == "/tmp/my log");
}

TEST_CASE("a later line overrides an earlier one") { CHECK(ParseOk("port 1\nport 2\n").port == 2); }

TEST_CASE("file errors name the origin, line, text and directive") {
  std::string m = ParseError("# comment\nport \"abc\"\n");
  CHECK(m ==
        "Reading the configuration file 'test.conf', at line 2\n"
        ">>> 'port \"abc\"'\n"
        "Invalid argument 'abc' for 'port': argument couldn't be parsed into an integer");

  m = ParseError("port 6379\nnosuch 1\n");
  CHECK(m.find("at line 2") != std::string::npos);
  CHECK(m.find(">>> 'nosuch 1'") != std::string::npos);
  CHECK(m.find("Bad directive or wrong number of arguments") != std::string::npos);
  CHECK(m.find("'nosuch'") != std::string::npos);

  m = ParseError("port \"ab\n");
  CHECK(m.find("Unbalanced quotes in configuration line") != std::string::npos);
  CHECK(m.find("at line 1") != std::string::npos);

  m = ParseError("port 1 2\n");
  CHECK(m.find("Wrong number of arguments for 'port' (expected 1, got 2)") != std::string::npos);

  m = ParseError("port\n");
  CHECK(m.find("Wrong number of arguments for 'port' (expected 1, got 0)") != std::string::npos);

  // A trailing comment is not a comment in redis.conf: it is two arguments.
  m = ParseError("port 6379 # the port\n");
  CHECK(m.find("Wrong number of arguments for 'port'") != std::string::npos);

  // The first error stops the parse, and nothing is applied.
  m = ParseError("port 7000\nmaxclients 0\n");
  CHECK(m.find("'maxclients'") != std::string::npos);
}

TEST_CASE("ParseConfigText applies on top of the given config") {
  Config c;
  c.port = 1234;
  REQUIRE(ParseConfigText("timeout 9\n", "x", &c).ok());
  CHECK(c.port == 1234);
  CHECK(c.timeout == 9);
}

// --- Every directive, good and bad values -----------------------------------

struct Case {
  const char* name;
  Args args;
  const char* reason;  // nullptr: accepted
};

void CheckCases(const std::vector<Case>& cases) {
  for (const Case& k : cases) {
    Config c;
    Status s = Apply(&c, k.name, k.args);
    std::string shown;
    for (const auto& a : k.args) shown += a + " ";
    INFO(k.name, " ", shown, "-> ", s.message());
    if (k.reason == nullptr) {
      CHECK(s.ok());
    } else {
      CHECK_FALSE(s.ok());
      CHECK(c == Config());
      CHECK(s.message().find(k.reason) != std::string::npos);
      CHECK(s.message().find(std::string("'") + k.name + "'") != std::string::npos);
    }
  }
}

constexpr const char* kNotInt = "argument couldn't be parsed into an integer";
constexpr const char* kNotMem = "argument must be a memory value";
constexpr const char* kYesNo = "argument must be 'yes' or 'no'";

TEST_CASE("port") {
  Config c;
  REQUIRE(Apply(&c, "port", {"0"}).ok());
  CHECK(c.port == 0);
  REQUIRE(Apply(&c, "port", {"65535"}).ok());
  CHECK(c.port == 65535);
  CheckCases({
      {"port", {"abc"}, kNotInt},
      {"port", {"-1"}, "argument must be between 0 and 65535 inclusive"},
      {"port", {"65536"}, "argument must be between 0 and 65535 inclusive"},
      {"port", {"+80"}, kNotInt},
      {"port", {"080"}, kNotInt},
      {"port", {" 80"}, kNotInt},
      {"port", {""}, kNotInt},
      {"port", {"1e3"}, kNotInt},
  });
}

TEST_CASE("bind") {
  Config c;
  REQUIRE(Apply(&c, "bind", {"0.0.0.0"}).ok());
  CHECK(c.bind == Args{"0.0.0.0"});
  REQUIRE(Apply(&c, "bind", {"10.0.0.1", "-::1", "*"}).ok());
  CHECK(c.bind == Args{"10.0.0.1", "-::1", "*"});  // the '-' is kept
  Args sixteen(16, "127.0.0.1");
  CHECK(Apply(&c, "bind", sixteen).ok());
  CheckCases({
      {"bind", {}, "Wrong number of arguments for 'bind' (expected at least 1, got 0)"},
      {"bind", Args(17, "127.0.0.1"), "Too many bind addresses specified."},
      {"bind", {""}, "must not be empty"},
      {"bind", {"127.0.0.1", "-"}, "must not be empty"},
  });
}

TEST_CASE("unixsocket and unixsocketperm") {
  Config c;
  REQUIRE(Apply(&c, "unixsocket", {"/tmp/lockd.sock"}).ok());
  CHECK(c.unixsocket == "/tmp/lockd.sock");
  REQUIRE(Apply(&c, "unixsocket", {""}).ok());
  CHECK(c.unixsocket.empty());
  REQUIRE(Apply(&c, "unixsocketperm", {"700"}).ok());
  CHECK(c.unixsocketperm == 0700);
  REQUIRE(Apply(&c, "unixsocketperm", {"0777"}).ok());
  CHECK(c.unixsocketperm == 0777);
  REQUIRE(Apply(&c, "unixsocketperm", {"0"}).ok());
  CHECK(c.unixsocketperm == 0);
  CheckCases({
      {"unixsocket", {std::string(108, 'x')}, "longer than 107 bytes"},
      {"unixsocket", {"a", "b"}, "Wrong number of arguments"},
      {"unixsocketperm", {"800"}, "argument couldn't be parsed as an octal number"},
      {"unixsocketperm", {"abc"}, "argument couldn't be parsed as an octal number"},
      {"unixsocketperm", {"-1"}, "argument couldn't be parsed as an octal number"},
      {"unixsocketperm", {""}, "argument couldn't be parsed as an octal number"},
      {"unixsocketperm", {"1000"}, "argument must be between 0 and 777 inclusive"},
  });
}

TEST_CASE("requirepass") {
  Config c;
  REQUIRE(Apply(&c, "requirepass", {"s3cret with spaces"}).ok());
  CHECK(c.requirepass == "s3cret with spaces");
  REQUIRE(Apply(&c, "requirepass", {""}).ok());
  CHECK(c.requirepass.empty());
  CheckCases({{"requirepass", {"a", "b"}, "Wrong number of arguments"}});
}

TEST_CASE("maxclients, timeout, tcp-keepalive") {
  Config c;
  REQUIRE(Apply(&c, "maxclients", {"1"}).ok());
  CHECK(c.maxclients == 1);
  REQUIRE(Apply(&c, "maxclients", {"4294967295"}).ok());
  CHECK(c.maxclients == 4294967295LL);
  REQUIRE(Apply(&c, "timeout", {"0"}).ok());
  REQUIRE(Apply(&c, "timeout", {"3600"}).ok());
  CHECK(c.timeout == 3600);
  REQUIRE(Apply(&c, "tcp-keepalive", {"0"}).ok());
  CHECK(c.tcp_keepalive == 0);
  REQUIRE(Apply(&c, "tcp-keepalive", {"60"}).ok());
  CHECK(c.tcp_keepalive == 60);
  CheckCases({
      {"maxclients", {"0"}, "argument must be between 1 and 4294967295 inclusive"},
      {"maxclients", {"4294967296"}, "argument must be between 1 and 4294967295 inclusive"},
      {"maxclients", {"many"}, kNotInt},
      {"maxclients", {"1e3"}, kNotInt},
      {"timeout", {"-1"}, "argument must be between 0 and 2147483647 inclusive"},
      {"timeout", {"2147483648"}, "argument must be between 0 and 2147483647 inclusive"},
      {"timeout", {"5s"}, kNotInt},
      {"tcp-keepalive", {"-5"}, "argument must be between 0 and 2147483647 inclusive"},
      {"tcp-keepalive", {"x"}, kNotInt},
      {"timeout", {"99999999999999999999"}, kNotInt},
  });
}

TEST_CASE("dir") {
  Config c;
  REQUIRE(Apply(&c, "dir", {"/var/lib/lockd"}).ok());
  CHECK(c.dir == "/var/lib/lockd");
  REQUIRE(Apply(&c, "dir", {"./"}).ok());
  CHECK(c.dir == ".");
  REQUIRE(Apply(&c, "dir", {"/data//"}).ok());
  CHECK(c.dir == "/data");
  REQUIRE(Apply(&c, "dir", {"/"}).ok());
  CHECK(c.dir == "/");
  CheckCases({{"dir", {""}, "dir can't be empty"}});
}

TEST_CASE("appendonly, aof-load-truncated, daemonize: yes/no in any case") {
  Config c;
  REQUIRE(Apply(&c, "appendonly", {"yes"}).ok());  // accepted; main() refuses it for now
  CHECK(c.appendonly);
  REQUIRE(Apply(&c, "appendonly", {"NO"}).ok());
  CHECK_FALSE(c.appendonly);
  REQUIRE(Apply(&c, "aof-load-truncated", {"No"}).ok());
  CHECK_FALSE(c.aof_load_truncated);
  REQUIRE(Apply(&c, "daemonize", {"YES"}).ok());
  CHECK(c.daemonize);
  CheckCases({
      {"appendonly", {"true"}, kYesNo},
      {"aof-load-truncated", {"1"}, kYesNo},
      {"daemonize", {""}, kYesNo},
      {"daemonize", {"yes", "no"}, "Wrong number of arguments"},
  });
}

TEST_CASE("appendfilename") {
  Config c;
  REQUIRE(Apply(&c, "appendfilename", {"locks.aof"}).ok());
  CHECK(c.appendfilename == "locks.aof");
  CheckCases({
      {"appendfilename", {""}, "appendfilename can't be empty"},
      {"appendfilename", {"dir/locks.aof"}, "appendfilename can't be a path, just a filename"},
      {"appendfilename", {"/abs.aof"}, "appendfilename can't be a path, just a filename"},
      {"appendfilename", {"..\\x.aof"}, "appendfilename can't be a path, just a filename"},
      {"appendfilename", {".."}, "appendfilename can't be a path, just a filename"},
  });
}

TEST_CASE("appendfsync and loglevel") {
  Config c;
  REQUIRE(Apply(&c, "appendfsync", {"everysec"}).ok());
  CHECK(c.appendfsync == AppendFsync::kEverySec);
  REQUIRE(Apply(&c, "appendfsync", {"NO"}).ok());
  CHECK(c.appendfsync == AppendFsync::kNo);
  REQUIRE(Apply(&c, "appendfsync", {"Always"}).ok());
  CHECK(c.appendfsync == AppendFsync::kAlways);
  const std::pair<const char*, LogLevel> levels[] = {{"debug", LogLevel::kDebug},
                                                     {"verbose", LogLevel::kVerbose},
                                                     {"notice", LogLevel::kNotice},
                                                     {"warning", LogLevel::kWarning},
                                                     {"NOTHING", LogLevel::kNothing}};
  for (const auto& [name, level] : levels) {
    REQUIRE(Apply(&c, "loglevel", {name}).ok());
    CHECK(c.loglevel == level);
  }
  CheckCases({
      {"appendfsync", {"sometimes"}, "argument(s) must be one of the following: everysec, always, no"},
      {"loglevel",
       {"loud"},
       "argument(s) must be one of the following: debug, verbose, notice, warning"},
  });
}

TEST_CASE("aof rewrite thresholds") {
  Config c;
  REQUIRE(Apply(&c, "auto-aof-rewrite-percentage", {"0"}).ok());
  CHECK(c.auto_aof_rewrite_percentage == 0);
  REQUIRE(Apply(&c, "auto-aof-rewrite-min-size", {"1kb"}).ok());
  CHECK(c.auto_aof_rewrite_min_size == 1024);
  REQUIRE(Apply(&c, "auto-aof-rewrite-min-size", {"0"}).ok());
  CHECK(c.auto_aof_rewrite_min_size == 0);
  CheckCases({
      {"auto-aof-rewrite-percentage",
       {"-1"},
       "argument must be between 0 and 2147483647 inclusive"},
      {"auto-aof-rewrite-percentage", {"50%"}, kNotInt},
      {"auto-aof-rewrite-min-size", {"-1"}, kNotMem},
      {"auto-aof-rewrite-min-size", {"1.5mb"}, kNotMem},
      {"auto-aof-rewrite-min-size", {"lots"}, kNotMem},
  });
}

TEST_CASE("lua-time-limit and its alias busy-reply-threshold") {
  Config c;
  REQUIRE(Apply(&c, "lua-time-limit", {"100"}).ok());
  CHECK(c.lua_time_limit == 100);
  REQUIRE(Apply(&c, "busy-reply-threshold", {"250"}).ok());
  CHECK(c.lua_time_limit == 250);
  REQUIRE(Apply(&c, "lua-time-limit", {"0"}).ok());
  CHECK(c.lua_time_limit == 0);
  CheckCases({
      {"lua-time-limit", {"-1"}, "argument must be between 0 and 9223372036854775807 inclusive"},
      {"busy-reply-threshold", {"soon"}, kNotInt},
  });
}

TEST_CASE("proto-max-bulk-len and client-query-buffer-limit are memory values >= 1mb") {
  Config c;
  REQUIRE(Apply(&c, "proto-max-bulk-len", {"1mb"}).ok());
  CHECK(c.proto_max_bulk_len == 1024 * 1024);
  REQUIRE(Apply(&c, "proto-max-bulk-len", {"2gb"}).ok());
  CHECK(c.proto_max_bulk_len == 2LL * 1024 * 1024 * 1024);
  REQUIRE(Apply(&c, "client-query-buffer-limit", {"1048576"}).ok());
  CHECK(c.client_query_buffer_limit == 1048576);
  REQUIRE(Apply(&c, "client-query-buffer-limit", {"4GB"}).ok());
  CHECK(c.client_query_buffer_limit == 4LL * 1024 * 1024 * 1024);
  CheckCases({
      {"proto-max-bulk-len",
       {"1048575"},
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {"proto-max-bulk-len",
       {"1m"},  // 1m is 1,000,000 bytes: below 1mb
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {"proto-max-bulk-len", {"big"}, kNotMem},
      {"client-query-buffer-limit",
       {"100"},
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {"client-query-buffer-limit", {"-1mb"}, kNotMem},
  });
}

TEST_CASE("client-output-buffer-limit") {
  Config c;
  REQUIRE(Apply(&c, "client-output-buffer-limit", {"normal", "1mb", "512kb", "10"}).ok());
  CHECK(c.output_limit_normal == OutputLimit{1024 * 1024, 512 * 1024, 10});
  CHECK(c.output_limit_replica == Config().output_limit_replica);

  REQUIRE(Apply(&c, "client-output-buffer-limit",
                {"REPLICA", "1", "2", "3", "pubsub", "4k", "5", "6", "slave", "7", "8", "9"})
              .ok());
  CHECK(c.output_limit_replica == OutputLimit{7, 8, 9});  // slave is replica; the last wins
  CHECK(c.output_limit_pubsub == OutputLimit{4000, 5, 6});

  constexpr const char* kArity = "Wrong number of arguments in buffer limit configuration.";
  constexpr const char* kClass = "Invalid client class specified in buffer limit configuration.";
  constexpr const char* kValue =
      "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
  CheckCases({
      {"client-output-buffer-limit", {"normal", "1", "2"}, "Wrong number of arguments"},
      {"client-output-buffer-limit", {"normal", "1", "2", "3", "pubsub"}, kArity},
      {"client-output-buffer-limit", {"master", "1", "2", "3"}, kClass},
      {"client-output-buffer-limit", {"normal", "x", "2", "3"}, kValue},
      {"client-output-buffer-limit", {"normal", "1", "-2", "3"}, kValue},
      {"client-output-buffer-limit", {"normal", "1", "2", "-3"}, kValue},
      {"client-output-buffer-limit", {"normal", "1", "2", "3s"}, kValue},
      // One bad group refuses the whole line, including the good group before it.
      {"client-output-buffer-limit", {"normal", "1", "2", "3", "pubsub", "1", "2", "x"}, kValue},
  });
}

TEST_CASE("logfile, pidfile") {
  Config c;
  REQUIRE(Apply(&c, "logfile", {"/var/log/lockd.log"}).ok());
  CHECK(c.logfile == "/var/log/lockd.log");
  REQUIRE(Apply(&c, "pidfile", {"/run/lockd.pid"}).ok());
  CHECK(c.pidfile == "/run/lockd.pid");
  CheckCases({{"logfile", {}, "Wrong number of arguments"}});
}

TEST_CASE("lock-max-waiters") {
  Config c;
  REQUIRE(Apply(&c, "lock-max-waiters", {"1"}).ok());
  CHECK(c.lock_max_waiters == 1);
  REQUIRE(Apply(&c, "LOCK-MAX-WAITERS", {"50000"}).ok());
  CHECK(c.lock_max_waiters == 50000);
  CheckCases({
      {"lock-max-waiters", {"0"}, "argument must be between 1 and 4294967295 inclusive"},
      {"lock-max-waiters", {"ten"}, kNotInt},
  });
}

TEST_CASE("an unknown directive is named") {
  Config c;
  Status s = Apply(&c, "Maxmemory-Nosuch", {"100mb"});
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() ==
        "Bad directive or wrong number of arguments: unknown directive 'maxmemory-nosuch'");
  CHECK(c == Config());
}

TEST_CASE("invalid-value messages show the argument and the directive") {
  Config c;
  Status s = Apply(&c, "Port", {"abc"});
  CHECK(s.message() ==
        "Invalid argument 'abc' for 'port': argument couldn't be parsed into an integer");
}

TEST_CASE("IsConfigName and IsConfigMutableAtRuntime") {
  CHECK(IsConfigName("port"));
  CHECK(IsConfigName("BUSY-REPLY-THRESHOLD"));
  // Redis's own directives are names (accepted for compatibility); a name
  // Redis does not know is not.
  CHECK(IsConfigName("maxmemory"));
  CHECK_FALSE(IsConfigName("maxmemory-nosuch"));
  CHECK(IsConfigName("save"));
  CHECK_FALSE(IsConfigName(""));
  CHECK(IsConfigMutableAtRuntime("maxclients"));
  CHECK_FALSE(IsConfigMutableAtRuntime("port"));
  CHECK_FALSE(IsConfigMutableAtRuntime("nosuch"));
}

// --- conf/lockd.conf --------------------------------------------------------

TEST_CASE("conf/lockd.conf parses to the default Config") {
  const std::string text = ReadLockdConf();
  Config c;
  Status s = ParseConfigText(text, "conf/lockd.conf", &c);
  INFO(s.message());
  REQUIRE(s.ok());
  // Except for the HTTP/JSON API, off by default, which `make run` shows.
  Config expected;
  expected.http_port = 7380;
  CHECK(c == expected);
}

// Whether `name` is one of the Redis directives accepted with no effect.
bool IsRedisCompatOnly(const std::string& name) {
  for (const config_internal::Directive& d : config_internal::AllDirectives()) {
    if (name == d.name) return d.compat != nullptr;
  }
  return false;
}

TEST_CASE("conf/lockd.conf sets and documents every directive") {
  const std::string text = ReadLockdConf();
  for (const auto& pair : ConfigGet(Config(), "*")) {
    const std::string name = pair.first;
    if (name == "busy-reply-threshold") {  // the alias is documented under lua-time-limit
      CHECK(text.find(name) != std::string::npos);
      continue;
    }
    INFO(name);
    if (IsRedisCompatOnly(name)) {
      // Listed in the REDIS COMPATIBILITY table with its default.
      const size_t table = text.find("REDIS COMPATIBILITY");
      REQUIRE(table != std::string::npos);
      // A directive opens its row; an alias stands in parentheses after it.
      const bool listed = text.find("\n#   " + name + " ", table) != std::string::npos ||
                          text.find(" (" + name + ") ", table) != std::string::npos;
      CHECK(listed);
      continue;
    }
    // Set on a line of its own, below a comment block that gives the
    // default and says whether CONFIG SET can change it.
    const size_t at = text.find("\n" + name + " ");
    REQUIRE(at != std::string::npos);
    const size_t block = text.rfind("\n\n", at);
    REQUIRE(block != std::string::npos);
    const std::string comment = text.substr(block, at - block);
    CHECK(comment.find("\n# ") != std::string::npos);
    CHECK(comment.find("efault") != std::string::npos);
    CHECK(comment.find("CONFIG SET: ") != std::string::npos);
  }
}

// --- Command line -------------------------------------------------------------

TEST_CASE("no arguments: defaults") {
  Config c;
  c.port = 1;
  CommandLineAction action;
  REQUIRE(RunCommandLine({"lockd-server"}, &c, &action).ok());
  CHECK(action == CommandLineAction::kRun);
  CHECK(c == Config());
}

TEST_CASE("--version, -v, --help, -h") {
  Config c;
  CommandLineAction action;
  REQUIRE(RunCommandLine({"lockd-server", "--version"}, &c, &action).ok());
  CHECK(action == CommandLineAction::kVersion);
  REQUIRE(RunCommandLine({"lockd-server", "-v"}, &c, &action).ok());
  CHECK(action == CommandLineAction::kVersion);
  REQUIRE(RunCommandLine({"lockd-server", "--help"}, &c, &action).ok());
  CHECK(action == CommandLineAction::kHelp);
  REQUIRE(RunCommandLine({"lockd-server", "-h"}, &c, &action).ok());
  CHECK(action == CommandLineAction::kHelp);
  // Late on the line too, even after an unreadable file.
  REQUIRE(
      RunCommandLine({"lockd-server", "/nonexistent.conf", "--port", "1", "--help"}, &c, &action)
          .ok());
  CHECK(action == CommandLineAction::kHelp);
  CHECK(CommandLineUsage("lockd-server").find("Usage: lockd-server [/path/to/lockd.conf]") == 0);
}

TEST_CASE("--directive overrides, in order, after the file") {
  TempFile file("port 7000\nloglevel warning\ntimeout 10\n");
  Config c;
  CommandLineAction action;
  Status s = RunCommandLine(
      {"lockd-server", file.path(), "--port", "7001", "--timeout", "20", "--port", "7002"}, &c,
      &action);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(action == CommandLineAction::kRun);
  CHECK(c.port == 7002);
  CHECK(c.timeout == 20);
  CHECK(c.loglevel == LogLevel::kWarning);  // from the file, not overridden
  CHECK(c.config_file == file.path());      // already absolute
}

TEST_CASE("overrides take several arguments until the next --") {
  Config c;
  CommandLineAction action;
  REQUIRE(RunCommandLine({"lockd-server", "--bind", "10.0.0.1", "-::1",
                          "--client-output-buffer-limit", "normal", "1", "2", "3", "--port", "1"},
                         &c, &action)
              .ok());
  CHECK(c.bind == Args{"10.0.0.1", "-::1"});
  CHECK(c.output_limit_normal == OutputLimit{1, 2, 3});
  CHECK(c.port == 1);
}

TEST_CASE("the first token after --name is its value even if it starts with --") {
  Config c;
  CommandLineAction action;
  REQUIRE(RunCommandLine({"lockd-server", "--requirepass", "--secret", "--port", "5"}, &c, &action)
              .ok());
  CHECK(c.requirepass == "--secret");
  CHECK(c.port == 5);
}

TEST_CASE("--name and value in one token, as redis-server allows") {
  Config c;
  CommandLineAction action;
  REQUIRE(RunCommandLine({"lockd-server", "--port 6380", "--requirepass 'a b'"}, &c, &action).ok());
  CHECK(c.port == 6380);
  CHECK(c.requirepass == "a b");
}

TEST_CASE("command-line errors name the directive") {
  Config c;
  CommandLineAction action;
  Status s = RunCommandLine({"lockd-server", "--port", "abc"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() ==
        "Reading the command line, at argument 1 ('--port')\n"
        ">>> 'port \"abc\"'\n"
        "Invalid argument 'abc' for 'port': argument couldn't be parsed into an "
        "integer");
  CHECK(c == Config());

  s = RunCommandLine({"lockd-server", "--nosuch", "1"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("unknown directive 'nosuch'") != std::string::npos);

  s = RunCommandLine({"lockd-server", "--port"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("Wrong number of arguments for 'port' (expected 1, got 0)") !=
        std::string::npos);

  s = RunCommandLine({"lockd-server", "--port", "1", "2"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("'port'") != std::string::npos);

  s = RunCommandLine({"lockd-server", "--port 'x"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("--port 'x") != std::string::npos);
}

TEST_CASE("a bad file line beats a good override, and names the file") {
  TempFile file("port 1\nmaxclients 0\n");
  Config c;
  CommandLineAction action;
  Status s = RunCommandLine({"lockd-server", file.path(), "--maxclients", "5"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find(std::string("'") + file.path() + "', at line 2") != std::string::npos);
  CHECK(s.message().find("'maxclients'") != std::string::npos);
}

TEST_CASE("an unreadable config file is named") {
  Config c;
  CommandLineAction action;
  Status s = RunCommandLine({"lockd-server", "/nonexistent/lockd.conf"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() ==
        "Fatal error, can't open config file '/nonexistent/lockd.conf': No such file or directory");
}

TEST_CASE("a stray argument is refused") {
  Config c;
  CommandLineAction action;
  Status s = RunCommandLine({"lockd-server", "-x"}, &c, &action);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("'-x'") != std::string::npos);
}

TEST_CASE("\"-\" reads the config from standard input") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const std::string text = "port 7100\ntimeout 7\n";
  REQUIRE(write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fds[1]);
  const int saved_stdin = dup(STDIN_FILENO);
  REQUIRE(saved_stdin >= 0);
  dup2(fds[0], STDIN_FILENO);
  close(fds[0]);

  Config c;
  CommandLineAction action;
  Status s = RunCommandLine({"lockd-server", "-", "--timeout", "8"}, &c, &action);

  dup2(saved_stdin, STDIN_FILENO);
  close(saved_stdin);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(c.port == 7100);
  CHECK(c.timeout == 8);
  CHECK(c.config_file.empty());
}

// --- CONFIG GET -----------------------------------------------------------------

TEST_CASE("CONFIG GET formats values as redis-server 7 does") {
  const Config d;
  CHECK(Get(d, "port") == "6379");
  CHECK(Get(d, "bind") == "127.0.0.1 -::1");
  CHECK(Get(d, "unixsocket") == "");
  CHECK(Get(d, "unixsocketperm") == "0");
  CHECK(Get(d, "requirepass") == "");
  CHECK(Get(d, "maxclients") == "10000");
  CHECK(Get(d, "timeout") == "0");
  CHECK(Get(d, "tcp-keepalive") == "300");
  CHECK(Get(d, "dir") == ".");
  CHECK(Get(d, "appendonly") == "yes");
  CHECK(Get(d, "appendfilename") == "appendonly.aof");
  CHECK(Get(d, "appendfsync") == "always");
  CHECK(Get(d, "aof-load-truncated") == "yes");
  CHECK(Get(d, "auto-aof-rewrite-percentage") == "100");
  CHECK(Get(d, "auto-aof-rewrite-min-size") == "67108864");
  CHECK(Get(d, "lua-time-limit") == "5000");
  CHECK(Get(d, "busy-reply-threshold") == "5000");
  CHECK(Get(d, "proto-max-bulk-len") == "536870912");
  CHECK(Get(d, "client-query-buffer-limit") == "1073741824");
  CHECK(Get(d, "client-output-buffer-limit") ==
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
  CHECK(Get(d, "loglevel") == "notice");
  CHECK(Get(d, "logfile") == "");
  CHECK(Get(d, "pidfile") == "");
  CHECK(Get(d, "daemonize") == "no");
  CHECK(Get(d, "lock-max-waiters") == "10000");

  Config c;
  REQUIRE(ParseConfigText("unixsocketperm 755\nappendfsync everysec\nloglevel nothing\n"
                          "bind 0.0.0.0\nproto-max-bulk-len 2mb\ndaemonize yes\n",
                          "x", &c)
              .ok());
  CHECK(Get(c, "unixsocketperm") == "755");  // octal, as it was written
  CHECK(Get(c, "appendfsync") == "everysec");
  CHECK(Get(c, "loglevel") == "nothing");
  CHECK(Get(c, "bind") == "0.0.0.0");
  CHECK(Get(c, "proto-max-bulk-len") == "2097152");
  CHECK(Get(c, "daemonize") == "yes");
}

TEST_CASE("CONFIG GET matches names with a case-insensitive glob") {
  const Config d;
  auto names = [&](std::string_view pattern) {
    std::vector<std::string> out;
    for (const auto& [name, value] : ConfigGet(d, pattern)) out.push_back(name);
    return out;
  };
  // lockd's 49 (18 of them Redis's tls-*, plus http-tls, lock-replica-ack
  // and lock-bind-holder-to-user), then Redis 7.0's
  // others (accepted for compatibility).
  CHECK(names("*").size() == 198);
  CHECK(names("tls-*").size() == 20);  // 18 in effect, 2 for compatibility
  CHECK(names("nosuch").empty());
  CHECK(names("PORT") == std::vector<std::string>{"port"});
  CHECK(names("auto-aof*") ==
        std::vector<std::string>{"auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size"});
  CHECK(names("append*") ==
        std::vector<std::string>{"appendonly", "appendfilename", "appendfsync", "appenddirname"});
  CHECK(names("unixsocket????") == std::vector<std::string>{"unixsocketperm"});
  CHECK(names("[pd]*") ==
        std::vector<std::string>{"port", "dir", "proto-max-bulk-len", "pidfile", "daemonize",
                                 "databases", "dbfilename", "disable-thp", "dynamic-hz",
                                 "proc-title-template", "propagation-error-behavior",
                                 "protected-mode"});
  CHECK(names("*-limit") == std::vector<std::string>{"lua-time-limit", "client-query-buffer-limit",
                                                     "client-output-buffer-limit",
                                                     "cluster-link-sendbuf-limit"});
}

// --- CONFIG SET -----------------------------------------------------------------

TEST_CASE("CONFIG SET changes the directives that may change at run time") {
  Config c;
  REQUIRE(ConfigSetAtRuntime(&c, "requirepass", "pw").ok());
  CHECK(c.requirepass == "pw");
  REQUIRE(ConfigSetAtRuntime(&c, "MAXCLIENTS", "50").ok());
  CHECK(c.maxclients == 50);
  REQUIRE(ConfigSetAtRuntime(&c, "timeout", "30").ok());
  CHECK(c.timeout == 30);
  REQUIRE(ConfigSetAtRuntime(&c, "tcp-keepalive", "0").ok());
  CHECK(c.tcp_keepalive == 0);
  REQUIRE(ConfigSetAtRuntime(&c, "appendfsync", "no").ok());
  CHECK(c.appendfsync == AppendFsync::kNo);
  REQUIRE(ConfigSetAtRuntime(&c, "aof-load-truncated", "no").ok());
  CHECK_FALSE(c.aof_load_truncated);
  REQUIRE(ConfigSetAtRuntime(&c, "auto-aof-rewrite-percentage", "50").ok());
  CHECK(c.auto_aof_rewrite_percentage == 50);
  REQUIRE(ConfigSetAtRuntime(&c, "auto-aof-rewrite-min-size", "1kb").ok());
  CHECK(c.auto_aof_rewrite_min_size == 1024);
  REQUIRE(ConfigSetAtRuntime(&c, "lua-time-limit", "10").ok());
  CHECK(c.lua_time_limit == 10);
  REQUIRE(ConfigSetAtRuntime(&c, "busy-reply-threshold", "20").ok());
  CHECK(c.lua_time_limit == 20);
  REQUIRE(ConfigSetAtRuntime(&c, "proto-max-bulk-len", "1mb").ok());
  CHECK(c.proto_max_bulk_len == 1048576);
  REQUIRE(ConfigSetAtRuntime(&c, "client-query-buffer-limit", "2mb").ok());
  CHECK(c.client_query_buffer_limit == 2097152);
  REQUIRE(
      ConfigSetAtRuntime(&c, "client-output-buffer-limit", "normal 1mb 2 3  pubsub 4 5 6").ok());
  CHECK(c.output_limit_normal == OutputLimit{1048576, 2, 3});
  CHECK(c.output_limit_pubsub == OutputLimit{4, 5, 6});
  REQUIRE(ConfigSetAtRuntime(&c, "loglevel", "debug").ok());
  CHECK(c.loglevel == LogLevel::kDebug);
  REQUIRE(ConfigSetAtRuntime(&c, "lock-max-waiters", "3").ok());
  CHECK(c.lock_max_waiters == 3);
  // A single-argument directive takes the value whole, spaces included.
  REQUIRE(ConfigSetAtRuntime(&c, "requirepass", "a b").ok());
  CHECK(c.requirepass == "a b");
}

TEST_CASE("CONFIG SET refuses immutable directives") {
  for (const char* name : {"port", "bind", "unixsocket", "unixsocketperm", "appendonly",
                           "appendfilename", "logfile", "pidfile", "daemonize"}) {
    INFO(name);
    Config c;
    Status s = ConfigSetAtRuntime(&c, name, "1");
    REQUIRE_FALSE(s.ok());
    CHECK(s.message() == "can't set immutable config");
    CHECK(c == Config());
  }
  // Redis's protected configs, refused as Redis 7.0 refuses them by default.
  for (const char* name : {"dir", "dbfilename"}) {
    INFO(name);
    Config c;
    Status s = ConfigSetAtRuntime(&c, name, "x");
    REQUIRE_FALSE(s.ok());
    CHECK(s.message() == "can't set protected config");
    CHECK(c == Config());
  }
}

TEST_CASE("CONFIG SET of an unknown name gives Redis's message") {
  Config c;
  Status s = ConfigSetAtRuntime(&c, "nosuch", "1");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == "Unknown option or number of arguments for CONFIG SET - 'nosuch'");
}

TEST_CASE("CONFIG SET with an invalid value leaves the config unchanged") {
  struct Bad {
    const char* name;
    const char* value;
    const char* message;
  };
  const Bad bad[] = {
      {"maxclients", "abc", "argument couldn't be parsed into an integer"},
      {"maxclients", "0", "argument must be between 1 and 4294967295 inclusive"},
      {"timeout", "-1", "argument must be between 0 and 2147483647 inclusive"},
      {"timeout", " 5", "argument couldn't be parsed into an integer"},
      {"tcp-keepalive", "", "argument couldn't be parsed into an integer"},
      {"appendfsync", "bogus", "argument(s) must be one of the following: everysec, always, no"},
      {"loglevel", "bogus",
       "argument(s) must be one of the following: debug, verbose, notice, warning"},
      {"aof-load-truncated", "maybe", "argument must be 'yes' or 'no'"},
      {"auto-aof-rewrite-percentage", "x", "argument couldn't be parsed into an integer"},
      {"auto-aof-rewrite-min-size", "12x", "argument must be a memory value"},
      {"proto-max-bulk-len", "10",
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {"client-query-buffer-limit", "100",
       "argument must be between 1048576 and 9223372036854775807 inclusive"},
      {"client-output-buffer-limit", "normal 1 2",
       "Wrong number of arguments in buffer limit configuration."},
      {"client-output-buffer-limit", "",
       "Wrong number of arguments in buffer limit configuration."},
      {"client-output-buffer-limit", "foo 1 2 3",
       "Invalid client class specified in buffer limit configuration."},
      {"client-output-buffer-limit", "normal a 2 3",
       "Error in hard, soft or soft_seconds setting in buffer limit configuration."},
      {"lock-max-waiters", "0", "argument must be between 1 and 4294967295 inclusive"},
      {"lua-time-limit", "-1", "argument must be between 0 and 9223372036854775807 inclusive"},
  };
  for (const Bad& k : bad) {
    INFO(k.name, " '", k.value, "'");
    Config c;
    Status s = ConfigSetAtRuntime(&c, k.name, k.value);
    REQUIRE_FALSE(s.ok());
    CHECK(s.message() == k.message);
    CHECK(c == Config());
  }
}

TEST_CASE("CONFIG SET of several pairs is all or nothing") {
  Config c;
  std::string failed;
  REQUIRE(ConfigSetManyAtRuntime(&c, {{"timeout", "5"}, {"maxclients", "7"}}, &failed).ok());
  CHECK(c.timeout == 5);
  CHECK(c.maxclients == 7);
  CHECK(failed.empty());

  const Config before = c;
  Status s = ConfigSetManyAtRuntime(&c, {{"timeout", "6"}, {"maxclients", "-1"}}, &failed);
  REQUIRE_FALSE(s.ok());
  CHECK(failed == "maxclients");
  CHECK(s.message() == "argument must be between 1 and 4294967295 inclusive");
  CHECK(c == before);  // the good first pair was not applied either

  s = ConfigSetManyAtRuntime(&c, {{"timeout", "6"}, {"TIMEOUT", "7"}}, &failed);
  CHECK(s.message() == "duplicate parameter");
  CHECK(failed == "TIMEOUT");
  // Redis 7.0 takes an alias as a name of its own: no repeat, the last wins.
  Config aliased = c;
  s = ConfigSetManyAtRuntime(&aliased, {{"lua-time-limit", "6"}, {"busy-reply-threshold", "7"}},
                             &failed);
  CHECK(s.ok());
  CHECK(aliased.lua_time_limit == 7);
  // A bad value is reported under the directive's own spelling.
  s = ConfigSetManyAtRuntime(&c, {{"TIMEOUT", "abc"}}, &failed);
  CHECK(failed == "timeout");

  s = ConfigSetManyAtRuntime(&c, {{"timeout", "6"}, {"port", "7"}}, &failed);
  CHECK(s.message() == "can't set immutable config");
  CHECK(failed == "port");

  s = ConfigSetManyAtRuntime(&c, {{"timeout", "6"}, {"nosuch", "7"}}, &failed);
  CHECK(s.message() == "Unknown option or number of arguments for CONFIG SET - 'nosuch'");
  CHECK(failed.empty());
  CHECK(c == before);
}

TEST_CASE("enum names") {
  CHECK(std::string(AppendFsyncName(AppendFsync::kAlways)) == "always");
  CHECK(std::string(AppendFsyncName(AppendFsync::kEverySec)) == "everysec");
  CHECK(std::string(AppendFsyncName(AppendFsync::kNo)) == "no");
  CHECK(std::string(LogLevelName(LogLevel::kDebug)) == "debug");
  CHECK(std::string(LogLevelName(LogLevel::kVerbose)) == "verbose");
  CHECK(std::string(LogLevelName(LogLevel::kNotice)) == "notice");
  CHECK(std::string(LogLevelName(LogLevel::kWarning)) == "warning");
  CHECK(std::string(LogLevelName(LogLevel::kNothing)) == "nothing");
}

TEST_CASE("save is accepted for redis.conf compatibility and always reads as empty") {
  Config c;
  CHECK(Apply(&c, "save", {"900", "1", "300", "10"}).ok());
  CHECK(Apply(&c, "save", {""}).ok());
  CHECK_FALSE(Apply(&c, "save", {"900"}).ok());
  CHECK_FALSE(Apply(&c, "save", {"x", "1"}).ok());
  auto got = ConfigGet(c, "save");
  REQUIRE(got.size() == 1);
  CHECK(got[0].second == "");
}

}  // namespace
}  // namespace lockd
