// Table-driven tests of the lease state machine on a manual
// clock: each case is a list of engine calls, each with the reply it must
// get and the listener events (changes and wait outcomes) it must cause, in
// order. Times are written relative to the start T0, in ms ("+100") or µs
// ("+100200us").
#include "lockd/engine.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lockd {
namespace {

constexpr int64_t kT0 = 1'000'000'000;  // µs; a whole millisecond

std::string Rel(MonoTime t) {
  int64_t d = t.us - kT0;
  return d % 1000 == 0 ? "+" + std::to_string(d / 1000) : "+" + std::to_string(d) + "us";
}

// Records every listener call as a line of text.
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
    switch (c.kind) {
      case ChangeKind::kGrant:
      case ChangeKind::kExtend:
        events.push_back(std::string(c.kind == ChangeKind::kGrant ? "grant " : "extend ") +
                         std::string(c.key) + " " + std::string(c.holder) + " " +
                         std::to_string(c.token) + " " + Rel(*c.deadline));
        break;
      case ChangeKind::kFree:
        events.push_back("free " + std::string(c.key) + " " + kCauses[static_cast<int>(c.cause)]);
        break;
    }
  }
  std::vector<std::string> events;
};

enum class Op { kAcquire, kRenew, kRelease, kFind, kCancel, kAdvance, kSleep };

struct Step {
  Op op;
  std::string key;
  std::string holder;
  int64_t ttl_ms = 0;
  int64_t wait_ms = 0;              // kAcquire
  Token token = 0;                  // kRenew, kRelease
  int id = 0;                       // waiter id: kAcquire with wait, kCancel
  int64_t us = 0;                   // kSleep
  std::string reply;                // expected reply
  std::vector<std::string> events;  // expected listener calls

  Step Expect(std::string r, std::vector<std::string> e = {}) const {
    Step s = *this;
    s.reply = std::move(r);
    s.events = std::move(e);
    return s;
  }
};

Step Acquire(std::string k, std::string h, int64_t ttl) { return Step{Op::kAcquire, k, h, ttl}; }
Step Wait(std::string k, std::string h, int64_t ttl, int64_t wait, int id) {
  return Step{.op = Op::kAcquire, .key = k, .holder = h, .ttl_ms = ttl, .wait_ms = wait, .id = id};
}
Step Renew(std::string k, std::string h, Token t, int64_t ttl) {
  return Step{.op = Op::kRenew, .key = k, .holder = h, .ttl_ms = ttl, .token = t};
}
Step Release(std::string k, std::string h, Token t) {
  return Step{.op = Op::kRelease, .key = k, .holder = h, .token = t};
}
Step Find(std::string k) { return Step{.op = Op::kFind, .key = k}; }
Step Cancel(int id) { return Step{.op = Op::kCancel, .id = id}; }
Step Advance() { return Step{.op = Op::kAdvance}; }
Step SleepMs(int64_t ms) { return Step{.op = Op::kSleep, .us = ms * 1000}.Expect(""); }
Step SleepUs(int64_t us) { return Step{.op = Op::kSleep, .us = us}.Expect(""); }

struct Case {
  const char* name;
  std::vector<Step> steps;
};

const char* OutcomeName(AcquireOutcome o) {
  switch (o) {
    case AcquireOutcome::kGranted:
      return "granted";
    case AcquireOutcome::kReacquired:
      return "reacquired";
    case AcquireOutcome::kBusy:
      return "busy";
    case AcquireOutcome::kQueued:
      return "queued";
    case AcquireOutcome::kTooManyWaiters:
      return "too-many";
    case AcquireOutcome::kTokensExhausted:
      return "exhausted";
  }
  return "?";
}

void RunCase(const Case& c) {
  Recorder rec;
  EngineOptions options;
  options.max_waiters_per_key = 3;
  options.hash_seed = 1;
  Engine engine(options, &rec, &rec);
  MonoTime now{kT0};
  std::map<int, Waiter*> waiters;
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& s = c.steps[i];
    std::string name = c.name;
    CAPTURE(name);
    CAPTURE(i);
    rec.events.clear();
    std::string reply;
    switch (s.op) {
      case Op::kAcquire: {
        AcquireResult r = engine.Acquire(s.key, s.holder, s.ttl_ms, now, s.wait_ms,
                                         reinterpret_cast<void*>(static_cast<intptr_t>(s.id)));
        reply = OutcomeName(r.outcome);
        if (r.token != 0) reply += " " + std::to_string(r.token);
        if (r.outcome == AcquireOutcome::kQueued) waiters[s.id] = r.waiter;
        break;
      }
      case Op::kRenew:
        reply = engine.Renew(s.key, s.holder, s.token, s.ttl_ms, now) ? "true" : "false";
        break;
      case Op::kRelease:
        reply = engine.Release(s.key, s.holder, s.token, now) ? "true" : "false";
        break;
      case Op::kFind: {
        std::optional<LeaseView> v = engine.Find(s.key, now);
        reply = v ? "held " + std::string(v->holder) + " " + std::to_string(v->token) + " " +
                        Rel(*v->deadline) + " w" + std::to_string(v->waiters)
                  : "free";
        break;
      }
      case Op::kCancel:
        engine.CancelWait(waiters.at(s.id));
        break;
      case Op::kAdvance:
        while (engine.Advance(now)) {
        }
        break;
      case Op::kSleep:
        now.us += s.us;
        break;
    }
    CHECK(reply == s.reply);
    CHECK(rec.events == s.events);
  }
}

// The cases. Tokens start at 1; T0 is when each case begins.
const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"free -> held",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Find("k").Expect("held a 1 +100 w0")}},
      {"re-acquire by the holder resets the deadline (even shorter), keeps the token",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(50),
        Acquire("k", "a", 30).Expect("reacquired 1", {"extend k a 1 +80"}),
        Find("k").Expect("held a 1 +80 w0")}},
      {"acquire by another holder without waiting is busy",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Acquire("k", "b", 100).Expect("busy"), Find("k").Expect("held a 1 +100 w0")}},
      {"acquire by another holder with WAIT queues; the queue is bounded",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 100, 1000, 1).Expect("queued"),
        Wait("k", "c", 100, 1000, 2).Expect("queued"),
        Wait("k", "b", 100, 1000, 3).Expect("queued"),
        Wait("k", "d", 100, 1000, 4).Expect("too-many"), Acquire("k", "d", 100).Expect("busy"),
        Find("k").Expect("held a 1 +100 w3")}},
      {"renew: ok, wrong holder, wrong token",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(60),
        Renew("k", "a", 1, 100).Expect("true", {"extend k a 1 +160"}),
        Renew("k", "b", 1, 100).Expect("false"), Renew("k", "a", 2, 100).Expect("false"),
        Renew("nokey", "a", 1, 100).Expect("false"), Find("k").Expect("held a 1 +160 w0")}},
      {"renew after the deadline fails and expires the lease",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(100),
        Renew("k", "a", 1, 100).Expect("false", {"free k expire"}), Find("k").Expect("free")}},
      {"release: wrong holder, wrong token, then ok",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Release("k", "b", 1).Expect("false"), Release("k", "a", 7).Expect("false"),
        Release("k", "a", 1).Expect("true", {"free k release"}), Find("k").Expect("free"),
        Release("k", "a", 1).Expect("false")}},
      {"release after the deadline fails and expires the lease",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(150),
        Release("k", "a", 1).Expect("false", {"free k expire"}), Find("k").Expect("free")}},
      {"expiry by the timer",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(99),
        Advance().Expect(""), SleepMs(1), Advance().Expect("", {"free k expire"}),
        Find("k").Expect("free")}},
      {"expiry found on access, before any timer ran",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepMs(500),
        Find("k").Expect("free", {"free k expire"}), Advance().Expect("")}},
      {"a deadline exactly at now is expired; now + 1 µs is held",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}), SleepUs(99'999),
        Find("k").Expect("held a 1 +100 w0"), SleepUs(1),
        Find("k").Expect("free", {"free k expire"}),
        Acquire("k", "b", 100).Expect("granted 2", {"grant k b 2 +200"})}},
      {"a free key re-taken gets a larger token than any issued before",
       {Acquire("k1", "a", 100).Expect("granted 1", {"grant k1 a 1 +100"}),
        Acquire("k2", "a", 100).Expect("granted 2", {"grant k2 a 2 +100"}),
        Release("k1", "a", 1).Expect("true", {"free k1 release"}),
        Acquire("k1", "a", 100).Expect("granted 3", {"grant k1 a 3 +100"})}},
      {"release hands off to waiters first-come first-served",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 200, 1000, 1).Expect("queued"),
        Wait("k", "c", 300, 1000, 2).Expect("queued"), SleepMs(10),
        Release("k", "a", 1).Expect("true", {"free k release", "grant k b 2 +210", "granted #1 2"}),
        Find("k").Expect("held b 2 +210 w1"),
        Release("k", "b", 2).Expect("true", {"free k release", "grant k c 3 +310", "granted #2 3"}),
        Find("k").Expect("held c 3 +310 w0")}},
      {"expiry by the timer hands off",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 50, 1000, 1).Expect("queued"), SleepMs(100),
        Advance().Expect("", {"free k expire", "grant k b 2 +150", "granted #1 2"}),
        Find("k").Expect("held b 2 +150 w0")}},
      {"expiry found on access hands off, as of the deadline",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 50, 1000, 1).Expect("queued"), SleepMs(300),
        Acquire("k", "c", 10)
            .Expect("busy", {"free k expire", "grant k b 2 +350", "granted #1 2"})}},
      {"a waiter times out",
       {Acquire("k", "a", 1000).Expect("granted 1", {"grant k a 1 +1000"}),
        Wait("k", "b", 100, 50, 1).Expect("queued"), SleepMs(49), Advance().Expect(""), SleepMs(1),
        Advance().Expect("", {"timeout #1"}), Find("k").Expect("held a 1 +1000 w0"),
        Release("k", "a", 1).Expect("true", {"free k release"}), Find("k").Expect("free")}},
      {"a cancelled waiter is gone without a callback",
       {Acquire("k", "a", 1000).Expect("granted 1", {"grant k a 1 +1000"}),
        Wait("k", "b", 100, 500, 1).Expect("queued"), Wait("k", "c", 100, 500, 2).Expect("queued"),
        Cancel(1).Expect(""), Find("k").Expect("held a 1 +1000 w1"),
        Release("k", "a", 1)
            .Expect("true", {"free k release", "grant k c 2 +100", "granted #2 2"})}},
      {"waiters behind the new holder with the same holder are granted too",
       {Acquire("k", "a", 1000).Expect("granted 1", {"grant k a 1 +1000"}),
        Wait("k", "b", 100, 5000, 1).Expect("queued"), Wait("k", "b", 50, 5000, 2).Expect("queued"),
        Wait("k", "c", 100, 5000, 3).Expect("queued"), SleepMs(5),
        Release("k", "a", 1)
            .Expect("true", {"free k release", "grant k b 2 +105", "granted #1 2",
                             "extend k b 2 +55", "granted #2 2"}),
        Find("k").Expect("held b 2 +55 w1")}},
      {"a hand-off skips waiters whose wait ended before the key freed",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 100, 50, 1).Expect("queued"), Wait("k", "c", 100, 100, 2).Expect("queued"),
        Wait("k", "d", 100, 500, 3).Expect("queued"), SleepMs(200),
        Find("k").Expect("held d 2 +300 w0", {"free k expire", "timeout #1", "timeout #2",
                                              "grant k d 2 +300", "granted #3 2"}),
        Advance().Expect("")}},
      {"release times out waiters already past their wait, grants the next",
       {Acquire("k", "a", 1000).Expect("granted 1", {"grant k a 1 +1000"}),
        Wait("k", "b", 100, 10, 1).Expect("queued"), Wait("k", "c", 100, 1000, 2).Expect("queued"),
        SleepMs(10),
        Release("k", "a", 1)
            .Expect("true", {"free k release", "timeout #1", "grant k c 2 +110", "granted #2 2"})}},
      {"a key whose waiters all timed out before it freed is free",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", "b", 100, 100, 1).Expect("queued"), SleepMs(100),
        Find("k").Expect("free", {"free k expire", "timeout #1"}),
        Acquire("k", "c", 100).Expect("granted 2", {"grant k c 2 +200"})}},
      {"a due wait timer first expires a lease that ended before the wait did",
       // Both deadlines fall in the tick +21 ms, lease first: whichever timer
       // the wheel fires first, b was still waiting when the key freed.
       {SleepUs(200), Acquire("k", "a", 20).Expect("granted 1", {"grant k a 1 +20200us"}),
        SleepUs(500), Wait("k", "b", 100, 20, 1).Expect("queued"), SleepUs(20'300),
        Advance().Expect("", {"free k expire", "grant k b 2 +121", "granted #1 2"}),
        Find("k").Expect("held b 2 +121 w0")}},
      {"the hand-off holder may need a larger entry",
       {Acquire("k", "a", 100).Expect("granted 1", {"grant k a 1 +100"}),
        Wait("k", std::string(300, 'h'), 100, 1000, 1).Expect("queued"),
        Release("k", "a", 1)
            .Expect("true", {"free k release", "grant k " + std::string(300, 'h') + " 2 +100",
                             "granted #1 2"}),
        Release("k", std::string(300, 'h'), 2).Expect("true", {"free k release"}),
        Find("k").Expect("free")}},
  };
  return cases;
}

TEST_CASE("engine: lease state machine transitions (table-driven)") {
  for (const Case& c : Cases()) RunCase(c);
}

}  // namespace
}  // namespace lockd
