// Replies that wait for replicas (min-replicas-to-write, lock-replica-ack):
// a token above the acknowledged reservation or a deadline past its horizon
// is not revealed while the replica that must acknowledge it is stopped,
// other clients' PINGs and reads go on meanwhile, `always` holds every
// change, the stream carries reservations under appendfsync always, and a
// replica promoted after its primary is killed under load repeats no token,
// overlaps no revealed lease and (under `always`) has every acknowledged
// lease.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "replication_util.h"

namespace lockd_test {
namespace {

int64_t InfoInt(const TestServer& s, const std::string& section, const std::string& field) {
  std::string v = s.Info(section, field);
  return v.empty() ? -1 : std::stoll(v);
}

// SIGSTOP for a scope: the process is continued when the scope ends, so
// that a failed check does not leave it stopped for the harness's SIGTERM.
class Stopped {
 public:
  explicit Stopped(pid_t pid) : pid_(pid) { kill(pid_, SIGSTOP); }
  ~Stopped() { Resume(); }
  void Resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// A primary that asks for one acknowledging replica, and that replica,
// caught up.
struct Pair {
  ScratchDir pdir, rdir;
  std::unique_ptr<TestServer> primary;
  std::unique_ptr<TestServer> replica;

  explicit Pair(std::vector<std::string> primary_extra) {
    primary_extra.insert(primary_extra.end(), {"--min-replicas-to-write", "1"});
    primary = StartNode(pdir.path, primary_extra);
    replica = StartReplica(rdir.path, primary->port());
    REQUIRE(CaughtUp(*primary, *replica));
  }
};

TEST_CASE("replica acks: a token or lease past the acknowledged reservation waits for the replica") {
  // appendfsync always: the log needs no reservation, so the stream
  // carries its own.
  Pair pair({"--appendfsync", "always", "--min-replicas-max-lag", "2"});
  TestServer& primary = *pair.primary;
  auto c = primary.Connect();
  Reply first;
  REQUIRE(WaitFor([&] { return (first = c->Cmd({"LOCK.ACQUIRE", "seat:1", "alice", "60000"})).is_int(); },
                  10000, 50));
  // That grant reserved tokens and a horizon a minute past its deadline;
  // once the replica acknowledged them, grants within them need no ack.
  REQUIRE(WaitFor([&] { return InfoInt(primary, "replication", "lock_replica_acked_tokens") >= first.integer(); },
                  5000));

  Stopped stopped(pair.replica->pid());
  Reply within = c->Cmd({"LOCK.ACQUIRE", "seat:2", "bob", "30000"});
  REQUIRE_MESSAGE(within.is_int(), within.Describe());
  CHECK(within.integer() <= InfoInt(primary, "replication", "lock_replica_acked_tokens"));
  CHECK(c->Cmd({"LOCK.FENCE", "seat:1"}).integer() == first.integer());

  // A lease of ten minutes ends past the acknowledged horizon: it needs a
  // new reservation, which the stopped replica cannot acknowledge.
  auto held = primary.Connect();
  held->Append({"LOCK.ACQUIRE", "seat:3", "carol", "600000"});
  REQUIRE(held->Flush());
  CHECK_FALSE(held->ReplyReady(1500));
  // Another client reading that lease waits too: it would reveal the token.
  auto peek = primary.Connect();
  peek->Append({"LOCK.FENCE", "seat:3"});
  REQUIRE(peek->Flush());
  CHECK_FALSE(peek->ReplyReady(500));

  // Everyone else goes on: PING, and reads and writes within the
  // acknowledged reservation.
  auto other = primary.Connect();
  CHECK(other->Cmd({"PING"}).str() == "PONG");
  CHECK(other->Cmd({"LOCK.FENCE", "seat:1"}).integer() == first.integer());
  CHECK(other->Cmd({"GET", "seat:2"}).str() == "bob");
  CHECK(other->Cmd({"LOCK.ACQUIRE", "short", "dan", "1000"}).is_int());
  // Past min-replicas-max-lag the stopped replica is no longer good: writes
  // are refused at once rather than held.
  REQUIRE(WaitFor(
      [&] {
        return other->Cmd({"LOCK.ACQUIRE", "short", "dan", "1000"}).str().rfind("NOREPLICAS", 0) == 0;
      },
      10000, 100));
  CHECK(other->Cmd({"PING"}).str() == "PONG");
  CHECK_FALSE(held->ReplyReady(0));
  CHECK_FALSE(peek->ReplyReady(0));

  stopped.Resume();
  Reply got = held->GetReply();
  REQUIRE_MESSAGE(got.is_int(), got.Describe());
  CHECK(got.integer() > within.integer());
  CHECK(peek->GetReply().integer() == got.integer());
  // The replica had it before the client did.
  auto rc = pair.replica->Connect();
  CHECK(rc->Cmd({"LOCK.FENCE", "seat:3"}).integer() == got.integer());
}

TEST_CASE("replica acks: under appendfsync always the stream carries reservations, which a promoted replica resumes above") {
  ScratchDir pdir, rdir;
  auto primary = StartNode(pdir.path, {"--appendfsync", "always"});
  auto replica = StartReplica(rdir.path, primary->port());
  REQUIRE(CaughtUp(*primary, *replica));
  auto c = primary->Connect();
  int64_t top = 0;
  for (int i = 0; i < 5; ++i) {
    Reply r = c->Cmd({"LOCK.ACQUIRE", "k" + std::to_string(i), "h", "500"});
    REQUIRE(r.is_int());
    top = std::max(top, r.integer());
  }
  REQUIRE(c->Cmd({"WAIT", "1", "5000"}).integer() == 1);
  auto rc = replica->Connect();
  REQUIRE(rc->Cmd({"REPLICAOF", "NO", "ONE"}).str() == "OK");
  REQUIRE(WaitFor([&] { return InfoInt(*replica, "persistence", "lock_restart_delay_ms") == 0; },
                  15000, 50));
  Reply fresh = rc->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "1000"});
  REQUIRE(fresh.is_int());
  // Above the block the old primary reserved, not only above its tokens.
  CHECK(fresh.integer() > top + 60000);
}

TEST_CASE("replica acks: lock-replica-ack always holds every change until the replica acknowledges it") {
  Pair pair({"--appendfsync", "everysec", "--lock-replica-ack", "always"});
  TestServer& primary = *pair.primary;
  CHECK(primary.Info("replication", "lock_replica_ack_effective") == "always");
  auto c = primary.Connect();
  Reply t;
  REQUIRE(WaitFor([&] { return (t = c->Cmd({"LOCK.ACQUIRE", "seat", "alice", "60000"})).is_int(); },
                  10000, 50));
  Reply bob = c->Cmd({"LOCK.ACQUIRE", "other", "bob", "60000"});
  REQUIRE(bob.is_int());

  Stopped stopped(pair.replica->pid());
  // A release needs no reservation, but it is a change.
  c->Append({"LOCK.RELEASE", "seat", "alice", std::to_string(t.integer())});
  REQUIRE(c->Flush());
  CHECK_FALSE(c->ReplyReady(1500));
  auto other = primary.Connect();
  CHECK(other->Cmd({"PING"}).str() == "PONG");
  CHECK(other->Cmd({"GET", "nothing-here"}).is_nil());
  // Under `reservations` the same kind of change is answered at once.
  REQUIRE(other->Cmd({"CONFIG", "SET", "lock-replica-ack", "reservations"}).str() == "OK");
  CHECK(other->Cmd({"LOCK.RENEW", "other", "bob", std::to_string(bob.integer()), "30000"}).integer() ==
        1);
  CHECK_FALSE(c->ReplyReady(0));
  stopped.Resume();
  Reply released = c->GetReply();
  CHECK(released.integer() == 1);
}

TEST_CASE("replica acks: the start log and INFO say what a failover can lose") {
  ScratchDir a, b, d;
  auto async = StartNode(a.path, {"--lock-replica-ack", "always"});
  CHECK(async->ReadLog().find("Replication is asynchronous (min-replicas-to-write 0, lock-replica-ack "
                              "always has no effect)") != std::string::npos);
  CHECK(async->Info("replication", "lock_replica_ack") == "always");
  CHECK(async->Info("replication", "lock_replica_ack_effective") == "none");
  auto reservations = StartNode(b.path, {"--min-replicas-to-write", "1"});
  CHECK(reservations->ReadLog().find("Token and lease reservations wait for 1 replica ack(s)") !=
        std::string::npos);
  CHECK(reservations->Info("replication", "lock_replica_ack_effective") == "reservations");
  auto always = StartNode(d.path, {"--min-replicas-to-write", "2", "--lock-replica-ack", "always"});
  CHECK(always->ReadLog().find("Replies wait for 2 replica ack(s) (lock-replica-ack always)") !=
        std::string::npos);
  auto c = always->Connect();
  Reply got = c->Cmd({"CONFIG", "GET", "lock-replica-ack"});
  REQUIRE(got.size() == 2);
  CHECK(ElementString(got.at(1)) == "always");
  CHECK(c->Cmd({"CONFIG", "SET", "lock-replica-ack", "sometimes"}).str() ==
        "ERR CONFIG SET failed (possibly related to argument 'lock-replica-ack') - argument(s) "
        "must be one of the following: reservations, always");
}

// What clients saw of the primary before it died.
struct Seen {
  std::mutex mu;
  int64_t top_token = 0;
  // key -> the latest end of a lease a client was told it holds (client
  // clock: sent + ttl, never later than the server's deadline).
  std::map<std::string, Clock::time_point> lease_end;
  // key -> holder/token of every acknowledged grant (keys are never reused).
  std::map<std::string, std::string> granted;
};

// Clients acquiring leases until the primary dies. `unique_keys`: every
// grant is on a key of its own and never released (for the `always`
// check); otherwise keys are shared and leases short.
void RunLoad(const TestServer& primary, int threads, bool unique_keys, Seen* seen,
             std::atomic<bool>* stop) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Client c(primary.port(), 3000);
      if (!c.ok()) return;
      std::mt19937 rng(static_cast<unsigned>(t * 7919 + 1));
      for (int i = 0; !stop->load(); ++i) {
        std::string key = unique_keys ? "u:" + std::to_string(t) + ":" + std::to_string(i)
                                      : "k:" + std::to_string(rng() % 16);
        std::string holder = "h" + std::to_string(t) + "-" + std::to_string(i);
        int64_t ttl = unique_keys ? 60000 : 300 + static_cast<int64_t>(rng() % 1200);
        Clock::time_point sent = Clock::now();
        Reply r = c.Cmd({"LOCK.ACQUIRE", key, holder, std::to_string(ttl)});
        if (!r) return;  // the primary is gone
        if (!r.is_int()) continue;  // busy, or NOREPLICAS
        std::lock_guard<std::mutex> lock(seen->mu);
        seen->top_token = std::max(seen->top_token, r.integer());
        Clock::time_point end = sent + Millis(ttl);
        auto& slot = seen->lease_end[key];
        slot = std::max(slot, end);
        seen->granted[key] = holder + "/" + std::to_string(r.integer());
      }
    });
  }
  for (std::thread& w : workers) w.join();
}

TEST_CASE("replica acks: a replica promoted after its primary is killed under load repeats no token and overlaps no revealed lease") {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    Pair pair({"--appendfsync", round == 0 ? "everysec" : "always", "--min-replicas-max-lag", "5"});
    Seen seen;
    std::atomic<bool> stop{false};
    std::thread load([&] { RunLoad(*pair.primary, 4, false, &seen, &stop); });
    std::this_thread::sleep_for(Millis(300 + rng() % 700));
    pair.primary->Kill();
    stop = true;
    load.join();
    REQUIRE(seen.top_token > 0);

    auto rc = pair.replica->Connect();
    REQUIRE(rc->Cmd({"REPLICAOF", "NO", "ONE"}).str() == "OK");
    // No key is given to anyone else while a lease a client was told of
    // may still run: a grant seen before that lease's end is a double grant.
    std::map<std::string, Clock::time_point> pending = seen.lease_end;
    Clock::time_point give_up = Clock::now() + std::chrono::seconds(30);
    while (!pending.empty() && Clock::now() < give_up) {
      for (auto it = pending.begin(); it != pending.end();) {
        Reply r = rc->Cmd({"LOCK.ACQUIRE", it->first, "intruder", "100000"});
        Clock::time_point answered = Clock::now();
        if (r.is_int()) {
          CHECK_MESSAGE(answered >= it->second, "key ", it->first, " granted before a revealed lease ended");
          CHECK(r.integer() > seen.top_token);
          it = pending.erase(it);
        } else {
          REQUIRE_MESSAGE(r.is_nil(), r.Describe());
          ++it;
        }
      }
      std::this_thread::sleep_for(Millis(20));
    }
    CHECK(pending.empty());
    Reply fresh = rc->Cmd({"LOCK.ACQUIRE", "fresh", "zed", "1000"});
    REQUIRE(fresh.is_int());
    CHECK(fresh.integer() > seen.top_token);
  }
}

TEST_CASE("replica acks: under lock-replica-ack always every acknowledged lease is on the promoted replica") {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    Pair pair({"--appendfsync", "everysec", "--lock-replica-ack", "always", "--min-replicas-max-lag", "5"});
    Seen seen;
    std::atomic<bool> stop{false};
    std::thread load([&] { RunLoad(*pair.primary, 4, true, &seen, &stop); });
    std::this_thread::sleep_for(Millis(200 + rng() % 800));
    // Now and then the replica stalls just before the end, so the kill
    // finds replies waiting for it.
    if (round == 1) {
      Stopped stopped(pair.replica->pid());
      std::this_thread::sleep_for(Millis(100));
      pair.primary->Kill();
    } else {
      pair.primary->Kill();
    }
    stop = true;
    load.join();
    REQUIRE(!seen.granted.empty());

    auto rc = pair.replica->Connect();
    REQUIRE(WaitFor([&] { return pair.replica->Info("replication", "master_link_status") == "down"; },
                    10000, 20));
    REQUIRE(rc->Cmd({"REPLICAOF", "NO", "ONE"}).str() == "OK");
    size_t missing = 0;
    for (const auto& granted : seen.granted) {
      // Not a structured binding: CHECK_MESSAGE's lambda captures `key`,
      // which clang refuses for a binding.
      const std::string& key = granted.first;
      const std::string& want = granted.second;
      Reply info = rc->Cmd({"LOCK.INFO", key});
      std::optional<LockInfo> li = ParseLockInfo(info);
      std::string got = li ? li->holder + "/" + std::to_string(li->token) : info.Describe();
      if (got != want) {
        ++missing;
        CHECK_MESSAGE(got == want, "key ", key);
      }
    }
    CHECK(missing == 0);
    MESSAGE("round ", round, ": ", seen.granted.size(), " acknowledged leases checked");
  }
}

}  // namespace
}  // namespace lockd_test
