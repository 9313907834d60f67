// OutputBuffer: a connection's pending reply bytes as a queue of 16 KiB
// blocks. Appending never moves bytes already queued (a write in flight may
// point at them), and consuming frees whole blocks, keeping one spare.
#include <algorithm>
#include <cstring>

#include "lockd/resp.h"
#include "util/check.h"

namespace lockd {

OutputBuffer::~OutputBuffer() {
  Clear();
  delete spare_;
}

OutputBuffer::Block* OutputBuffer::NewBlock() {
  Block* b = spare_;
  if (b != nullptr) {
    spare_ = nullptr;
  } else {
    // Default-initialized on purpose: 16 KiB of zeros would be overwritten.
    b = new Block;
  }
  b->next = nullptr;
  b->used = 0;
  if (tail_block_ != nullptr) {
    tail_block_->next = b;
  } else {
    head_block_ = b;
    head_ = 0;
  }
  tail_block_ = b;
  ++blocks_;
  return b;
}

void OutputBuffer::Recycle(Block* b) {
  if (spare_ == nullptr) {
    spare_ = b;
  } else {
    delete b;
  }
}

void OutputBuffer::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    Block* b = tail_block_;
    if (b == nullptr || b->used == kBlockSize) b = NewBlock();
    const size_t n = std::min(kBlockSize - b->used, bytes.size());
    std::memcpy(b->data + b->used, bytes.data(), n);
    b->used += n;
    size_ += n;
    bytes.remove_prefix(n);
  }
}

char* OutputBuffer::Reserve(size_t max, size_t* available) {
  const size_t want = std::clamp<size_t>(max, 1, kBlockSize);
  Block* b = tail_block_;
  // Leaving the tail block's last few bytes unused is cheaper than making
  // every small reply handle a split.
  if (b == nullptr || kBlockSize - b->used < want) b = NewBlock();
  *available = std::min(kBlockSize - b->used, std::max<size_t>(max, 1));
  return b->data + b->used;
}

void OutputBuffer::Commit(size_t n) {
  LOCKD_CHECK(tail_block_ != nullptr && n <= kBlockSize - tail_block_->used);
  tail_block_->used += n;
  size_ += n;
}

void OutputBuffer::Consume(size_t n) {
  LOCKD_CHECK(n <= size_);
  size_ -= n;
  consumed_total_ += n;
  if (size_ == 0) {
    // Also drops an empty tail block left by a Reserve without Commit.
    Clear();
    return;
  }
  // Invariant: every block but the tail holds pending bytes, so the loop
  // stops at a block that still has some.
  while (n > 0) {
    Block* b = head_block_;
    const size_t pending = b->used - head_;
    if (n < pending) {
      head_ += n;
      return;
    }
    n -= pending;
    head_block_ = b->next;
    head_ = 0;
    --blocks_;
    Recycle(b);
  }
}

void OutputBuffer::Clear() {
  Block* b = head_block_;
  while (b != nullptr) {
    Block* next = b->next;
    Recycle(b);
    b = next;
  }
  head_block_ = tail_block_ = nullptr;
  blocks_ = 0;
  head_ = 0;
  consumed_total_ += size_;
  size_ = 0;
}

}  // namespace lockd
