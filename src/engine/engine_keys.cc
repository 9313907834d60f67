// The Redis key-writing commands as operations on the same leases: SET (with
// its conditions and deadline modes), DEL, the EXPIRE family and PERSIST,
// FLUSHALL. A key's value is its holder, so
//
//   free  --SET v-------------------------------> held by v (new token)
//   held by v  --SET v--------------------------> held by v (token kept, deadline as SET says)
//   held by u  --SET v--------------------------> held by v (new token, waiters keep their places)
//   held  --DEL / deadline <= now / FLUSHALL---> freed, then handed to the head waiter
//   held  --EXPIRE / PERSIST--------------------> held (token kept, new deadline or none)
//
// Every path settles the key first (a lease past its deadline is expired and
// handed off, as everywhere in the engine), and every freeing goes through
// HandOff, so FIFO waiters are served exactly as after a release.
#include <algorithm>
#include <vector>

#include "engine/engine_impl.h"
#include "util/check.h"

namespace lockd {

SetResult Engine::Impl::Set(std::string_view key, std::string_view value,
                            const SetOptions& options, MonoTime now) {
  LOCKD_CHECK(now.us >= 0);
  Place place = Locate(key);
  LeaseEntry* entry = ExpireIfDue(place, key, now);
  SetResult result;
  if (options.get_old && entry != nullptr) {
    // Copied now: a change of holder below may move or rewrite the entry.
    result.had_old = true;
    result.old_holder.assign(entry->holder());
  }
  bool pass = true;
  switch (options.condition) {
    case SetCondition::kNone: break;
    case SetCondition::kIfFree: pass = entry == nullptr; break;
    case SetCondition::kIfHeld: pass = entry != nullptr; break;
    case SetCondition::kIfEquals: pass = entry != nullptr && entry->holder() == options.compare; break;
  }
  if (!pass) return result;

  std::optional<MonoTime> deadline;
  if (options.deadline_mode == SetDeadlineMode::kAt) {
    deadline = options.deadline;
  } else if (options.deadline_mode == SetDeadlineMode::kKeep && entry != nullptr) {
    deadline = entry->lease_deadline();
  }
  if (deadline && *deadline <= now) {
    // Redis sets the key and it is expired at once (EXAT/PXAT in the past):
    // the end state is a free key, so no token is issued for it. The old
    // lease, if any, ends now and its key goes to the head waiter.
    if (entry != nullptr) {
      ++stats_.deletes;
      HandOff(*place.table, place.probe.slot, entry, FreeCause::kDelete, now, now);
    }
    result.outcome = SetOutcome::kSet;
    return result;
  }

  const bool same_holder = entry != nullptr && entry->holder() == value;
  if (!same_holder) {
    if (now < grants_closed_until_) {
      // The restart lock-delay: a lease lost in a crash may still run. NX on
      // a free key answers as a busy key would, like LOCK.ACQUIRE.
      result.outcome = entry == nullptr && options.condition == SetCondition::kIfFree
                           ? SetOutcome::kNotSet
                           : SetOutcome::kGrantsClosed;
      return result;
    }
    if (TokensExhausted()) {
      result.outcome = SetOutcome::kTokensExhausted;
      return result;
    }
  }

  if (entry == nullptr) {
    // Free: exactly Acquire's grant, so a lock taken with SET NX PX costs
    // what LOCK.ACQUIRE's does, in time and in memory.
    entry = NewLeaseEntry(slab_, key, value, LeaseTable::HashLow(place.hash));
    longest_key_ = std::max(longest_key_, key.size());
    entry->token = NextToken(0);
    place.table->InsertAt(place.probe.slot, entry, place.hash);
    ++size_;
    SetLeaseDeadline(entry, deadline, now);
    ++stats_.grants;
    EmitHeld(ChangeKind::kGrant, entry);
    result.outcome = SetOutcome::kSet;
    result.token = entry->token;
    return result;
  }

  wheel_.Cancel(&entry->node);
  if (same_holder) {
    SetLeaseDeadline(entry, deadline, now);
    ++stats_.renewals;
    EmitHeld(ChangeKind::kExtend, entry);
    result.outcome = SetOutcome::kSet;
    result.token = entry->token;
    return result;
  }

  // A new holder: a grant with a new token; the waiters stay queued.
  Token token = NextToken(entry->token);
  LeaseEntry* moved = ChangeHolder(slab_, entry, value);
  if (moved != entry) place.table->ReplaceAt(place.probe.slot, moved);
  entry = moved;
  entry->token = token;
  SetLeaseDeadline(entry, deadline, now);
  longest_key_ = std::max(longest_key_, key.size());
  ++stats_.grants;
  const bool unit = entry->has_waiters() && changes_ != nullptr;
  if (unit) changes_->OnUnitBegin();
  EmitHeld(ChangeKind::kGrant, entry);
  if (entry->has_waiters()) GrantSameHolderWaiters(entry, now);
  if (unit) changes_->OnUnitEnd();
  result.outcome = SetOutcome::kSet;
  result.token = token;
  return result;
}

bool Engine::Impl::GrantSameHolderWaiters(LeaseEntry* entry, MonoTime now) {
  WaitQueue* queue = queues_.Find(entry->key());
  LOCKD_CHECK(queue != nullptr && queue->size > 0);
  bool any = false;
  while (queue->head != nullptr) {
    Waiter* waiter = queue->head;
    if (waiter->node.deadline() <= now.us) {
      // Its wait is over; its timer has not run yet.
      void* context = DetachWaiter(waiter);
      ++stats_.wait_timeouts;
      waits_->OnWaitTimedOut(context);
      continue;
    }
    if (waiter->holder != entry->holder()) break;
    wheel_.Cancel(&entry->node);
    ScheduleLease(entry, MonoTime{now.us + waiter->ttl_ms * 1000}, now);
    void* context = DetachWaiter(waiter);
    ++stats_.renewals;
    EmitHeld(ChangeKind::kExtend, entry);
    waits_->OnWaitGranted(context, entry->token);
    any = true;
  }
  DropQueueIfEmpty(queue, entry);
  return any;
}

bool Engine::Impl::Delete(std::string_view key, MonoTime now) {
  if (CannotBeHeld(key)) return false;
  Place place = Locate(key);
  LeaseEntry* entry = ExpireIfDue(place, key, now);
  if (entry == nullptr) return false;
  ++stats_.deletes;
  HandOff(*place.table, place.probe.slot, entry, FreeCause::kDelete, now, now);
  return true;
}

bool Engine::Impl::SetDeadline(std::string_view key, std::optional<MonoTime> deadline,
                               MonoTime now) {
  if (CannotBeHeld(key)) return false;
  Place place = Locate(key);
  LeaseEntry* entry = ExpireIfDue(place, key, now);
  if (entry == nullptr) return false;
  if (deadline && *deadline <= now) {
    // Redis deletes a key given an expire time in the past.
    ++stats_.deletes;
    HandOff(*place.table, place.probe.slot, entry, FreeCause::kDelete, now, now);
    return true;
  }
  wheel_.Cancel(&entry->node);
  SetLeaseDeadline(entry, deadline, now);
  ++stats_.renewals;
  EmitHeld(ChangeKind::kExtend, entry);
  return true;
}

size_t Engine::Impl::FlushAll(MonoTime now) {
  if (size_ == 0) return 0;
  if (changes_ != nullptr) changes_->OnUnitBegin();
  size_t freed = 0;
  std::vector<LeaseEntry*> entries;
  for (LeaseTable& table : tables_) {
    if (table.size() == 0) continue;
    // Collected first: every free shifts the table's slots. Entries do not
    // move unless handed off, and each is visited once.
    entries.clear();
    entries.reserve(table.size());
    table.ScanFrom(0, table.capacity(), [&](LeaseEntry* entry) { entries.push_back(entry); });
    for (LeaseEntry* entry : entries) {
      size_t slot = table.SlotOf(entry, hasher_(entry->key()));
      if (now >= entry->deadline()) {
        // As everywhere, a lease past its deadline expired then, and its
        // waiter (if any) holds the key now: that lease is the one flushed.
        // A hand-off keeps the key in its slot.
        entry = Expire(table, slot, entry, now);
        if (entry == nullptr) continue;
      }
      ++stats_.deletes;
      HandOff(table, slot, entry, FreeCause::kDelete, now, now);
      ++freed;
    }
  }
  if (changes_ != nullptr) changes_->OnUnitEnd();
  return freed;
}

// --- Engine: the public surface forwards to Impl.

SetResult Engine::Set(std::string_view key, std::string_view value, const SetOptions& options,
                      MonoTime now) {
  return impl_->Set(key, value, options, now);
}

bool Engine::Delete(std::string_view key, MonoTime now) { return impl_->Delete(key, now); }

bool Engine::SetDeadline(std::string_view key, std::optional<MonoTime> deadline, MonoTime now) {
  return impl_->SetDeadline(key, deadline, now);
}

size_t Engine::FlushAll(MonoTime now) { return impl_->FlushAll(now); }

}  // namespace lockd
