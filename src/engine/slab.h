// SlabAllocator: small fixed-size objects carved from 64 KiB pages.
//
// Memory per held lock is a headline figure, and malloc spends 8-16 bytes of
// header and rounding on each 80-byte lease. Here sizes are rounded up to a
// multiple of 8 (64 classes, 8..512 bytes), each class takes objects from its
// own pages, and a freed object goes on its class's intrusive free list (the
// link is written into the dead object), so there is no per-object header.
// The caller passes the size again to Free: objects do not record it.
// Larger sizes go to malloc. Pages are reused by their class and returned to
// the system only when the allocator is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "util/check.h"

namespace lockd {

class SlabAllocator {
 public:
  static constexpr size_t kPageSize = 64 * 1024;
  static constexpr size_t kGranule = 8;
  static constexpr size_t kMaxSlabSize = 512;
  static constexpr size_t kClasses = kMaxSlabSize / kGranule;

  SlabAllocator() = default;
  ~SlabAllocator();
  SlabAllocator(const SlabAllocator&) = delete;
  SlabAllocator& operator=(const SlabAllocator&) = delete;

  // The bytes an object of `size` really occupies: its class's size, or the
  // size itself for malloc'd objects. Two sizes with the same AllocatedSize
  // can share one object.
  static constexpr size_t AllocatedSize(size_t size) {
    if (size > kMaxSlabSize) return size;
    if (size == 0) return kGranule;
    return (size + kGranule - 1) & ~(kGranule - 1);
  }

  // Returns 8-byte aligned memory for `size` bytes; never null (aborts when
  // the system is out of memory, as the rest of the server does).
  void* Allocate(size_t size) {
    if (size > kMaxSlabSize) return AllocateLarge(size);
    SizeClass& c = classes_[ClassIndex(size)];
    ++c.live;
    if (c.free_list != nullptr) {
      FreeObject* object = c.free_list;
      c.free_list = object->next;
      return object;
    }
    if (c.bump_left > 0) {
      void* object = c.bump;
      c.bump += AllocatedSize(size);
      --c.bump_left;
      return object;
    }
    return AllocateFromNewPage(size);
  }

  // `size` must be the size that was passed to Allocate (or one with the same
  // AllocatedSize).
  void Free(void* p, size_t size) {
    if (size > kMaxSlabSize) {
      FreeLarge(p, size);
      return;
    }
    SizeClass& c = classes_[ClassIndex(size)];
    LOCKD_DCHECK(c.live > 0);
    --c.live;
    FreeObject* object = static_cast<FreeObject*>(p);
    object->next = c.free_list;
    c.free_list = object;
  }

  // Live objects of the class that `size` falls in (slab sizes only).
  size_t live_objects(size_t size) const { return classes_[ClassIndex(size)].live; }
  // Bytes requested by live malloc'd (large) objects.
  size_t large_bytes() const { return large_bytes_; }
  // Bytes of pages held, live or free.
  size_t page_bytes() const { return pages_.size() * kPageSize; }

 private:
  struct FreeObject {
    FreeObject* next;
  };
  struct SizeClass {
    FreeObject* free_list = nullptr;
    char* bump = nullptr;  // next never-used object in the newest page
    size_t bump_left = 0;  // objects left at `bump`
    size_t live = 0;
  };

  static constexpr size_t ClassIndex(size_t size) { return size == 0 ? 0 : (size - 1) / kGranule; }

  void* AllocateFromNewPage(size_t size);
  void* AllocateLarge(size_t size);
  void FreeLarge(void* p, size_t size);

  SizeClass classes_[kClasses];
  std::vector<void*> pages_;
  size_t large_bytes_ = 0;
};

}  // namespace lockd
