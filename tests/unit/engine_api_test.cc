// Tests of the Engine API around the state machine: tokens and
// RaiseLastToken, stats, size and waiter counts, the wheel as the server
// drives it (NextWakeup / Advance with a budget), Scan, lock-max-waiters,
// a null ChangeListener, and teardown with leases and waiters in place.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lockd/engine.h"

namespace lockd {
namespace {

constexpr MonoTime kT0{5'000'000'000};

class CountingWaits : public WaitListener {
 public:
  void OnWaitGranted(void* context, Token token) override { granted[context] = token; }
  void OnWaitTimedOut(void* context) override { timed_out.insert(context); }
  std::map<void*, Token> granted;
  std::set<void*> timed_out;
};

void* Ctx(intptr_t i) { return reinterpret_cast<void*>(i); }

TEST_CASE("engine api: tokens increase across keys; RaiseLastToken only raises") {
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  CHECK(engine.last_token() == 0);
  CHECK(engine.Acquire("a", "h", 100, kT0).token == 1);
  engine.RaiseLastToken(100);
  CHECK(engine.Acquire("b", "h", 100, kT0).token == 101);
  engine.RaiseLastToken(50);
  CHECK(engine.last_token() == 101);
  CHECK(engine.Acquire("c", "h", 100, kT0).token == 102);
  // Re-acquire keeps the token and takes none from the counter.
  CHECK(engine.Acquire("c", "h", 100, kT0).token == 102);
  CHECK(engine.last_token() == 102);
}

TEST_CASE("engine api: the token counter stops at 2^63-1 and never wraps") {
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  engine.RaiseLastToken(kMaxToken - 2);
  MonoTime now = kT0;
  Token a = engine.Acquire("a", "h", 100, now).token;
  CHECK(a == kMaxToken - 1);
  // Queued while a token is left: it would get the last one on hand-off.
  CHECK(engine.Acquire("a", "w", 100, now, 1000, Ctx(1)).outcome == AcquireOutcome::kQueued);
  CHECK(engine.Acquire("b", "h", 100, now).token == kMaxToken);
  CHECK(engine.tokens_exhausted());
  CHECK(engine.Acquire("c", "h", 100, now).outcome == AcquireOutcome::kTokensExhausted);
  CHECK(engine.Acquire("b", "x", 100, now, 10, Ctx(2)).outcome ==
        AcquireOutcome::kTokensExhausted);
  CHECK(engine.Acquire("b", "x", 100, now).outcome == AcquireOutcome::kBusy);
  // Holders go on.
  AcquireResult again = engine.Acquire("b", "h", 100, now);
  CHECK(again.outcome == AcquireOutcome::kReacquired);
  CHECK(again.token == kMaxToken);
  CHECK(engine.Renew("b", "h", kMaxToken, 100, now));
  // The key frees: the waiter cannot be granted, so it times out and the
  // key is free.
  CHECK(engine.Release("a", "h", a, now));
  CHECK(waits.granted.empty());
  CHECK(waits.timed_out.count(Ctx(1)) == 1);
  CHECK(!engine.Find("a", now).has_value());
  CHECK(engine.waiter_count() == 0);
  CHECK(engine.last_token() == kMaxToken);
  CHECK(SaturatingAddTokens(kMaxToken - 1, 65536) == kMaxToken);
  CHECK(SaturatingAddTokens(5, 7) == 12);
}

TEST_CASE("engine api: keys longer than any held are absent; the longest ones still count") {
  // Reads of a key longer than every key ever held skip hashing it; this
  // checks the boundary of that shortcut, for every kind of lookup.
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  const std::string short_key(10, 's');
  const std::string long_key(4096, 'l');
  CHECK_FALSE(engine.Find(short_key, kT0).has_value());
  Token t1 = engine.Acquire(short_key, "h", 1000, kT0).token;
  CHECK(engine.Find(short_key, kT0).has_value());
  CHECK_FALSE(engine.Find(short_key + "x", kT0).has_value());
  Token t2 = engine.Acquire(long_key, "h", 1000, kT0).token;
  REQUIRE(t2 > t1);
  // The longest key held is found, renewed and released like any other.
  REQUIRE(engine.Find(long_key, kT0).has_value());
  CHECK(engine.Find(long_key, kT0)->token == t2);
  CHECK(engine.Renew(long_key, "h", t2, 2000, kT0));
  CHECK_FALSE(engine.Renew(long_key + "x", "h", t2, 2000, kT0));
  CHECK_FALSE(engine.Release(long_key + "x", "h", t2, kT0));
  CHECK(engine.Release(long_key, "h", t2, kT0));
  CHECK_FALSE(engine.Find(long_key, kT0).has_value());
  // Restored leases (log replay) count too.
  const std::string restored(8192, 'r');
  engine.Restore(restored, "h", t2 + 1, std::nullopt, kT0);
  REQUIRE(engine.Find(restored, kT0).has_value());
  CHECK(engine.Release(restored, "h", t2 + 1, kT0));
}

TEST_CASE("engine api: stats, size and waiter counts") {
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  MonoTime now = kT0;
  Token a = engine.Acquire("k1", "a", 100, now).token;
  engine.Acquire("k1", "a", 100, now);                // renewal
  CHECK(engine.Renew("k1", "a", a, 100, now));        // renewal
  engine.Acquire("k1", "b", 100, now, 1000, Ctx(1));  // queued
  engine.Acquire("k1", "c", 100, now, 10, Ctx(2));    // queued, times out
  engine.Acquire("k2", "a", 100, now);
  CHECK(engine.size() == 2);
  CHECK(engine.waiter_count() == 2);
  CHECK(engine.Release("k1", "a", a, now));  // release + hand-off to b
  now = now.PlusMillis(100);
  while (engine.Advance(now)) {
  }
  // k1 (b's lease, +100 from kT0) and k2 expired; c timed out at +10.
  CHECK(engine.size() == 0);
  CHECK(engine.waiter_count() == 0);
  const EngineStats& s = engine.stats();
  CHECK(s.grants == 3);
  CHECK(s.renewals == 2);
  CHECK(s.releases == 1);
  CHECK(s.expiries == 2);
  CHECK(s.handoffs == 1);
  CHECK(s.wait_timeouts == 1);
  CHECK(waits.granted.at(Ctx(1)) == 3);
  CHECK(waits.timed_out.count(Ctx(2)) == 1);
  engine.ResetStats();
  CHECK(engine.stats().grants == 0);
  CHECK(engine.last_token() == 3);  // not a stat
}

TEST_CASE("engine api: an idle engine needs no wakeup; a lease needs one by its deadline") {
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  CHECK_FALSE(engine.NextWakeup().has_value());
  engine.Acquire("k", "a", 30'000, kT0);
  REQUIRE(engine.NextWakeup().has_value());
  CHECK(*engine.NextWakeup() > kT0);
  CHECK(*engine.NextWakeup() <= kT0.PlusMillis(30'000));
  // Driven as the server does (a timer armed for NextWakeup), it takes a
  // handful of wakeups (cascades) to reach the deadline, not one per tick.
  int wakeups = 0;
  while (engine.NextWakeup()) {
    MonoTime at = *engine.NextWakeup();
    CHECK(engine.Find("k", at).has_value() == (at < kT0.PlusMillis(30'000)));
    engine.Advance(at);
    ++wakeups;
  }
  CHECK(wakeups <= 4);
  CHECK(engine.size() == 0);
  CHECK(engine.stats().expiries == 1);
}

TEST_CASE("engine api: Advance respects the timer budget and reports remaining work") {
  CountingWaits waits;
  EngineOptions options;
  options.timer_budget = 10;
  Engine engine(options, &waits, nullptr);
  for (int i = 0; i < 95; ++i) engine.Acquire("k" + std::to_string(i), "a", 50, kT0);
  MonoTime due = kT0.PlusMillis(50);
  int calls = 1;
  while (engine.Advance(due)) {
    ++calls;
    REQUIRE(engine.NextWakeup().has_value());
    CHECK(*engine.NextWakeup() <= due);
  }
  CHECK(calls >= 10);
  CHECK(engine.size() == 0);
  CHECK_FALSE(engine.NextWakeup().has_value());
}

TEST_CASE("engine api: Scan visits every held key once per full pass, skips expired ones") {
  CountingWaits waits;
  EngineOptions options;
  options.hash_seed = 99;
  Engine engine(options, &waits, nullptr);
  std::set<std::string> held;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "key:" + std::to_string(i);
    engine.Acquire(key, "h", i % 10 == 0 ? 10 : 10'000, kT0);
    if (i % 10 != 0) held.insert(key);
  }
  MonoTime now = kT0.PlusMillis(10);  // the i % 10 == 0 leases just expired
  for (size_t count : {1, 10, 100, 100000}) {
    std::multiset<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    do {
      cursor = engine.Scan(cursor, count, now, [&](const LeaseView& v) {
        seen.insert(std::string(v.key));
        CHECK(v.holder == "h");
        CHECK(now < *v.deadline);
      });
      ++calls;
    } while (cursor != 0);
    CAPTURE(count);
    CHECK(seen.size() == held.size());  // no table changes: each key exactly once
    CHECK(std::set<std::string>(seen.begin(), seen.end()) == held);
    if (count == 100000) CHECK(calls == 1);
  }
  // A cursor past the last partition ends the scan.
  CHECK(engine.Scan(uint64_t{1} << 60, 10, now, [](const LeaseView&) {}) == 0);
}

TEST_CASE("engine api: Scan still finds keys held throughout while others churn") {
  CountingWaits waits;
  EngineOptions options;
  options.partitions = 4;  // longer runs per partition
  Engine engine(options, &waits, nullptr);
  std::mt19937_64 rng(3);
  std::set<std::string> stay;
  for (int i = 0; i < 500; ++i) {
    stay.insert("stay:" + std::to_string(i));
    engine.Acquire("stay:" + std::to_string(i), "h", 100'000, kT0);
  }
  std::vector<std::pair<std::string, Token>> churn;
  for (int i = 0; i < 300; ++i) {
    std::string key = "churn:" + std::to_string(i);
    churn.emplace_back(key, engine.Acquire(key, "h", 100'000, kT0).token);
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int next = 0;
  do {
    cursor =
        engine.Scan(cursor, 3, kT0, [&](const LeaseView& v) { seen.insert(std::string(v.key)); });
    // Replace one churn key: the count, hence the table sizes, stay put.
    auto& [key, token] = churn[next++ % churn.size()];
    REQUIRE(engine.Release(key, "h", token, kT0));
    key += "'";
    token = engine.Acquire(key, "h", 100'000, kT0).token;
  } while (cursor != 0);
  for (const std::string& key : stay) CHECK(seen.count(key) == 1);
}

TEST_CASE("engine api: lock-max-waiters can change at run time") {
  CountingWaits waits;
  EngineOptions options;
  options.max_waiters_per_key = 1;
  Engine engine(options, &waits, nullptr);
  engine.Acquire("k", "a", 1000, kT0);
  CHECK(engine.Acquire("k", "b", 1000, kT0, 100, Ctx(1)).outcome == AcquireOutcome::kQueued);
  CHECK(engine.Acquire("k", "c", 1000, kT0, 100, Ctx(2)).outcome ==
        AcquireOutcome::kTooManyWaiters);
  engine.set_max_waiters_per_key(2);
  CHECK(engine.Acquire("k", "c", 1000, kT0, 100, Ctx(2)).outcome == AcquireOutcome::kQueued);
  engine.set_max_waiters_per_key(0);
  CHECK(engine.Acquire("k2", "a", 1000, kT0).outcome == AcquireOutcome::kGranted);
  CHECK(engine.Acquire("k2", "b", 1000, kT0, 100, Ctx(3)).outcome ==
        AcquireOutcome::kTooManyWaiters);
}

TEST_CASE("engine api: binary keys and holders, long ones, and empty keys") {
  CountingWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  std::string bin("k\0ey", 4), other("k\0ez", 4), big_key(5000, 'x');
  Token t1 = engine.Acquire(bin, std::string("h\0", 2), 100, kT0).token;
  CHECK(engine.Acquire(other, "h", 100, kT0).outcome == AcquireOutcome::kGranted);
  CHECK(engine.Find(bin, kT0)->holder == std::string("h\0", 2));
  CHECK_FALSE(engine.Release(bin, "h", t1, kT0));
  CHECK(engine.Release(bin, std::string("h\0", 2), t1, kT0));
  CHECK(engine.Acquire(big_key, std::string(3000, 'y'), 100, kT0).outcome ==
        AcquireOutcome::kGranted);
  CHECK(engine.Find(big_key, kT0)->key == big_key);
  CHECK(engine.Acquire("", "h", 100, kT0).outcome == AcquireOutcome::kGranted);
  CHECK(engine.Find("", kT0).has_value());
}

TEST_CASE("engine api: destroying an engine with leases and waiters frees everything") {
  // Run under ASan or valgrind to see leaks; here it must simply not crash
  // and not call the listener.
  CountingWaits waits;
  {
    Engine engine(EngineOptions{}, &waits, nullptr);
    for (int i = 0; i < 1000; ++i) {
      std::string key = "k" + std::to_string(i);
      engine.Acquire(key, "a", 1000, kT0);
      engine.Acquire(key, "b", 1000, kT0, 1000, Ctx(i));
      engine.Acquire(key, std::string(600, 'c'), 1000, kT0, 1000, Ctx(i));
    }
    CHECK(engine.waiter_count() == 2000);
  }
  CHECK(waits.granted.empty());
  CHECK(waits.timed_out.empty());
}

}  // namespace
}  // namespace lockd
