// LuaAllocator: Lua's allocation contract across the small-block classes
// and malloc, contents kept through every kind of resize, and the free
// lists bounded.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "script/lua_allocator.h"

using lockd::script::LuaAllocator;

namespace {

void Fill(void* p, size_t n, char seed) {
  auto* c = static_cast<char*>(p);
  for (size_t i = 0; i < n; ++i) c[i] = static_cast<char>(seed + i);
}

bool Holds(const void* p, size_t n, char seed) {
  const auto* c = static_cast<const char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (c[i] != static_cast<char>(seed + i)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("lua allocator: every resize keeps the bytes both sizes share") {
  LuaAllocator a;
  // old size → new size: within a class, across classes up and down, small
  // to large, large to small, large to large.
  const std::vector<std::pair<size_t, size_t>> moves = {
      {1, 16},   {16, 17}, {17, 250}, {250, 40}, {40, 256}, {256, 257},
      {257, 8},  {8, 4000}, {4000, 9000}, {9000, 300}, {300, 256}, {100, 100}};
  for (const auto& move : moves) {
    const size_t from = move.first;
    const size_t to = move.second;
    CAPTURE(from);
    CAPTURE(to);
    void* p = a.Reallocate(nullptr, 0, from);
    REQUIRE(p != nullptr);
    Fill(p, from, 7);
    void* q = a.Reallocate(p, from, to);
    REQUIRE(q != nullptr);
    CHECK(Holds(q, std::min(from, to), 7));
    Fill(q, to, 3);  // the whole new size is usable
    CHECK(a.Reallocate(q, to, 0) == nullptr);
  }
}

TEST_CASE("lua allocator: freed small blocks are reused, and the lists are bounded") {
  LuaAllocator a;
  void* p = a.Reallocate(nullptr, 0, 24);
  a.Reallocate(p, 24, 0);
  CHECK(a.cached_blocks() == 1);
  // Same class (17..32 bytes): the same block comes back.
  CHECK(a.Reallocate(nullptr, 0, 32) == p);
  CHECK(a.cached_blocks() == 0);
  a.Reallocate(p, 32, 0);

  std::vector<void*> blocks;
  for (int i = 0; i < 10000; ++i) blocks.push_back(a.Reallocate(nullptr, 0, 48));
  for (void* b : blocks) a.Reallocate(b, 48, 0);
  // Past the bound, freed blocks go back to malloc.
  CHECK(a.cached_blocks() < 10000);
  CHECK(a.cached_blocks() >= 4096);
}
