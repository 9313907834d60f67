// The latency monitor's samples (see latency_monitor.h).
#include "cmd/latency_monitor.h"

#include <algorithm>

namespace lockd {

void LatencyMonitor::AddIfNeeded(std::string_view event, int64_t millis, int64_t threshold_ms,
                                 int64_t unix_seconds) {
  if (threshold_ms <= 0 || millis < threshold_ms) return;
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), Series{}).first;
  Series& s = it->second;
  s.max = std::max(s.max, millis);
  // As Redis: a second has one sample, its maximum.
  Sample& previous = s.samples[(s.next + kSamples - 1) % kSamples];
  if (previous.unix_seconds == unix_seconds) {
    previous.millis = std::max(previous.millis, millis);
    return;
  }
  s.samples[s.next] = Sample{unix_seconds, millis};
  s.next = (s.next + 1) % kSamples;
}

size_t LatencyMonitor::Reset(std::string_view event) {
  if (event.empty()) {
    size_t n = events_.size();
    events_.clear();
    return n;
  }
  auto it = events_.find(event);
  if (it == events_.end()) return 0;
  events_.erase(it);
  return 1;
}

const LatencyMonitor::Series* LatencyMonitor::Find(std::string_view event) const {
  auto it = events_.find(event);
  return it == events_.end() ? nullptr : &it->second;
}

}  // namespace lockd
