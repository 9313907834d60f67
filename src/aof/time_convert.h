// Deadlines in the log are wall-clock Unix milliseconds; in the engine they
// are monotonic microseconds. One rule converts them everywhere.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "lockd/clock.h"

namespace lockd::aof {

// The wall-clock deadline of a monotonic one, rounded up to the millisecond
// (a lease may be thought to end late, never early); 0 for no deadline.
inline int64_t UnixMillisOf(std::optional<MonoTime> deadline, MonoTime mono_now, WallTime wall_now) {
  if (!deadline) return 0;
  int64_t wall_us = wall_now.us + (deadline->us - mono_now.us);
  int64_t ms = (wall_us + 999) / 1000;
  return ms < 1 ? 1 : ms;
}

// The monotonic deadline of a wall-clock one read from the log. A deadline
// that passed while the server was down becomes `mono_now`: due at once,
// never held again. Saturates, so that a deadline centuries away stays far.
inline MonoTime MonoTimeOf(int64_t unix_ms, MonoTime mono_now, WallTime wall_now) {
  constexpr int64_t kFar = int64_t{1} << 50;  // ms: about 35,000 years
  int64_t delta_ms = std::clamp<int64_t>(unix_ms - wall_now.millis(), -kFar, kFar);
  return MonoTime{std::max(mono_now.us + delta_ms * 1000, mono_now.us)};
}

}  // namespace lockd::aof
