// CaptureBuffer: what the log writer captures while a rewrite runs, kept in
// chunks of 1 MiB allocated once each. A single growing string would copy
// everything captured so far at each doubling and touch twice its size in
// fresh pages at once: tens of milliseconds on the loop when large records
// are captured. Here an append costs its own bytes, and the rewrite's tail
// takes whole chunks, or drops the head, without moving the rest.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace lockd::aof {

class CaptureBuffer {
 public:
  static constexpr size_t kChunkBytes = size_t{1} << 20;

  void Append(std::string_view bytes) {
    size_ += bytes.size();
    while (!bytes.empty()) {
      if (chunks_.empty() || chunks_.back().size() == kChunkBytes) {
        chunks_.emplace_back();
        chunks_.back().reserve(std::min(kChunkBytes, std::max(bytes.size(), size_t{4096})));
      }
      std::string& tail = chunks_.back();
      size_t n = std::min(bytes.size(), kChunkBytes - tail.size());
      if (tail.capacity() < tail.size() + n) tail.reserve(kChunkBytes);
      tail.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
    }
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void Clear() {
    chunks_.clear();
    head_ = 0;
    size_ = 0;
  }
  // Calls visit(std::string_view) on the runs holding the first `n` bytes.
  template <typename Visit>
  void ForEachRun(size_t n, Visit&& visit) const {
    size_t skip = head_;
    for (const std::string& chunk : chunks_) {
      if (n == 0) return;
      std::string_view run = std::string_view(chunk).substr(skip, n);
      skip = 0;
      n -= run.size();
      visit(run);
    }
  }
  // Drops the first `n` bytes (at most size()).
  void DropPrefix(size_t n) {
    n = std::min(n, size_);
    size_ -= n;
    while (n > 0) {
      size_t in_head = chunks_.front().size() - head_;
      if (n < in_head) {
        head_ += n;
        return;
      }
      n -= in_head;
      chunks_.pop_front();
      head_ = 0;
    }
    if (size_ == 0) Clear();
  }
  // Moves everything out; the buffer is empty afterwards.
  CaptureBuffer Take() {
    CaptureBuffer taken;
    std::swap(taken.chunks_, chunks_);
    std::swap(taken.head_, head_);
    std::swap(taken.size_, size_);
    return taken;
  }
  std::string ToString() const {
    std::string out;
    out.reserve(size_);
    ForEachRun(size_, [&](std::string_view run) { out.append(run); });
    return out;
  }

 private:
  std::deque<std::string> chunks_;
  size_t head_ = 0;  // bytes of the first chunk already dropped
  size_t size_ = 0;
};

}  // namespace lockd::aof
