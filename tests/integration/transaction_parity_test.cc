// Transactions and client handshakes, compared byte for byte with a real
// redis-server 7.0 (the pattern and helpers of redis_parity_test.cc): the
// same commands go to both, in RESP2 and after HELLO 3. Where a step must
// differ (lockd changes a key with LOCK.ACQUIRE, Redis with SET; HELLO's id
// and version), each side gets its own command and only the replies that
// must match are compared. Skipped without a redis-server binary.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
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

// Runs `lines` (space-separated words) on both servers in order, comparing
// each reply.
void SameAll(Pair& p, std::initializer_list<const char*> lines) {
  for (const char* line : lines) p.Same(Words(line));
}

// HELLO's reply with the connection id and the server version blanked, the
// two fields that differ by nature.
std::string NormalizeHello(const std::string& reply) {
  std::string out = std::regex_replace(reply, std::regex(R"(\$2\r\nid\r\n:\d+\r\n)"),
                                       "$$2\r\nid\r\n:ID\r\n");
  return std::regex_replace(out, std::regex(R"(\$7\r\nversion\r\n\$\d+\r\n[0-9.]+\r\n)"),
                            "$$7\r\nversion\r\nVERSION\r\n");
}

// Sends HELLO `args` to both and checks the replies match but for id and version.
void SameHello(Pair& p, const std::vector<std::string>& args) {
  std::string l = p.lockd.Call(args);
  std::string r = p.redis.Call(args);
  CHECK_MESSAGE(NormalizeHello(l) == NormalizeHello(r), Join(args), "\n  redis: ", Show(r),
                "\n  lockd: ", Show(l));
}

}  // namespace

TEST_CASE("transaction parity: MULTI/EXEC/DISCARD/WATCH errors and replies, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    if (proto == 3) SameHello(p, {"HELLO", "3"});
    // Outside MULTI.
    SameAll(p, {"EXEC", "DISCARD", "UNWATCH", "WATCH", "EXEC x", "DISCARD x", "MULTI x",
                "UNWATCH x", "WATCH a b c", "UNWATCH"});
    // An empty transaction, nested MULTI and WATCH inside it (neither dooms it).
    SameAll(p, {"MULTI", "EXEC", "MULTI", "MULTI", "WATCH k", "PING", "EXEC"});
    // Queued replies and runtime errors as entries of EXEC's array.
    SameAll(p, {"MULTI", "PING", "ECHO hi", "GET k", "EXISTS k nokey", "PTTL k", "PING a b",
                "SELECT x", "SELECT 0", "UNWATCH", "EXEC"});
    // Refusals while queuing: EXECABORT.
    SameAll(p, {"MULTI", "NOSUCH a b", "PING", "EXEC"});
    SameAll(p, {"MULTI", "GET", "EXEC"});
    SameAll(p, {"MULTI", "GET k", "SHUTDOWN", "EXEC"});
    SameAll(p, {"MULTI", "CLIENT NOPE", "EXEC"});
    SameAll(p, {"MULTI", "DISCARD x", "MULTI x", "WATCH", "EXEC"});
    // EXEC with arguments ends the transaction.
    SameAll(p, {"MULTI", "PING", "EXEC x", "EXEC"});
    // DISCARD.
    SameAll(p, {"MULTI", "PING", "DISCARD", "DISCARD", "EXEC"});
    // WATCH and UNWATCH with nothing changed.
    SameAll(p, {"WATCH k other", "MULTI", "GET k", "EXEC", "WATCH k", "UNWATCH", "MULTI", "EXEC"});
    // RESET inside MULTI ends it (and returns to RESP2).
    SameAll(p, {"MULTI", "GET k", "RESET", "EXEC"});
  }
}

TEST_CASE("transaction parity: a WATCHed key changed by another client, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  int n = 0;
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    Wire other_lockd(srv.port());
    Wire other_redis(redis.port());
    if (proto == 3) SameHello(p, {"HELLO", "3"});
    std::string key = "k" + std::to_string(++n);
    p.Same({"WATCH", key});
    // The change: a lock on lockd, a string on Redis.
    REQUIRE(other_lockd.Call({"LOCK.ACQUIRE", key, "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Call({"SET", key, "h"}) == "+OK\r\n");
    SameAll(p, {"MULTI", "PING"});
    p.Same({"EXISTS", key});
    p.Same({"EXEC"});
    // EXEC forgot the watch: the next one runs.
    SameAll(p, {"MULTI", "PING", "EXEC"});
    // Changes to other keys, and changes before WATCH, are no conflict.
    p.Same({"WATCH", key});
    REQUIRE(other_lockd.Call({"LOCK.ACQUIRE", key + "x", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Call({"SET", key + "x", "h"}) == "+OK\r\n");
    p.Same({"WATCH", key + "x"});
    REQUIRE(other_lockd.Call({"LOCK.ACQUIRE", key + "y", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Call({"SET", key + "y", "h"}) == "+OK\r\n");
    SameAll(p, {"MULTI", "EXEC"});
    // The same, with the key changed after MULTI (between queued commands).
    p.Same({"WATCH", key + "y"});
    SameAll(p, {"MULTI", "PING"});
    REQUIRE(other_lockd.Call({"LOCK.ACQUIRE", key + "y", "h", "60000"}).rfind(":", 0) == 0);
    REQUIRE(other_redis.Call({"SET", key + "y", "h2"}) == "+OK\r\n");
    SameAll(p, {"EXEC"});
  }
}

TEST_CASE("transaction parity: QUIT inside MULTI replies OK and closes") {
  START_REDIS(redis);
  START_SERVER(srv);
  Pair p(srv.port(), redis.port());
  SameAll(p, {"MULTI", "PING", "QUIT"});
  CHECK(p.lockd.ReadOne(2000).empty());
  CHECK(p.redis.ReadOne(2000).empty());
}

TEST_CASE("handshake parity: what redis-py, go-redis and ioredis send on connect") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    // go-redis v9 and redis-py 5: HELLO 3 first, maybe with AUTH and SETNAME
    // (without a password the default user takes any).
    if (proto == 3) {
      SameHello(p, {"HELLO", "3"});
      SameHello(p, {"HELLO", "3", "SETNAME", "app"});
      SameHello(p, {"HELLO", "3", "AUTH", "default", "anything", "SETNAME", "app"});
    } else {
      SameHello(p, {"HELLO", "2"});
      SameHello(p, {"HELLO"});
    }
    // Then, pipelined and with errors ignored: SELECT, READONLY (cluster
    // clients), CLIENT SETNAME; ioredis's ready check sends INFO.
    SameAll(p, {"SELECT 0", "CLIENT SETNAME app", "CLIENT GETNAME", "READONLY", "READWRITE",
                "ASKING", "CLUSTER INFO", "CLUSTER SLOTS", "CLUSTER NODES", "CLUSTER MYID",
                "CLUSTER", "CLUSTER NOPE", "CLUSTER INFO x", "cluster keyslot", "CLIENT NOPE",
                "CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type internal-ip", "CLIENT",
                "AUTH pw", "AUTH default pw", "PING", "ECHO ready"});
    // What the commands say of themselves (EXEC and WATCH differ: lockd has
    // no skip_slowlog flag, and its key specs always say "access").
    SameAll(p, {"COMMAND INFO readonly readwrite asking", "COMMAND INFO multi discard unwatch"});
    // Redis 7.0 has no CLIENT SETINFO (7.2 added it); lockd answers as 7.2,
    // and the connection goes on in step with Redis's.
    CHECK(p.lockd.Call({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}) == "+OK\r\n");
    CHECK(p.redis.Call({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}).rfind("-ERR", 0) == 0);
    p.Same({"PING"});
  }
}

TEST_CASE("handshake parity: with a password, HELLO 3 AUTH and the commands before it") {
  START_REDIS(redis, "--requirepass", "pw");
  START_SERVER(srv, "--requirepass", "pw");
  Pair p(srv.port(), redis.port());
  // Before authenticating: what a client that sends its setup before AUTH sees.
  SameAll(p, {"CLIENT SETNAME app", "SELECT 0", "MULTI", "PING", "EXEC", "READONLY",
              "HELLO 3", "HELLO 3 AUTH default wrong", "HELLO 3 AUTH nobody pw"});
  SameHello(p, {"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"});
  SameAll(p, {"CLIENT GETNAME", "MULTI", "PING", "CLIENT SETNAME app2", "EXEC", "CLIENT GETNAME"});
  // A new connection authenticating the RESP2 way, as redis-py 4 does.
  Pair q(srv.port(), redis.port());
  SameAll(q, {"AUTH pw", "CLIENT SETNAME app", "SELECT 0", "PING"});
}
