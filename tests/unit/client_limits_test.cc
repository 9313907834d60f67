// Tests for the network layer's client time rules (net/client_limits.h):
// configured seconds of any size must never overflow into a wrong decision.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "net/client_limits.h"

namespace lockd {

TEST_CASE("client limits: seconds saturate instead of overflowing") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(SecondsToMicrosSaturated(0) == 0);
  CHECK(SecondsToMicrosSaturated(3) == 3'000'000);
  CHECK(SecondsToMicrosSaturated(kMax / 1'000'000) == (kMax / 1'000'000) * 1'000'000);
  CHECK(SecondsToMicrosSaturated(kMax / 1'000'000 + 1) == kMax);
  CHECK(SecondsToMicrosSaturated(kMax) == kMax);
  CHECK(SecondsToMicrosSaturated(std::numeric_limits<int64_t>::min()) ==
        std::numeric_limits<int64_t>::min());
}

TEST_CASE("client limits: the soft output limit's seconds") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(SoftLimitTimeReached(0, 0));
  CHECK_FALSE(SoftLimitTimeReached(999'999, 1));
  CHECK(SoftLimitTimeReached(1'000'000, 1));
  // "normal 0 1 9223372036854775807": the seconds never pass. Multiplied in
  // int64 they wrapped to -1,000,000 and every client above one byte of
  // output was closed at once.
  CHECK_FALSE(SoftLimitTimeReached(0, kMax));
  CHECK_FALSE(SoftLimitTimeReached(kMax - 1, kMax));
  CHECK_FALSE(SoftLimitTimeReached(int64_t{1} << 62, kMax / 1000));
}

TEST_CASE("client limits: the idle timeout") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK_FALSE(IdleTimeoutReached(2'000'000, 2));
  CHECK(IdleTimeoutReached(2'000'001, 2));
  CHECK_FALSE(IdleTimeoutReached(int64_t{1} << 62, kMax));
  CHECK_FALSE(IdleTimeoutReached(int64_t{1} << 62, kMax / 100));
}

}  // namespace lockd
