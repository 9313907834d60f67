// Time for lockd: monotonic time for deadlines, wall time for what is shown
// to users and, later, written to the log. They are distinct types so that a
// wall-clock step can never leak into a lease deadline.
//
// The engine never reads a clock: callers pass `now`. The server reads a
// SystemClock; tests drive a ManualClock.
#pragma once

#include <cstdint>
#include <compare>

namespace lockd {

// Microseconds on a monotonic clock with an arbitrary origin.
struct MonoTime {
  int64_t us = 0;

  static constexpr MonoTime FromMillis(int64_t ms) { return MonoTime{ms * 1000}; }
  constexpr MonoTime PlusMillis(int64_t ms) const { return MonoTime{us + ms * 1000}; }
  constexpr auto operator<=>(const MonoTime&) const = default;
};

// Microseconds since the Unix epoch (CLOCK_REALTIME); may step.
struct WallTime {
  int64_t us = 0;

  constexpr int64_t millis() const { return us / 1000; }
  constexpr auto operator<=>(const WallTime&) const = default;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
  virtual WallTime WallNow() const = 0;
};

// CLOCK_MONOTONIC and CLOCK_REALTIME.
class SystemClock final : public Clock {
 public:
  MonoTime Now() const override;
  WallTime WallNow() const override;
};

// A clock that moves only when told to; wall time moves with it unless set.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(MonoTime start = MonoTime{1'000'000}, WallTime wall = WallTime{1'700'000'000'000'000})
      : now_(start), wall_(wall) {}

  MonoTime Now() const override { return now_; }
  WallTime WallNow() const override { return wall_; }

  void AdvanceMillis(int64_t ms) { AdvanceMicros(ms * 1000); }
  void AdvanceMicros(int64_t us) {
    now_.us += us;
    wall_.us += us;
  }
  // A wall-clock step: monotonic time does not move.
  void StepWall(int64_t us) { wall_.us += us; }

 private:
  MonoTime now_;
  WallTime wall_;
};

}  // namespace lockd
