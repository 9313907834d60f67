// Keyspace notifications: `notify-keyspace-events` turned into flags, and
// the engine's changes turned into messages on `__keyspace@0__:<key>`
// (the event as message) and `__keyevent@0__:<event>` (the key as message).
//
// Redis's classes apply to the Redis-view commands, with Redis's event
// names: `set` ($) for SET and SETNX, `expire`, `persist` and `del` (g),
// `expired` (x) when a deadline passes. lockd adds class `L` (not part of
// `A`, so that `A` means what it means to Redis) for lock events, derived
// from every change of a key whatever command made it: `lock.grant` (a new
// holder), `lock.handoff` (a freed key granted to its head waiter),
// `lock.renew` (same holder, new deadline), `lock.release` (freed by its
// holder, DEL, or FLUSHALL) and `lock.expired`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cmd/pubsub.h"
#include "lockd/engine.h"

namespace lockd {

enum NotifyFlag : uint32_t {
  kNotifyKeyspace = 1 << 0,  // K
  kNotifyKeyevent = 1 << 1,  // E
  kNotifyGeneric = 1 << 2,   // g
  kNotifyString = 1 << 3,    // $
  kNotifyExpired = 1 << 4,   // x
  kNotifyLock = 1 << 5,      // L (lockd's own)
};

// The flags of a notify-keyspace-events value (as CONFIG GET shows it);
// letters of classes lockd has no keys for (l, s, h, z, t, ...) are ignored.
uint32_t ParseNotifyFlags(std::string_view value);

// What kind of command made a change: which Redis event it is.
enum class ChangeSource : uint8_t {
  kOther,    // lock commands, scripts' lock calls, the timer: lock events only
  kSet,      // SET, SETNX, ...: "set"
  kExpire,   // EXPIRE and friends: "expire" (or "del" when already past)
  kPersist,  // PERSIST: "persist"
  kFlush,    // FLUSHALL/FLUSHDB: no per-key Redis event
};

class Notifier {
 public:
  explicit Notifier(PubSub* pubsub) : pubsub_(pubsub) {}

  void set_flags(uint32_t flags) { flags_ = flags; }
  uint32_t flags() const { return flags_; }

  // One engine change, made by a command of kind `source`.
  void OnChange(const Change& change, ChangeSource source);
  // The change unit (a hand-off, a transaction) ended.
  void OnUnitEnd() { last_freed_.clear(); }
  // Publishes `event` on `key` if `type` is enabled.
  void Notify(uint32_t type, std::string_view event, std::string_view key);

 private:
  PubSub* pubsub_;
  uint32_t flags_ = 0;
  // The key freed last in the current unit: a grant of it right after is a
  // hand-off to a waiter.
  std::string last_freed_;
  std::string channel_;  // reused
};

}  // namespace lockd
