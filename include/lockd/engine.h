// The lease engine: every lock's state, and nothing else.
//
// The engine knows no sockets, RESP or files. Callers pass the current
// monotonic time into every call; the engine decides, issues fencing tokens
// from one counter, schedules deadlines on its timing wheel, and reports each
// state change to a ChangeListener so that it can be logged.
//
// Invariants (checked in engine.cc):
//   - a key has at most one holder; a free key has no entry at all;
//   - tokens strictly increase across every grant, on every key;
//   - a lease is held while now < deadline and never reported held after it;
//   - waiters on a key are served first-come, first-served, and a key that
//     frees with waiters is granted to the head waiter in the same call.
//
// Single-threaded: all calls come from the event loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lockd/clock.h"

namespace lockd {

using Token = uint64_t;

// Tokens are positive signed 64-bit integers end to end (replies, log
// records, the .tokens file): the counter stops at this value and never
// wraps. A server whose counter reaches it grants no new token
// (AcquireOutcome::kTokensExhausted); current holders keep their leases.
inline constexpr Token kMaxToken = static_cast<Token>(INT64_MAX);

// a + b, saturated at kMaxToken: reservations above the counter never wrap.
inline constexpr Token SaturatingAddTokens(Token a, Token b) {
  return a >= kMaxToken || b >= kMaxToken - a ? kMaxToken : a + b;
}

// The longest lease or wait the engine accepts, in milliseconds. Larger values
// are refused by the command layer ("invalid expire time"), so that
// now + ttl never overflows.
inline constexpr int64_t kMaxTimeoutMillis = int64_t{1} << 42;  // ~139 years

struct EngineOptions {
  // Number of key partitions, a power of two. Each partition has its own hash
  // table, so a table resize stalls the loop for 1/partitions of the keys.
  uint32_t partitions = 64;
  // lock-max-waiters: the longest wait queue on one key.
  uint32_t max_waiters_per_key = 10000;
  // How many timers (expiries, wait timeouts, wheel cascades) one Advance()
  // call may process before it yields back to the loop.
  uint32_t timer_budget = 2048;
  // Seed of the key hash. 0 (the default) draws one at random when the engine
  // is built, so that clients cannot aim keys at one table slot (hash
  // flooding); tests set it to make slot order reproducible.
  uint64_t hash_seed = 0;
};

enum class AcquireOutcome {
  kGranted,         // the key was free: granted with a new token
  kReacquired,      // already held by the same holder: deadline reset, token kept
  kBusy,            // held by another holder and the caller does not wait
  kQueued,          // held by another holder: the caller waits (see WaitListener)
  kTooManyWaiters,  // the key's wait queue is full (lock-max-waiters)
  // A new token would be needed but the counter is at kMaxToken: a free
  // key, or a wait for a held one (it could never be granted).
  kTokensExhausted,
};

// One queued waiter. Opaque; owned by the engine. Valid from the kQueued
// result until exactly one of these happens: the listener's OnWaitGranted or
// OnWaitTimedOut is called for it, or the caller calls CancelWait on it.
struct Waiter;

struct AcquireResult {
  AcquireOutcome outcome;
  Token token = 0;           // kGranted, kReacquired
  Waiter* waiter = nullptr;  // kQueued
};

// A read-only view of a held lease. The string_views point into engine memory
// and stay valid only until the next call that can change the engine.
struct LeaseView {
  std::string_view key;
  std::string_view holder;
  Token token = 0;
  std::optional<MonoTime> deadline;  // nullopt: no deadline
  uint32_t waiters = 0;
};

// What happened to a key, for the log (and later for WATCH). Every change of
// state is reported; a hand-off is a kFree followed by a kGrant (and kExtends
// for same-holder waiters) on the same key, bracketed by OnUnitBegin and
// OnUnitEnd so that the log can keep them one atomic unit.
enum class ChangeKind {
  kGrant,   // key now held by holder with token and deadline
  kExtend,  // same holder and token, new deadline (renew, re-acquire)
  kFree,    // key freed (release, expiry, delete)
};

enum class FreeCause { kNone, kRelease, kExpire, kDelete };

struct Change {
  ChangeKind kind;
  FreeCause cause = FreeCause::kNone;  // kFree only
  std::string_view key;
  std::string_view holder;           // kGrant, kExtend
  Token token = 0;                   // kGrant, kExtend
  std::optional<MonoTime> deadline;  // kGrant, kExtend
};

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual void OnChange(const Change& change) = 0;
  // The changes reported between these two calls belong together.
  virtual void OnUnitBegin() {}
  virtual void OnUnitEnd() {}
};

// Told when a queued waiter's wait ends. Called from inside engine calls
// (Release, Advance, ...); implementations must only record the outcome (write
// a reply, mark the client runnable), never call back into the engine.
//
// Who gets a key is decided as of the moment it freed, however late the call
// that notices it: a key that frees at F (its deadline, or now on release)
// goes to the first waiter whose wait had not ended by F; waiters ahead of it
// whose wait had ended time out. The waiters right behind the new holder with
// the same holder string are then granted too, with the same token (for them
// it is a re-acquire). A waiter whose wait has ended may still be counted in
// LeaseView::waiters until the timer for it runs. When the token counter is
// exhausted (kMaxToken) a key that frees cannot be granted: its waiters time
// out, and the key is free.
class WaitListener {
 public:
  virtual ~WaitListener() = default;
  // The waiter now holds the key with `token`. The Waiter is gone.
  virtual void OnWaitGranted(void* context, Token token) = 0;
  // wait_ms passed without a grant. The Waiter is gone.
  virtual void OnWaitTimedOut(void* context) = 0;
};

// SET's condition: NX, XX, or IFEQ (the current holder equals `compare`).
enum class SetCondition : uint8_t { kNone, kIfFree, kIfHeld, kIfEquals };

// What SET does with the deadline: none (no EX/PX/EXAT/PXAT/KEEPTTL, as in
// Redis: the lease has no deadline), `at` (at or before now: the key is set
// and expires at once), or keep the current lease's (KEEPTTL; a free key
// gets none).
enum class SetDeadlineMode : uint8_t { kNone, kAt, kKeep };

struct SetOptions {
  SetCondition condition = SetCondition::kNone;
  std::string_view compare;  // kIfEquals
  SetDeadlineMode deadline_mode = SetDeadlineMode::kNone;
  MonoTime deadline;          // kAt
  bool get_old = false;       // copy the old holder into SetResult (SET ... GET)
};

enum class SetOutcome : uint8_t {
  kSet,     // the key holds the value now (or it did and expired at once)
  kNotSet,  // the condition failed, or NX on a free key during the lock-delay
  // A new token would be needed during the restart lock-delay
  // (CloseGrantsUntil): nothing changed.
  kGrantsClosed,
  kTokensExhausted,  // a new token would be needed and the counter is at its end
};

struct SetResult {
  SetOutcome outcome = SetOutcome::kNotSet;
  Token token = 0;          // kSet, when the key is held afterwards
  bool had_old = false;     // the key was held before (get_old only)
  std::string old_holder;   // its holder (get_old only)
};

struct EngineStats {
  uint64_t grants = 0;     // every new token issued (including hand-offs)
  uint64_t renewals = 0;   // LOCK.RENEW successes and re-acquires by the holder
                           // (and same-holder waiters granted after a hand-off)
  uint64_t releases = 0;   // LOCK.RELEASE successes
  uint64_t expiries = 0;   // leases freed because their deadline passed
  uint64_t handoffs = 0;   // grants made to a waiter when a key freed
  uint64_t wait_timeouts = 0;
  uint64_t deletes = 0;    // keys freed by DEL, FLUSHALL, an expire time in the past, ...
};

class Engine {
 public:
  // `waits` must outlive the engine; `changes` may be null.
  Engine(const EngineOptions& options, WaitListener* waits, ChangeListener* changes);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // LOCK.ACQUIRE. ttl_ms in [1, kMaxTimeoutMillis]; wait_ms in
  // [0, kMaxTimeoutMillis], 0 meaning do not wait. `wait_context` is handed
  // back to the WaitListener when a queued wait ends.
  AcquireResult Acquire(std::string_view key, std::string_view holder, int64_t ttl_ms,
                        MonoTime now, int64_t wait_ms = 0, void* wait_context = nullptr);

  // LOCK.RENEW: true when `holder` holds `key` with `token`; the deadline
  // becomes now + ttl_ms and the token is kept.
  bool Renew(std::string_view key, std::string_view holder, Token token, int64_t ttl_ms,
             MonoTime now);

  // LOCK.RELEASE: true when `holder` held `key` with `token`; the key is then
  // handed to its head waiter, if any.
  bool Release(std::string_view key, std::string_view holder, Token token, MonoTime now);

  // SET key value [NX|XX|IFEQ] [GET] [EX|PX|EXAT|PXAT|KEEPTTL], and SETNX.
  // A value other than the current holder (or a free key) is a grant with a
  // new token, and the key's waiters keep their places (those at the head
  // with the new holder are granted too, as after a hand-off); the same
  // value keeps the token (an extend) and takes the deadline the options
  // say. A deadline at or before `now` frees the key (handed to its head
  // waiter) in the same call. During the restart lock-delay a SET that would
  // issue a token changes nothing: NX on a free key is kNotSet, the rest
  // kGrantsClosed.
  SetResult Set(std::string_view key, std::string_view value, const SetOptions& options,
                MonoTime now);

  // DEL: frees `key` if held (kFree, cause delete) and hands it to its head
  // waiter in the same call. True when it was held.
  bool Delete(std::string_view key, MonoTime now);

  // EXPIRE family and PERSIST: the lease on `key` keeps its holder and token
  // and takes `deadline` (nullopt: none). A deadline at or before `now`
  // deletes the key as Delete does. False when the key is free.
  bool SetDeadline(std::string_view key, std::optional<MonoTime> deadline, MonoTime now);

  // FLUSHALL: frees every key; a key with live waiters is handed to its head
  // waiter. The changes are reported as one unit. Returns the keys freed.
  size_t FlushAll(MonoTime now);

  // The lease on `key`, if held at `now`. A lease found past its deadline is
  // expired here (and handed off), exactly as the timer would have done.
  std::optional<LeaseView> Find(std::string_view key, MonoTime now);

  // Removes a queued waiter (its connection closed, or CLIENT UNBLOCK). The
  // listener is not called.
  void CancelWait(Waiter* waiter);

  // Calls `visit` for each lease held at `now` from `cursor` on, until about
  // `count` leases were visited or 10 * `count` slots were walked (as Redis's
  // SCAN COUNT); returns the next cursor, 0 when the scan is complete. A key held for the whole scan is visited at least
  // once unless the table resized meanwhile (see DESIGN.md).
  // Leases past their deadline are skipped, not expired; `visit` must not
  // call into the engine.
  uint64_t Scan(uint64_t cursor, size_t count, MonoTime now,
                const std::function<void(const LeaseView&)>& visit);

  // The timing wheel. NextWakeup() is when Advance() must next run: nullopt
  // when nothing is scheduled, a time <= now when due work is pending.
  std::optional<MonoTime> NextWakeup() const;
  // Fires due deadlines (expiries, wait timeouts) within the timer budget.
  // Returns true when due work remains and Advance should run again soon.
  // Timers fire late (at the first Advance at or after their deadline rounded
  // up to the millisecond), never early.
  bool Advance(MonoTime now);

  // Held keys, counting leases past their deadline that no call has expired
  // yet (as Redis's DBSIZE counts keys not yet evicted).
  size_t size() const;
  size_t waiter_count() const;  // queued waiters on all keys
  // Held keys without a deadline (SET without one, PERSIST).
  size_t leases_without_deadline() const;
  Token last_token() const;
  // Whether the counter is at kMaxToken: no new token can be issued.
  bool tokens_exhausted() const;
  // Replay and restart: the next token issued will be greater than `token`
  // (`token` is at most kMaxToken).
  void RaiseLastToken(Token token);

  // Log replay: sets `key`'s lease as the log says, replacing any lease it
  // had, without telling the ChangeListener and without checking the
  // deadline (nothing expires while the log loads; the timer frees leases
  // past their deadline at the first Advance afterwards). nullopt: no
  // deadline. Raises the token counter to at least `token`. No waiter may be
  // queued while replaying.
  void Restore(std::string_view key, std::string_view holder, Token token,
               std::optional<MonoTime> deadline, MonoTime now);
  // Log replay: makes room for about `count` keys at once, so that loading
  // a large log does not grow the tables step by step.
  void ReserveLeases(size_t count);
  // Log replay: starts loading `key`'s table slot into the cache, so that a
  // batch of Restore calls does not wait for memory one key at a time.
  void Prefetch(std::string_view key) const;
  // Log replay: removes `key`'s lease, if any, silently.
  void Remove(std::string_view key);
  // Calls `visit` for every lease in the tables, including leases past their
  // deadline that no call has expired yet. Reads only: safe in a forked
  // child. `visit` must not call into the engine.
  void ForEachLease(const std::function<void(const LeaseView&)>& visit) const;

  // Restart lock-delay: until `until`, no key is granted with a new token.
  // Acquire on a free key, and any Acquire that would wait, reports kBusy;
  // re-acquires and renewals by the current holder go on. Queued waiters
  // are unaffected (none can be queued while the gate is closed).
  void CloseGrantsUntil(MonoTime until);
  std::optional<MonoTime> grants_closed_until() const;
  // A replica's engine: leases are changed only by Restore and Remove (its
  // primary's records), so nothing expires on its own: Advance does
  // nothing, NextWakeup is nullopt, and Find reports a lease past its
  // deadline as free without freeing it. Turned off at promotion, when due
  // deadlines fire at the next Advance.
  void set_passive(bool passive);
  bool passive() const;
  // What lookups (Find, Scan) showed of leases since the last TakeViews:
  // the largest token, the latest deadline, whether one had no deadline.
  // Replies that show a lease wait for what covers it (the replicas' acks of
  // a reservation, src/repl/); a change is reported to the ChangeListener
  // instead.
  struct Views {
    bool any = false;
    Token max_token = 0;
    std::optional<MonoTime> max_deadline;
    bool no_deadline = false;
  };
  Views TakeViews();
  const EngineStats& stats() const;
  void ResetStats();
  // CONFIG SET lock-max-waiters: applies to waits queued from now on; longer
  // queues that already exist are left as they are.
  void set_max_waiters_per_key(uint32_t max_waiters);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockd
