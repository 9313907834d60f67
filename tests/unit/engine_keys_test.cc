// The engine's key-writing operations (Set, Delete, SetDeadline, FlushAll)
// on a manual clock: tokens, deadlines and no-deadline leases, hand-offs to
// FIFO waiters after DEL / an expire time in the past / FLUSHALL / expiry of
// a SET key, the restart lock-delay, token exhaustion, and the changes
// reported to the log.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lockd/engine.h"

namespace lockd {
namespace {

constexpr int64_t kT0 = 1'000'000'000;  // µs

std::string Rel(const std::optional<MonoTime>& t) {
  if (!t) return "none";
  return "+" + std::to_string((t->us - kT0) / 1000);
}

class Recorder : public WaitListener, public ChangeListener {
 public:
  void OnWaitGranted(void* context, Token token) override {
    events.push_back("granted #" + std::to_string(reinterpret_cast<intptr_t>(context)) + " " +
                     std::to_string(token));
  }
  void OnWaitTimedOut(void* context) override {
    events.push_back("timeout #" + std::to_string(reinterpret_cast<intptr_t>(context)));
  }
  void OnChange(const Change& c) override {
    static const char* kCauses[] = {"none", "release", "expire", "delete"};
    if (c.kind == ChangeKind::kFree) {
      events.push_back("free " + std::string(c.key) + " " + kCauses[static_cast<int>(c.cause)]);
      return;
    }
    events.push_back(std::string(c.kind == ChangeKind::kGrant ? "grant " : "extend ") +
                     std::string(c.key) + " " + std::string(c.holder) + " " +
                     std::to_string(c.token) + " " + Rel(c.deadline));
  }
  void OnUnitBegin() override { events.push_back("multi"); }
  void OnUnitEnd() override { events.push_back("exec"); }
  std::vector<std::string> Take() { return std::exchange(events, {}); }
  std::vector<std::string> events;
};

void* Id(intptr_t id) { return reinterpret_cast<void*>(id); }

struct Fixture {
  Recorder rec;
  Engine engine{EngineOptions{.hash_seed = 7}, &rec, &rec};
  MonoTime now{kT0};

  MonoTime In(int64_t ms) const { return now.PlusMillis(ms); }
  SetResult Set(const std::string& key, const std::string& value, SetOptions o = {}) {
    return engine.Set(key, value, o, now);
  }
  SetResult SetPx(const std::string& key, const std::string& value, int64_t ms,
                  SetCondition c = SetCondition::kNone) {
    SetOptions o{.condition = c, .deadline_mode = SetDeadlineMode::kAt, .deadline = In(ms)};
    return engine.Set(key, value, o, now);
  }
  std::string Held(const std::string& key) {
    std::optional<LeaseView> v = engine.Find(key, now);
    if (!v) return "free";
    return std::string(v->holder) + " " + std::to_string(v->token) + " " + Rel(v->deadline) +
           " w" + std::to_string(v->waiters);
  }
  void Sleep(int64_t ms) {
    now = now.PlusMillis(ms);
    while (engine.Advance(now)) {
    }
  }
};

using Events = std::vector<std::string>;

TEST_CASE("engine keys: SET NX PX on a free key is a grant, like LOCK.ACQUIRE") {
  Fixture f;
  SetResult r = f.SetPx("k", "a", 100, SetCondition::kIfFree);
  CHECK(r.outcome == SetOutcome::kSet);
  CHECK(r.token == 1);
  CHECK(f.rec.Take() == Events{"grant k a 1 +100"});
  // The same lock seen through LOCK.* operations.
  CHECK(f.Held("k") == "a 1 +100 w0");
  CHECK(f.engine.Acquire("k", "b", 100, f.now).outcome == AcquireOutcome::kBusy);
  CHECK(f.SetPx("k", "b", 100, SetCondition::kIfFree).outcome == SetOutcome::kNotSet);
  CHECK(f.engine.Release("k", "a", 1, f.now));
  // Tokens strictly increase across SET and Acquire grants.
  CHECK(f.engine.Acquire("k", "c", 100, f.now).token == 2);
  CHECK(f.engine.Release("k", "c", 2, f.now));
  CHECK(f.SetPx("k", "d", 100).token == 3);
  CHECK(f.engine.stats().grants == 3);
}

TEST_CASE("engine keys: SET of the same value keeps the token; a new value gets a new one") {
  Fixture f;
  f.SetPx("k", "a", 100);
  f.rec.Take();
  SetResult same = f.SetPx("k", "a", 500);
  CHECK(same.outcome == SetOutcome::kSet);
  CHECK(same.token == 1);
  CHECK(f.rec.Take() == Events{"extend k a 1 +500"});
  // No expiry option and no KEEPTTL: no deadline, as in Redis.
  CHECK(f.Set("k", "a").token == 1);
  CHECK(f.rec.Take() == Events{"extend k a 1 none"});
  CHECK(f.Held("k") == "a 1 none w0");
  SetResult other = f.Set("k", "b", SetOptions{.get_old = true});
  CHECK(other.token == 2);
  CHECK(other.had_old);
  CHECK(other.old_holder == "a");
  CHECK(f.rec.Take() == Events{"grant k b 2 none"});
  // A holder of a different length moves the entry; the lease follows it.
  CHECK(f.Set("k", "a-much-longer-holder-than-before-so-the-entry-moves").token == 3);
  CHECK(f.Held("k") == "a-much-longer-holder-than-before-so-the-entry-moves 3 none w0");
}

TEST_CASE("engine keys: SET conditions XX, NX, IFEQ and GET") {
  Fixture f;
  CHECK(f.Set("k", "a", SetOptions{.condition = SetCondition::kIfHeld}).outcome ==
        SetOutcome::kNotSet);
  CHECK(f.Set("k", "a", SetOptions{.condition = SetCondition::kIfEquals, .compare = "a"})
            .outcome == SetOutcome::kNotSet);
  CHECK(f.Held("k") == "free");
  SetResult nx = f.Set("k", "a", SetOptions{.condition = SetCondition::kIfFree, .get_old = true});
  CHECK(nx.outcome == SetOutcome::kSet);
  CHECK_FALSE(nx.had_old);
  SetResult nx2 = f.Set("k", "b", SetOptions{.condition = SetCondition::kIfFree, .get_old = true});
  CHECK(nx2.outcome == SetOutcome::kNotSet);
  CHECK(nx2.old_holder == "a");
  CHECK(f.Set("k", "b", SetOptions{.condition = SetCondition::kIfEquals, .compare = "x"})
            .outcome == SetOutcome::kNotSet);
  SetResult eq = f.Set("k", "b", SetOptions{.condition = SetCondition::kIfEquals, .compare = "a"});
  CHECK(eq.outcome == SetOutcome::kSet);
  CHECK(eq.token == 2);
  CHECK(f.Set("k", "c", SetOptions{.condition = SetCondition::kIfHeld}).token == 3);
}

TEST_CASE("engine keys: KEEPTTL keeps the deadline; on a free key there is none") {
  Fixture f;
  f.SetPx("k", "a", 1000);
  f.Sleep(100);
  SetOptions keep{.deadline_mode = SetDeadlineMode::kKeep};
  CHECK(f.Set("k", "b", keep).token == 2);
  CHECK(f.Held("k") == "b 2 +1000 w0");
  CHECK(f.Set("k2", "a", keep).token == 3);
  CHECK(f.Held("k2") == "a 3 none w0");
}

TEST_CASE("engine keys: a SET deadline in the past frees the key and hands it off") {
  Fixture f;
  SetOptions past{.deadline_mode = SetDeadlineMode::kAt, .deadline = f.In(-5)};
  // A free key stays free, and no token is spent.
  CHECK(f.Set("k", "a", past).outcome == SetOutcome::kSet);
  CHECK(f.Held("k") == "free");
  CHECK(f.engine.last_token() == 0);
  CHECK(f.rec.Take().empty());
  f.SetPx("k", "a", 1000);
  CHECK(f.engine.Acquire("k", "w", 50, f.now, 1000, Id(1)).outcome == AcquireOutcome::kQueued);
  f.rec.Take();
  past.get_old = true;
  SetResult r = f.Set("k", "b", past);
  CHECK(r.outcome == SetOutcome::kSet);
  CHECK(r.old_holder == "a");
  CHECK(f.rec.Take() ==
        Events{"multi", "free k delete", "grant k w 2 +50", "granted #1 2", "exec"});
}

TEST_CASE("engine keys: a SET key with a deadline expires and goes to its head waiter") {
  Fixture f;
  f.SetPx("k", "a", 100, SetCondition::kIfFree);
  f.engine.Acquire("k", "w1", 50, f.now, 1000, Id(1));
  f.engine.Acquire("k", "w2", 50, f.now, 1000, Id(2));
  f.rec.Take();
  f.Sleep(101);
  CHECK(f.rec.Take() ==
        Events{"multi", "free k expire", "grant k w1 2 +151", "granted #1 2", "exec"});
  CHECK(f.Held("k") == "w1 2 +151 w1");
}

TEST_CASE("engine keys: a SET without a deadline never expires; waiters time out") {
  Fixture f;
  f.Set("k", "a");
  f.engine.Acquire("k", "w1", 50, f.now, 1000, Id(1));
  f.rec.Take();
  CHECK(f.engine.NextWakeup().has_value());  // only the waiter's timeout
  f.Sleep(1000);
  CHECK(f.rec.Take() == Events{"timeout #1"});
  f.Sleep(10'000'000);
  CHECK(f.Held("k") == "a 1 none w0");
  CHECK_FALSE(f.engine.NextWakeup().has_value());
  // ForEachLease (the rewrite) and Scan report it without a deadline.
  int seen = 0;
  f.engine.ForEachLease([&](const LeaseView& v) {
    CHECK_FALSE(v.deadline.has_value());
    ++seen;
  });
  CHECK(seen == 1);
}

TEST_CASE("engine keys: SET of a new holder keeps the waiters in their places") {
  Fixture f;
  f.SetPx("k", "a", 1000);
  f.engine.Acquire("k", "w1", 50, f.now, 5000, Id(1));
  f.engine.Acquire("k", "w2", 50, f.now, 5000, Id(2));
  f.rec.Take();
  CHECK(f.SetPx("k", "b", 1000).token == 2);
  // Bracketed: the waiters at the head could have had the new holder.
  CHECK(f.rec.Take() == Events{"multi", "grant k b 2 +1000", "exec"});
  CHECK(f.Held("k") == "b 2 +1000 w2");
  CHECK(f.engine.Delete("k", f.now));
  CHECK(f.rec.Take() ==
        Events{"multi", "free k delete", "grant k w1 3 +50", "granted #1 3", "exec"});
}

TEST_CASE("engine keys: SET to the head waiter's holder grants that waiter too") {
  Fixture f;
  f.SetPx("k", "a", 1000);
  f.engine.Acquire("k", "w1", 50, f.now, 5000, Id(1));
  f.engine.Acquire("k", "w2", 50, f.now, 5000, Id(2));
  f.rec.Take();
  CHECK(f.SetPx("k", "w1", 1000).token == 2);
  CHECK(f.rec.Take() ==
        Events{"multi", "grant k w1 2 +1000", "extend k w1 2 +50", "granted #1 2", "exec"});
  CHECK(f.Held("k") == "w1 2 +50 w1");
}

TEST_CASE("engine keys: DEL frees and hands off in FIFO order; a free key is not deleted") {
  Fixture f;
  CHECK_FALSE(f.engine.Delete("k", f.now));
  f.Set("k", "a");
  f.engine.Acquire("k", "w1", 50, f.now, 5000, Id(1));
  f.engine.Acquire("k", "w2", 70, f.now, 5000, Id(2));
  f.rec.Take();
  CHECK(f.engine.Delete("k", f.now));
  CHECK(f.rec.Take() ==
        Events{"multi", "free k delete", "grant k w1 2 +50", "granted #1 2", "exec"});
  CHECK(f.engine.Delete("k", f.now));
  CHECK(f.rec.Take() ==
        Events{"multi", "free k delete", "grant k w2 3 +70", "granted #2 3", "exec"});
  CHECK(f.engine.Delete("k", f.now));
  CHECK(f.rec.Take() == Events{"free k delete"});
  CHECK(f.Held("k") == "free");
  CHECK(f.engine.stats().deletes == 3);
}

TEST_CASE("engine keys: SetDeadline moves the deadline and keeps the token; past deletes") {
  Fixture f;
  CHECK_FALSE(f.engine.SetDeadline("k", f.In(100), f.now));
  f.SetPx("k", "a", 100);
  f.rec.Take();
  CHECK(f.engine.SetDeadline("k", f.In(5000), f.now));
  CHECK(f.rec.Take() == Events{"extend k a 1 +5000"});
  // PERSIST.
  CHECK(f.engine.SetDeadline("k", std::nullopt, f.now));
  CHECK(f.rec.Take() == Events{"extend k a 1 none"});
  f.Sleep(100'000);
  CHECK(f.Held("k") == "a 1 none w0");
  CHECK(f.engine.SetDeadline("k", f.In(10), f.now));
  f.rec.Take();
  f.engine.Acquire("k", "w1", 50, f.now, 5000, Id(1));
  // PEXPIRE 0: the key is deleted and handed to the head waiter at once.
  CHECK(f.engine.SetDeadline("k", f.now, f.now));
  CHECK(f.rec.Take() ==
        Events{"multi", "free k delete", "grant k w1 2 +100050", "granted #1 2", "exec"});
}

TEST_CASE("engine keys: FLUSHALL frees every key, handing keys with waiters to the head waiter") {
  Fixture f;
  f.Set("a", "x");
  f.SetPx("b", "x", 100);
  f.SetPx("c", "x", 10);
  f.engine.Acquire("b", "w1", 50, f.now, 5000, Id(1));
  f.engine.Acquire("b", "w2", 50, f.now, 5000, Id(2));
  f.engine.Acquire("c", "w3", 50, f.now, 5000, Id(3));
  f.engine.Acquire("c", "w4", 50, f.now, 5000, Id(4));
  f.rec.Take();
  // c's lease ended before the flush (its timer not run yet): w3 held it,
  // so the flush hands c on to w4.
  f.now = f.now.PlusMillis(20);
  CHECK(f.engine.FlushAll(f.now) == 3);
  Events e = f.rec.Take();
  CHECK(e.front() == "multi");
  CHECK(e.back() == "exec");
  CHECK(f.Held("a") == "free");
  // Partitions are flushed in table order, so which key got token 4: any.
  std::optional<LeaseView> b = f.engine.Find("b", f.now);
  std::optional<LeaseView> c = f.engine.Find("c", f.now);
  REQUIRE(b);
  REQUIRE(c);
  CHECK(b->holder == "w1");
  CHECK(b->waiters == 1);
  CHECK(c->holder == "w4");
  CHECK(c->waiters == 0);
  CHECK(b->token > 3);
  CHECK(c->token > 3);
  CHECK(f.engine.last_token() == 6);
  CHECK(f.engine.size() == 2);
  // Every change is inside the one unit.
  int depth = 0;
  for (const std::string& line : e) {
    if (line == "multi") ++depth;
    if (line == "exec") --depth;
    if (line != "exec" && line != "multi") CHECK(depth > 0);
  }
  CHECK(f.engine.FlushAll(f.now) == 2);
  CHECK(f.engine.size() == 1);  // b went on to w2
  CHECK(f.engine.FlushAll(f.now) == 1);
  CHECK(f.engine.size() == 0);
  f.rec.Take();
  CHECK(f.engine.FlushAll(f.now) == 0);
  CHECK(f.rec.Take().empty());
}

TEST_CASE("engine keys: FLUSHALL of many keys across partitions and table shrinks") {
  Fixture f;
  for (int i = 0; i < 5000; ++i) f.SetPx("key:" + std::to_string(i), "h", 1000);
  CHECK(f.engine.size() == 5000);
  CHECK(f.engine.FlushAll(f.now) == 5000);
  CHECK(f.engine.size() == 0);
  CHECK_FALSE(f.engine.NextWakeup().has_value());
  CHECK(f.SetPx("key:1", "h", 1000).token == 5001);
}

TEST_CASE("engine keys: during the restart lock-delay no SET issues a token") {
  Fixture f;
  f.SetPx("held", "a", 100'000);
  f.rec.Take();
  f.engine.CloseGrantsUntil(f.In(1000));
  // NX on a free key answers as a busy key would.
  CHECK(f.SetPx("free", "a", 100, SetCondition::kIfFree).outcome == SetOutcome::kNotSet);
  // A plain SET that would change the holder is refused.
  CHECK(f.Set("free", "a").outcome == SetOutcome::kGrantsClosed);
  CHECK(f.Set("held", "b").outcome == SetOutcome::kGrantsClosed);
  CHECK(f.Set("held", "b", SetOptions{.condition = SetCondition::kIfHeld}).outcome ==
        SetOutcome::kGrantsClosed);
  CHECK(f.rec.Take().empty());
  CHECK(f.Held("held") == "a 1 +100000 w0");
  // The holder keeps its lease and may move it; deletes go on.
  CHECK(f.SetPx("held", "a", 500).outcome == SetOutcome::kSet);
  CHECK(f.engine.Delete("held", f.now));
  CHECK(f.engine.last_token() == 1);
  f.Sleep(1000);
  CHECK(f.Set("free", "a").token == 2);
}

TEST_CASE("engine keys: with the token counter at its end, SET of a new holder is refused") {
  Fixture f;
  f.Set("k", "a");
  f.engine.RaiseLastToken(kMaxToken);
  CHECK(f.Set("k2", "a").outcome == SetOutcome::kTokensExhausted);
  CHECK(f.Set("k", "b").outcome == SetOutcome::kTokensExhausted);
  CHECK(f.Set("k", "a").outcome == SetOutcome::kSet);
  CHECK(f.engine.Delete("k", f.now));
}

TEST_CASE("engine keys: Restore without a deadline is a lease that never expires") {
  Fixture f;
  f.engine.Restore("k", "a", 9, std::nullopt, f.now);
  CHECK(f.Held("k") == "a 9 none w0");
  CHECK_FALSE(f.engine.NextWakeup().has_value());
  f.Sleep(1'000'000);
  CHECK(f.Held("k") == "a 9 none w0");
}

}  // namespace
}  // namespace lockd
