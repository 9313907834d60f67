// The key-writing commands as views of the locks, end to end: SET and LOCK.*
// share tokens and waiters; DEL, PEXPIRE 0, the expiry of a SET key and
// FLUSHALL hand keys to LOCK.ACQUIRE ... WAIT waiters in FIFO order; a
// restart replays what SET, DEL, PEXPIRE and PERSIST logged; the restart
// lock-delay refuses a SET that would issue a token; and lockd's own
// additions (SET IFEQ, DELIFEQ, DELEX) and deliberate limits.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include "harness.h"

using namespace lockd_test;

namespace {

std::unique_ptr<Client> StartWaiter(const TestServer& srv, Client& control, const std::string& key,
                                    const std::string& holder, int position) {
  auto w = srv.Connect(8000);
  REQUIRE_MESSAGE(w->ok(), w->error());
  w->Append({"LOCK.ACQUIRE", key, holder, "30000", "WAIT", "20000"});
  REQUIRE(w->Flush());
  bool queued = WaitFor([&] { return WaitersOf(control, key) == position; }, 3000);
  REQUIRE_MESSAGE(queued, holder, " not seen as waiter ", position);
  return w;
}

int64_t Fence(Client& c, const std::string& key) {
  Reply r = c.Cmd({"LOCK.FENCE", key});
  return r.is_int() ? r.integer() : -1;
}

std::string Get(Client& c, const std::string& key) {
  Reply r = c.Cmd({"GET", key});
  return r.is_nil() ? "(nil)" : r.str();
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs `free` (a command that frees "seat") three times with three waiters
// queued: each frees the key for the next waiter in line, with a new token.
void CheckFifoHandOffs(const std::vector<std::vector<std::string>>& frees) {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->Cmd({"SET", "seat", "owner", "PX", "30000"}).str() == "OK");
  int64_t token = Fence(*control, "seat");
  REQUIRE(token > 0);
  std::vector<std::unique_ptr<Client>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(StartWaiter(srv, *control, "seat", "w" + std::to_string(i), i + 1));
  }
  for (int i = 0; i < 3; ++i) {
    INFO("free #", i, ": ", frees[i][0]);
    Reply r = control->Cmd(frees[i]);
    REQUIRE_MESSAGE(!r.is_error(), r.Describe());
    Reply granted = waiters[i]->GetReply();
    REQUIRE_MESSAGE(granted.is_int(), granted.Describe());
    CHECK(granted.integer() > token);
    token = granted.integer();
    CHECK(Get(*control, "seat") == "w" + std::to_string(i));
    CHECK(Fence(*control, "seat") == token);
    for (int j = i + 1; j < 3; ++j) CHECK_FALSE(waiters[j]->ReplyReady(0));
  }
}

}  // namespace

TEST_CASE("key write: SET and LOCK.* are views of the same locks") {
  START_SERVER(srv);
  auto c = srv.Connect();
  // SET NX PX is a lock: LOCK.FENCE gives its token, LOCK.ACQUIRE sees it held.
  CHECK(c->Cmd({"SET", "a", "alice", "NX", "PX", "30000"}).str() == "OK");
  int64_t t1 = Fence(*c, "a");
  CHECK(t1 > 0);
  CHECK(c->Cmd({"LOCK.ACQUIRE", "a", "bob", "1000"}).is_nil());
  CHECK(c->Cmd({"SET", "a", "bob", "NX", "PX", "30000"}).is_nil());
  // GET of a LOCK.ACQUIREd key gives its holder; tokens keep increasing.
  Reply t2 = c->Cmd({"LOCK.ACQUIRE", "b", "carol", "30000"});
  REQUIRE(t2.is_int());
  CHECK(t2.integer() > t1);
  CHECK(Get(*c, "b") == "carol");
  // SET of the same holder keeps the token; a new holder gets a new one.
  CHECK(c->Cmd({"SET", "b", "carol", "PX", "60000"}).str() == "OK");
  CHECK(Fence(*c, "b") == t2.integer());
  CHECK(c->Cmd({"LOCK.RENEW", "b", "carol", std::to_string(t2.integer()), "1000"}).integer() == 1);
  CHECK(c->Cmd({"SET", "b", "dave"}).str() == "OK");
  int64_t t3 = Fence(*c, "b");
  CHECK(t3 > t2.integer());
  CHECK(c->Cmd({"TTL", "b"}).integer() == -1);
  // The old holder's token no longer works.
  CHECK(c->Cmd({"LOCK.RELEASE", "b", "carol", std::to_string(t2.integer())}).integer() == 0);
  CHECK(c->Cmd({"LOCK.RELEASE", "b", "dave", std::to_string(t3)}).integer() == 1);
  CHECK(c->Cmd({"EXISTS", "b"}).integer() == 0);
  // INFO keyspace counts the locks with a deadline as "expires".
  CHECK(c->Cmd({"SET", "n", "x"}).str() == "OK");
  std::string info = c->Cmd({"INFO", "keyspace"}).str();
  CHECK_MESSAGE(info.find("db0:keys=2,expires=1,") != std::string::npos, info);
  CHECK(c->Cmd({"PERSIST", "a"}).integer() == 1);
  info = c->Cmd({"INFO", "keyspace"}).str();
  CHECK_MESSAGE(info.find("db0:keys=2,expires=0,") != std::string::npos, info);
}

TEST_CASE("key write: LOCK.ACQUIRE WAIT waits behind a SET key, FIFO after DEL") {
  CheckFifoHandOffs({{"DEL", "seat"}, {"UNLINK", "seat"}, {"DELEX", "seat"}});
}

TEST_CASE("key write: PEXPIRE 0, EXPIRE -1 and PEXPIREAT in the past hand off in FIFO order") {
  CheckFifoHandOffs({{"PEXPIRE", "seat", "0"}, {"EXPIRE", "seat", "-1"}, {"PEXPIREAT", "seat", "1"}});
}

TEST_CASE("key write: FLUSHALL and DELIFEQ hand keys to their head waiters") {
  CheckFifoHandOffs({{"FLUSHALL"}, {"FLUSHDB", "ASYNC"}, {"DELIFEQ", "seat", "w1"}});
}

TEST_CASE("key write: the expiry of a SET PX key goes to the head waiter") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->Cmd({"SET", "seat", "owner", "PX", "300"}).str() == "OK");
  auto w1 = StartWaiter(srv, *control, "seat", "w1", 1);
  auto w2 = StartWaiter(srv, *control, "seat", "w2", 2);
  Reply granted = w1->GetReply();
  REQUIRE_MESSAGE(granted.is_int(), granted.Describe());
  CHECK(Get(*control, "seat") == "w1");
  CHECK_FALSE(w2->ReplyReady(0));
  // A SET to a new holder keeps the waiter queued.
  CHECK(control->Cmd({"SET", "seat", "other", "KEEPTTL"}).str() == "OK");
  CHECK(WaitersOf(*control, "seat") == 1);
  CHECK(control->Cmd({"DEL", "seat"}).integer() == 1);
  Reply second = w2->GetReply();
  REQUIRE(second.is_int());
  CHECK(second.integer() > granted.integer());
}

TEST_CASE("key write: a restart replays SET, DEL, PEXPIRE and PERSIST") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  int64_t t_forever = 0, t_moved = 0, t_persisted = 0;
  {
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    CHECK(c->Cmd({"SET", "forever", "a"}).str() == "OK");
    t_forever = Fence(*c, "forever");
    CHECK(c->Cmd({"SET", "gone", "a", "PX", "600000"}).str() == "OK");
    CHECK(c->Cmd({"DEL", "gone"}).integer() == 1);
    CHECK(c->Cmd({"SET", "moved", "a", "PX", "1000"}).str() == "OK");
    t_moved = Fence(*c, "moved");
    CHECK(c->Cmd({"PEXPIRE", "moved", "600000"}).integer() == 1);
    CHECK(c->Cmd({"SET", "persisted", "a", "EX", "1"}).str() == "OK");
    CHECK(c->Cmd({"SET", "persisted", "b", "EX", "1"}).str() == "OK");
    t_persisted = Fence(*c, "persisted");
    CHECK(c->Cmd({"PERSIST", "persisted"}).integer() == 1);
    CHECK(c->Cmd({"SET", "zero", "a"}).str() == "OK");
    CHECK(c->Cmd({"PEXPIRE", "zero", "0"}).integer() == 1);
    CHECK(c->Cmd({"SET", "flushed", "a"}).str() == "OK");
    CHECK(srv.StopWith(SIGTERM) == 0);
  }
  // Past the original 1 s deadlines: only the log's later records keep them.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  {
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    CHECK(Get(*c, "forever") == "a");
    CHECK(Fence(*c, "forever") == t_forever);
    CHECK(c->Cmd({"TTL", "forever"}).integer() == -1);
    CHECK(c->Cmd({"EXISTS", "gone", "zero"}).integer() == 0);
    CHECK(Fence(*c, "moved") == t_moved);
    CHECK(c->Cmd({"TTL", "moved"}).integer() > 500);
    CHECK(Get(*c, "persisted") == "b");
    CHECK(Fence(*c, "persisted") == t_persisted);
    CHECK(c->Cmd({"TTL", "persisted"}).integer() == -1);
    // New tokens continue above every token logged.
    CHECK(c->Cmd({"FLUSHALL"}).str() == "OK");
    CHECK(c->Cmd({"DBSIZE"}).integer() == 0);
    CHECK(c->Cmd({"SET", "new", "x"}).str() == "OK");
    CHECK(Fence(*c, "new") > t_persisted);
    CHECK(srv.StopWith(SIGTERM) == 0);
  }
  {
    // FLUSHALL was logged too.
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    Reply keys = c->Cmd({"KEYS", "*"});
    REQUIRE(keys.size() == 1);
    CHECK(ElementString(keys.at(0)) == "new");
  }
}

TEST_CASE("key write: a SET without a deadline under everysec survives kill -9") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.extra = {"--appendfsync", "everysec"};
  int64_t token = 0;
  {
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    CHECK(c->Cmd({"SET", "k", "v"}).str() == "OK");
    token = Fence(*c, "k");
    srv.Kill();
  }
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  CHECK(Get(*c, "k") == "v");
  CHECK(Fence(*c, "k") == token);
  CHECK(c->Cmd({"TTL", "k"}).integer() == -1);
}

TEST_CASE("key write: during the restart lock-delay no SET issues a token") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  // A log that did not end cleanly, with a lease horizon a minute ahead.
  {
    std::ofstream out(dir.path + "/appendonly.aof", std::ios::binary);
    out << Multibulk({"LOCK.RESERVE", "100", std::to_string(UnixMillis() + 60'000)})
        << Multibulk({"LOCK.GRANT", "held", "alice", "7", "0"});
  }
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  // NX on a free key answers as a busy key (like LOCK.ACQUIRE); SETNX too.
  CHECK(c->Cmd({"SET", "free", "bob", "NX", "PX", "1000"}).is_nil());
  CHECK(c->Cmd({"SETNX", "free", "bob"}).integer() == 0);
  // A SET that would change the holder is refused, and says for how long.
  Reply r = c->Cmd({"SET", "free", "bob"});
  REQUIRE(r.is_error());
  CHECK(r.str().rfind("TRYAGAIN restart lock-delay", 0) == 0);
  r = c->Cmd({"SET", "held", "bob", "XX"});
  REQUIRE(r.is_error());
  CHECK(r.str().rfind("TRYAGAIN", 0) == 0);
  CHECK(c->Cmd({"EXISTS", "free"}).integer() == 0);
  // The holder keeps its lease and may change its deadline.
  CHECK(c->Cmd({"SET", "held", "alice", "PX", "100000"}).str() == "OK");
  CHECK(Fence(*c, "held") == 7);
  CHECK(c->Cmd({"PERSIST", "held"}).integer() == 1);
  CHECK(c->Cmd({"DEL", "held"}).integer() == 1);
}

TEST_CASE("key write: SET IFEQ, DELIFEQ and DELEX (lockd's additions to Redis 7.0)") {
  START_SERVER(srv);
  auto c = srv.Connect();
  // IFEQ: set only if the current value equals; a missing key is not set.
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ", "a"}).is_nil());
  CHECK(c->Cmd({"EXISTS", "k"}).integer() == 0);
  CHECK(c->Cmd({"SET", "k", "a"}).str() == "OK");
  int64_t t = Fence(*c, "k");
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ", "x"}).is_nil());
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ", "a", "GET"}).str() == "a");
  CHECK(Fence(*c, "k") > t);
  CHECK(c->Cmd({"SET", "k", "c", "ifeq", "x", "GET"}).str() == "b");
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ", "b", "PX", "5000"}).str() == "OK");
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ", "a", "NX"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"SET", "k", "b", "XX", "IFEQ", "a"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"SET", "k", "b", "IFEQ"}).str() == "ERR syntax error");
  // DELIFEQ.
  CHECK(c->Cmd({"DELIFEQ", "k", "a"}).integer() == 0);
  CHECK(c->Cmd({"DELIFEQ", "k", "b"}).integer() == 1);
  CHECK(c->Cmd({"DELIFEQ", "k", "b"}).integer() == 0);
  CHECK(c->Cmd({"DELIFEQ", "k"}).str() == "ERR wrong number of arguments for 'delifeq' command");
  // DELEX.
  CHECK(c->Cmd({"SET", "k", "v"}).str() == "OK");
  CHECK(c->Cmd({"DELEX", "k", "IFEQ", "x"}).integer() == 0);
  CHECK(c->Cmd({"DELEX", "k", "IFNE", "v"}).integer() == 0);
  CHECK(c->Cmd({"DELEX", "k", "IFNE", "x"}).integer() == 1);
  CHECK(c->Cmd({"SET", "k", "v"}).str() == "OK");
  CHECK(c->Cmd({"DELEX", "k", "ifeq", "v"}).integer() == 1);
  CHECK(c->Cmd({"DELEX", "k"}).integer() == 0);
  CHECK(c->Cmd({"SET", "k", "v"}).str() == "OK");
  CHECK(c->Cmd({"DELEX", "k", "IFEQ"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"DELEX", "k", "FOO", "v"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"DELEX", "k", "IFEQ", "v", "x"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"DELEX", "k"}).integer() == 1);
  CHECK(c->Cmd({"DELEX"}).str() == "ERR wrong number of arguments for 'delex' command");
}

TEST_CASE("key write: deadlines beyond the longest lease are refused, not shortened") {
  START_SERVER(srv);
  auto c = srv.Connect();
  const std::string set_error = "ERR invalid expire time in 'set' command";
  // 2^42 ms (~139 years) is the longest lease lockd keeps.
  CHECK(c->Cmd({"SET", "k", "v", "PX", "4398046511104"}).str() == "OK");
  CHECK(c->Cmd({"SET", "k", "v", "PX", "4398046511105"}).str() == set_error);
  CHECK(c->Cmd({"SET", "k", "v", "PXAT", "9223372036854775807"}).str() == set_error);
  CHECK(c->Cmd({"SET", "k", "v", "EX", "9000000000"}).str() == set_error);
  CHECK(c->Cmd({"PEXPIRE", "k", "4398046511105"}).str() ==
        "ERR invalid expire time in 'pexpire' command");
  CHECK(c->Cmd({"EXPIREAT", "k", "9000000000000"}).str() ==
        "ERR invalid expire time in 'expireat' command");
  CHECK(c->Cmd({"PTTL", "k"}).integer() > 4'398'046'000'000);
}

TEST_CASE("key write: SET ... GET counts a keyspace hit or miss, as GET does") {
  START_SERVER(srv);
  auto c = srv.Connect();
  CHECK(c->Cmd({"SET", "k", "v", "GET"}).is_nil());
  CHECK(c->Cmd({"SET", "k", "w", "GET"}).str() == "v");
  CHECK(c->Cmd({"SET", "k", "x"}).str() == "OK");
  CHECK(srv.Info("stats", "keyspace_hits") == "1");
  CHECK(srv.Info("stats", "keyspace_misses") == "1");
}

TEST_CASE("key write: other Redis types stay unknown commands") {
  START_SERVER(srv);
  auto c = srv.Connect();
  for (const char* name : {"LPUSH", "HSET", "SADD", "ZADD", "INCR", "APPEND", "XADD"}) {
    Reply r = c->Cmd({name, "k", "v"});
    REQUIRE(r.is_error());
    CHECK(r.str().rfind("ERR unknown command", 0) == 0);
  }
}

TEST_CASE("key write: a rewritten log keeps a lock without a deadline without one") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  int64_t token = 0;
  {
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    CHECK(c->Cmd({"SET", "k", "v"}).str() == "OK");
    CHECK(c->Cmd({"SET", "j", "v", "PX", "600000"}).str() == "OK");
    token = Fence(*c, "k");
    REQUIRE(!c->Cmd({"BGREWRITEAOF"}).is_error());
    REQUIRE(WaitFor(
        [&] {
          return srv.Info("persistence", "aof_rewrites") == "1" &&
                 srv.Info("persistence", "aof_rewrite_in_progress") == "0";
        },
        10000));
    std::string log = ReadWholeFile(dir.path + "/appendonly.aof");
    CHECK(log.find(Multibulk({"LOCK.GRANT", "k", "v", std::to_string(token), "0"})) !=
          std::string::npos);
    CHECK(srv.StopWith(SIGTERM) == 0);
  }
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  CHECK(Fence(*c, "k") == token);
  CHECK(c->Cmd({"TTL", "k"}).integer() == -1);
  CHECK(c->Cmd({"TTL", "j"}).integer() > 500);
}
