// LatencyMonitor: Redis 7.0's latency monitor. For each named event
// ("command", "fast-command", ...) it keeps the last 160 samples at or above
// `latency-monitor-threshold` milliseconds (one per second: samples in the
// same second keep their maximum), the latest and the all-time maximum.
// A threshold of 0 records nothing. Memory: 160 samples per event name, and
// event names are a fixed set chosen by the server, never by clients.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace lockd {

class LatencyMonitor {
 public:
  static constexpr size_t kSamples = 160;  // Redis's LATENCY_TS_LEN

  struct Sample {
    int64_t unix_seconds = 0;
    int64_t millis = 0;
  };
  struct Series {
    std::array<Sample, kSamples> samples{};
    size_t next = 0;  // where the next sample goes
    int64_t max = 0;
  };

  // Records `millis` for `event` when the threshold is on and reached.
  void AddIfNeeded(std::string_view event, int64_t millis, int64_t threshold_ms,
                   int64_t unix_seconds);
  // Forgets `event` (every event when empty); returns how many were reset.
  size_t Reset(std::string_view event = {});
  const std::map<std::string, Series, std::less<>>& events() const { return events_; }
  const Series* Find(std::string_view event) const;

  // The samples of `s`, oldest first, skipping empty slots.
  template <typename F>
  static void ForEachSample(const Series& s, F&& visit) {
    for (size_t i = 0; i < kSamples; ++i) {
      const Sample& sample = s.samples[(s.next + i) % kSamples];
      if (sample.unix_seconds != 0) visit(sample);
    }
  }
  static const Sample& Latest(const Series& s) {
    return s.samples[(s.next + kSamples - 1) % kSamples];
  }

 private:
  std::map<std::string, Series, std::less<>> events_;
};

}  // namespace lockd
