// TimingWheel: linking, cascading and firing. See timing_wheel.h for the
// levels, the granularity table and the invariants that Advance keeps even
// when it stops halfway through a cascade.
#include "engine/timing_wheel.h"

#include <bit>
#include <cstdint>

#include "util/check.h"

namespace lockd {

TimingWheel::TimingWheel() {
  for (auto& level : slots_) {
    for (TimerNode*& head : level) head = nullptr;
  }
  for (uint64_t& bits : occupied_) bits = 0;
}

void TimingWheel::Schedule(TimerNode* node, int64_t deadline_us, int64_t now_us) {
  LOCKD_CHECK(!node->scheduled());
  LOCKD_CHECK(deadline_us >= 0 && deadline_us <= kMaxDeadlineMicros);
  node->deadline_us = static_cast<uint64_t>(deadline_us);
  // An empty wheel has no timer that a jump could skip; moving to now keeps
  // the new timer on the level its distance from now deserves.
  if (count_ == 0 && now_us > 0) {
    uint64_t now_tick = static_cast<uint64_t>(now_us / kTickMicros);
    if (now_tick > current_) current_ = now_tick;
  }
  Link(node);
  ++count_;
}

void TimingWheel::Cancel(TimerNode* node) {
  if (!node->scheduled()) return;
  Unlink(node);
  --count_;
}

void TimingWheel::Link(TimerNode* node) {
  uint64_t expiry = ExpiryTick(node->deadline());
  // A timer already due goes to the current level-0 slot: it fires at the
  // next Advance, late rather than never.
  if (expiry < current_) expiry = current_;
  uint64_t diff = expiry ^ current_;
  int level = diff == 0 ? 0 : (63 - std::countl_zero(diff)) / kSlotBits;
  int slot = SlotIndex(expiry, level);
  TimerNode** head = &slots_[level][slot];
  node->next = *head;
  if (node->next != nullptr) node->next->pprev = &node->next;
  node->pprev = head;
  *head = node;
  occupied_[level] |= uint64_t{1} << slot;
}

void TimingWheel::Unlink(TimerNode* node) {
  LOCKD_DCHECK(node->scheduled());
  TimerNode** pprev = node->pprev;
  TimerNode* next = node->next;
  *pprev = next;
  if (next != nullptr) {
    next->pprev = pprev;
  } else {
    // The node was last in its list; if it was also first, `pprev` is a slot
    // head inside slots_ and that slot is now empty.
    auto first = reinterpret_cast<uintptr_t>(&slots_[0][0]);
    auto at = reinterpret_cast<uintptr_t>(pprev);
    if (at >= first && at < first + sizeof(slots_)) {
      size_t index = (at - first) / sizeof(TimerNode*);
      occupied_[index / kSlots] &= ~(uint64_t{1} << (index % kSlots));
    }
  }
  node->next = nullptr;
  node->pprev = nullptr;
}

std::optional<uint64_t> TimingWheel::NextTick() const {
  // An unfinished cascade (or a due level-0 slot) is work at the current tick.
  for (int level = 0; level < kLevels; ++level) {
    if (occupied_[level] & (uint64_t{1} << SlotIndex(current_, level))) return current_;
  }
  // Otherwise the lowest non-empty level holds the earliest work: a level's
  // timers all lie inside the current slot of the level above it.
  for (int level = 0; level < kLevels; ++level) {
    uint64_t bits = occupied_[level];
    if (bits == 0) continue;
    int slot = std::countr_zero(bits);
    LOCKD_DCHECK(slot > SlotIndex(current_, level));
    int block_shift = kSlotBits * (level + 1);
    uint64_t block_start = block_shift >= 64 ? 0 : (current_ >> block_shift) << block_shift;
    return block_start | (static_cast<uint64_t>(slot) << (kSlotBits * level));
  }
  return std::nullopt;
}

std::optional<int64_t> TimingWheel::NextWakeup() const {
  std::optional<uint64_t> tick = NextTick();
  if (!tick) return std::nullopt;
  // Ticks past the representable range are far beyond any deadline we accept.
  constexpr uint64_t kMaxTick = static_cast<uint64_t>(INT64_MAX / kTickMicros);
  if (*tick > kMaxTick) return INT64_MAX;
  return static_cast<int64_t>(*tick) * kTickMicros;
}

bool TimingWheel::Advance(int64_t now_us, uint32_t budget, TimerHandler* handler) {
  if (now_us < 0) return false;
  const uint64_t target = static_cast<uint64_t>(now_us / kTickMicros);
  if (target < current_) return false;  // nothing at current_ can be due yet
  uint32_t ops = 0;
  for (;;) {
    // Cascade: the current slot of each level >= 1 must be empty before
    // current_ may move on. Top-down, since a higher slot's timers can land
    // on lower levels (never in their current slots, so one pass suffices).
    for (int level = kLevels - 1; level >= 1; --level) {
      TimerNode** head = &slots_[level][SlotIndex(current_, level)];
      while (*head != nullptr) {
        if (ops == budget) return true;
        TimerNode* node = *head;
        Unlink(node);
        Link(node);  // relative to current_, it now belongs lower
        ++ops;
      }
    }
    // Fire level 0's current slot. Handlers may schedule more timers due
    // now; they land in this same slot and fire in this loop.
    for (;;) {
      TimerNode* node = slots_[0][SlotIndex(current_, 0)];
      if (node == nullptr) break;
      if (ops == budget) return true;
      Unlink(node);
      --count_;
      ++ops;
      handler->OnTimer(node);
    }
    if (current_ >= target) return false;
    // Jump to the next tick with work (every tick in between is empty), or
    // to the target if that comes first.
    std::optional<uint64_t> next = NextTick();
    LOCKD_CHECK(!next || *next > current_);
    current_ = next && *next < target ? *next : target;
  }
}

}  // namespace lockd
