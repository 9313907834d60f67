// Tests for the engine's building blocks below the table: the seeded string
// hash (determinism, seed dependence, every byte counts, avalanche) and the
// slab allocator (size classes, reuse through the free list, page carving,
// large objects), plus LeaseEntry's layout and holder changes.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/hash.h"
#include "engine/lease_entry.h"
#include "engine/slab.h"

namespace lockd {
namespace {

TEST_CASE("hash: deterministic per seed, different across seeds") {
  StringHasher a(1), a2(1), b(2);
  for (std::string key : {"", "x", "seat:17", "a-much-longer-key-than-sixteen-bytes"}) {
    CHECK(a(key) == a2(key));
    CHECK(a(key) != b(key));
  }
}

TEST_CASE("hash: every byte and the length matter, for all lengths up to 100") {
  StringHasher h(0x1234);
  std::mt19937_64 rng(5);
  for (size_t len = 0; len <= 100; ++len) {
    std::string key(len, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    uint64_t base = h(key);
    for (size_t i = 0; i < len; ++i) {
      std::string changed = key;
      changed[i] ^= 0x01;
      CHECK(h(changed) != base);
    }
    // A trailing zero byte is not the same key.
    CHECK(h(key + std::string(1, '\0')) != base);
  }
}

TEST_CASE("hash: one flipped input bit flips about half the output bits") {
  StringHasher h(77);
  std::mt19937_64 rng(11);
  for (size_t len : {1, 3, 8, 12, 17, 33, 64}) {
    double total = 0;
    int samples = 0;
    int worst_low = 64, worst_high = 0;
    for (int trial = 0; trial < 200; ++trial) {
      std::string key(len, '\0');
      for (char& c : key) c = static_cast<char>(rng());
      uint64_t base = h(key);
      size_t bit = rng() % (len * 8);
      key[bit / 8] = static_cast<char>(key[bit / 8] ^ (1 << (bit % 8)));
      int flipped = std::popcount(base ^ h(key));
      total += flipped;
      ++samples;
      worst_low = std::min(worst_low, flipped);
      worst_high = std::max(worst_high, flipped);
    }
    CAPTURE(len);
    CHECK(total / samples > 28.0);
    CHECK(total / samples < 36.0);
    CHECK(worst_low > 8);
    CHECK(worst_high < 56);
  }
}

TEST_CASE("hash: sequential keys spread over slots, partitions and tags") {
  StringHasher h(3);
  std::vector<int> partitions(64), homes(1000);
  std::set<uint64_t> tags;
  for (int i = 0; i < 64000; ++i) {
    uint64_t v = h("seat:" + std::to_string(i));
    ++partitions[(v >> 32) & 63];
    ++homes[(uint64_t{static_cast<uint32_t>(v)} * 1000) >> 32];
    tags.insert(v >> 48);
  }
  for (int n : partitions) CHECK((n > 800 && n < 1200));
  for (int n : homes) CHECK((n > 20 && n < 110));
  CHECK(tags.size() > 40000);
}

TEST_CASE("hash: random seeds differ") { CHECK(RandomHashSeed() != RandomHashSeed()); }

TEST_CASE("slab: sizes round up to 8-byte classes; large sizes are exact") {
  CHECK(SlabAllocator::AllocatedSize(0) == 8);
  CHECK(SlabAllocator::AllocatedSize(1) == 8);
  CHECK(SlabAllocator::AllocatedSize(8) == 8);
  CHECK(SlabAllocator::AllocatedSize(9) == 16);
  CHECK(SlabAllocator::AllocatedSize(78) == 80);
  CHECK(SlabAllocator::AllocatedSize(512) == 512);
  CHECK(SlabAllocator::AllocatedSize(513) == 513);
}

TEST_CASE("slab: objects are distinct, aligned, packed in pages and reused LIFO") {
  SlabAllocator slab;
  std::vector<void*> objects;
  std::set<uintptr_t> seen;
  const size_t per_page = SlabAllocator::kPageSize / 80;
  for (size_t i = 0; i < per_page * 3; ++i) {
    void* p = slab.Allocate(78);
    CHECK(reinterpret_cast<uintptr_t>(p) % 8 == 0);
    CHECK(seen.insert(reinterpret_cast<uintptr_t>(p)).second);
    std::memset(p, 0xAB, 78);
    objects.push_back(p);
  }
  CHECK(slab.page_bytes() == 3 * SlabAllocator::kPageSize);
  CHECK(slab.live_objects(78) == per_page * 3);
  // Consecutive objects of one page are 80 bytes apart: no header.
  CHECK(static_cast<char*>(objects[1]) - static_cast<char*>(objects[0]) == 80);
  // Another class gets its own page.
  void* other = slab.Allocate(24);
  CHECK(slab.page_bytes() == 4 * SlabAllocator::kPageSize);
  slab.Free(other, 24);

  slab.Free(objects[10], 78);
  slab.Free(objects[20], 80);  // any size of the same class
  CHECK(slab.Allocate(79) == objects[20]);
  CHECK(slab.Allocate(73) == objects[10]);
  CHECK(slab.page_bytes() == 4 * SlabAllocator::kPageSize);
  for (void* p : objects) slab.Free(p, 78);
  CHECK(slab.live_objects(78) == 0);
  // Freed objects are reused before any new page is taken.
  for (size_t i = 0; i < per_page * 3; ++i) slab.Allocate(80);
  CHECK(slab.page_bytes() == 4 * SlabAllocator::kPageSize);
}

TEST_CASE("slab: large objects go to malloc") {
  SlabAllocator slab;
  void* big = slab.Allocate(4000);
  std::memset(big, 1, 4000);
  CHECK(slab.large_bytes() == 4000);
  CHECK(slab.page_bytes() == 0);
  slab.Free(big, 4000);
  CHECK(slab.large_bytes() == 0);
}

TEST_CASE("lease entry: 17-byte key and holder fit an 80-byte object") {
  SlabAllocator slab;
  std::string key(17, 'k'), holder(17, 'h');
  LeaseEntry* e = NewLeaseEntry(slab, key, holder, 0xDEADBEEF);
  CHECK(e->size() == 78);
  CHECK(SlabAllocator::AllocatedSize(e->size()) == 80);
  CHECK(e->key() == key);
  CHECK(e->holder() == holder);
  CHECK(e->hash_low == 0xDEADBEEF);
  CHECK_FALSE(e->has_waiters());
  e->set_has_waiters(true);
  CHECK(e->has_waiters());
  CHECK(e->key() == key);  // the stolen bit does not change the length
  CHECK(e->node.timer_kind() == TimerKind::kLease);
  DeleteLeaseEntry(slab, e);
}

TEST_CASE("lease entry: a holder change stays in place within a class, moves across") {
  SlabAllocator slab;
  LeaseEntry* e = NewLeaseEntry(slab, "seat-1", "alice", 9);
  e->token = 5;
  e->set_has_waiters(true);
  LeaseEntry* same = ChangeHolder(slab, e, "bobby");  // 44+6+5 = 55 -> 56 either way
  CHECK(same == e);
  CHECK(same->holder() == "bobby");
  std::string long_holder(100, 'z');
  LeaseEntry* moved = ChangeHolder(slab, same, long_holder);
  CHECK(moved != same);
  CHECK(moved->key() == "seat-1");
  CHECK(moved->holder() == long_holder);
  CHECK(moved->token == 5);
  CHECK(moved->hash_low == 9);
  CHECK(moved->has_waiters());
  CHECK(slab.live_objects(56) == 0);
  LeaseEntry* huge = ChangeHolder(slab, moved, std::string(1000, 'q'));
  CHECK(huge->holder().size() == 1000);
  CHECK(huge->key() == "seat-1");
  CHECK(slab.large_bytes() == huge->size());
  DeleteLeaseEntry(slab, huge);
  CHECK(slab.large_bytes() == 0);
}

}  // namespace
}  // namespace lockd
