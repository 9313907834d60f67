// SystemClock: the two kernel clocks lockd reads.
#include <time.h>

#include "lockd/clock.h"

namespace lockd {

namespace {
int64_t ReadMicros(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}
}  // namespace

MonoTime SystemClock::Now() const { return MonoTime{ReadMicros(CLOCK_MONOTONIC)}; }
WallTime SystemClock::WallNow() const { return WallTime{ReadMicros(CLOCK_REALTIME)}; }

}  // namespace lockd
