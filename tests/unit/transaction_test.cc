// MULTI/EXEC/DISCARD/WATCH/UNWATCH at the dispatcher, without sockets, on a
// manual clock: Redis 7.0's replies byte for byte, what dooms a transaction,
// what counts as a change to a watched key, and that nothing waits in EXEC.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cmd/commands.h"
#include "fake_files.h"
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
  void SessionUnblocked(Session&) override {}
  void RequestShutdown() override {}
  ServerStatus Stats() override { return {}; }
  void ResetStats() override {}

  std::vector<Session*> sessions;
};

std::string Drain(Session& s) {
  std::string out;
  s.out.ForEachRun(1 << 20, [&](const char* p, size_t n) { out.append(p, n); });
  s.out.Clear();
  return out;
}

struct Fixture {
  Fixture() : commands(&config, &server, &clock) {
    a.authenticated = b.authenticated = c.authenticated = true;
    server.sessions = {&a, &b, &c};
  }
  std::string Run(Session& s, std::vector<std::string> words) {
    std::vector<std::string_view> argv(words.begin(), words.end());
    commands.Execute(s, argv, clock.Now());
    return Drain(s);
  }
  // Runs each command in turn and returns all replies, concatenated.
  std::string RunAll(Session& s, std::vector<std::vector<std::string>> commands_in_order) {
    std::string out;
    for (auto& words : commands_in_order) out += Run(s, std::move(words));
    return out;
  }

  Config config;
  FakeServer server;
  ManualClock clock;
  Commands commands;
  Session a{1};
  Session b{2};
  Session c{3};
};

TEST_CASE("transaction: queued commands run at EXEC, runtime errors are array entries") {
  Fixture f;
  CHECK(f.Run(f.a, {"MULTI"}) == "+OK\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "1000"}) == "+QUEUED\r\n");
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "soon"}) == "+QUEUED\r\n");
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "+QUEUED\r\n");
  // Nothing ran yet: another client sees the key free.
  CHECK(f.Run(f.b, {"LOCK.FENCE", "k"}) == "$-1\r\n");
  CHECK(f.Run(f.a, {"EXEC"}) ==
        "*3\r\n:1\r\n-ERR value is not an integer or out of range\r\n:1\r\n");
  CHECK(f.Run(f.a, {"EXEC"}) == "-ERR EXEC without MULTI\r\n");
  CHECK(f.Run(f.a, {"MULTI"}) == "+OK\r\n");
  CHECK(f.Run(f.a, {"EXEC"}) == "*0\r\n");
}

TEST_CASE("transaction: errors outside and inside MULTI, in Redis's words") {
  Fixture f;
  CHECK(f.Run(f.a, {"EXEC"}) == "-ERR EXEC without MULTI\r\n");
  CHECK(f.Run(f.a, {"DISCARD"}) == "-ERR DISCARD without MULTI\r\n");
  CHECK(f.Run(f.a, {"UNWATCH"}) == "+OK\r\n");
  CHECK(f.Run(f.a, {"WATCH"}) == "-ERR wrong number of arguments for 'watch' command\r\n");
  CHECK(f.Run(f.a, {"EXEC", "x"}) ==
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command\r\n");
  // Nested MULTI and WATCH inside MULTI are errors that do not doom it.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"MULTI"}, {"WATCH", "k"}, {"PING"}, {"EXEC"}}) ==
        "+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n"
        "+QUEUED\r\n*1\r\n+PONG\r\n");
  // UNWATCH inside MULTI is queued, as in Redis.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"UNWATCH"}, {"EXEC"}}) == "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n");
}

TEST_CASE("transaction: a refusal while queuing makes EXEC reply EXECABORT") {
  Fixture f;
  const std::string kAbort = "-EXECABORT Transaction discarded because of previous errors.\r\n";
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"NOSUCH", "a"}, {"LOCK.ACQUIRE", "k", "h", "1000"}, {"EXEC"}}) ==
        "+OK\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n+QUEUED\r\n" +
            kAbort);
  // The queued acquire never ran.
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "$-1\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.RENEW", "k"}, {"EXEC"}}) ==
        "+OK\r\n-ERR wrong number of arguments for 'lock.renew' command\r\n" + kAbort);
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"SHUTDOWN"}, {"EXEC"}}) ==
        "+OK\r\n-ERR Command not allowed inside a transaction\r\n" + kAbort);
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"DISCARD", "x"}, {"EXEC"}}) ==
        "+OK\r\n-ERR wrong number of arguments for 'discard' command\r\n" + kAbort);
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"CLIENT", "NOPE"}, {"EXEC"}}) ==
        "+OK\r\n-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n" + kAbort);
  // EXEC with arguments ends the transaction it would have run.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"PING"}, {"EXEC", "x"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n-EXECABORT Transaction discarded because of: wrong number of "
        "arguments for 'exec' command\r\n-ERR EXEC without MULTI\r\n");
  // Authentication is checked while queuing, too.
  f.config.requirepass = "pw";
  f.commands.ConfigChanged();  // as CONFIG SET applies it to the default user
  Session s{9};
  CHECK(f.RunAll(s, {{"MULTI"}, {"AUTH", "pw"}, {"MULTI"}, {"PING"}, {"EXEC"}}) ==
        "-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n");
}

TEST_CASE("transaction: DISCARD drops the queue; RESET and closing end MULTI and WATCH") {
  Fixture f;
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "h", "1000"}, {"DISCARD"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n+OK\r\n-ERR EXEC without MULTI\r\n");
  CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "$-1\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"PING"}, {"RESET"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n");
  // RESET forgets watched keys: a change after it does not doom the next EXEC.
  CHECK(f.RunAll(f.a, {{"WATCH", "k"}, {"RESET"}}) == "+OK\r\n+RESET\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":1\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n*0\r\n");
  // QUIT inside MULTI is not queued.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"QUIT"}}) == "+OK\r\n+OK\r\n");
  CHECK(f.a.close_after_reply);
  // A closed session's watches are gone: changing the key later must not
  // touch it (the sanitizer build would catch a dangling watcher).
  Session* gone = new Session(10);
  gone->authenticated = true;
  CHECK(f.Run(*gone, {"WATCH", "k", "other"}) == "+OK\r\n");
  f.commands.SessionClosed(*gone);
  delete gone;
  CHECK(f.Run(f.b, {"LOCK.RELEASE", "k", "bob", "1"}) == ":1\r\n");
}

TEST_CASE("transaction: a watched key changed by another client makes EXEC reply null") {
  Fixture f;
  CHECK(f.Run(f.a, {"WATCH", "k", "other"}) == "+OK\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":1\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "alice", "1000"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n*-1\r\n");
  // EXEC unwatched: the next transaction runs.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.FENCE", "k"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n*1\r\n:1\r\n");

  SUBCASE("RESP3 replies a null") {
    f.Run(f.a, {"HELLO", "3"});
    CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.Run(f.b, {"LOCK.RENEW", "k", "bob", "1", "5000"}) == ":1\r\n");
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n_\r\n");
  }
  SUBCASE("a failed change is no change") {
    CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.Run(f.c, {"LOCK.ACQUIRE", "k", "carol", "1000"}) == "$-1\r\n");
    CHECK(f.Run(f.c, {"LOCK.RELEASE", "k", "carol", "1"}) == ":0\r\n");
    CHECK(f.Run(f.c, {"LOCK.FENCE", "k"}) == ":1\r\n");
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"PING"}, {"EXEC"}}) == "+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n");
  }
  SUBCASE("the watcher's own change before MULTI counts, as in Redis") {
    CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.Run(f.a, {"LOCK.RELEASE", "k", "bob", "1"}) == ":1\r\n");
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n*-1\r\n");
  }
  SUBCASE("UNWATCH and DISCARD forget the change") {
    CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.Run(f.b, {"LOCK.RELEASE", "k", "bob", "1"}) == ":1\r\n");
    CHECK(f.Run(f.a, {"UNWATCH"}) == "+OK\r\n");
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n*0\r\n");
    CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":2\r\n");
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"DISCARD"}, {"MULTI"}, {"EXEC"}}) ==
          "+OK\r\n+OK\r\n+OK\r\n*0\r\n");
  }
}

TEST_CASE("transaction: expiry since WATCH counts as a change, by the timer or found late") {
  Fixture f;
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "100"}) == ":1\r\n");
  CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
  f.clock.AdvanceMillis(150);
  SUBCASE("the timer frees it") {
    while (f.commands.engine().Advance(f.clock.Now())) {
    }
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n*-1\r\n");
  }
  SUBCASE("EXEC finds it past its deadline before the timer ran") {
    CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "alice", "100"}, {"EXEC"}}) ==
          "+OK\r\n+QUEUED\r\n*-1\r\n");
    CHECK(f.Run(f.a, {"LOCK.FENCE", "k"}) == "$-1\r\n");
  }
  SUBCASE("a lease already past its deadline at WATCH is no change afterwards") {
    CHECK(f.Run(f.c, {"WATCH", "k"}) == "+OK\r\n");
    CHECK(f.RunAll(f.c, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "carol", "100"}, {"EXEC"}}) ==
          "+OK\r\n+QUEUED\r\n*1\r\n:2\r\n");
  }
}

TEST_CASE("transaction: a hand-off to a waiter is a change to the watched key") {
  Fixture f;
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":1\r\n");
  CHECK(f.Run(f.c, {"LOCK.ACQUIRE", "k", "carol", "1000", "WAIT", "5000"}).empty());
  CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
  // Bob's release hands k to carol; a's EXEC must see the key changed.
  CHECK(f.RunAll(f.b, {{"LOCK.RELEASE", "k", "bob", "1"}}) == ":1\r\n");
  CHECK(Drain(f.c) == ":2\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"EXEC"}}) == "+OK\r\n*-1\r\n");
}

TEST_CASE("transaction: LOCK.ACQUIRE WAIT inside EXEC never blocks") {
  Fixture f;
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":1\r\n");
  CHECK(f.RunAll(f.a, {{"MULTI"},
                       {"LOCK.ACQUIRE", "k", "alice", "1000", "WAIT", "5000"},
                       {"LOCK.ACQUIRE", "j", "alice", "1000", "WAIT", "5000"},
                       {"EXEC"}}) == "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n$-1\r\n:2\r\n");
  CHECK_FALSE(f.a.blocked());
  CHECK(f.commands.engine().waiter_count() == 0);
  // Its arguments are still checked.
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "alice", "1000", "WAIT", "-1"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n*1\r\n-ERR timeout is negative\r\n");
  // Outside MULTI the same command still waits.
  CHECK(f.Run(f.a, {"LOCK.ACQUIRE", "k", "alice", "1000", "WAIT", "5000"}).empty());
  CHECK(f.a.blocked());
}

TEST_CASE("transaction: CLIENT LIST shows x, d and the queue length as Redis") {
  Fixture f;
  auto field = [&](Session& s, const std::string& name) {
    std::string info = f.Run(s, {"CLIENT", "INFO"});
    size_t at = info.find(" " + name + "=");
    REQUIRE(at != std::string::npos);
    at += name.size() + 2;
    return info.substr(at, info.find(' ', at) - at);
  };
  CHECK(field(f.a, "flags") == "N");
  CHECK(field(f.a, "multi") == "-1");
  CHECK(f.Run(f.a, {"WATCH", "k"}) == "+OK\r\n");
  CHECK(f.Run(f.b, {"LOCK.ACQUIRE", "k", "bob", "1000"}) == ":1\r\n");
  CHECK(field(f.a, "flags") == "d");
  CHECK(f.Run(f.b, {"MULTI"}) == "+OK\r\n");
  CHECK(f.Run(f.b, {"PING"}) == "+QUEUED\r\n");
  // CLIENT INFO is queued in MULTI; CLIENT LIST from another session shows b.
  std::string list = f.Run(f.c, {"CLIENT", "LIST"});
  CHECK(list.find("id=2 ") != std::string::npos);
  CHECK(list.find("flags=x db=0 sub=0 psub=0 ssub=0 multi=1 ") != std::string::npos);
}

TEST_CASE("transaction: commandstats count queued commands when EXEC runs them") {
  Fixture f;
  CHECK(f.RunAll(f.a, {{"MULTI"}, {"LOCK.ACQUIRE", "k", "h", "x"}, {"LOCK.FENCE", "k"}, {"EXEC"}}) ==
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR value is not an integer or out of range\r\n"
        "$-1\r\n");
  const CommandTable& table = CommandTable::Get();
  CHECK(f.commands.call_stats(*table.Find("lock.acquire")).calls == 1);
  CHECK(f.commands.call_stats(*table.Find("lock.acquire")).failed_calls == 1);
  CHECK(f.commands.call_stats(*table.Find("exec")).calls == 1);
  // The error belongs to the command that replied it, not to EXEC.
  CHECK(f.commands.call_stats(*table.Find("exec")).failed_calls == 0);
  CHECK(f.commands.call_stats(*table.Find("multi")).calls == 1);
}

// Catches: a write queued before the disk failed running anyway at EXEC
// (changes accepted that the log cannot keep), and a read-only transaction
// refused for a failure that does not concern it.
TEST_CASE("transaction: while the log cannot be written, EXEC of a change aborts with MISCONF") {
  char tmpl[] = "/tmp/lockd-transaction-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  FakeFileSystem fs;
  Config config;
  config.appendfilename = dir + "/appendonly.aof";
  config.appendfsync = AppendFsync::kEverySec;
  FakeServer server;
  ManualClock clock;
  Session s{1};
  Session other{2};
  s.authenticated = other.authenticated = true;
  server.sessions = {&s, &other};
  {
    Commands commands(&config, &server, &clock, &fs);
    aof::Durability& log = commands.durability();
    REQUIRE(log.BeginLoad().ok());
    while (!log.LoadSome(1000)) {
    }
    REQUIRE(log.FinishLoad().ok());
    auto run_as = [&](Session& session, std::vector<std::string> words) {
      std::vector<std::string_view> argv(words.begin(), words.end());
      commands.Execute(session, argv, clock.Now());
      return Drain(session);
    };
    auto run = [&](std::vector<std::string> words) { return run_as(s, std::move(words)); };
    // The first grant reserves tokens synchronously: it runs while the disk works.
    CHECK(run({"LOCK.ACQUIRE", "k", "h", "10000"}) == ":1\r\n");
    REQUIRE(log.Commit(clock.Now()));
    CHECK(run({"MULTI"}) == "+OK\r\n");
    CHECK(run({"LOCK.ACQUIRE", "j", "h", "10000"}) == "+QUEUED\r\n");
    CHECK(run({"LOCK.FENCE", "k"}) == "+QUEUED\r\n");
    // The disk fails between queuing and EXEC.
    fs.FailWrites(ENOSPC);
    CHECK(run_as(other, {"LOCK.RENEW", "k", "h", "1", "10000"}) == ":1\r\n");
    log.Commit(clock.Now());
    REQUIRE(log.refusing_writes());
    const std::string misconf = log.misconf_error();
    CHECK(run({"EXEC"}) == "-EXECABORT Transaction discarded because of: " + misconf + "\r\n");
    CHECK(run({"LOCK.FENCE", "j"}) == "$-1\r\n");
    // Queuing a change now is refused at once, and dooms the transaction.
    CHECK(run({"MULTI"}) == "+OK\r\n");
    CHECK(run({"LOCK.ACQUIRE", "j", "h", "10000"}) == "-" + misconf + "\r\n");
    CHECK(run({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
    // A transaction of reads still runs.
    CHECK(run({"MULTI"}) == "+OK\r\n");
    CHECK(run({"LOCK.FENCE", "k"}) == "+QUEUED\r\n");
    CHECK(run({"EXEC"}) == "*1\r\n:1\r\n");
    fs.FailWrites(0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lockd
