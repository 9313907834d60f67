// LuaAllocator: the memory behind the Lua heap, in Lua's allocation contract
// (lua_Alloc: a block's old size always comes with it).
//
// A script's run allocates and frees a handful of small blocks (KEYS and
// ARGV strings, their tables, the reply's conversions) that glibc serves
// slowly: its per-thread cache keeps 7 blocks of a size, so the rest go
// through its general free path, ~10% of an EVALSHA's instructions. Small
// blocks (up to 256 bytes, in 16-byte classes) are kept on free lists of
// their class instead, up to a bound per class, so what Lua frees is reused
// at once and what it stops using goes back to malloc. Every block is a
// malloc block at least as large as its class, so any of them may be
// returned with free(). Ownership: Scripting owns one; it outlives the Lua
// state whose blocks it holds.
#pragma once

#include <array>
#include <cstddef>

namespace lockd::script {

class LuaAllocator {
 public:
  LuaAllocator() = default;
  LuaAllocator(const LuaAllocator&) = delete;
  LuaAllocator& operator=(const LuaAllocator&) = delete;
  ~LuaAllocator();

  // lua_Alloc without its user pointer: nsize 0 frees `ptr` (of osize
  // bytes); a null `ptr` allocates; otherwise resizes. Null on failure,
  // with `ptr` untouched; shrinking never fails.
  void* Reallocate(void* ptr, size_t osize, size_t nsize);

  // Free blocks held on the lists, for tests.
  size_t cached_blocks() const;

 private:
  static constexpr size_t kGranule = 16;
  static constexpr size_t kMaxSmall = 256;
  static constexpr size_t kClasses = kMaxSmall / kGranule;
  // Per class: 4,096 blocks of at most 256 bytes keep at most ~9 MB in all.
  static constexpr size_t kCachedPerClass = 4096;

  struct FreeBlock {
    FreeBlock* next;
  };
  struct FreeList {
    FreeBlock* head = nullptr;
    size_t count = 0;
  };

  static size_t ClassOf(size_t bytes) { return (bytes - 1) / kGranule; }
  static size_t ClassBytes(size_t cls) { return (cls + 1) * kGranule; }
  void* Take(size_t cls);
  void Give(void* block, size_t cls);

  std::array<FreeList, kClasses> lists_{};
};

}  // namespace lockd::script
