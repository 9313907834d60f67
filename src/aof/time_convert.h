// Deadlines in the log are wall-clock Unix milliseconds; in the engine they
// are monotonic microseconds. One rule converts them everywhere.
#pragma once

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

}  // namespace lockd::aof
