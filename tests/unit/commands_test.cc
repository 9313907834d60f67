// The command layer without sockets: the dispatcher's checks and the lock
// commands' replies, byte for byte, on a manual clock.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cmd/commands.h"
#include "lockd/clock.h"
#include "lockd/config.h"

namespace lockd {
namespace {

class FakeServer final : public ServerHooks {
 public:
  void ForEachSession(const std::function<void(Session&)>& visit) override {
    for (Session* s : sessions) visit(*s);
  }
  Session* FindSession(uint64_t id) override {
    for (Session* s : sessions) {
      if (s->id == id) return s;
    }
    return nullptr;
  }
  void KillSession(Session& s) override { s.close_after_reply = true; }
  void SessionUnblocked(Session& s) override { unblocked.push_back(s.id); }
  void RequestShutdown() override { shutdown = true; }
  ServerStatus Stats() override { return {}; }
  void ResetStats() override {}

  std::vector<Session*> sessions;
  std::vector<uint64_t> unblocked;
  bool shutdown = false;
};

std::string Drain(Session& s) {
  std::string out;
  s.out.ForEachRun(1 << 20, [&](const char* p, size_t n) { out.append(p, n); });
  s.out.Clear();
  return out;
}

struct Fixture {
  Fixture() : commands(&config, &server, &clock) {
    a.authenticated = b.authenticated = true;
    server.sessions = {&a, &b};
  }
  std::string Run(Session& s, std::vector<std::string> words) {
    std::vector<std::string_view> argv(words.begin(), words.end());
    commands.Execute(s, argv, clock.Now());
    return Drain(s);
  }

  Config config;
  FakeServer server;
  ManualClock clock;
  Commands commands;
  Session a{1};
  Session b{2};
};

TEST_CASE("dispatcher: unknown command, arity and subcommands use Redis's texts") {
  Fixture f;
  CHECK(f.Run(f.a, {"nosuch", "x", "y"}) ==
        "-ERR unknown command 'nosuch', with args beginning with: 'x' 'y' \r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k"}) ==
        "-ERR wrong number of arguments for 'lock.renew' command\r\n");
  CHECK(f.Run(f.a, {"client", "bogus"}) == "-ERR unknown subcommand 'bogus'. Try CLIENT HELP.\r\n");
  CHECK(f.Run(f.a, {"client", "setname"}) ==
        "-ERR wrong number of arguments for 'client|setname' command\r\n");
  CHECK(f.Run(f.a, {"PiNg"}) == "+PONG\r\n");
}

TEST_CASE("dispatcher: requirepass gates every command but AUTH, HELLO, QUIT, RESET") {
  Fixture f;
  f.config.requirepass = "pw";
  // requirepass is the default user's password once applied, as CONFIG SET
  // applies it.
  f.commands.ConfigChanged();
  Session s{7};
  CHECK(f.Run(s, {"lock.fence", "k"}) == "-NOAUTH Authentication required.\r\n");
  CHECK(f.Run(s, {"auth", "bad"}) ==
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  CHECK(f.Run(s, {"auth", "pw"}) == "+OK\r\n");
  CHECK(f.Run(s, {"lock.fence", "k"}) == "$-1\r\n");
}

TEST_CASE("lock commands: grant, re-acquire, busy, renew, release, fence, info") {
  Fixture f;
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "1000"}) == ":1\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "1000"}) == ":1\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == "$-1\r\n");
  f.clock.AdvanceMillis(400);
  CHECK(f.Run(f.a, {"LOCK.INFO", "k"}) ==
        "*8\r\n$6\r\nholder\r\n$5\r\nalice\r\n$5\r\ntoken\r\n:1\r\n$6\r\nttl_ms\r\n:600\r\n"
        "$7\r\nwaiters\r\n:0\r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k", "alice", "2", "1000"}) == ":0\r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k", "bob", "1", "1000"}) == ":0\r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k", "alice", "1", "5000"}) == ":1\r\n");
  CHECK(f.Run(f.a, {"PTTL", "k"}) == ":5000\r\n");
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == ":1\r\n");
  CHECK(f.Run(f.a, {"LOCK.RELEASE", "k", "alice", "2"}) == ":0\r\n");
  CHECK(f.Run(f.a, {"LOCK.RELEASE", "k", "alice", "1"}) == ":1\r\n");
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "$-1\r\n");
  CHECK(f.Run(f.a, {"LOCK.INFO", "k"}) == "$-1\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":2\r\n");
}

TEST_CASE("lock commands: argument errors") {
  Fixture f;
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "h", "abc"}) ==
        "-ERR value is not an integer or out of range\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "h", "0"}) ==
        "-ERR invalid expire time in 'lock.acquire' command\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "h", "10", "WAIT", "-1"}) ==
        "-ERR timeout is negative\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "h", "10", "WAIT"}) == "-ERR syntax error\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "h", "10", "FOREVER", "1"}) == "-ERR syntax error\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "", "10"}) == "-ERR holder must not be empty\r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k", "h", "x", "10"}) ==
        "-ERR value is not an integer or out of range\r\n");
  CHECK(f.Run(f.a, {"LOCK.RENEW", "k", "h", "1", "-5"}) ==
        "-ERR invalid expire time in 'lock.renew' command\r\n");
  CHECK(f.Run(f.a, {"DBSIZE"}) == ":0\r\n");
}

TEST_CASE("lock commands: a waiter blocks, is granted on release, and max waiters holds") {
  Fixture f;
  f.config.lock_max_waiters = 1;
  f.commands.ConfigChanged();
  Session c{3};
  c.authenticated = true;
  f.server.sessions.push_back(&c);
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "1000"}) == ":1\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000", "WAIT", "5000"}).empty());
  CHECK(f.b.blocked());
  CHECK(f.Run(c, {"LOCK.ACQUIRE", "k", "carol", "1000", "wait", "5000"}) ==
        "-MAXWAITERS too many waiters on this key\r\n");
  CHECK(f.Run(f.a, {"LOCK.RELEASE", "k", "alice", "1"}) == ":1\r\n");
  CHECK_FALSE(f.b.blocked());
  CHECK(Drain(f.b) == ":2\r\n");
  CHECK(f.server.unblocked == std::vector<uint64_t>{2});
}

TEST_CASE("lock commands: a wait times out on the wheel, CLIENT UNBLOCK ends one") {
  Fixture f;
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "100000"}) == ":1\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000", "WAIT", "50"}).empty());
  f.clock.AdvanceMillis(49);
  f.commands.engine().Advance(f.clock.Now());
  CHECK(f.b.blocked());
  f.clock.AdvanceMillis(2);
  while (f.commands.engine().Advance(f.clock.Now())) {
  }
  CHECK_FALSE(f.b.blocked());
  CHECK(Drain(f.b) == "$-1\r\n");

  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000", "WAIT", "5000"}).empty());
  CHECK(f.Run(f.a, {"CLIENT", "UNBLOCK", "2", "ERROR"}) == ":1\r\n");
  CHECK(Drain(f.b) == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
  CHECK(f.Run(f.a, {"CLIENT", "UNBLOCK", "2"}) == ":0\r\n");
  CHECK(f.commands.engine().waiter_count() == 0);
}

TEST_CASE("connection commands: HELLO switches protocol, SELECT only 0") {
  Fixture f;
  std::string hello = f.Run(f.a, {"HELLO", "3"});
  CHECK(hello.rfind("%7\r\n$6\r\nserver\r\n", 0) == 0);
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "_\r\n");
  CHECK(f.Run(f.a, {"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
  CHECK(f.Run(f.a, {"SELECT", "0"}) == "+OK\r\n");
  CHECK(f.Run(f.a, {"SELECT", "1"}) == "-ERR DB index is out of range\r\n");
  CHECK(f.Run(f.a, {"RESET"}) == "+RESET\r\n");
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "$-1\r\n");
}

}  // namespace
}  // namespace lockd
