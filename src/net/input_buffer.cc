// InputBuffer's memory: malloc for small regions, anonymous mappings for
// large ones (see input_buffer.h for why). The invariant throughout:
// 0 <= start_ <= end_ <= capacity_, and reserved_end_ is 0 or in
// (start_, capacity_].
#include "net/input_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "util/check.h"

namespace lockd {
namespace {

constexpr size_t kPage = 4096;
// Mappings this large ask for transparent huge pages: a 512 MB argument then
// costs 256 page faults instead of 131,072, and unmapping it is quick.
constexpr size_t kHugePagesAtLeast = 8 * 1024 * 1024;

size_t RoundUpToPage(size_t n) { return (n + kPage - 1) & ~(kPage - 1); }

char* MapRegion(size_t bytes) {
  // MAP_NORESERVE: the length is an announcement, not a promise to fill it;
  // no page is committed before data is read into it.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

void AdviseHugePages(char* p, size_t bytes) {
  if (bytes >= kHugePagesAtLeast) madvise(p, bytes, MADV_HUGEPAGE);  // only advice: ignore errors
}

// Regions of exactly InputBuffer::kReadChunk bytes that emptied buffers gave
// back, for the next buffer that needs one. A client that sends one command
// at a time empties its buffer after every command, and malloc caches no
// block this large per thread (its cache stops near 1 KiB): each command
// would pay a malloc and a free of 16 KiB, ~10% of the loop's own work on
// an unpipelined SET. Few are kept, so idle clients still cost nothing.
class ChunkPool {
 public:
  ~ChunkPool() {
    for (char* p : free_) std::free(p);
  }
  char* Take() {
    if (free_.empty()) return static_cast<char*>(std::malloc(InputBuffer::kReadChunk));
    char* p = free_.back();
    free_.pop_back();
    return p;
  }
  void Give(char* p) {
    if (free_.size() < kKept) {
      free_.push_back(p);
    } else {
      std::free(p);
    }
  }

 private:
  static constexpr size_t kKept = 64;
  std::vector<char*> free_;
};

// The loop's buffers live on its thread; each thread has its own pool.
thread_local ChunkPool chunk_pool;

char* AllocateRegion(size_t bytes) {
  if (bytes == InputBuffer::kReadChunk) return chunk_pool.Take();
  return static_cast<char*>(std::malloc(bytes));
}

}  // namespace

InputBuffer::~InputBuffer() { Release(); }

char* InputBuffer::PrepareRead(size_t* available) {
  if (data_ == nullptr) {
    // An idle client's next read, the usual case for a client that sends
    // one command at a time: a pooled chunk, with nothing to slide, size or
    // copy. (No region means nothing pending and nothing reserved.)
    data_ = chunk_pool.Take();
    if (data_ == nullptr) {
      *available = 0;
      return nullptr;
    }
    capacity_ = kReadChunk;
    *available = kReadChunk;
    return data_;
  }
  // While a reservation is being filled the room is already there (Reserve
  // made it): read into it, however little is left.
  if (!filling() && capacity_ - end_ < kReadChunk) {
    if (start_ > 0 && SlideIsCheap()) Slide();
    if (capacity_ - end_ < kReadChunk && !Resize(end_ + kReadChunk, /*exact=*/false)) {
      *available = 0;
      return nullptr;
    }
  }
  // A read while filling stops at the reservation's end: what follows the
  // big argument is ordinary input, counted against the read budget.
  *available = (filling() ? reserved_end_ : capacity_) - end_;
  return data_ + end_;
}

bool InputBuffer::Reserve(size_t total) {
  if (capacity_ - start_ < total) {
    if (start_ > 0 && SlideIsCheap()) Slide();
    if (capacity_ - start_ < total && !Resize(start_ + total, /*exact=*/true)) return false;
  }
  reserved_end_ = start_ + total;
  return true;
}

void InputBuffer::Consume(size_t n) {
  LOCKD_DCHECK(n <= size());
  start_ += n;
  if (reserved_end_ != 0 && start_ >= reserved_end_) reserved_end_ = 0;
  if (start_ == end_) {
    // An idle client holds no input memory at all. The next read's chunk
    // comes back from malloc's free lists, warm: a burst of thousands of
    // one-command clients reuses a few chunks instead of faulting in a
    // fresh one for each, and idle clients cost nothing here.
    start_ = end_ = reserved_end_ = 0;
    Release();
    return;
  }
  // A few pipelined bytes behind a big command do not keep the big region.
  if (capacity_ > kShrinkAbove && size() <= kReadChunk && reserved_end_ == 0) {
    Resize(2 * kReadChunk, /*exact=*/true);  // on failure the big region simply stays
  }
}

void InputBuffer::Clear() {
  start_ = end_ = reserved_end_ = 0;
  Release();
}

bool InputBuffer::SlideIsCheap() const {
  // Moving at most what was consumed before it keeps the cost of sliding
  // proportional to the bytes already parsed.
  return size() <= kAlwaysSlide || size() <= start_;
}

void InputBuffer::Slide() {
  std::memmove(data_, data_ + start_, end_ - start_);
  end_ -= start_;
  reserved_end_ = reserved_end_ > start_ ? reserved_end_ - start_ : 0;
  start_ = 0;
}

bool InputBuffer::Resize(size_t needed, bool exact) {
  size_t cap = needed;
  if (!exact) {
    cap = capacity_ != 0 ? capacity_ : kReadChunk;
    while (cap < needed) cap *= 2;
  }
  if (cap >= kMapAtLeast) cap = RoundUpToPage(cap);
  const size_t pending = end_ - start_;
  LOCKD_CHECK(cap >= pending);

  if (cap >= kMapAtLeast && mapped_) {
    // Grow or shrink in place, or move the pages: no byte is copied.
    LOCKD_CHECK(cap >= end_);
    void* p = mremap(data_, capacity_, cap, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<char*>(p);
    capacity_ = cap;
    AdviseHugePages(data_, cap);
    return true;
  }
  // Between malloc and a mapping the pending bytes are copied; there are
  // few of them (a small region, or a large one nearly consumed).
  char* fresh = cap >= kMapAtLeast ? MapRegion(cap) : AllocateRegion(cap);
  if (fresh == nullptr) return false;
  if (cap >= kMapAtLeast) AdviseHugePages(fresh, cap);
  if (pending > 0) std::memcpy(fresh, data_ + start_, pending);
  reserved_end_ = reserved_end_ > start_ ? reserved_end_ - start_ : 0;
  Release();
  data_ = fresh;
  capacity_ = cap;
  mapped_ = cap >= kMapAtLeast;
  start_ = 0;
  end_ = pending;
  return true;
}

void InputBuffer::Release() {
  if (data_ != nullptr) {
    if (mapped_) {
      munmap(data_, capacity_);
    } else if (capacity_ == kReadChunk) {
      chunk_pool.Give(data_);
    } else {
      std::free(data_);
    }
  }
  data_ = nullptr;
  capacity_ = 0;
  mapped_ = false;
}

}  // namespace lockd
