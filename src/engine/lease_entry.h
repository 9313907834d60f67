// LeaseEntry: one held key, in a single slab allocation.
//
//   offset  0  TimerNode   next, pprev, deadline (µs) and kind (kLease)  24 B
//          24  token                                                      8 B
//          32  hash_low    low 32 bits of the key hash (home slot)        4 B
//          36  key_bits    key length (bits 0-30), has-waiters (bit 31)   4 B
//          40  holder_len                                                 4 B
//          44  key bytes, then holder bytes, no terminators, no padding
//
// A 17-byte key with a 17-byte holder takes 78 bytes, an 80-byte slab
// object. The has-waiters bit is stolen from the key length (keys are far
// below 2 GiB: proto-max-bulk-len bounds them) so that the hot path learns
// whether the key has a wait queue without looking it up. An entry exists
// only while its key is held: a free key has no entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "engine/slab.h"
#include "engine/timing_wheel.h"
#include "lockd/engine.h"

namespace lockd {

struct LeaseEntry {
  static constexpr size_t kBytesOffset = 44;
  static constexpr uint32_t kHasWaitersBit = uint32_t{1} << 31;
  static constexpr size_t kMaxKeyLength = kHasWaitersBit - 1;
  static constexpr size_t kMaxHolderLength = UINT32_MAX;

  TimerNode node;  // first: the wheel hands back a TimerNode* that is this entry
  Token token;
  uint32_t hash_low;
  uint32_t key_bits;
  uint32_t holder_len;

  static size_t SizeFor(size_t key_len, size_t holder_len) {
    return kBytesOffset + key_len + holder_len;
  }
  size_t size() const { return SizeFor(key_length(), holder_len); }

  size_t key_length() const { return key_bits & ~kHasWaitersBit; }
  std::string_view key() const { return {bytes(), key_length()}; }
  std::string_view holder() const { return {bytes() + key_length(), holder_len}; }
  // A lease without a deadline (SET without EX/PX, PERSIST) keeps the
  // largest deadline the wheel can hold and is not scheduled on it: it is
  // held at every `now`, and no timer ever looks at it.
  static constexpr int64_t kNoDeadline = TimingWheel::kMaxDeadlineMicros;
  MonoTime deadline() const { return MonoTime{node.deadline()}; }
  bool has_deadline() const { return node.deadline() != kNoDeadline; }
  std::optional<MonoTime> lease_deadline() const {
    if (!has_deadline()) return std::nullopt;
    return deadline();
  }

  bool has_waiters() const { return (key_bits & kHasWaitersBit) != 0; }
  void set_has_waiters(bool on) {
    key_bits = on ? (key_bits | kHasWaitersBit) : (key_bits & ~kHasWaitersBit);
  }

  const char* bytes() const { return reinterpret_cast<const char*>(this) + kBytesOffset; }
  char* bytes() { return reinterpret_cast<char*>(this) + kBytesOffset; }
};
static_assert(offsetof(LeaseEntry, holder_len) + sizeof(uint32_t) == LeaseEntry::kBytesOffset);
// Every slab object is at least sizeof(LeaseEntry) (44 rounds up to 48), so
// the struct's own padding never reaches past the allocation.
static_assert(sizeof(LeaseEntry) <= SlabAllocator::AllocatedSize(LeaseEntry::kBytesOffset));

// A new entry for `key` held by `holder`; token 0, not scheduled.
LeaseEntry* NewLeaseEntry(SlabAllocator& slab, std::string_view key, std::string_view holder,
                          uint32_t hash_low);

// Frees an entry whose timer is not scheduled.
void DeleteLeaseEntry(SlabAllocator& slab, LeaseEntry* entry);

// Gives the entry a new holder (a hand-off). When the new size needs another
// slab class the entry moves: the result is then a different pointer, which
// the caller must put in the table slot in place of the old one. The timer
// must not be scheduled (the caller schedules the new deadline afterwards);
// token, hash and the has-waiters bit are kept.
LeaseEntry* ChangeHolder(SlabAllocator& slab, LeaseEntry* entry, std::string_view holder);

}  // namespace lockd
