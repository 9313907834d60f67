// Engine::Impl: the state behind lockd::Engine and the operations shared by
// engine.cc (the per-key commands) and engine_handoff.cc (expiry, hand-off,
// waiters and the timer callbacks).
//
// State: partitions of LeaseTables holding slab-allocated LeaseEntries, the
// wait queues by key, one TimingWheel for lease deadlines and wait timeouts,
// and the token counter. Invariants are listed in lockd/engine.h and checked
// where they could break.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/hash.h"
#include "engine/lease_entry.h"
#include "engine/lease_table.h"
#include "engine/slab.h"
#include "engine/timing_wheel.h"
#include "engine/wait_queue.h"
#include "lockd/engine.h"

namespace lockd {

struct Engine::Impl final : TimerHandler {
  // Where a key is, or would be inserted.
  struct Place {
    LeaseTable* table;
    LeaseTable::Probe probe;
    uint64_t hash;
    LeaseEntry* entry;  // null when the key is free
  };

  Impl(const EngineOptions& options, WaitListener* waits, ChangeListener* changes);
  ~Impl() override;

  // --- engine.cc: the per-key commands.
  AcquireResult Acquire(std::string_view key, std::string_view holder, int64_t ttl_ms, MonoTime now,
                        int64_t wait_ms, void* wait_context);
  bool Renew(std::string_view key, std::string_view holder, Token token, int64_t ttl_ms,
             MonoTime now);
  bool Release(std::string_view key, std::string_view holder, Token token, MonoTime now);
  std::optional<LeaseView> Find(std::string_view key, MonoTime now);
  void Restore(std::string_view key, std::string_view holder, Token token,
               std::optional<MonoTime> deadline, MonoTime now);
  void Remove(std::string_view key);
  uint64_t Scan(uint64_t cursor, size_t count, MonoTime now,
                const std::function<void(const LeaseView&)>& visit);

  // --- engine_keys.cc: the Redis key-writing commands.
  SetResult Set(std::string_view key, std::string_view value, const SetOptions& options,
                MonoTime now);
  bool Delete(std::string_view key, MonoTime now);
  bool SetDeadline(std::string_view key, std::optional<MonoTime> deadline, MonoTime now);
  size_t FlushAll(MonoTime now);
  // After `entry` changed holder outside a hand-off (SET): the waiters at the
  // head of its queue with the new holder are granted too (a re-acquire for
  // them, as after a hand-off). Returns whether any was.
  bool GrantSameHolderWaiters(LeaseEntry* entry, MonoTime now);

  bool CannotBeHeld(std::string_view key) const { return key.size() > longest_key_; }
  // The counter is at kMaxToken: no new token can be issued, ever.
  bool TokensExhausted() const { return last_token_ >= kMaxToken; }
  Place Locate(std::string_view key) {
    uint64_t hash = hasher_(key);
    LeaseTable* table = &tables_[(hash >> 32) & partition_mask_];
    LeaseTable::Probe probe = table->Lookup(key, hash);
    return Place{table, probe, hash, probe.found ? table->At(probe.slot) : nullptr};
  }
  LeaseView View(const LeaseEntry* entry) const;

  // --- engine_handoff.cc: the ways a lease ends and a wait ends.

  // If the lease at `place` is past its deadline, expires it (and hands the
  // key off) as the timer would have; `place` then describes the key's new
  // state. Returns the entry, or null when the key is free.
  LeaseEntry* ExpireIfDue(Place& place, std::string_view key, MonoTime now);
  // The lease at `place` if `holder` holds it with `token` at `now`, else
  // null. A lease found past its deadline is expired first: it can be
  // neither renewed nor released, whoever holds the key after it.
  LeaseEntry* HeldBy(Place& place, std::string_view key, std::string_view holder, Token token,
                     MonoTime now);
  // The lease's deadline passed: kFree(kExpire), then the hand-off as of the
  // deadline. Returns the key's entry afterwards, or null.
  LeaseEntry* Expire(LeaseTable& table, size_t slot, LeaseEntry* entry, MonoTime now);
  // The key became free at `free_time` (the deadline, or now on release):
  // grants it at `now` to the first waiter still waiting at `free_time`, then
  // to the waiters right behind with the same holder; waiters ahead of it
  // whose wait had ended by `free_time` time out. Without such a waiter the
  // entry is removed. Returns the key's entry afterwards, or null.
  // Reports kFree(cause) first, bracketed with the grants as one unit when
  // a waiter takes the key.
  LeaseEntry* HandOff(LeaseTable& table, size_t slot, LeaseEntry* entry, FreeCause cause,
                      MonoTime free_time, MonoTime now);
  AcquireResult Enqueue(LeaseEntry* entry, std::string_view holder, int64_t ttl_ms, MonoTime now,
                        int64_t wait_ms, void* context);
  void CancelWait(Waiter* waiter);
  bool Advance(MonoTime now);
  void OnTimer(TimerNode* node) override;

  // --- helpers
  Token NextToken(Token replaced) {
    // Tokens strictly increase at every grant; the counter never wraps
    // (callers check TokensExhausted() first).
    LOCKD_CHECK(last_token_ < kMaxToken);
    Token token = ++last_token_;
    LOCKD_CHECK(token > replaced);
    return token;
  }
  void ScheduleLease(LeaseEntry* entry, MonoTime deadline, MonoTime now) {
    if (!entry->has_deadline()) --no_deadline_;
    wheel_.Schedule(&entry->node, deadline.us, now.us);
  }
  // Gives an entry whose timer is not scheduled its new deadline; nullopt:
  // none, and then nothing is scheduled.
  void SetLeaseDeadline(LeaseEntry* entry, std::optional<MonoTime> deadline, MonoTime now) {
    if (deadline) {
      ScheduleLease(entry, *deadline, now);
    } else if (entry->has_deadline()) {
      ++no_deadline_;
      entry->node.deadline_us = static_cast<uint64_t>(LeaseEntry::kNoDeadline);
    }
  }
  void EmitHeld(ChangeKind kind, const LeaseEntry* entry) {
    if (changes_ == nullptr) return;
    changes_->OnChange(Change{.kind = kind,
                              .key = entry->key(),
                              .holder = entry->holder(),
                              .token = entry->token,
                              .deadline = entry->lease_deadline()});
  }
  void EmitFree(FreeCause cause, const LeaseEntry* entry) {
    if (changes_ == nullptr) return;
    changes_->OnChange(Change{.kind = ChangeKind::kFree, .cause = cause, .key = entry->key()});
  }
  // Unlinks `waiter` from its queue and the wheel and frees it; returns its
  // context. The queue may be left empty: see DropQueueIfEmpty.
  void* DetachWaiter(Waiter* waiter);
  // Shrinks a sparse table, at most once per Advance call.
  void MaybeShrink(LeaseTable& table);
  // Erases `queue` if empty and clears its key's has-waiters bit; `entry` is
  // the key's entry when the caller has it, else it is looked up.
  void DropQueueIfEmpty(WaitQueue* queue, LeaseEntry* entry);

  EngineOptions options_;
  WaitListener* waits_;
  ChangeListener* changes_;
  StringHasher hasher_;
  SlabAllocator slab_;
  std::vector<LeaseTable> tables_;
  uint64_t partition_mask_;
  WaitQueues queues_;
  TimingWheel wheel_;
  Token last_token_ = 0;
  // The restart lock-delay: no new token before this time (0: open).
  MonoTime grants_closed_until_{0};
  EngineStats stats_;
  size_t size_ = 0;
  // Entries without a deadline (INFO keyspace's keys minus expires).
  size_t no_deadline_ = 0;
  // An entry leaves the tables: the count of those without a deadline.
  void Forget(const LeaseEntry* entry) {
    if (!entry->has_deadline()) --no_deadline_;
  }
  // The longest key ever held. A longer key cannot be held now, so reads,
  // renewals and releases of it are answered without hashing it: EXISTS of
  // a 512 MB key must not stall the loop for the time it takes to hash it.
  size_t longest_key_ = 0;
  size_t waiter_count_ = 0;
  // The `now` of the Advance in progress, for the timer callbacks.
  MonoTime advance_now_;
  // The waiter whose timer is firing; DetachWaiter clears it, which tells
  // the callback that a hand-off granted this waiter meanwhile.
  Waiter* firing_waiter_ = nullptr;
  bool advancing_ = false;
  // A replica's engine (Engine::set_passive): nothing expires on its own.
  bool passive_ = false;
  // See Engine::TakeViews; View() is const, and this is only a record.
  mutable Engine::Views views_;
  bool shrunk_this_advance_ = false;
};

}  // namespace lockd
