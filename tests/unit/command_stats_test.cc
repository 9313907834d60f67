// The counters behind INFO commandstats, errorstats, latencystats and the
// instantaneous_* rates.
#include <doctest/doctest.h>

#include <string>

#include "cmd/command_stats.h"

namespace lockd {
namespace {

TEST_CASE("command stats: latency buckets are ordered and within 1/16") {
  size_t last = 0;
  for (uint64_t v = 0; v < 200'000; v += (v < 100 ? 1 : v / 50)) {
    size_t b = LatencyHistogram::BucketOf(v);
    CHECK(b >= last);
    last = b;
    uint64_t upper = LatencyHistogram::BucketUpperBound(b);
    CAPTURE(v);
    CHECK(upper >= v);
    CHECK(static_cast<double>(upper - v) <= static_cast<double>(v) / 16 + 1);
  }
  // Huge durations share the last bucket instead of overflowing the array.
  CHECK(LatencyHistogram::BucketOf(UINT64_MAX) == LatencyHistogram::BucketOf(uint64_t{1} << 40));
}

TEST_CASE("command stats: percentiles of recorded durations") {
  LatencyHistogram h;
  CHECK(h.ValueAtPercentile(50) == 0);
  for (int i = 0; i < 98; ++i) h.Record(10);
  h.Record(1000);
  h.Record(100'000);
  CHECK(h.count() == 100);
  CHECK(h.ValueAtPercentile(50) == 10);
  CHECK(h.ValueAtPercentile(99) >= 1000);
  CHECK(h.ValueAtPercentile(99) < 1100);
  CHECK(h.ValueAtPercentile(99.9) >= 100'000);
  CHECK(h.ValueAtPercentile(99.9) < 110'000);
}

TEST_CASE("command stats: errors are counted by their code, up to 128 kinds") {
  ErrorCounts e;
  e.Note("ERR syntax error");
  e.Note("ERR value is not an integer or out of range");
  e.Note("NOAUTH Authentication required.");
  e.Note("WRONGTYPE");  // no space: counted as ERR, as Redis does
  CHECK(e.counts().at("ERR") == 3);
  CHECK(e.counts().at("NOAUTH") == 1);
  for (int i = 0; i < 300; ++i) e.Note("E" + std::to_string(i) + " x");
  CHECK(e.counts().size() == ErrorCounts::kMaxKinds);
  e.Note("ERR again");
  CHECK(e.counts().at("ERR") == 4);
}

TEST_CASE("command stats: the rate is averaged over 100 ms samples, idle gaps included") {
  RateSampler r;
  CHECK(r.PerSecond() == 0);
  r.Sample(0, 0);
  r.Sample(50'000, 500);  // within the period: no sample yet
  CHECK(r.PerSecond() == 0);
  r.Sample(100'000, 1000);
  CHECK(r.PerSecond() == doctest::Approx(10'000));
  r.Sample(200'000, 2000);
  CHECK(r.PerSecond() == doctest::Approx(10'000));
  // Ten idle seconds fill every sample with the low rate of the gap.
  r.Sample(10'200'000, 2000);
  CHECK(r.PerSecond() == doctest::Approx(0));
}

}  // namespace
}  // namespace lockd
