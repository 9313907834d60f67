// SlabAllocator's slow paths: taking a new page for a class, and the objects
// too large for any class. Pages stay with the class that first took them;
// a page is never split between classes, so the only waste per page is the
// tail shorter than one object (at most 504 bytes of 64 KiB).
#include "engine/slab.h"

#include <cstdio>
#include <cstdlib>

namespace lockd {

namespace {

[[noreturn]] void OutOfMemory(size_t size) {
  std::fprintf(stderr, "lockd: out of memory allocating %zu bytes\n", size);
  std::abort();
}

}  // namespace

SlabAllocator::~SlabAllocator() {
  for (void* page : pages_) std::free(page);
}

void* SlabAllocator::AllocateFromNewPage(size_t size) {
  // The fast path found neither a free object nor room in the newest page.
  SizeClass& c = classes_[ClassIndex(size)];
  LOCKD_CHECK(c.free_list == nullptr && c.bump_left == 0);
  void* page = std::malloc(kPageSize);
  if (page == nullptr) OutOfMemory(kPageSize);
  pages_.push_back(page);
  size_t object_size = AllocatedSize(size);
  c.bump = static_cast<char*>(page) + object_size;
  c.bump_left = kPageSize / object_size - 1;
  return page;
}

void* SlabAllocator::AllocateLarge(size_t size) {
  void* p = std::malloc(size);
  if (p == nullptr) OutOfMemory(size);
  large_bytes_ += size;
  return p;
}

void SlabAllocator::FreeLarge(void* p, size_t size) {
  LOCKD_CHECK(large_bytes_ >= size);
  large_bytes_ -= size;
  std::free(p);
}

}  // namespace lockd
