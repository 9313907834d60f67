// Backlog: see backlog.h.
#include "repl/backlog.h"

#include <algorithm>

#include "util/check.h"

namespace lockd::repl {

Backlog::Backlog(size_t capacity, uint64_t start_offset)
    : buffer_(std::max<size_t>(capacity, 1), '\0'), end_offset_(start_offset) {}

void Backlog::Append(std::string_view bytes) {
  end_offset_ += bytes.size();
  const size_t cap = buffer_.size();
  // Only the last `cap` bytes can stay.
  if (bytes.size() >= cap) {
    bytes = bytes.substr(bytes.size() - cap);
    std::copy(bytes.begin(), bytes.end(), buffer_.begin());
    head_ = 0;
    histlen_ = cap;
    return;
  }
  size_t first = std::min(bytes.size(), cap - head_);
  std::copy(bytes.begin(), bytes.begin() + first, buffer_.begin() + head_);
  std::copy(bytes.begin() + first, bytes.end(), buffer_.begin());
  head_ = (head_ + bytes.size()) % cap;
  histlen_ = std::min(cap, histlen_ + bytes.size());
}

void Backlog::Resize(size_t capacity) {
  capacity = std::max<size_t>(capacity, 1);
  if (capacity == buffer_.size()) return;
  std::string kept;
  CopyFrom(first_offset(), &kept);
  uint64_t end = end_offset_;
  buffer_.assign(capacity, '\0');
  head_ = 0;
  histlen_ = 0;
  end_offset_ = end - kept.size();
  Append(kept);
}

void Backlog::CopyFrom(uint64_t next, std::string* out) const {
  LOCKD_CHECK(Covers(next));
  size_t count = static_cast<size_t>(end_offset_ + 1 - next);
  if (count == 0) return;
  const size_t cap = buffer_.size();
  // The held bytes end just before head_; the first wanted one is `count`
  // bytes before that.
  size_t start = (head_ + cap - count) % cap;
  size_t first = std::min(count, cap - start);
  out->append(buffer_, start, first);
  out->append(buffer_, 0, count - first);
}

}  // namespace lockd::repl
