// Backlog: the last bytes of the replication stream, kept so that a replica
// that lost its link for a moment can continue from its offset (PSYNC's
// +CONTINUE) instead of being sent a whole snapshot again.
//
// Offsets count stream bytes as Redis's master_repl_offset does: the stream's
// first byte is offset 1, and `end_offset()` is the number of bytes ever fed.
// The backlog holds bytes first_offset() .. end_offset() (at most capacity()
// of them); a ring, so feeding never moves what it already holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lockd::repl {

class Backlog {
 public:
  // `capacity` bytes (at least 1); the stream so far counts `start_offset`
  // bytes that the backlog never saw.
  Backlog(size_t capacity, uint64_t start_offset);

  void Append(std::string_view bytes);
  // repl-backlog-size changed: keeps the newest bytes that fit.
  void Resize(size_t capacity);

  size_t capacity() const { return buffer_.size(); }
  size_t histlen() const { return histlen_; }
  uint64_t end_offset() const { return end_offset_; }
  // The offset of the oldest byte held (end_offset() + 1 when empty), as
  // INFO's repl_backlog_first_byte_offset.
  uint64_t first_offset() const { return end_offset_ - histlen_ + 1; }

  // Whether a replica that has every byte before `next` (PSYNC's offset: the
  // next byte it needs) can be served from here.
  bool Covers(uint64_t next) const { return next >= first_offset() && next <= end_offset_ + 1; }
  // Appends the bytes from `next` to the end to *out; Covers(next) must hold.
  void CopyFrom(uint64_t next, std::string* out) const;

 private:
  std::string buffer_;
  size_t head_ = 0;  // where the next byte goes
  size_t histlen_ = 0;
  uint64_t end_offset_ = 0;
};

}  // namespace lockd::repl
