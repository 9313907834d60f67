// LeaseEntry allocation: building an entry in slab memory, freeing it, and
// rewriting its holder on a hand-off, in place when the slab class allows.
#include "engine/lease_entry.h"

#include <new>

#include "util/check.h"

namespace lockd {

LeaseEntry* NewLeaseEntry(SlabAllocator& slab, std::string_view key, std::string_view holder,
                          uint32_t hash_low) {
  LOCKD_CHECK(key.size() <= LeaseEntry::kMaxKeyLength);
  LOCKD_CHECK(holder.size() <= LeaseEntry::kMaxHolderLength);
  size_t size = LeaseEntry::SizeFor(key.size(), holder.size());
  auto* entry = new (slab.Allocate(size)) LeaseEntry{};
  entry->token = 0;
  entry->hash_low = hash_low;
  entry->key_bits = static_cast<uint32_t>(key.size());
  entry->holder_len = static_cast<uint32_t>(holder.size());
  if (!key.empty()) std::memcpy(entry->bytes(), key.data(), key.size());
  if (!holder.empty()) std::memcpy(entry->bytes() + key.size(), holder.data(), holder.size());
  return entry;
}

void DeleteLeaseEntry(SlabAllocator& slab, LeaseEntry* entry) {
  // A scheduled timer would leave the wheel pointing into freed memory.
  LOCKD_CHECK(!entry->node.scheduled());
  size_t size = entry->size();
  entry->~LeaseEntry();
  slab.Free(entry, size);
}

LeaseEntry* ChangeHolder(SlabAllocator& slab, LeaseEntry* entry, std::string_view holder) {
  LOCKD_CHECK(!entry->node.scheduled());
  LOCKD_CHECK(holder.size() <= LeaseEntry::kMaxHolderLength);
  size_t old_size = entry->size();
  size_t new_size = LeaseEntry::SizeFor(entry->key_length(), holder.size());
  if (SlabAllocator::AllocatedSize(old_size) == SlabAllocator::AllocatedSize(new_size)) {
    if (!holder.empty())
      std::memcpy(entry->bytes() + entry->key_length(), holder.data(), holder.size());
    entry->holder_len = static_cast<uint32_t>(holder.size());
    return entry;
  }
  LeaseEntry* moved = NewLeaseEntry(slab, entry->key(), holder, entry->hash_low);
  moved->token = entry->token;
  // Whether it has a deadline (the timer itself is not scheduled).
  moved->node.deadline_us = entry->node.deadline_us;
  moved->set_has_waiters(entry->has_waiters());
  DeleteLeaseEntry(slab, entry);
  return moved;
}

}  // namespace lockd
