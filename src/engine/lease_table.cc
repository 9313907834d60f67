// LeaseTable: insertion, backward-shift deletion and resizing of one
// partition's slot array. See lease_table.h for the layout of a slot.
//
// Why ScanFrom may stop only after an empty slot: with linear probing, every
// slot from an entry's home to its position is full. If slot s-1 is empty
// when a scan pauses at s, every entry at or after s has its home at or after
// s (no wrapped run can cross s-1 either), and backward shifts never move an
// entry below its home, so an entry held until the scan resumes is still at
// or after s and will be visited.
#include "engine/lease_table.h"

#include <algorithm>

#include <sys/mman.h>

#include <cstdlib>
#include <utility>

#include "util/check.h"

namespace lockd {

namespace {

// Slot arrays of a page or more are mapped directly. Each resize frees the
// old array; from the heap, those freed arrays sit between slab pages that
// cannot reuse them (glibc also raises its mmap threshold after each large
// free), which at a million keys added ~4 bytes per lock to the RSS. An
// unmapped array goes straight back to the system.
constexpr size_t kMapBytes = 4096;

uintptr_t* AllocateSlots(size_t capacity) {
  // Either way the array starts zeroed: a zero slot is empty.
  size_t bytes = capacity * sizeof(uintptr_t);
  if (bytes >= kMapBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    LOCKD_CHECK(p != MAP_FAILED);
    return static_cast<uintptr_t*>(p);
  }
  auto* slots = static_cast<uintptr_t*>(std::calloc(capacity, sizeof(uintptr_t)));
  LOCKD_CHECK(slots != nullptr);
  return slots;
}

void FreeSlots(uintptr_t* slots, size_t capacity) {
  if (slots == nullptr) return;
  size_t bytes = capacity * sizeof(uintptr_t);
  if (bytes >= kMapBytes) {
    LOCKD_CHECK(munmap(slots, bytes) == 0);
  } else {
    std::free(slots);
  }
}

size_t GrowAt(size_t capacity) { return capacity * LeaseTable::kGrowAbove / 1000; }
size_t ShrinkAt(size_t capacity) {
  return capacity <= LeaseTable::kMinCapacity ? 0 : capacity * LeaseTable::kShrinkBelow / 1000;
}

}  // namespace

LeaseTable::LeaseTable()
    : slots_(AllocateSlots(kMinCapacity)),
      capacity_(kMinCapacity),
      grow_at_(GrowAt(kMinCapacity)),
      shrink_at_(ShrinkAt(kMinCapacity)) {}

LeaseTable::~LeaseTable() { FreeSlots(slots_, capacity_); }

LeaseTable::LeaseTable(LeaseTable&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      size_(std::exchange(other.size_, 0)),
      grow_at_(other.grow_at_),
      shrink_at_(other.shrink_at_) {}

size_t LeaseTable::SlotOf(const LeaseEntry* entry, uint64_t hash) const {
  size_t i = Home(HashLow(hash));
  for (;;) {
    uintptr_t value = slots_[i];
    // The entry must be in its probe run: reaching an empty slot means the
    // table and the entry disagree.
    LOCKD_CHECK(value != 0);
    if (Untag(value) == entry) return i;
    i = Next(i);
  }
}

void LeaseTable::InsertAt(size_t slot, LeaseEntry* entry, uint64_t hash) {
  auto address = reinterpret_cast<uintptr_t>(entry);
  // The tag lives in bits that user-space pointers leave zero (48-bit
  // virtual addresses); a pointer using them would corrupt the tag.
  LOCKD_CHECK((address & kTagMask) == 0);
  LOCKD_DCHECK(slots_[slot] == 0);
  LOCKD_DCHECK(entry->hash_low == HashLow(hash));
  slots_[slot] = address | Tag(hash);
  ++size_;
  if (size_ > grow_at_) Resize(capacity_ + capacity_ / 2);
}

void LeaseTable::ReplaceAt(size_t slot, LeaseEntry* entry) {
  auto address = reinterpret_cast<uintptr_t>(entry);
  LOCKD_CHECK((address & kTagMask) == 0);
  LOCKD_CHECK(slots_[slot] != 0);
  LOCKD_DCHECK(At(slot)->hash_low == entry->hash_low);
  slots_[slot] = (slots_[slot] & kTagMask) | address;
}

void LeaseTable::EraseAt(size_t slot) {
  LOCKD_CHECK(slots_[slot] != 0);
  // Backward shift (Knuth's Algorithm R): walk the run after the hole; an
  // entry whose home is not cyclically in (hole, position] may move into the
  // hole, which then moves to where that entry was.
  size_t hole = slot;
  size_t i = slot;
  for (;;) {
    i = Next(i);
    uintptr_t value = slots_[i];
    if (value == 0) break;
    size_t home = Home(Untag(value)->hash_low);
    bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
    if (stays) continue;
    slots_[hole] = value;
    hole = i;
  }
  slots_[hole] = 0;
  --size_;
}

void LeaseTable::Shrink() {
  LOCKD_CHECK(wants_shrink());
  // Half full after the shrink: far from both limits, so a table that
  // hovers around one size does not resize back and forth.
  size_t target = size_ * 2;
  Resize(target < kMinCapacity ? kMinCapacity : target);
}

void LeaseTable::Reserve(size_t count) {
  if (count <= grow_at_) return;
  // 70% load once `count` keys are in: room before the next growth.
  size_t capacity = std::min<size_t>(count * 10 / 7 + kMinCapacity, UINT32_MAX);
  if (capacity > capacity_) Resize(capacity);
}

void LeaseTable::Resize(size_t new_capacity) {
  LOCKD_CHECK(new_capacity > size_ && new_capacity <= UINT32_MAX);
  uintptr_t* old_slots = slots_;
  size_t old_capacity = capacity_;
  slots_ = AllocateSlots(new_capacity);
  capacity_ = new_capacity;
  grow_at_ = GrowAt(new_capacity);
  shrink_at_ = ShrinkAt(new_capacity);
  // Re-inserting in old slot order keeps it simple; the hash kept in each
  // entry means no key is rehashed.
  for (size_t j = 0; j < old_capacity; ++j) {
    uintptr_t value = old_slots[j];
    if (value == 0) continue;
    size_t i = Home(Untag(value)->hash_low);
    while (slots_[i] != 0) i = Next(i);
    slots_[i] = value;
  }
  FreeSlots(old_slots, old_capacity);
}

bool LeaseTable::CheckInvariants() const {
  size_t count = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    uintptr_t value = slots_[i];
    if (value == 0) continue;
    ++count;
    // Walking back from i to the entry's home must not meet an empty slot.
    size_t home = Home(Untag(value)->hash_low);
    for (size_t j = home; j != i; j = Next(j)) {
      if (slots_[j] == 0) return false;
    }
  }
  return count == size_ && size_ <= grow_at_ && capacity_ >= kMinCapacity;
}

}  // namespace lockd
