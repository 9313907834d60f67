// Parity with a real redis-server 7.0: the same bytes go to lockd and to a
// redis-server this file starts on a free port, and the raw replies are
// compared byte for byte, in RESP2 and after HELLO 3. Where a reply must
// differ by nature (ids, timings, key order), the comparison says what it
// normalizes. Without a redis-server binary the cases are skipped with a
// message ($REDIS_SERVER names another binary).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "harness.h"

using namespace lockd_test;

namespace {

// ---- A small raw-socket client: multibulk out, one RESP value in ----

// Length of the complete RESP2/RESP3 value at s[pos], 0 when incomplete.
size_t ValueEnd(const std::string& s, size_t pos) {
  if (pos >= s.size()) return 0;
  size_t eol = s.find("\r\n", pos);
  if (eol == std::string::npos) return 0;
  char type = s[pos];
  std::string head = s.substr(pos + 1, eol - pos - 1);
  size_t next = eol + 2;
  switch (type) {
    case '$': case '=': case '!': {  // bulk, verbatim, bulk error
      long long n = std::atoll(head.c_str());
      if (n < 0) return next;
      if (s.size() < next + static_cast<size_t>(n) + 2) return 0;
      return next + static_cast<size_t>(n) + 2;
    }
    case '*': case '~': case '>': case '%': case '|': {
      long long n = std::atoll(head.c_str());
      if (n < 0) return next;
      if (type == '%' || type == '|') n *= 2;
      for (long long i = 0; i < n; ++i) {
        next = ValueEnd(s, next);
        if (next == 0) return 0;
      }
      // An attribute precedes the value it describes.
      return type == '|' ? ValueEnd(s, next) : next;
    }
    default:  // + - : _ , # (
      return next;
  }
}

class Wire {
 public:
  explicit Wire(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Wire() {
    if (fd_ >= 0) close(fd_);
  }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  bool ok() const { return fd_ >= 0; }

  // Sends `args` as a multibulk array and returns the raw bytes of the reply
  // ("" on timeout or EOF).
  std::string Call(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return "";
      sent += static_cast<size_t>(n);
    }
    return ReadOne();
  }

  std::string ReadOne(int timeout_ms = 5000) {
    auto start = Clock::now();
    while (true) {
      size_t end = ValueEnd(buf_, 0);
      if (end != 0) {
        std::string value = buf_.substr(0, end);
        buf_.erase(0, end);
        return value;
      }
      int left = timeout_ms - static_cast<int>(ElapsedMs(start));
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return "";
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return "";
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// Control bytes shown escaped, for failure messages.
std::string Show(const std::string& bytes) {
  std::string out;
  for (char c : bytes) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + ("'" + a + "'");
  return out;
}

// ---- The reference server ----

std::string FindRedisServer() {
  if (const char* env = std::getenv("REDIS_SERVER")) return access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/usr/local/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class RedisReference {
 public:
  explicit RedisReference(std::vector<std::string> extra = {}) {
    binary_ = FindRedisServer();
    if (binary_.empty()) return;
    for (int attempt = 0; attempt < 3 && !started_; ++attempt) Start(extra);
  }
  ~RedisReference() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  RedisReference(const RedisReference&) = delete;
  RedisReference& operator=(const RedisReference&) = delete;

  bool missing() const { return binary_.empty(); }
  bool started() const { return started_; }
  int port() const { return port_; }

 private:
  void Start(const std::vector<std::string>& extra) {
    port_ = FreePort();
    std::vector<std::string> args = {binary_, "--port", std::to_string(port_), "--save", "",
                                     "--appendonly", "no", "--daemonize", "no",
                                     "--bind", "127.0.0.1", "--logfile", "/dev/null"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    started_ = WaitFor(
        [&] {
          Wire w(port_);
          if (!w.ok()) return false;
          std::string r = w.Call({"PING"});
          return r == "+PONG\r\n" || r.rfind("-NOAUTH", 0) == 0;
        },
        5000, 20);
    if (!started_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string binary_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool started_ = false;
};

// Starts the reference, or skips the test case (returns from it) when there
// is no redis-server.
#define START_REDIS(name, ...)                                                         \
  RedisReference name{std::vector<std::string>{__VA_ARGS__}};                          \
  if (name.missing()) {                                                                \
    MESSAGE("redis-server not found (set REDIS_SERVER): parity case skipped");         \
    return;                                                                            \
  }                                                                                    \
  REQUIRE_MESSAGE(name.started(), "redis-server did not start")

// One connection to each server; Same() sends a command to both and checks
// that the replies are the same bytes.
struct Pair {
  Pair(int lockd_port, int redis_port) : lockd(lockd_port), redis(redis_port) {
    REQUIRE(lockd.ok());
    REQUIRE(redis.ok());
  }
  void Same(const std::vector<std::string>& args) {
    std::string l = lockd.Call(args);
    std::string r = redis.Call(args);
    CHECK_MESSAGE(l == r, Join(args), "\n  redis: ", Show(r), "\n  lockd: ", Show(l));
  }
  Wire lockd;
  Wire redis;
};

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// Commands whose replies (mostly errors) must match on an empty keyspace.
const char* const kSharedCases[] = {
    "PING", "ping hello", "PING a b", "ECHO", "ECHO a b", "echo hi",
    "SELECT abc", "SELECT -1", "SELECT 0", "SELECT 16", "select 0 x",
    "TIME x", "DBSIZE", "DBSIZE x", "KEYS", "KEYS a b", "KEYS *", "keys nomatch*",
    "EXISTS", "EXISTS a", "EXISTS a a b", "TYPE", "TYPE a", "TYPE a b",
    "TTL a", "TTL", "PTTL a", "PTTL a b", "GET a", "GET", "GET a b",
    "STRLEN a", "STRLEN", "STRLEN a b",
    "WAIT 0 abc", "WAIT 0 -1", "WAIT abc 0", "WAIT 0 0", "WAIT 0", "wait 0 1.5",
    "SCAN", "SCAN -1", "SCAN -0", "SCAN +0", "SCAN 0", "SCAN 0x1", "SCAN 1.5",
    "SCAN 18446744073709551615", "SCAN 18446744073709551616", "SCAN 0 COUNT 0",
    "SCAN 0 COUNT -1", "SCAN 0 COUNT abc", "SCAN 0 MATCH", "SCAN 0 MATCH a* COUNT 5",
    "SCAN 0 TYPE string", "SCAN 0 foo bar", "SCAN 0 COUNT 1", "scan 0 count 10 match * type string",
    "CLIENT UNBLOCK 1 timeout extra", "CLIENT UNBLOCK abc", "CLIENT UNBLOCK 99999 foo",
    "CLIENT UNBLOCK 99999 error", "CLIENT UNBLOCK 99999", "CLIENT UNBLOCK",
    "CLIENT KILL USER nobody", "CLIENT KILL USER default", "CLIENT KILL 1.2.3.4:5",
    "CLIENT KILL ID abc", "CLIENT KILL ID 0", "CLIENT KILL ID 99999", "CLIENT KILL foo bar",
    "CLIENT KILL TYPE foo", "CLIENT KILL SKIPME maybe", "CLIENT KILL ADDR 1.1.1.1:1 SKIPME no",
    "CLIENT KILL ID", "CLIENT NO-EVICT maybe", "CLIENT NO-EVICT", "CLIENT SETNAME",
    "CLIENT GETNAME", "CLIENT GETNAME x", "CLIENT ID x", "CLIENT FOO", "CLIENT", "client foo bar",
    "CLIENT LIST TYPE foo", "CLIENT LIST foo", "CLIENT LIST ID abc",
    "CONFIG GET", "CONFIG GET nosuch", "CONFIG", "CONFIG FOO", "CONFIG SET", "CONFIG RESETSTAT x",
    "COMMAND COUNT x", "COMMAND FOO", "COMMAND INFO nosuch", "COMMAND DOCS nosuch",
    "COMMAND GETKEYS", "COMMAND GETKEYS get a", "COMMAND GETKEYS get", "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS ping", "COMMAND GETKEYS exists a b c", "COMMAND GETKEYS client kill x",
    "command getkeys TTL k", "CLIENT LIST ID 0", "CLIENT LIST ID -5 abc", "CLIENT LIST ID",
    "CLIENT LIST TYPE normal ID 1", "CLIENT LIST TYPE replica", "CLIENT LIST TYPE pubsub",
    "HELLO 4", "HELLO abc", "HELLO 1", "HELLO 2 foo", "HELLO 2 AUTH a", "HELLO 2 SETNAME",
    "AUTH a b c", "AUTH x", "AUTH default x",
    "RESET x", "INFO nosuch", "NOSUCHCOMMAND a b",
};

}  // namespace

TEST_CASE("parity: shared commands reply as redis-server 7.0, in RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (int proto : {2, 3}) {
    if (proto == 3) {
      // The HELLO replies differ in id and version; the protocol switch is what matters.
      CHECK(p.lockd.Call({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
      CHECK(p.redis.Call({"HELLO", "3"}).rfind("%7\r\n", 0) == 0);
    }
    for (const char* line : kSharedCases) {
      INFO("RESP", proto);
      p.Same(Words(line));
    }
    // Arguments with spaces or empty ones.
    p.Same({"SCAN", ""});
    p.Same({"SCAN", " 1"});
    p.Same({"CLIENT", "SETNAME", "a b"});
    p.Same({"ECHO", ""});
    p.Same({"GET", ""});
  }
  // Last: QUIT takes any arguments, replies OK and closes.
  p.Same({"QUIT", "x"});
}

TEST_CASE("parity: the read commands on a held key, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  // The same string key on both: a lock on lockd, SET ... PX on Redis.
  REQUIRE(p.lockd.Call({"LOCK.ACQUIRE", "k", "holder-1", "100000"}).rfind(":", 0) == 0);
  REQUIRE(p.redis.Call({"SET", "k", "holder-1", "PX", "100000"}) == "+OK\r\n");
  for (int proto : {2, 3}) {
    if (proto == 3) {
      p.lockd.Call({"HELLO", "3"});
      p.redis.Call({"HELLO", "3"});
    }
    for (const char* line : {"GET k", "STRLEN k", "TYPE k", "EXISTS k k nokey", "TTL k",
                             "DBSIZE", "KEYS *", "KEYS k", "KEYS x*", "SCAN 0", "SCAN 0 MATCH k",
                             "SCAN 0 TYPE string"}) {
      INFO("RESP", proto);
      p.Same(Words(line));
    }
  }
}

// Reads a SCAN reply's cursor and keys (RESP2).
bool ParseScanReply(const std::string& bytes, std::string* cursor, std::vector<std::string>* keys) {
  std::optional<RespValue> v = ParseResp(bytes);
  if (!v || v->elems.size() != 2) return false;
  *cursor = v->elems[0].str;
  for (const RespValue& k : v->elems[1].elems) keys->push_back(k.str);
  return true;
}

TEST_CASE("parity: SCAN of a small keyspace fills the page and ends in one call") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    std::string key = "key:" + std::to_string(i);
    expected.push_back(key);
    REQUIRE(p.lockd.Call({"LOCK.ACQUIRE", key, "h", "100000"}).rfind(":", 0) == 0);
    REQUIRE(p.redis.Call({"SET", key, "h", "PX", "100000"}) == "+OK\r\n");
  }
  std::sort(expected.begin(), expected.end());
  // Key order differs by nature (hash tables); the cursor and the set of keys
  // must not.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"SCAN", "0"}, {"SCAN", "0", "COUNT", "10"},
        {"SCAN", "0", "COUNT", "100"}, {"SCAN", "0", "MATCH", "key:*"}}) {
    std::string lc, rc;
    std::vector<std::string> lk, rk;
    REQUIRE(ParseScanReply(p.lockd.Call(args), &lc, &lk));
    REQUIRE(ParseScanReply(p.redis.Call(args), &rc, &rk));
    std::sort(lk.begin(), lk.end());
    std::sort(rk.begin(), rk.end());
    CHECK_MESSAGE(lc == rc, Join(args));
    CHECK_MESSAGE(lc == "0", Join(args));
    CHECK(lk == rk);
    CHECK(lk == expected);
  }
  // Pages of COUNT 2 (which may hold fewer keys: Redis also stops after
  // 10 * COUNT empty slots) return every key, in a few calls.
  std::string cursor = "0";
  std::vector<std::string> all;
  int calls = 0;
  do {
    std::string next;
    std::vector<std::string> page;
    REQUIRE(ParseScanReply(p.lockd.Call({"SCAN", cursor, "COUNT", "2"}), &next, &page));
    all.insert(all.end(), page.begin(), page.end());
    cursor = next;
  } while (cursor != "0" && ++calls < 100);
  CHECK(calls <= 7);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  CHECK(all == expected);
}

TEST_CASE("parity: HELLO and AUTH under requirepass") {
  START_REDIS(redis, "--requirepass", "sekret");
  START_SERVER(srv, "--requirepass", "sekret");
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"HELLO", "HELLO 3", "HELLO 2", "HELLO 3 SETNAME x", "HELLO 3 AUTH default wrong",
        "HELLO 3 AUTH nobody sekret", "HELLO 3 AUTH default", "HELLO 3 SETNAME", "PING",
        "CLIENT KILL USER x", "GET a", "AUTH wrong", "AUTH a b c", "PING x y", "HELLO 5",
        "AUTH default sekret", "PING", "RESET", "PING", "HELLO 2 AUTH default sekret x"}) {
    p.Same(Words(line));
  }
}

// The flags= field of CLIENT INFO.
std::string ClientFlags(Wire& w) {
  std::string info = w.Call({"CLIENT", "INFO"});
  std::smatch m;
  std::regex re(" flags=([^ ]*) ");
  return std::regex_search(info, m, re) ? m[1].str() : "?";
}

TEST_CASE("parity: RESET keeps CLIENT NO-EVICT as Redis 7.0 does, and clears the name") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  p.Same({"CLIENT", "NO-EVICT", "on"});
  p.Same({"CLIENT", "SETNAME", "worker"});
  CHECK(ClientFlags(p.lockd) == ClientFlags(p.redis));
  // HELLO replies differ in ids; RESET must bring both back to RESP2.
  p.lockd.Call({"HELLO", "3"});
  p.redis.Call({"HELLO", "3"});
  p.Same({"RESET"});
  p.Same({"CLIENT", "GETNAME"});
  CHECK(ClientFlags(p.lockd) == "e");
  CHECK(ClientFlags(p.lockd) == ClientFlags(p.redis));
}

// "name" → "calls=..,rejected_calls=..,failed_calls=.." from INFO commandstats,
// without the timings.
std::map<std::string, std::string> CommandStats(Wire& w) {
  std::string info = w.Call({"INFO", "commandstats"});
  std::map<std::string, std::string> out;
  std::regex re("cmdstat_([^:]+):calls=(\\d+),usec=\\d+,usec_per_call=\\d+\\.\\d\\d,"
                "rejected_calls=(\\d+),failed_calls=(\\d+)\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    out[(*it)[1]] = "calls=" + (*it)[2].str() + ",rejected=" + (*it)[3].str() +
                    ",failed=" + (*it)[4].str();
  }
  return out;
}

std::set<std::string> LatencyNames(Wire& w) {
  std::string info = w.Call({"INFO", "latencystats"});
  std::set<std::string> out;
  std::regex re("latency_percentiles_usec_([^:]+):p50=\\d+\\.\\d{3},p99=\\d+\\.\\d{3},"
                "p99\\.9=\\d+\\.\\d{3}\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

std::string InfoValue(Wire& w, const std::string& section, const std::string& field) {
  return InfoField(w.Call({"INFO", section}), field);
}

TEST_CASE("parity: INFO commandstats, errorstats, latencystats and keyspace hits") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  REQUIRE(p.lockd.Call({"LOCK.ACQUIRE", "k", "h", "100000"}).rfind(":", 0) == 0);
  REQUIRE(p.redis.Call({"SET", "k", "h", "PX", "100000"}) == "+OK\r\n");
  p.Same({"CONFIG", "RESETSTAT"});
  for (const char* line :
       {"PING", "PING", "PING a b", "GET k", "GET nokey", "EXISTS k nokey k", "TYPE k", "TYPE x",
        "TTL k", "PTTL nokey", "STRLEN k", "STRLEN nokey", "KEYS *", "SCAN 0", "DBSIZE",
        "SELECT 16", "CLIENT KILL ID abc", "CLIENT GETNAME", "NOSUCH a", "CLIENT FOO", "WAIT 0 abc",
        "WAIT 0 0", "ECHO", "HELLO 9", "AUTH x"}) {
    p.Same(Words(line));
  }
  std::map<std::string, std::string> l = CommandStats(p.lockd), r = CommandStats(p.redis);
  CHECK(!l.empty());
  CHECK(l == r);
  for (const auto& entry : r) CHECK_MESSAGE(l[entry.first] == entry.second, entry.first);
  // Errors by code, byte for byte (both sorted by name).
  p.Same({"INFO", "errorstats"});
  CHECK(LatencyNames(p.lockd) == LatencyNames(p.redis));
  CHECK(LatencyNames(p.lockd).count("ping") == 1);
  for (const char* field : {"keyspace_hits", "keyspace_misses", "total_error_replies"}) {
    CHECK_MESSAGE(InfoValue(p.lockd, "stats", field) == InfoValue(p.redis, "stats", field),
                  field);
  }
  CHECK(InfoValue(p.lockd, "stats", "keyspace_hits") == "6");
}

// The "# Section" titles of an INFO reply, lockd's own "# Locks" left out.
std::vector<std::string> InfoTitles(Wire& w, const std::vector<std::string>& args) {
  std::string info = w.Call(args);
  std::vector<std::string> out;
  std::regex re("# ([A-Za-z]+)\r\n");
  for (std::sregex_iterator it(info.begin(), info.end(), re), end; it != end; ++it) {
    if ((*it)[1] != "Locks") out.push_back((*it)[1]);
  }
  return out;
}

TEST_CASE("parity: INFO selects sections as Redis does") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"INFO", "INFO default", "INFO all", "INFO everything", "INFO commandstats",
        "INFO errorstats latencystats", "INFO server clients", "info CPU", "INFO nosuch",
        "INFO default commandstats", "INFO keyspace cluster modules"}) {
    std::vector<std::string> args = Words(line);
    CHECK_MESSAGE(InfoTitles(p.lockd, args) == InfoTitles(p.redis, args), line);
  }
  p.Same({"INFO", "nosuch"});
  // run_id: 40 hex digits, new at every start.
  std::string run_id = InfoValue(p.lockd, "server", "run_id");
  CHECK(std::regex_match(run_id, std::regex("[0-9a-f]{40}")));
  START_SERVER(other);
  CHECK(other.Info("server", "run_id") != run_id);
  CHECK(other.Info("server", "run_id").size() == 40);
  for (const char* field : {"instantaneous_ops_per_sec", "instantaneous_input_kbps",
                            "instantaneous_output_kbps"}) {
    CHECK_MESSAGE(!InfoValue(p.lockd, "stats", field).empty(), field);
  }
}
