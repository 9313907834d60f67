// How leases and waits end: expiry (by the timer or found on access),
// hand-off to waiters, wait timeouts and cancels.
//
// Decisions are taken as of the moment of the event, not of the call that
// processes it, so the outcome does not depend on how late the timer fired
// or in which order due timers run. A key that frees at time F (its deadline
// on expiry, now on release) goes to the first waiter still waiting at F
// (wait deadline > F); waiters whose wait ended by F time out. A due wait
// timer first expires the key's lease if that lease ended before the wait
// did, since the waiter was then still waiting when the key freed. Grants are
// made at the processing time `now`: the new lease runs ttl from `now`.
//
// After a hand-off, the waiters right behind the new holder that have the
// same holder are granted too, with the same token: the key is now their own
// lock, so this is a re-acquire (kExtend, deadline reset, counted as a
// renewal), and leaving them queued would only make them wait for themselves.
#include <cstdint>

#include "engine/engine_impl.h"
#include "util/check.h"

namespace lockd {

LeaseEntry* Engine::Impl::ExpireIfDue(Place& place, std::string_view key, MonoTime now) {
  // A lease is held while now < deadline.
  if (place.entry == nullptr || now < place.entry->deadline()) return place.entry;
  place.entry = Expire(*place.table, place.probe.slot, place.entry, now);
  if (place.entry == nullptr) {
    // The erase shifted entries; find the slot the key would now go to.
    place.probe = place.table->Lookup(key, place.hash);
    LOCKD_CHECK(!place.probe.found);
  }
  return place.entry;
}

LeaseEntry* Engine::Impl::Expire(LeaseTable& table, size_t slot, LeaseEntry* entry, MonoTime now) {
  MonoTime deadline = entry->deadline();
  LOCKD_CHECK(deadline <= now);
  ++stats_.expiries;
  return HandOff(table, slot, entry, FreeCause::kExpire, deadline, now);
}

LeaseEntry* Engine::Impl::HandOff(LeaseTable& table, size_t slot, LeaseEntry* entry,
                                  FreeCause cause, MonoTime free_time, MonoTime now) {
  wheel_.Cancel(&entry->node);
  WaitQueue* queue = entry->has_waiters() ? queues_.Find(entry->key()) : nullptr;
  LOCKD_CHECK(entry->has_waiters() == (queue != nullptr && queue->size > 0));
  // Will a waiter take the key? Then the free and the grant are one unit.
  // With the token counter at its end nobody can take the key: every waiter
  // times out below.
  const bool can_grant = !TokensExhausted();
  bool handing_off = false;
  for (Waiter* w = queue != nullptr && can_grant ? queue->head : nullptr; w != nullptr;
       w = w->next) {
    if (w->node.deadline() > free_time.us) {
      handing_off = true;
      break;
    }
  }
  if (handing_off && changes_ != nullptr) changes_->OnUnitBegin();
  EmitFree(cause, entry);
  bool granted = false;
  while (queue != nullptr && queue->head != nullptr) {
    Waiter* waiter = queue->head;
    if (waiter->node.deadline() <= free_time.us || !can_grant) {
      // Its wait was over before the key freed (or no token is left).
      void* context = DetachWaiter(waiter);
      ++stats_.wait_timeouts;
      waits_->OnWaitTimedOut(context);
      continue;
    }
    if (!granted) {
      Token token = NextToken(entry->token);
      LeaseEntry* moved = ChangeHolder(slab_, entry, waiter->holder);
      if (moved != entry) table.ReplaceAt(slot, moved);
      entry = moved;
      entry->token = token;
      ScheduleLease(entry, MonoTime{now.us + waiter->ttl_ms * 1000}, now);
      void* context = DetachWaiter(waiter);
      ++stats_.grants;
      ++stats_.handoffs;
      EmitHeld(ChangeKind::kGrant, entry);
      waits_->OnWaitGranted(context, token);
      granted = true;
    } else if (waiter->holder == entry->holder()) {
      wheel_.Cancel(&entry->node);
      ScheduleLease(entry, MonoTime{now.us + waiter->ttl_ms * 1000}, now);
      void* context = DetachWaiter(waiter);
      ++stats_.renewals;
      EmitHeld(ChangeKind::kExtend, entry);
      waits_->OnWaitGranted(context, entry->token);
    } else {
      break;
    }
  }
  LOCKD_CHECK(granted == handing_off);
  if (granted) {
    if (changes_ != nullptr) changes_->OnUnitEnd();
    if (queue->size == 0) DropQueueIfEmpty(queue, entry);
    return entry;
  }
  // Nobody was still waiting: the key is free, and a free key has no entry.
  if (queue != nullptr) {
    LOCKD_CHECK(queue->size == 0);
    queues_.Erase(queue);
  }
  table.EraseAt(slot);
  Forget(entry);
  DeleteLeaseEntry(slab_, entry);
  --size_;
  MaybeShrink(table);
  return nullptr;
}

AcquireResult Engine::Impl::Enqueue(LeaseEntry* entry, std::string_view holder, int64_t ttl_ms,
                                    MonoTime now, int64_t wait_ms, void* context) {
  WaitQueue* queue = entry->has_waiters() ? queues_.Find(entry->key()) : nullptr;
  LOCKD_CHECK(entry->has_waiters() == (queue != nullptr && queue->size > 0));
  size_t queued = queue == nullptr ? 0 : queue->size;
  if (queued >= options_.max_waiters_per_key) {
    return AcquireResult{.outcome = AcquireOutcome::kTooManyWaiters};
  }
  if (queue == nullptr) {
    queue = queues_.FindOrCreate(entry->key());
    entry->set_has_waiters(true);
  }
  auto* waiter = new Waiter;
  waiter->node.kind = static_cast<uint64_t>(TimerKind::kWaiter);
  waiter->context = context;
  waiter->ttl_ms = ttl_ms;
  waiter->holder.assign(holder);
  queue->PushBack(waiter);
  wheel_.Schedule(&waiter->node, now.us + wait_ms * 1000, now.us);
  ++waiter_count_;
  return AcquireResult{.outcome = AcquireOutcome::kQueued, .waiter = waiter};
}

void* Engine::Impl::DetachWaiter(Waiter* waiter) {
  LOCKD_CHECK(waiter->queue != nullptr);
  waiter->queue->Remove(waiter);
  wheel_.Cancel(&waiter->node);
  LOCKD_CHECK(waiter_count_ > 0);
  --waiter_count_;
  if (waiter == firing_waiter_) firing_waiter_ = nullptr;
  void* context = waiter->context;
  delete waiter;
  return context;
}

void Engine::Impl::DropQueueIfEmpty(WaitQueue* queue, LeaseEntry* entry) {
  if (queue->size != 0) return;
  if (entry == nullptr) {
    // A queue exists only while its key is held.
    entry = Locate(queue->key).entry;
    LOCKD_CHECK(entry != nullptr);
  }
  LOCKD_CHECK(entry->has_waiters());
  entry->set_has_waiters(false);
  queues_.Erase(queue);
}

void Engine::Impl::CancelWait(Waiter* waiter) {
  LOCKD_CHECK(waiter != nullptr);
  WaitQueue* queue = waiter->queue;
  DetachWaiter(waiter);
  DropQueueIfEmpty(queue, nullptr);
}

void Engine::Impl::MaybeShrink(LeaseTable& table) {
  if (!table.wants_shrink()) return;
  // A shrink rehashes the partition. Keys expire evenly over partitions, so
  // they all turn sparse together: one Advance call expiring thousands of
  // keys would shrink many in a row. One per Advance call keeps each call
  // short; a table left sparse shrinks on a later erase.
  if (advancing_) {
    if (shrunk_this_advance_) return;
    shrunk_this_advance_ = true;
  }
  table.Shrink();
}

bool Engine::Impl::Advance(MonoTime now) {
  advance_now_ = now;
  advancing_ = true;
  shrunk_this_advance_ = false;
  bool more = wheel_.Advance(now.us, options_.timer_budget, this);
  advancing_ = false;
  return more;
}

void Engine::Impl::OnTimer(TimerNode* node) {
  MonoTime now = advance_now_;
  // The wheel fires late, never early.
  LOCKD_CHECK(node->deadline() <= now.us);
  if (node->timer_kind() == TimerKind::kLease) {
    auto* entry = reinterpret_cast<LeaseEntry*>(node);
    uint64_t hash = hasher_(entry->key());
    LeaseTable& table = tables_[(hash >> 32) & partition_mask_];
    Expire(table, table.SlotOf(entry, hash), entry, now);
    return;
  }
  auto* waiter = reinterpret_cast<Waiter*>(node);
  WaitQueue* queue = waiter->queue;
  Place place = Locate(queue->key);
  LOCKD_CHECK(place.entry != nullptr);
  if (place.entry->deadline().us < waiter->node.deadline()) {
    // The lease ended while this waiter still waited: that hand-off comes
    // first, and may grant this very waiter.
    firing_waiter_ = waiter;
    Expire(*place.table, place.probe.slot, place.entry, now);
    if (firing_waiter_ == nullptr) return;
    firing_waiter_ = nullptr;
  }
  void* context = DetachWaiter(waiter);
  ++stats_.wait_timeouts;
  DropQueueIfEmpty(queue, nullptr);
  waits_->OnWaitTimedOut(context);
}

}  // namespace lockd
