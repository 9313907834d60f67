// Tests for TimingWheel on its own: timers never fire early and fire at the
// first Advance at or after their tick, level boundaries, far deadlines,
// cancels, small budgets over full slots and partial cascades, handlers
// that re-schedule, and NextWakeup (never later than the earliest timer, and
// not so early that an idle wheel keeps waking up).
#include "engine/timing_wheel.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

namespace lockd {
namespace {

constexpr int64_t kMs = 1000;

struct TestTimer {
  TimerNode node;
  int id = 0;
  int64_t fired_at = -1;  // the now of the Advance that fired it
  int64_t scheduled_at = 0;
};

// Records fires; optionally runs a hook inside the callback.
class Recorder : public TimerHandler {
 public:
  void OnTimer(TimerNode* node) override {
    auto* timer = reinterpret_cast<TestTimer*>(node);
    timer->fired_at = now;
    fired.push_back(timer->id);
    if (hook) hook(timer);
  }
  int64_t now = 0;
  std::vector<int> fired;
  std::function<void(TestTimer*)> hook;
};

// Runs Advance(now) until it reports no due work left.
void AdvanceAll(TimingWheel& wheel, Recorder& rec, int64_t now, uint32_t budget = 1000000) {
  rec.now = now;
  int rounds = 0;
  while (wheel.Advance(now, budget, &rec)) {
    std::optional<int64_t> next = wheel.NextWakeup();
    REQUIRE(next.has_value());
    REQUIRE(*next <= now);  // due work remains, so the wheel must say so
    REQUIRE(++rounds < 10000000);
  }
  std::optional<int64_t> next = wheel.NextWakeup();
  if (next) CHECK(*next > now);
}

TEST_CASE("timing wheel: empty wheel has no wakeup and Advance does nothing") {
  TimingWheel wheel;
  Recorder rec;
  CHECK_FALSE(wheel.NextWakeup().has_value());
  CHECK_FALSE(wheel.Advance(123'456'789, 10, &rec));
  CHECK(rec.fired.empty());
  CHECK(wheel.size() == 0);
}

TEST_CASE("timing wheel: expiry tick rounds the deadline up, never down") {
  CHECK(TimingWheel::ExpiryTick(0) == 0);
  CHECK(TimingWheel::ExpiryTick(1) == 1);
  CHECK(TimingWheel::ExpiryTick(999) == 1);
  CHECK(TimingWheel::ExpiryTick(1000) == 1);
  CHECK(TimingWheel::ExpiryTick(1001) == 2);
}

TEST_CASE("timing wheel: slot and level boundaries fire exactly at their tick") {
  // Deadlines in ms around each level's edge, from two starting ticks: one
  // aligned to every level and one that is not.
  const int64_t offsets[] = {1,      2,      63,       64,       65,       127,       128,
                             4095,   4096,   4097,     8191,     8192,     262143,    262144,
                             262145, 524288, 16777215, 16777216, 16777217, 1073741824};
  for (int64_t start_ms : {int64_t{0}, int64_t{1'000'037}}) {
    for (int64_t offset : offsets) {
      CAPTURE(start_ms);
      CAPTURE(offset);
      TimingWheel wheel;
      Recorder rec;
      TestTimer timer;
      int64_t deadline = (start_ms + offset) * kMs;
      wheel.Schedule(&timer.node, deadline, start_ms * kMs);
      REQUIRE(wheel.NextWakeup().has_value());
      CHECK(*wheel.NextWakeup() <= deadline);
      // Walk the wheel through its wakeups up to 1 µs before the deadline.
      int wakeups = 0;
      while (wheel.NextWakeup() && *wheel.NextWakeup() < deadline) {
        AdvanceAll(wheel, rec, *wheel.NextWakeup());
        ++wakeups;
      }
      AdvanceAll(wheel, rec, deadline - 1);
      CHECK(rec.fired.empty());
      // Only cascades wake an idle wheel: at most one per level.
      CHECK(wakeups <= TimingWheel::kLevels);
      REQUIRE(wheel.NextWakeup().has_value());
      CHECK(*wheel.NextWakeup() == deadline);
      AdvanceAll(wheel, rec, deadline);
      CHECK(rec.fired.size() == 1);
      CHECK(wheel.size() == 0);
    }
  }
}

TEST_CASE("timing wheel: sub-millisecond deadlines fire at the next whole millisecond") {
  TimingWheel wheel;
  Recorder rec;
  TestTimer timer;
  wheel.Schedule(&timer.node, 5'000'001, 5'000'000);
  CHECK(*wheel.NextWakeup() == 5'001'000);
  AdvanceAll(wheel, rec, 5'000'999);
  CHECK(rec.fired.empty());
  AdvanceAll(wheel, rec, 5'001'000);
  CHECK(rec.fired.size() == 1);
}

TEST_CASE("timing wheel: a deadline already past fires at the next Advance") {
  TimingWheel wheel;
  Recorder rec;
  TestTimer early, later;
  wheel.Schedule(&later.node, 50 * kMs, 10 * kMs);
  AdvanceAll(wheel, rec, 20 * kMs);
  wheel.Schedule(&early.node, 5 * kMs, 20 * kMs);
  CHECK(*wheel.NextWakeup() <= 20 * kMs);
  AdvanceAll(wheel, rec, 20 * kMs);
  CHECK(early.fired_at == 20 * kMs);
  CHECK(later.fired_at == -1);
}

TEST_CASE("timing wheel: far deadlines (years) fire on time") {
  constexpr int64_t kYearMs = int64_t{365} * 24 * 3600 * 1000;
  for (int64_t years : {1, 3, 150, 4000}) {
    TimingWheel wheel;
    Recorder rec;
    TestTimer timer;
    int64_t start = 7 * kMs;
    int64_t deadline = start + years * kYearMs * kMs + 123;
    wheel.Schedule(&timer.node, deadline, start);
    AdvanceAll(wheel, rec, deadline - years * kYearMs * kMs / 2);
    AdvanceAll(wheel, rec, deadline);
    CHECK(rec.fired.empty());  // deadline is 123 µs into its millisecond
    AdvanceAll(wheel, rec, TimingWheel::ExpiryTick(deadline) * kMs);
    CHECK(rec.fired.size() == 1);
  }
}

TEST_CASE("timing wheel: cancel before fire, including from a full slot") {
  TimingWheel wheel;
  Recorder rec;
  std::vector<TestTimer> timers(10);
  for (int i = 0; i < 10; ++i) {
    timers[i].id = i;
    wheel.Schedule(&timers[i].node, 100 * kMs, 0);
  }
  wheel.Cancel(&timers[0].node);  // head of the slot list
  wheel.Cancel(&timers[9].node);  // the last scheduled: the list's head
  wheel.Cancel(&timers[5].node);
  wheel.Cancel(&timers[5].node);  // a second cancel does nothing
  CHECK(wheel.size() == 7);
  AdvanceAll(wheel, rec, 100 * kMs);
  std::sort(rec.fired.begin(), rec.fired.end());
  CHECK(rec.fired == std::vector<int>{1, 2, 3, 4, 6, 7, 8});

  // Cancelling the only timer empties the wheel entirely.
  TestTimer alone;
  wheel.Schedule(&alone.node, 5'000 * kMs, 100 * kMs);
  wheel.Cancel(&alone.node);
  CHECK_FALSE(wheel.NextWakeup().has_value());
}

TEST_CASE("timing wheel: a small budget drains a full slot across several Advance calls") {
  TimingWheel wheel;
  Recorder rec;
  std::vector<TestTimer> timers(1000);
  for (int i = 0; i < 1000; ++i) {
    timers[i].id = i;
    wheel.Schedule(&timers[i].node, 40 * kMs, 0);
  }
  rec.now = 40 * kMs;
  int calls = 0;
  while (wheel.Advance(40 * kMs, 7, &rec)) {
    ++calls;
    CHECK(*wheel.NextWakeup() <= 40 * kMs);
  }
  CHECK(calls == 1000 / 7);
  CHECK(rec.fired.size() == 1000);
  CHECK_FALSE(wheel.NextWakeup().has_value());
}

TEST_CASE("timing wheel: a partial cascade stays sound while timers come and go") {
  TimingWheel wheel;
  Recorder rec;
  // 3000 timers in one level-2 slot (ticks 8192..12287), scheduled at tick 0.
  std::vector<std::unique_ptr<TestTimer>> timers;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    timers.push_back(std::make_unique<TestTimer>());
    timers.back()->id = i;
    int64_t deadline =
        (8192 + static_cast<int64_t>(rng() % 4096)) * kMs + static_cast<int64_t>(rng() % 1000);
    wheel.Schedule(&timers.back()->node, deadline, 0);
  }
  // Reach the slot with a tiny budget: the cascade stops halfway.
  rec.now = 8192 * kMs;
  CHECK(wheel.Advance(8192 * kMs, 5, &rec));
  CHECK(*wheel.NextWakeup() <= 8192 * kMs);
  // Cancel some of the not-yet-moved timers and add new ones in the range.
  for (int i = 0; i < 3000; i += 3) wheel.Cancel(&timers[i]->node);
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<TestTimer>());
    timers.back()->id = 3000 + i;
    wheel.Schedule(&timers.back()->node, (8192 + i * 40) * kMs, 8192 * kMs);
  }
  // Step through time a millisecond at a time with a small budget.
  for (int64_t t = 8192; t <= 12300; ++t) {
    int64_t prev = (t - 1) * kMs;
    AdvanceAll(wheel, rec, t * kMs, 3);
    for (auto& timer : timers) {
      if (timer->fired_at != t * kMs) continue;
      uint64_t tick = TimingWheel::ExpiryTick(timer->node.deadline());
      CHECK(timer->node.deadline() <= t * kMs);        // never early
      CHECK(static_cast<int64_t>(tick) * kMs > prev);  // not late either
    }
  }
  size_t expected = 3000 - 1000 + 100;
  CHECK(rec.fired.size() == expected);
  CHECK(wheel.size() == 0);
}

TEST_CASE("timing wheel: handlers may re-schedule and cancel while firing") {
  TimingWheel wheel;
  Recorder rec;
  TestTimer a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  wheel.Schedule(&a.node, 10 * kMs, 0);
  wheel.Schedule(&b.node, 10 * kMs, 0);
  wheel.Schedule(&c.node, 500 * kMs, 0);
  int rearms = 0;
  rec.hook = [&](TestTimer* t) {
    // The first of a and b to fire cancels the other and re-arms itself.
    if (t->id == 1 || t->id == 2) {
      wheel.Cancel(t->id == 1 ? &b.node : &a.node);
      if (rearms++ == 0) wheel.Schedule(&t->node, 20 * kMs, rec.now);
    }
  };
  AdvanceAll(wheel, rec, 10 * kMs);
  CHECK(rec.fired.size() == 1);
  AdvanceAll(wheel, rec, 19 * kMs);
  CHECK(rec.fired.size() == 1);
  AdvanceAll(wheel, rec, 20 * kMs);
  CHECK(rec.fired.size() == 2);
  CHECK(rec.fired[0] == rec.fired[1]);
  AdvanceAll(wheel, rec, 500 * kMs);
  CHECK(rec.fired.back() == 3);
}

TEST_CASE("timing wheel: random deadlines never fire early and fire at the first due Advance") {
  std::random_device rd;
  uint64_t seed = rd();
  INFO("seed " << seed);
  MESSAGE("timing wheel random test seed: " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    TimingWheel wheel;
    Recorder rec;
    std::vector<std::unique_ptr<TestTimer>> timers;
    std::set<int> pending;
    int64_t now = static_cast<int64_t>(rng() % 1'000'000'000);
    rec.now = now;
    uint32_t budget = 1 + static_cast<uint32_t>(rng() % 16);
    for (int step = 0; step < 400; ++step) {
      int op = static_cast<int>(rng() % 10);
      if (op < 5) {
        // Spans from sub-ms to days, so every low level is exercised.
        static const int64_t kSpans[] = {1'000, 70'000, 5'000'000, 300'000'000, 90'000'000'000};
        int64_t span = kSpans[rng() % 5];
        timers.push_back(std::make_unique<TestTimer>());
        TestTimer* t = timers.back().get();
        t->id = static_cast<int>(timers.size()) - 1;
        t->scheduled_at = now;
        wheel.Schedule(&t->node, now + static_cast<int64_t>(rng() % span), now);
        pending.insert(t->id);
      } else if (op < 6 && !pending.empty()) {
        auto it = pending.begin();
        std::advance(it, static_cast<long>(rng() % pending.size()));
        wheel.Cancel(&timers[*it]->node);
        pending.erase(it);
      } else {
        static const int64_t kSteps[] = {300, 1'000, 64'000, 4'096'000, 270'000'000};
        int64_t prev = now;
        now += static_cast<int64_t>(rng() % kSteps[rng() % 5]);
        size_t before = rec.fired.size();
        AdvanceAll(wheel, rec, now, budget);
        for (size_t i = before; i < rec.fired.size(); ++i) {
          TestTimer* t = timers[rec.fired[i]].get();
          REQUIRE(pending.count(t->id) == 1);
          pending.erase(t->id);
          CHECK(t->node.deadline() <= now);
          int64_t due_at = static_cast<int64_t>(TimingWheel::ExpiryTick(t->node.deadline())) * kMs;
          // Else the previous Advance would have fired it (unless it came later).
          CHECK((due_at > prev || t->scheduled_at >= prev));
        }
        // Everything due has fired; the rest is in the future.
        for (int id : pending) {
          CHECK(static_cast<int64_t>(TimingWheel::ExpiryTick(timers[id]->node.deadline())) * kMs >
                now);
        }
      }
      // NextWakeup is never later than the earliest pending expiry.
      if (pending.empty()) {
        CHECK_FALSE(wheel.NextWakeup().has_value());
      } else {
        int64_t earliest = INT64_MAX;
        for (int id : pending) {
          earliest = std::min(
              earliest,
              static_cast<int64_t>(TimingWheel::ExpiryTick(timers[id]->node.deadline())) * kMs);
        }
        REQUIRE(wheel.NextWakeup().has_value());
        CHECK(*wheel.NextWakeup() <= earliest);
      }
      CHECK(wheel.size() == pending.size());
    }
  }
}

}  // namespace
}  // namespace lockd
