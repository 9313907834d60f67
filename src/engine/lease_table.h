// LeaseTable: one partition's index of held keys, an open-addressing table
// of LeaseEntry pointers with linear probing.
//
// A slot is 8 bytes: the entry pointer with a 16-bit tag from the key hash in
// its unused top bits, so most probes that miss never touch the entry. The
// home slot is fastrange(hash_low, capacity), which lets capacities grow by
// 1.5x (not 2x) and keeps the table dense: it grows past 85% load and
// shrinks below 12.5%, rehashing from the hash kept in each entry. Deletion
// shifts the following entries back (no tombstones), so every entry lies in
// an unbroken run of full slots from its home to its position, and never
// moves below its home. The table owns its slot array, not the entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/lease_entry.h"

namespace lockd {

class LeaseTable {
 public:
  static constexpr size_t kMinCapacity = 8;
  // Load limits, in per mille of the capacity.
  static constexpr size_t kGrowAbove = 850;
  static constexpr size_t kShrinkBelow = 125;

  struct Probe {
    size_t slot;  // where the key is, or the empty slot where it would go
    bool found;
  };

  LeaseTable();
  ~LeaseTable();
  LeaseTable(LeaseTable&& other) noexcept;
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;
  LeaseTable& operator=(LeaseTable&&) = delete;

  static uint32_t HashLow(uint64_t hash) { return static_cast<uint32_t>(hash); }

  // Starts loading the cache line where a lookup of `hash` begins (bulk
  // loads look up many keys whose slots are all cold).
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[Home(HashLow(hash))]); }

  Probe Lookup(std::string_view key, uint64_t hash) const {
    uintptr_t tag = Tag(hash);
    size_t i = Home(HashLow(hash));
    for (;;) {
      uintptr_t value = slots_[i];
      if (value == 0) return {i, false};
      if ((value & kTagMask) == tag) {
        const LeaseEntry* entry = Untag(value);
        if (entry->key_length() == key.size() && entry->hash_low == HashLow(hash) &&
            std::memcmp(entry->bytes(), key.data(), key.size()) == 0) {
          return {i, true};
        }
      }
      i = Next(i);
    }
  }

  // The slot holding exactly `entry`, which must be in the table.
  size_t SlotOf(const LeaseEntry* entry, uint64_t hash) const;

  LeaseEntry* At(size_t slot) const { return Untag(slots_[slot]); }

  // Puts `entry` (hash `hash`) at `slot`, the empty slot a Lookup of its key
  // just returned, then grows the table if it passed the load limit (which
  // moves entries: slots from earlier probes are stale afterwards).
  void InsertAt(size_t slot, LeaseEntry* entry, uint64_t hash);

  // Removes the entry at `slot` (backward shift). Slots from earlier probes
  // are stale afterwards. It does not shrink the table: the caller decides
  // when (see wants_shrink), so that a burst of erasures over many
  // partitions does not rehash them all within one call.
  void EraseAt(size_t slot);

  // True when the table is very sparse and Shrink() would pay off.
  bool wants_shrink() const { return size_ < shrink_at_; }
  // Halves the load of a sparse table: moves entries, as InsertAt's growth.
  void Shrink();
  // Grows the table once so that it holds `count` keys without growing
  // again (log replay knows roughly how many keys are coming).
  void Reserve(size_t count);

  // Puts `entry`, the same key moved to new memory, in place of the entry at
  // `slot`; the tag is kept.
  void ReplaceAt(size_t slot, LeaseEntry* entry);

  // Calls visit(entry) for the entries in slots [start, ...), at least
  // `count` slots when there are that many, then on up to the next empty
  // slot, and returns the slot to resume from (capacity() when done). Ending
  // right after an empty slot is what makes resuming safe: no entry can move
  // back across an empty slot (see ScanFrom in lease_table.cc).
  template <typename Visit>
  size_t ScanFrom(size_t start, size_t count, Visit&& visit) const {
    size_t i = start;
    size_t seen = 0;
    while (i < capacity_) {
      uintptr_t value = slots_[i++];
      ++seen;
      if (value != 0) {
        visit(Untag(value));
      } else if (seen >= count) {
        break;
      }
    }
    return i;
  }

  // Calls visit(entry) for the entries in slots [start, ...) and, at each
  // empty slot, asks stop(slots seen so far): true ends the walk there.
  // Returns the slot to resume from (capacity() when done); it follows an
  // empty slot, for the same reason as ScanFrom's.
  template <typename Visit, typename Stop>
  size_t ScanUntil(size_t start, Visit&& visit, Stop&& stop) const {
    size_t i = start;
    while (i < capacity_) {
      uintptr_t value = slots_[i++];
      if (value != 0) {
        visit(Untag(value));
      } else if (stop(i - start)) {
        break;
      }
    }
    return i;
  }

  // Whether any slot in [start, capacity()) holds an entry.
  bool AnyFrom(size_t start) const {
    for (size_t i = start; i < capacity_; ++i) {
      if (slots_[i] != 0) return true;
    }
    return false;
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Bytes of the slot array.
  size_t memory_bytes() const { return capacity_ * sizeof(uintptr_t); }

  // For tests: checks that every entry is reachable from its home slot
  // without crossing an empty slot, and that the count is right.
  bool CheckInvariants() const;

 private:
  static constexpr int kTagShift = 48;
  static constexpr uintptr_t kTagMask = ~((uintptr_t{1} << kTagShift) - 1);

  static uintptr_t Tag(uint64_t hash) {
    return static_cast<uintptr_t>(hash >> kTagShift) << kTagShift;
  }
  static LeaseEntry* Untag(uintptr_t value) {
    return reinterpret_cast<LeaseEntry*>(value & ~kTagMask);
  }

  // fastrange: maps 32 hash bits onto [0, capacity) with one multiply.
  size_t Home(uint32_t hash_low) const {
    return static_cast<size_t>((uint64_t{hash_low} * capacity_) >> 32);
  }
  size_t Next(size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

  void Resize(size_t new_capacity);

  uintptr_t* slots_;
  size_t capacity_;
  size_t size_ = 0;
  size_t grow_at_;    // grow when size_ exceeds this
  size_t shrink_at_;  // shrink when size_ falls below this
};

}  // namespace lockd
