// Per-command and per-error accounting for INFO commandstats, errorstats,
// latencystats and the instantaneous_* rates, as Redis 7.0 reports them.
//
// Cost: the dispatcher touches one CallStats per command (found by the
// spec's index, no lookup) and adds one histogram count; nothing allocates
// except the first call of each command (its histogram) and the first error
// of each kind (its name).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace lockd {

// Command durations in microseconds, in buckets of 1/16 of a power of two
// (within ~6%, as Redis's histogram with 2 significant digits), for the
// p50/p99/p99.9 of INFO latencystats.
class LatencyHistogram {
 public:
  void Record(uint64_t micros);
  // The upper bound of the bucket holding the given percentile (0..100) of
  // the recorded values; 0 when nothing was recorded.
  uint64_t ValueAtPercentile(double percentile) const;
  uint64_t count() const { return count_; }
  // Values recorded in buckets whose upper bound is at most `micros` (for
  // the cumulative buckets of /metrics; may miss values up to ~6% below it).
  uint64_t CountAtMost(uint64_t micros) const;

  // Exposed for tests.
  static size_t BucketOf(uint64_t micros);
  static uint64_t BucketUpperBound(size_t bucket);

 private:
  static constexpr int kSubBits = 4;
  static constexpr int kMaxBits = 36;  // longer durations (19 hours) share the last bucket
  static constexpr size_t kBuckets = ((kMaxBits - kSubBits + 1) << kSubBits);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

// What INFO commandstats shows for one command or subcommand.
struct CallStats {
  uint64_t calls = 0;
  uint64_t micros = 0;
  uint64_t rejected_calls = 0;  // refused by the dispatcher (arity, auth, loading, ...)
  uint64_t failed_calls = 0;    // ran and replied an error
  std::unique_ptr<LatencyHistogram> latency;  // made at the first call
};

// errorstat_<CODE>:count=N, by the error's first word. Redis stops adding
// new kinds past 128, so a client cannot grow this without bound.
class ErrorCounts {
 public:
  static constexpr size_t kMaxKinds = 128;

  // Counts an error reply by its code: the text up to the first space
  // (within 32 bytes), or "ERR" when there is none.
  void Note(std::string_view message);
  const std::map<std::string, uint64_t, std::less<>>& counts() const { return counts_; }
  void Clear() { counts_.clear(); }

 private:
  std::map<std::string, uint64_t, std::less<>> counts_;
};

// instantaneous_*: Redis samples its counters every 100 ms and averages the
// last 16 samples. lockd has no periodic timer for this, so samples are taken
// when a command runs (and INFO runs one); an idle gap counts as samples of
// the rate over that gap.
class RateSampler {
 public:
  static constexpr int kSamples = 16;
  static constexpr int64_t kPeriodMicros = 100'000;

  // Feeds the counter's current value at `now_us`; cheap unless a period passed.
  void Sample(int64_t now_us, uint64_t value);
  // Average per second over the recorded samples.
  double PerSecond() const;
  void Clear() { *this = RateSampler(); }

 private:
  std::array<double, kSamples> rates_{};
  int next_ = 0;
  int filled_ = 0;
  int64_t last_us_ = -1;
  uint64_t last_value_ = 0;
};

}  // namespace lockd
