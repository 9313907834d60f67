// LuaAllocator's lists. The invariant: a block on class c's list, or in use
// by Lua with a size in class c, is a malloc block of at least ClassBytes(c);
// a block in use with a size over kMaxSmall is a malloc block of at least
// that size.
#include "script/lua_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace lockd::script {

LuaAllocator::~LuaAllocator() {
  for (FreeList& list : lists_) {
    while (list.head != nullptr) {
      FreeBlock* next = list.head->next;
      std::free(list.head);
      list.head = next;
    }
    list.count = 0;
  }
}

size_t LuaAllocator::cached_blocks() const {
  size_t n = 0;
  for (const FreeList& list : lists_) n += list.count;
  return n;
}

void* LuaAllocator::Take(size_t cls) {
  FreeList& list = lists_[cls];
  if (list.head == nullptr) return std::malloc(ClassBytes(cls));
  FreeBlock* block = list.head;
  list.head = block->next;
  --list.count;
  return block;
}

void LuaAllocator::Give(void* block, size_t cls) {
  FreeList& list = lists_[cls];
  if (list.count >= kCachedPerClass) {
    std::free(block);
    return;
  }
  auto* b = static_cast<FreeBlock*>(block);
  b->next = list.head;
  list.head = b;
  ++list.count;
}

void* LuaAllocator::Reallocate(void* ptr, size_t osize, size_t nsize) {
  if (nsize == 0) {
    if (ptr != nullptr) {
      if (osize <= kMaxSmall) {
        Give(ptr, ClassOf(osize));
      } else {
        std::free(ptr);
      }
    }
    return nullptr;
  }
  const bool new_small = nsize <= kMaxSmall;
  if (ptr == nullptr) return new_small ? Take(ClassOf(nsize)) : std::malloc(nsize);
  const bool old_small = osize <= kMaxSmall;
  if (!old_small && !new_small) return std::realloc(ptr, nsize);
  if (old_small && new_small && ClassOf(osize) == ClassOf(nsize)) return ptr;
  void* fresh = new_small ? Take(ClassOf(nsize)) : std::malloc(nsize);
  if (fresh == nullptr) {
    // Lua counts on shrinking never failing: the old block is large enough
    // to serve as the smaller one (see the invariant).
    return nsize < osize ? ptr : nullptr;
  }
  std::memcpy(fresh, ptr, std::min(osize, nsize));
  if (old_small) {
    Give(ptr, ClassOf(osize));
  } else {
    std::free(ptr);
  }
  return fresh;
}

}  // namespace lockd::script
