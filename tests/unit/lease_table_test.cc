// Tests for LeaseTable, one partition's open-addressing index: insert, find
// and erase against a std::map, growth and shrinking, backward-shift
// deletion over crafted collision runs (including runs that wrap past the
// end), and ScanFrom visiting every key held throughout a scan while other
// keys come and go.
#include "engine/lease_table.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/hash.h"
#include "engine/slab.h"

namespace lockd {
namespace {

// A table plus the entries it points to, with hashes chosen by the test.
class TableFixture {
 public:
  ~TableFixture() {
    for (auto& [key, entry] : entries_) DeleteLeaseEntry(slab_, entry.first);
  }

  // Inserts `key` with `hash`; false if it was already there.
  bool Insert(const std::string& key, uint64_t hash) {
    LeaseTable::Probe probe = table_.Lookup(key, hash);
    if (probe.found) return false;
    LeaseEntry* entry = NewLeaseEntry(slab_, key, "holder", LeaseTable::HashLow(hash));
    table_.InsertAt(probe.slot, entry, hash);
    entries_[key] = {entry, hash};
    return true;
  }
  bool Erase(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    LeaseTable::Probe probe = table_.Lookup(key, it->second.second);
    REQUIRE(probe.found);
    REQUIRE(table_.At(probe.slot) == it->second.first);
    table_.EraseAt(probe.slot);
    if (table_.wants_shrink()) table_.Shrink();
    DeleteLeaseEntry(slab_, it->second.first);
    entries_.erase(it);
    return true;
  }
  // Every key in the model is found (as the right entry), and the invariants hold.
  void CheckAll() {
    REQUIRE(table_.CheckInvariants());
    REQUIRE(table_.size() == entries_.size());
    for (auto& [key, entry] : entries_) {
      LeaseTable::Probe probe = table_.Lookup(key, entry.second);
      REQUIRE(probe.found);
      REQUIRE(table_.At(probe.slot) == entry.first);
      REQUIRE(table_.SlotOf(entry.first, entry.second) == probe.slot);
    }
  }
  bool Contains(const std::string& key, uint64_t hash) { return table_.Lookup(key, hash).found; }

  LeaseTable& table() { return table_; }
  const std::map<std::string, std::pair<LeaseEntry*, uint64_t>>& entries() const {
    return entries_;
  }

 private:
  SlabAllocator slab_;
  LeaseTable table_;
  std::map<std::string, std::pair<LeaseEntry*, uint64_t>> entries_;
};

TEST_CASE("lease table: insert, find and erase many keys; grows and shrinks") {
  StringHasher hasher(42);
  TableFixture t;
  CHECK(t.table().capacity() == LeaseTable::kMinCapacity);
  for (int i = 0; i < 20000; ++i) {
    std::string key = "key:" + std::to_string(i);
    REQUIRE(t.Insert(key, hasher(key)));
  }
  CHECK_FALSE(t.Insert("key:77", hasher("key:77")));
  t.CheckAll();
  size_t grown = t.table().capacity();
  CHECK(grown >= 20000 * 1000 / LeaseTable::kGrowAbove);
  CHECK(grown <= 20000 * 2);  // 1.5x steps keep it dense
  CHECK_FALSE(t.Contains("key:20000", hasher("key:20000")));

  for (int i = 0; i < 20000; i += 2) REQUIRE(t.Erase("key:" + std::to_string(i)));
  t.CheckAll();
  for (int i = 1; i < 20000; i += 2) {
    if (i > 101) REQUIRE(t.Erase("key:" + std::to_string(i)));
  }
  t.CheckAll();
  CHECK(t.table().size() == 51);
  CHECK(t.table().capacity() < grown / 16);  // shrank when very sparse
  for (int i = 1; i <= 101; i += 2) REQUIRE(t.Erase("key:" + std::to_string(i)));
  t.CheckAll();
  CHECK(t.table().size() == 0);
  CHECK(t.table().capacity() == LeaseTable::kMinCapacity);
}

TEST_CASE("lease table: backward-shift deletion keeps colliding runs findable") {
  // Hashes chosen so that many keys share a few home slots, some near the
  // table's end (so runs wrap to slot 0). hash_low's top bits pick the home.
  std::mt19937_64 rng(1234);
  for (int round = 0; round < 200; ++round) {
    TableFixture t;
    std::vector<std::pair<std::string, uint64_t>> keys;
    size_t n = 5 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      uint32_t home_bits = (rng() % 3 == 0) ? 0xFFFF0000u : static_cast<uint32_t>(rng() % 4) << 30;
      uint64_t hash = (rng() & 0xFFFFFFFF00000000ull) | home_bits | (rng() & 0xFFFF);
      if (rng() % 4 == 0) hash &= 0x0000FFFFFFFFFFFFull;  // equal tags too
      keys.emplace_back("k" + std::to_string(i), hash);
      REQUIRE(t.Insert(keys.back().first, hash));
    }
    t.CheckAll();
    std::shuffle(keys.begin(), keys.end(), rng);
    for (auto& [key, hash] : keys) {
      REQUIRE(t.Erase(key));
      CHECK_FALSE(t.Contains(key, hash));
      t.CheckAll();
    }
  }
}

TEST_CASE("lease table: random operations match a std::map") {
  StringHasher hasher(7);
  std::mt19937_64 rng(99);
  TableFixture t;
  std::set<std::string> model;
  for (int step = 0; step < 200000; ++step) {
    // A key space that makes the table grow to ~3000 and fall back.
    int range = (step / 20000) % 2 == 0 ? 4000 : 300;
    std::string key = "k" + std::to_string(rng() % range);
    bool insert = rng() % 2 == 0;
    if (insert) {
      CHECK(t.Insert(key, hasher(key)) == model.insert(key).second);
    } else {
      CHECK(t.Erase(key) == (model.erase(key) == 1));
    }
    if (step % 5000 == 0) t.CheckAll();
  }
  t.CheckAll();
  for (const std::string& key : model) CHECK(t.Contains(key, hasher(key)));
}

// Scans the whole table in steps of `count` slots, running `between` after
// each step; returns the entries visited.
std::multiset<const LeaseEntry*> ScanAll(LeaseTable& table, size_t count,
                                         const std::function<void()>& between) {
  std::multiset<const LeaseEntry*> seen;
  size_t slot = 0;
  while (slot < table.capacity()) {
    size_t next = table.ScanFrom(slot, count, [&](const LeaseEntry* e) { seen.insert(e); });
    REQUIRE(next > slot);
    slot = next;
    between();
  }
  return seen;
}

TEST_CASE(
    "lease table: scan visits every key, even when others are erased and inserted meanwhile") {
  std::mt19937_64 rng(2024);
  for (int round = 0; round < 100; ++round) {
    TableFixture t;
    // Crafted hashes: long runs, some wrapping, so erasures shift entries
    // back across the scan position.
    auto hash_for = [&](int i) -> uint64_t {
      uint32_t home = static_cast<uint32_t>(rng() % 8) << 29;
      return (static_cast<uint64_t>(i) << 32) | home | static_cast<uint32_t>(rng() % 256);
    };
    for (int i = 0; i < 300; ++i) t.Insert("stay" + std::to_string(i), hash_for(i));
    std::vector<std::pair<std::string, uint64_t>> churn;
    for (int i = 0; i < 200; ++i) {
      churn.emplace_back("churn" + std::to_string(i), hash_for(1000 + i));
      t.Insert(churn.back().first, churn.back().second);
    }
    size_t capacity = t.table().capacity();
    std::set<const LeaseEntry*> stays;
    for (auto& [key, entry] : t.entries()) {
      if (key.rfind("stay", 0) == 0) stays.insert(entry.first);
    }
    size_t next_churn = 0;
    auto seen = ScanAll(t.table(), 1 + rng() % 20, [&] {
      // Swap one churn key out for a new one: size, hence capacity, holds.
      auto& [key, hash] = churn[next_churn++ % churn.size()];
      if (t.Erase(key)) {
        key += "'";
        t.Insert(key, hash);
      }
    });
    REQUIRE(t.table().capacity() == capacity);
    for (const LeaseEntry* e : stays) CHECK(seen.count(e) >= 1);
    t.CheckAll();
  }
}

TEST_CASE("lease table: hash tags and pointers round-trip through a slot") {
  TableFixture t;
  uint64_t hash = 0xABCD'0000'1234'5678ull;
  REQUIRE(t.Insert("tagged", hash));
  LeaseTable::Probe probe = t.table().Lookup("tagged", hash);
  REQUIRE(probe.found);
  CHECK(t.table().At(probe.slot)->key() == "tagged");
  // Same key bytes and home, different tag: not a match.
  CHECK_FALSE(t.table().Lookup("tagged", hash ^ (uint64_t{1} << 50)).found);
  // Same tag and home, different key: not a match either.
  CHECK_FALSE(t.table().Lookup("tagget", hash).found);
}

}  // namespace
}  // namespace lockd
