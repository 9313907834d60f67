// TimingWheel: every deadline of the engine (lease expiries, wait timeouts),
// in a hierarchical wheel of 1 ms ticks with cascading.
//
// Timers fire late, never early: a deadline of d µs has the expiry tick
// e = ceil(d / 1000), and fires at the first Advance(now) with
// floor(now / 1000) >= e, that is at most one tick after d if Advance runs on
// time. Eleven levels of 64 slots cover every 64-bit tick, so there is no
// overflow list:
//
//   level  slot width (ticks)  one slot lasts    the level reaches (from now)
//     0    1                   1 ms              64 ms
//     1    64                  64 ms             4.1 s
//     2    4096                4.1 s             4.4 min
//     3    262144              4.4 min           4.7 h
//     4    16.8 M              4.7 h             12.4 days
//     5    1.07 G              12.4 days         2.2 years
//     6    68.7 G              2.2 years         140 years
//     7-10 ...                                   all 64-bit ticks
//
// A timer with expiry tick e sits at the lowest level whose block contains
// both e and the current tick c (the highest 6-bit group in which they
// differ), in the slot of e's group at that level. When c reaches the start
// of a higher-level slot, that slot's timers are re-inserted relative to the
// new c and so move down (cascade); a timer moves at most 10 times, usually
// 1-3. Only level 0 fires: its slot c holds exactly the timers due at tick c.
//
// Invariants: at every level, the slots before c's own slot are empty; at
// levels >= 1 c's own slot is empty except while its cascade is unfinished
// (an Advance ran out of budget), and then NextWakeup() reports c so the
// cascade finishes before c moves on. The occupancy bitmaps have a bit set
// exactly for the non-empty slots, so NextWakeup() costs O(levels).
//
// Nodes are intrusive (TimerNode is the first member of what it times), so
// scheduling allocates nothing and Cancel is O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace lockd {

// What a TimerNode is embedded in. The engine reads it to cast a fired node
// back to its owner; the wheel never looks at it.
enum class TimerKind : uint8_t { kLease = 0, kWaiter = 1 };

struct TimerNode {
  // Slot lists are singly linked with a back pointer to whichever pointer
  // points at this node (the slot head or the previous node's `next`), so an
  // unlink needs neither the slot nor a sentinel node.
  TimerNode* next = nullptr;
  TimerNode** pprev = nullptr;  // null while not scheduled
  // The exact deadline in µs (non-negative), and the owner's kind in the two
  // bits a 62-bit deadline leaves free (2^62 µs is 146,000 years).
  uint64_t deadline_us : 62 = 0;
  uint64_t kind : 2 = 0;

  bool scheduled() const { return pprev != nullptr; }
  int64_t deadline() const { return static_cast<int64_t>(deadline_us); }
  TimerKind timer_kind() const { return static_cast<TimerKind>(kind); }
};
static_assert(sizeof(TimerNode) == 24);

// Told about each timer as it fires; the node is already unscheduled, and
// the handler may schedule or cancel any timers, this one included.
class TimerHandler {
 public:
  virtual ~TimerHandler() = default;
  virtual void OnTimer(TimerNode* node) = 0;
};

class TimingWheel {
 public:
  static constexpr int kSlotBits = 6;
  static constexpr int kSlots = 1 << kSlotBits;
  static constexpr int kLevels = 11;  // 11 * 6 >= 64 bits of ticks
  static constexpr int64_t kTickMicros = 1000;
  static constexpr int64_t kMaxDeadlineMicros = (int64_t{1} << 62) - 1;

  TimingWheel();
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  // Schedules `node` (not already scheduled) for `deadline_us`, which may be
  // in the past (then it fires at the next Advance). `now_us` only lets an
  // empty wheel jump its current tick forward, which keeps the first timers
  // after an idle spell from starting on a high level.
  void Schedule(TimerNode* node, int64_t deadline_us, int64_t now_us);
  // Unschedules `node`; nothing happens if it is not scheduled.
  void Cancel(TimerNode* node);

  // When Advance must next run, in µs: nullopt when no timer is scheduled,
  // else the start of the earliest tick with work (a due level-0 slot or a
  // slot to cascade). Never later than the earliest timer's expiry tick.
  std::optional<int64_t> NextWakeup() const;

  // Fires every timer whose expiry tick is <= floor(now_us / 1000), calling
  // `handler` for each, and cascades the slots on the way, doing at most
  // `budget` node operations (fires plus moves). Returns true when due work
  // remains; NextWakeup() is then <= now_us. `now_us` must not go backwards.
  bool Advance(int64_t now_us, uint32_t budget, TimerHandler* handler);

  size_t size() const { return count_; }
  uint64_t current_tick() const { return current_; }

  static uint64_t ExpiryTick(int64_t deadline_us) {
    if (deadline_us <= 0) return 0;
    return static_cast<uint64_t>((deadline_us + kTickMicros - 1) / kTickMicros);
  }

 private:
  static int SlotIndex(uint64_t tick, int level) {
    return static_cast<int>((tick >> (kSlotBits * level)) & (kSlots - 1));
  }
  // Links `node` into the slot for its deadline relative to current_.
  void Link(TimerNode* node);
  // Unlinks a scheduled node and clears its slot's bit if that emptied it.
  void Unlink(TimerNode* node);
  std::optional<uint64_t> NextTick() const;

  TimerNode* slots_[kLevels][kSlots];
  uint64_t occupied_[kLevels];
  // The current tick c: every timer with an expiry tick < c has fired.
  uint64_t current_ = 0;
  size_t count_ = 0;
};

}  // namespace lockd
