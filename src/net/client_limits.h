// The time rules the network layer applies to clients (idle `timeout`, the
// soft output limit's seconds), as pure functions of microseconds so that
// they can be tested apart from the loop.
//
// The configuration bounds these seconds (to 2^31-1), but the conversion does
// not rely on it: seconds that would overflow in microseconds saturate, so a
// limit too large to reach is simply never reached.
#pragma once

#include <cstdint>
#include <limits>

namespace lockd {

// `seconds` in microseconds, saturated to the int64 range.
inline int64_t SecondsToMicrosSaturated(int64_t seconds) {
  constexpr int64_t kMicros = 1'000'000;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (seconds > kMax / kMicros) return kMax;
  if (seconds < kMin / kMicros) return kMin;
  return seconds * kMicros;
}

// Whether output that has stayed above the soft limit for `elapsed_us` has
// stayed there for `soft_seconds` (Redis: the limit's seconds have passed).
inline bool SoftLimitTimeReached(int64_t elapsed_us, int64_t soft_seconds) {
  return elapsed_us >= SecondsToMicrosSaturated(soft_seconds);
}

// Whether a client silent for `idle_us` has passed `timeout_seconds` (> 0).
inline bool IdleTimeoutReached(int64_t idle_us, int64_t timeout_seconds) {
  return idle_us > SecondsToMicrosSaturated(timeout_seconds);
}

}  // namespace lockd
