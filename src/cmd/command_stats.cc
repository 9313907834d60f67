// The histogram, error and rate counters behind INFO's statistics sections.
#include "cmd/command_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lockd {

size_t LatencyHistogram::BucketOf(uint64_t micros) {
  micros = std::min(micros, (uint64_t{1} << kMaxBits) - 1);
  if (micros < (uint64_t{1} << kSubBits)) return static_cast<size_t>(micros);
  // Values in [2^m, 2^(m+1)) share 16 buckets: the top kSubBits+1 bits select one.
  int msb = 63 - std::countl_zero(micros);
  int shift = msb - kSubBits;
  return (static_cast<size_t>(shift + 1) << kSubBits) +
         static_cast<size_t>((micros >> shift) - (uint64_t{1} << kSubBits));
}

uint64_t LatencyHistogram::BucketUpperBound(size_t bucket) {
  if (bucket < (size_t{1} << kSubBits)) return bucket;
  int shift = static_cast<int>(bucket >> kSubBits) - 1;
  uint64_t top = (bucket & ((size_t{1} << kSubBits) - 1)) + (uint64_t{1} << kSubBits);
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t micros) {
  ++counts_[BucketOf(micros)];
  ++count_;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  auto target = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  target = std::clamp<uint64_t>(target, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= target) return BucketUpperBound(i);
  }
  return BucketUpperBound(kBuckets - 1);
}

uint64_t LatencyHistogram::CountAtMost(uint64_t micros) const {
  uint64_t n = 0;
  for (size_t i = 0; i < kBuckets && BucketUpperBound(i) <= micros; ++i) n += counts_[i];
  return n;
}

void ErrorCounts::Note(std::string_view message) {
  std::string_view code = "ERR";
  size_t space = message.substr(0, 32).find(' ');
  if (space != std::string_view::npos && space > 0) code = message.substr(0, space);
  auto it = counts_.find(code);
  if (it != counts_.end()) {
    ++it->second;
  } else if (counts_.size() < kMaxKinds) {
    counts_.emplace(std::string(code), 1);
  }
}

void RateSampler::Sample(int64_t now_us, uint64_t value) {
  if (last_us_ < 0) {
    last_us_ = now_us;
    last_value_ = value;
    return;
  }
  int64_t elapsed = now_us - last_us_;
  if (elapsed < kPeriodMicros) return;
  double rate = static_cast<double>(value - last_value_) * 1e6 / static_cast<double>(elapsed);
  // A gap of several periods fills that many samples, so an idle server's
  // rate falls to what it really was over the gap.
  int64_t periods = std::min<int64_t>(elapsed / kPeriodMicros, kSamples);
  for (int64_t i = 0; i < periods; ++i) {
    rates_[next_] = rate;
    next_ = (next_ + 1) % kSamples;
    filled_ = std::min(filled_ + 1, kSamples);
  }
  last_us_ = now_us;
  last_value_ = value;
}

double RateSampler::PerSecond() const {
  if (filled_ == 0) return 0;
  double sum = 0;
  for (int i = 0; i < filled_; ++i) sum += rates_[i];
  return sum / filled_;
}

}  // namespace lockd
