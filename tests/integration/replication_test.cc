// Replication between lockd nodes on Redis's wire protocol: a primary and
// replicas on loopback converge after writes of every kind, keep the
// primary's tokens, restart from their own logs, continue from the backlog
// after a short disconnect, and a promoted replica never issues a token or
// grants a key that the old primary's history could contradict. INFO
// replication and ROLE have the shapes of a redis-server pair's.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "replication_util.h"
#include "parity.h"

namespace lockd_test {
namespace {

// Every key with its holder and token, as LOCK.INFO shows them.
std::map<std::string, std::string> State(Client& c) {
  std::map<std::string, std::string> out;
  bool ok = false;
  for (const std::string& key : ScanAll(c, {}, &ok)) {
    std::optional<LockInfo> info = ParseLockInfo(c.Cmd({"LOCK.INFO", key}));
    if (info) out[key] = info->holder + "/" + std::to_string(info->token);
  }
  REQUIRE(ok);
  return out;
}

int64_t InfoInt(const TestServer& s, const std::string& section, const std::string& field) {
  std::string v = s.Info(section, field);
  return v.empty() ? -1 : std::stoll(v);
}

// Writes of every kind that change locks: the lock commands, the Redis key
// commands, a script, a transaction and a hand-off to a waiter. Returns the
// largest token any reply revealed.
int64_t WriteEverything(TestServer& primary) {
  auto c = primary.Connect();
  REQUIRE(c->ok());
  int64_t top = 0;
  auto token = [&](const Reply& r) {
    REQUIRE_MESSAGE(r.is_int(), r.Describe());
    top = std::max(top, r.integer());
    return r.integer();
  };
  int64_t t = token(c->Cmd({"LOCK.ACQUIRE", "seat:1", "alice", "60000"}));
  CHECK(c->Cmd({"LOCK.RENEW", "seat:1", "alice", std::to_string(t), "90000"}).integer() == 1);
  int64_t t2 = token(c->Cmd({"LOCK.ACQUIRE", "seat:2", "bob", "60000"}));
  CHECK(c->Cmd({"LOCK.RELEASE", "seat:2", "bob", std::to_string(t2)}).integer() == 1);
  CHECK(c->Cmd({"SET", "serial:9", "carol", "NX", "PX", "60000"}).str() == "OK");
  CHECK(c->Cmd({"SET", "diamond", "dave"}).str() == "OK");
  CHECK(c->Cmd({"SET", "gone", "erin"}).str() == "OK");
  CHECK(c->Cmd({"DEL", "gone"}).integer() == 1);
  CHECK(c->Cmd({"PEXPIRE", "diamond", "70000"}).integer() == 1);
  CHECK(c->Cmd({"SET", "forever", "frank", "PX", "50000"}).str() == "OK");
  CHECK(c->Cmd({"PERSIST", "forever"}).integer() == 1);
  token(c->Cmd({"EVAL",
                "redis.call('SET', KEYS[1], 'gina', 'PX', 60000) "
                "return redis.call('LOCK.ACQUIRE', KEYS[2], 'gina', 60000)",
                "2", "script:a", "script:b"}));
  CHECK(c->Cmd({"MULTI"}).str() == "OK");
  c->Cmd({"LOCK.ACQUIRE", "tx:1", "hank", "60000"});
  c->Cmd({"SET", "tx:2", "hank", "PX", "60000"});
  c->Cmd({"DEL", "seat:1"});
  Reply exec = c->Cmd({"EXEC"});
  REQUIRE(exec.is_array());
  top = std::max<int64_t>(top, exec.at(0)->integer);
  // A hand-off: the waiter is granted in the same step as the release.
  int64_t held = token(c->Cmd({"LOCK.ACQUIRE", "hot", "ivan", "60000"}));
  auto waiter = primary.Connect();
  waiter->Append({"LOCK.ACQUIRE", "hot", "judy", "60000", "WAIT", "10000"});
  REQUIRE(waiter->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*c, "hot") == 1; }, 5000));
  CHECK(c->Cmd({"LOCK.RELEASE", "hot", "ivan", std::to_string(held)}).integer() == 1);
  token(waiter->GetReply());
  return top;
}

TEST_CASE("replication: a primary and two replicas converge, keep its tokens, and restart from their logs") {
  ScratchDir pdir, r1dir, r2dir;
  auto primary = StartNode(pdir.path);
  auto r1 = StartReplica(r1dir.path, primary->port());
  auto r2 = StartReplica(r2dir.path, primary->port());
  // Some state before the replicas sync (the snapshot), some after (the stream).
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "early", "zoe", "60000"}).is_int());
  REQUIRE(CaughtUp(*primary, *r1));
  REQUIRE(CaughtUp(*primary, *r2));
  WriteEverything(*primary);
  Reply acks = c->Cmd({"WAIT", "2", "5000"});
  CHECK(acks.integer() == 2);
  REQUIRE(CaughtUp(*primary, *r1));
  REQUIRE(CaughtUp(*primary, *r2));

  auto want = State(*c);
  CHECK(want.size() == 9);
  auto c1 = r1->Connect();
  auto c2 = r2->Connect();
  CHECK(State(*c1) == want);
  CHECK(State(*c2) == want);
  // Reads on a replica: tokens, values and deadlines.
  CHECK(c1->Cmd({"LOCK.FENCE", "hot"}).integer() == c->Cmd({"LOCK.FENCE", "hot"}).integer());
  CHECK(c1->Cmd({"GET", "diamond"}).str() == "dave");
  CHECK(c1->Cmd({"PTTL", "forever"}).integer() == -1);
  CHECK(c1->Cmd({"PTTL", "diamond"}).integer() > 60000);
  CHECK(c1->Cmd({"GET", "gone"}).is_nil());

  // A replica restarts from its own log: with its primary gone, it still
  // has every lease and token.
  c1.reset();
  REQUIRE(r1->StopWith(SIGTERM) == 0);
  primary->StopWith(SIGTERM);
  auto again = StartReplica(r1dir.path, FreePort());
  auto c3 = again->Connect();
  CHECK(State(*c3) == want);
  CHECK(again->Info("replication", "role") == "slave");
  CHECK(again->Info("replication", "master_link_status") == "down");
}

TEST_CASE("replication: a short disconnect continues from the backlog; a long one resyncs in full") {
  ScratchDir pdir, rdir;
  auto primary = StartNode(pdir.path);
  auto replica = StartReplica(rdir.path, primary->port());
  REQUIRE(CaughtUp(*primary, *replica));
  auto c = primary->Connect();
  REQUIRE(c->Cmd({"SET", "a", "1", "PX", "60000"}).str() == "OK");
  REQUIRE(CaughtUp(*primary, *replica));
  CHECK(InfoInt(*primary, "stats", "sync_full") == 1);
  CHECK(InfoInt(*primary, "stats", "sync_partial_ok") == 0);

  // The link is cut; writes go on meanwhile; the replica continues.
  CHECK(c->Cmd({"CLIENT", "KILL", "TYPE", "replica"}).integer() == 1);
  REQUIRE(c->Cmd({"SET", "b", "2", "PX", "60000"}).str() == "OK");
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "c", "3", "60000"}).is_int());
  REQUIRE(WaitFor([&] { return InfoInt(*primary, "stats", "sync_partial_ok") == 1; }, 10000));
  REQUIRE(CaughtUp(*primary, *replica));
  CHECK(InfoInt(*primary, "stats", "sync_full") == 1);
  auto rc = replica->Connect();
  CHECK(State(*rc) == State(*c));

  // A backlog of one byte cannot cover what was written while away.
  REQUIRE(c->Cmd({"CONFIG", "SET", "repl-backlog-size", "1"}).str() == "OK");
  REQUIRE(WaitFor([&] { return primary->Info("replication", "repl_backlog_size") == "1"; }, 5000));
  CHECK(c->Cmd({"CLIENT", "KILL", "TYPE", "slave"}).integer() == 1);
  REQUIRE(c->Cmd({"SET", "d", "4", "PX", "60000"}).str() == "OK");
  REQUIRE(c->Cmd({"DEL", "a"}).integer() == 1);
  REQUIRE(WaitFor([&] { return InfoInt(*primary, "stats", "sync_full") == 2; }, 10000));
  REQUIRE(CaughtUp(*primary, *replica));
  CHECK(InfoInt(*primary, "stats", "sync_partial_err") == 1);
  CHECK(State(*rc) == State(*c));
  CHECK(rc->Cmd({"GET", "a"}).is_nil());
}

TEST_CASE("replication: WAIT, NOREPLICAS and READONLY as Redis replies them") {
  ScratchDir pdir, rdir;
  auto primary = StartNode(pdir.path);
  auto c = primary->Connect();
  // No replica: WAIT 0 answers at once, WAIT 1 at its timeout, both 0.
  CHECK(c->Cmd({"WAIT", "0", "0"}).integer() == 0);
  CHECK(c->Cmd({"WAIT", "1", "100"}).integer() == 0);
  CHECK(c->Cmd({"WAIT", "1", "-1"}).str() == "ERR timeout is negative");
  // min-replicas-to-write without replicas refuses writes, not reads.
  REQUIRE(c->Cmd({"CONFIG", "SET", "min-replicas-to-write", "1"}).str() == "OK");
  CHECK(c->Cmd({"SET", "k", "v"}).str() == "NOREPLICAS Not enough good replicas to write.");
  CHECK(c->Cmd({"LOCK.ACQUIRE", "k", "v", "1000"}).str() ==
        "NOREPLICAS Not enough good replicas to write.");
  CHECK(c->Cmd({"EVAL", "return redis.call('SET', 'k', 'v')", "0"}).str().rfind("NOREPLICAS", 0) == 0);
  CHECK(c->Cmd({"GET", "k"}).is_nil());

  // With a replica that acks, writes pass and WAIT counts it.
  auto replica = StartReplica(rdir.path, primary->port());
  REQUIRE(CaughtUp(*primary, *replica));
  REQUIRE(WaitFor([&] { return c->Cmd({"SET", "k", "v"}).str() == "OK"; }, 5000));
  CHECK(primary->Info("replication", "min_slaves_good_slaves") == "1");
  CHECK(c->Cmd({"WAIT", "1", "5000"}).integer() == 1);
  CHECK(c->Cmd({"WAIT", "2", "200"}).integer() == 1);

  auto rc = replica->Connect();
  CHECK(rc->Cmd({"SET", "x", "y"}).str() == "READONLY You can't write against a read only replica.");
  CHECK(rc->Cmd({"LOCK.ACQUIRE", "x", "y", "1000"}).str() ==
        "READONLY You can't write against a read only replica.");
  CHECK(rc->Cmd({"EVAL", "return redis.call('SET', 'x', 'y')", "0"}).str().rfind("READONLY", 0) == 0);
  CHECK(rc->Cmd({"WAIT", "0", "0"}).str().rfind("ERR WAIT cannot be used with replica instances", 0) == 0);
  CHECK(rc->Cmd({"GET", "k"}).str() == "v");
  // Unlike Redis, a writable replica is not offered: its writes would issue
  // tokens its primary issues too.
  REQUIRE(rc->Cmd({"CONFIG", "SET", "replica-read-only", "no"}).str() == "OK");
  CHECK(rc->Cmd({"SET", "x", "y"}).str() == "READONLY You can't write against a read only replica.");
  CHECK(rc->Cmd({"REPLICAOF", "127.0.0.1", std::to_string(primary->port())}).str() ==
        "OK Already connected to specified master");
  CHECK(rc->Cmd({"REPLICAOF", "127.0.0.1", "notaport"}).str() == "ERR Invalid master port");
}

TEST_CASE("replication: a promoted replica issues tokens above the old primary's and waits out its leases") {
  ScratchDir pdir, rdir;
  // everysec: the primary reserves tokens and lease horizons ahead of what it
  // reveals, and those reservations are what the replica must resume above.
  auto primary = StartNode(pdir.path, {"--appendfsync", "everysec"});
  auto replica = StartReplica(rdir.path, primary->port());
  REQUIRE(CaughtUp(*primary, *replica));
  auto c = primary->Connect();
  int64_t top = 0;
  for (int i = 0; i < 20; ++i) {
    Reply r = c->Cmd({"LOCK.ACQUIRE", "churn", "h" + std::to_string(i), "1000"});
    REQUIRE(r.is_int());
    top = std::max(top, r.integer());
    REQUIRE(c->Cmd({"LOCK.RELEASE", "churn", "h" + std::to_string(i), std::to_string(r.integer())})
                .integer() == 1);
  }
  // A lease the replica knows, running for a while yet.
  Reply held = c->Cmd({"LOCK.ACQUIRE", "seat", "alice", "2500"});
  REQUIRE(held.is_int());
  top = std::max(top, held.integer());
  REQUIRE(c->Cmd({"WAIT", "1", "5000"}).integer() == 1);
  const int64_t reserved = InfoInt(*primary, "persistence", "lock_reserved_tokens");
  CHECK(reserved > top);

  auto rc = replica->Connect();
  REQUIRE(rc->Cmd({"REPLICAOF", "NO", "ONE"}).str() == "OK");
  Reply role = rc->Cmd({"ROLE"});
  REQUIRE(role.is_array());
  CHECK(ElementString(role.at(0)) == "master");
  CHECK(replica->Info("replication", "master_replid2") ==
        primary->Info("replication", "master_replid"));
  // The old primary's lease is not given to anyone else before it ends,
  // and no key is granted while it could still run.
  CHECK(rc->Cmd({"LOCK.ACQUIRE", "seat", "bob", "1000"}).is_nil());
  CHECK(rc->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "1000"}).is_nil());
  CHECK(InfoInt(*replica, "persistence", "lock_restart_delay_ms") > 0);
  CHECK(rc->Cmd({"LOCK.FENCE", "seat"}).integer() == held.integer());
  REQUIRE(WaitFor([&] { return InfoInt(*replica, "persistence", "lock_restart_delay_ms") == 0; },
                  15000, 50));
  Reply fresh = rc->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "60000"});
  REQUIRE(fresh.is_int());
  CHECK(fresh.integer() > top);
  CHECK(fresh.integer() > reserved);
  Reply seat = rc->Cmd({"LOCK.ACQUIRE", "seat", "bob", "60000"});
  REQUIRE(seat.is_int());
  CHECK(seat.integer() > fresh.integer());

  // The old primary, still writing on its own, is told to follow the new
  // one: it drops its state and resyncs.
  REQUIRE(c->Cmd({"SET", "stale", "old", "PX", "60000"}).str() == "OK");
  REQUIRE(c->Cmd({"REPLICAOF", "127.0.0.1", std::to_string(replica->port())}).str() == "OK");
  REQUIRE(CaughtUp(*replica, *primary));
  CHECK(c->Cmd({"GET", "stale"}).is_nil());
  CHECK(c->Cmd({"LOCK.FENCE", "seat"}).integer() == seat.integer());
  CHECK(State(*c) == State(*rc));
}

// INFO replication's field names, in order, with slaveN lines reduced to
// their keys.
std::vector<std::string> FieldNames(const std::string& info) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find("\r\n", pos);
    if (end == std::string::npos) end = info.size();
    std::string line = info.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    if (name.rfind("slave", 0) == 0 && std::isdigit(static_cast<unsigned char>(name[5]))) {
      std::string keys = name + ":";
      std::string rest = line.substr(colon + 1);
      size_t p = 0;
      while (p < rest.size()) {
        size_t comma = rest.find(',', p);
        if (comma == std::string::npos) comma = rest.size();
        std::string kv = rest.substr(p, comma - p);
        keys += kv.substr(0, kv.find('=')) + (kv.rfind("state=", 0) == 0 ? "=" + kv.substr(6) : "") + ",";
        p = comma + 1;
      }
      name = keys;
    }
    out.push_back(name);
  }
  return out;
}

// A reply's shape: types, nested, with the role names kept.
std::string Shape(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; ++i) s += Shape(r->element[i]) + " ";
      return s + "]";
    }
    case REDIS_REPLY_INTEGER: return "int";
    case REDIS_REPLY_STRING: {
      std::string v(r->str, r->len);
      if (v == "master" || v == "slave" || v == "connected") return v;
      return "bulk";
    }
    default: return "other";
  }
}

TEST_CASE("replication: INFO replication and ROLE have a redis-server pair's fields and shapes") {
  START_REDIS(redis_primary, "--repl-diskless-sync-delay", "0");
  START_REDIS(redis_replica, "--replicaof", "127.0.0.1", std::to_string(redis_primary.port()));
  ScratchDir pdir, rdir;
  auto primary = StartNode(pdir.path);
  auto replica = StartReplica(rdir.path, primary->port());
  Client rp(redis_primary.port()), rr(redis_replica.port());
  REQUIRE(WaitFor([&] {
    return InfoField(rr.Cmd({"INFO", "replication"}).str(), "master_link_status") == "up";
  }, 20000, 50));
  REQUIRE(WaitFor([&] {
    return InfoField(rp.Cmd({"INFO", "replication"}).str(), "slave0").find("state=online") !=
           std::string::npos;
  }, 20000, 50));
  REQUIRE(CaughtUp(*primary, *replica));
  auto lp = primary->Connect();
  auto lr = replica->Connect();
  CHECK(FieldNames(lp->Cmd({"INFO", "replication"}).str()) ==
        FieldNames(rp.Cmd({"INFO", "replication"}).str()));
  CHECK(FieldNames(lr->Cmd({"INFO", "replication"}).str()) ==
        FieldNames(rr.Cmd({"INFO", "replication"}).str()));
  CHECK(Shape(lp->Cmd({"ROLE"}).get()) == Shape(rp.Cmd({"ROLE"}).get()));
  CHECK(Shape(lr->Cmd({"ROLE"}).get()) == Shape(rr.Cmd({"ROLE"}).get()));
  CHECK(lp->Cmd({"REPLCONF", "bogus", "1"}).str() == rp.Cmd({"REPLCONF", "bogus", "1"}).str());
  CHECK(lp->Cmd({"REPLCONF", "bogus"}).str() == rp.Cmd({"REPLCONF", "bogus"}).str());
}

}  // namespace
}  // namespace lockd_test

namespace lockd_test {
namespace {

// A "primary" that is a plain socket in the test: it reads the handshake and
// answers whatever the case scripts.
class FakePrimary {
 public:
  FakePrimary() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(listen(listen_fd_, 4) == 0);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~FakePrimary() {
    if (fd_ >= 0) close(fd_);
    close(listen_fd_);
  }
  int port() const { return port_; }

  // Accepts the replica and reads until its PSYNC arrived.
  bool AcceptHandshake(int timeout_ms = 10000) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    fd_ = accept(listen_fd_, nullptr, nullptr);
    std::string got;
    auto start = Clock::now();
    while (got.find("PSYNC") == std::string::npos || got.find("\r\n", got.find("PSYNC")) ==
                                                          std::string::npos ||
           std::count(got.begin() + got.find("PSYNC"), got.end(), '\n') < 5) {
      if (ElapsedMs(start) > timeout_ms) return false;
      pollfd q{fd_, POLLIN, 0};
      if (poll(&q, 1, 100) != 1) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    handshake_ = got;
    return true;
  }
  const std::string& handshake() const { return handshake_; }
  bool Send(std::string_view bytes) {
    return write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }
  // Whether the replica closed the link within `timeout_ms`.
  bool Closed(int timeout_ms) {
    auto start = Clock::now();
    while (ElapsedMs(start) < timeout_ms) {
      pollfd q{fd_, POLLIN, 0};
      if (poll(&q, 1, 50) != 1) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
  std::string handshake_;
};

constexpr const char* kFakeId = "0123456789abcdef0123456789abcdef01234567";

TEST_CASE("replication: a replica's handshake is Redis's, and garbage from a primary costs only the link") {
  ScratchDir dir;
  auto node = StartNode(dir.path, {"--masterauth", "sesame"});
  auto c = node->Connect();
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "kept", "alice", "600000"}).is_int());
  int64_t token = c->Cmd({"LOCK.FENCE", "kept"}).integer();

  // A snapshot header announcing a terabyte, then garbage instead of records.
  {
    FakePrimary fake;
    REQUIRE(c->Cmd({"REPLICAOF", "127.0.0.1", std::to_string(fake.port())}).str() == "OK");
    REQUIRE(fake.AcceptHandshake());
    CHECK(fake.handshake() ==
          Multibulk({"PING"}) + Multibulk({"AUTH", "sesame"}) +
              Multibulk({"REPLCONF", "listening-port", std::to_string(node->port())}) +
              Multibulk({"REPLCONF", "capa", "eof", "capa", "psync2"}) +
              Multibulk({"PSYNC", "?", "-1"}));
    REQUIRE(fake.Send(std::string("+PONG\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC ") + kFakeId +
                      " 0\r\n$1099511627776\r\n"));
    REQUIRE(fake.Send(std::string(100000, 'x')));
    // Still waiting for the rest: it serves reads meanwhile, from its old state.
    CHECK(WaitFor([&] { return node->Info("replication", "master_sync_in_progress") == "1"; }, 5000));
    CHECK(c->Cmd({"PING"}).str() == "PONG");
    CHECK(c->Cmd({"LOCK.FENCE", "kept"}).integer() == token);
  }
  // The fake went away: the link is down, the state is the old one.
  REQUIRE(WaitFor([&] { return node->Info("replication", "master_link_status") == "down"; }, 5000));
  CHECK(c->Cmd({"LOCK.FENCE", "kept"}).integer() == token);

  // A whole snapshot that is not records.
  {
    FakePrimary fake;
    REQUIRE(c->Cmd({"REPLICAOF", "127.0.0.1", std::to_string(fake.port())}).str() == "OK");
    REQUIRE(fake.AcceptHandshake());
    REQUIRE(fake.Send(std::string("+PONG\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC ") + kFakeId +
                      " 0\r\n$12\r\nnot a record"));
    CHECK(fake.Closed(5000));
    CHECK(c->Cmd({"LOCK.FENCE", "kept"}).integer() == token);
  }
  // A valid empty snapshot, then a stream that is not records.
  {
    FakePrimary fake;
    REQUIRE(c->Cmd({"REPLICAOF", "127.0.0.1", std::to_string(fake.port())}).str() == "OK");
    REQUIRE(fake.AcceptHandshake());
    REQUIRE(fake.Send(std::string("+PONG\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC ") + kFakeId +
                      " 0\r\n$0\r\n"));
    REQUIRE(WaitFor([&] { return c->Cmd({"LOCK.FENCE", "kept"}).is_nil(); }, 5000));
    REQUIRE(fake.Send(Multibulk({"LOCK.GRANT", "k", "h", "1", "0"}) + Multibulk({"FLUSHALL"})));
    CHECK(fake.Closed(5000));
    // The record before the garbage was applied; nothing after it.
    CHECK(c->Cmd({"LOCK.FENCE", "k"}).integer() == 1);
  }
  CHECK(c->Cmd({"PING"}).str() == "PONG");
  CHECK(node->ReadLog().find("Protocol error from MASTER") != std::string::npos);
}

}  // namespace
}  // namespace lockd_test
