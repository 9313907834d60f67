// InputBuffer: the bytes a client sent that no command has consumed yet.
//
// One contiguous region so the parser can hand out views into it. Space is
// reclaimed by sliding the unconsumed bytes to the front only when a read
// needs room, never while a command is running (its argv points here).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace lockd {

class InputBuffer {
 public:
  static constexpr size_t kReadChunk = 16 * 1024;

  std::string_view Pending() const { return {data_.get() + start_, end_ - start_}; }
  size_t size() const { return end_ - start_; }
  size_t capacity() const { return capacity_; }

  // Room for a read at the tail: at least kReadChunk bytes.
  char* PrepareRead(size_t* available) {
    if (capacity_ - end_ < kReadChunk) {
      if (start_ > 0) {
        std::memmove(data_.get(), data_.get() + start_, end_ - start_);
        end_ -= start_;
        start_ = 0;
      }
      if (capacity_ - end_ < kReadChunk) Grow(end_ + kReadChunk);
    }
    *available = capacity_ - end_;
    return data_.get() + end_;
  }
  void Commit(size_t n) { end_ += n; }

  void Consume(size_t n) {
    start_ += n;
    if (start_ == end_) {
      start_ = end_ = 0;
      // An idle client keeps no large buffer around after a big command.
      if (capacity_ > kShrinkAbove) Release();
    }
  }
  void Clear() {
    start_ = end_ = 0;
    Release();
  }

 private:
  static constexpr size_t kShrinkAbove = 256 * 1024;

  void Grow(size_t needed) {
    size_t cap = capacity_ ? capacity_ : kReadChunk;
    while (cap < needed) cap *= 2;
    std::unique_ptr<char[]> bigger(new char[cap]);  // no zero-fill: it is overwritten
    if (end_ > start_) std::memcpy(bigger.get(), data_.get() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
    data_ = std::move(bigger);
    capacity_ = cap;
  }
  void Release() {
    data_.reset();
    capacity_ = 0;
  }

  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
};

}  // namespace lockd
