// lockd::Engine: the per-key lease state machine and the
// public API around it. Every command first settles the key: a lease found
// past its deadline is expired and handed off exactly as its timer would
// have done, so no call ever sees a lease held at or after its deadline.
//
//   free  --Acquire--------------------------------> held (new token)
//   held  --Acquire same holder / Renew-----------> held (deadline reset, token kept)
//   held  --Acquire other, WAIT>0-----------------> held + a queued waiter
//   held  --Release / expiry, a live waiter------> held by the waiter (new token)
//   held  --Release / expiry, no live waiter-----> free (entry removed)
#include <algorithm>
#include <cstdint>
#include <utility>

#include "engine/engine_impl.h"
#include "util/check.h"

namespace lockd {

namespace {

// A Scan cursor is (partition << kCursorSlotBits) | slot; cursor 0 is the
// start, and no cursor returned mid-scan is 0 (slot 0 of partition 0 is
// only ever where a scan starts).
constexpr int kCursorSlotBits = 40;
constexpr uint64_t kCursorSlotMask = (uint64_t{1} << kCursorSlotBits) - 1;

MonoTime After(MonoTime now, int64_t ms) { return MonoTime{now.us + ms * 1000}; }

}  // namespace

Engine::Impl::Impl(const EngineOptions& options, WaitListener* waits, ChangeListener* changes)
    : options_(options),
      waits_(waits),
      changes_(changes),
      hasher_(options.hash_seed != 0 ? options.hash_seed : RandomHashSeed()),
      partition_mask_(options.partitions - 1),
      queues_(hasher_) {
  LOCKD_CHECK(waits_ != nullptr);
  // Partitions are chosen by 16 bits of the hash: a power of two up to 65536.
  LOCKD_CHECK(options.partitions >= 1 && options.partitions <= 65536 &&
              (options.partitions & (options.partitions - 1)) == 0);
  LOCKD_CHECK(options.timer_budget >= 1);
  tables_.reserve(options.partitions);
  for (uint32_t i = 0; i < options.partitions; ++i) tables_.emplace_back();
}

Engine::Impl::~Impl() {
  // Waiters first: their queues' keys are looked up in nothing here, and the
  // listener is not told (the engine is going away with its clients).
  queues_.ForEachWaiter([this](Waiter* waiter) {
    wheel_.Cancel(&waiter->node);
    delete waiter;
  });
  for (LeaseTable& table : tables_) {
    table.ScanFrom(0, table.capacity(), [this](LeaseEntry* entry) {
      wheel_.Cancel(&entry->node);
      DeleteLeaseEntry(slab_, entry);
    });
  }
}

AcquireResult Engine::Impl::Acquire(std::string_view key, std::string_view holder, int64_t ttl_ms,
                                    MonoTime now, int64_t wait_ms, void* wait_context) {
  LOCKD_CHECK(ttl_ms >= 1 && ttl_ms <= kMaxTimeoutMillis);
  LOCKD_CHECK(wait_ms >= 0 && wait_ms <= kMaxTimeoutMillis);
  LOCKD_CHECK(now.us >= 0);
  Place place = Locate(key);
  LeaseEntry* entry = ExpireIfDue(place, key, now);
  if (now < grants_closed_until_ && (entry == nullptr || entry->holder() != holder)) {
    // The restart lock-delay: a lease lost in a crash may still run.
    return AcquireResult{.outcome = AcquireOutcome::kBusy};
  }
  if (entry == nullptr || (entry->holder() != holder && wait_ms > 0)) {
    // A new token is needed now (a free key) or later (a wait): with the
    // counter at its end, refuse rather than wrap or queue forever.
    if (TokensExhausted()) return AcquireResult{.outcome = AcquireOutcome::kTokensExhausted};
  }
  if (entry == nullptr) {
    // Free: grant with a new token. The probe's empty slot is where it goes.
    entry = NewLeaseEntry(slab_, key, holder, LeaseTable::HashLow(place.hash));
    longest_key_ = std::max(longest_key_, key.size());
    entry->token = NextToken(0);
    place.table->InsertAt(place.probe.slot, entry, place.hash);
    ++size_;
    ScheduleLease(entry, After(now, ttl_ms), now);
    ++stats_.grants;
    EmitHeld(ChangeKind::kGrant, entry);
    return AcquireResult{.outcome = AcquireOutcome::kGranted, .token = entry->token};
  }
  if (entry->holder() == holder) {
    // A retried acquire by the holder (say, after a lost reply) must not lock
    // it out: reset the deadline, even if that shortens it; keep the token.
    wheel_.Cancel(&entry->node);
    ScheduleLease(entry, After(now, ttl_ms), now);
    ++stats_.renewals;
    EmitHeld(ChangeKind::kExtend, entry);
    return AcquireResult{.outcome = AcquireOutcome::kReacquired, .token = entry->token};
  }
  if (wait_ms == 0) return AcquireResult{.outcome = AcquireOutcome::kBusy};
  return Enqueue(entry, holder, ttl_ms, now, wait_ms, wait_context);
}

bool Engine::Impl::Renew(std::string_view key, std::string_view holder, Token token, int64_t ttl_ms,
                         MonoTime now) {
  LOCKD_CHECK(ttl_ms >= 1 && ttl_ms <= kMaxTimeoutMillis);
  if (CannotBeHeld(key)) return false;
  Place place = Locate(key);
  LeaseEntry* entry = HeldBy(place, key, holder, token, now);
  if (entry == nullptr) return false;
  wheel_.Cancel(&entry->node);
  ScheduleLease(entry, After(now, ttl_ms), now);
  ++stats_.renewals;
  EmitHeld(ChangeKind::kExtend, entry);
  return true;
}

LeaseEntry* Engine::Impl::HeldBy(Place& place, std::string_view key, std::string_view holder,
                                 Token token, MonoTime now) {
  if (place.entry == nullptr) return nullptr;
  if (now >= place.entry->deadline()) {
    ExpireIfDue(place, key, now);
    return nullptr;
  }
  LeaseEntry* entry = place.entry;
  if (entry->token != token || entry->holder() != holder) return nullptr;
  return entry;
}

bool Engine::Impl::Release(std::string_view key, std::string_view holder, Token token,
                           MonoTime now) {
  if (CannotBeHeld(key)) return false;
  Place place = Locate(key);
  LeaseEntry* entry = HeldBy(place, key, holder, token, now);
  if (entry == nullptr) return false;
  ++stats_.releases;
  HandOff(*place.table, place.probe.slot, entry, FreeCause::kRelease, now, now);
  return true;
}

void Engine::Impl::Restore(std::string_view key, std::string_view holder, Token token,
                           std::optional<MonoTime> deadline, MonoTime now) {
  LOCKD_CHECK(waiter_count_ == 0);
  LOCKD_CHECK(token > 0 && token <= kMaxToken);
  Place place = Locate(key);
  LeaseEntry* entry = place.entry;
  if (entry == nullptr) {
    entry = NewLeaseEntry(slab_, key, holder, LeaseTable::HashLow(place.hash));
    longest_key_ = std::max(longest_key_, key.size());
    place.table->InsertAt(place.probe.slot, entry, place.hash);
    ++size_;
  } else {
    wheel_.Cancel(&entry->node);
    if (entry->holder() != holder) {
      LeaseEntry* moved = ChangeHolder(slab_, entry, holder);
      if (moved != entry) place.table->ReplaceAt(place.probe.slot, moved);
      entry = moved;
    }
  }
  entry->token = token;
  SetLeaseDeadline(entry, deadline, now);
  if (token > last_token_) last_token_ = token;
}

void Engine::Impl::Remove(std::string_view key) {
  LOCKD_CHECK(waiter_count_ == 0);
  Place place = Locate(key);
  if (place.entry == nullptr) return;
  wheel_.Cancel(&place.entry->node);
  place.table->EraseAt(place.probe.slot);
  Forget(place.entry);
  DeleteLeaseEntry(slab_, place.entry);
  --size_;
  MaybeShrink(*place.table);
}

std::optional<LeaseView> Engine::Impl::Find(std::string_view key, MonoTime now) {
  if (CannotBeHeld(key)) return std::nullopt;
  Place place = Locate(key);
  // A replica reports a lease past its deadline as free, as a Redis replica
  // hides a logically expired key, but leaves freeing it to its primary.
  if (passive_ && place.entry != nullptr && place.entry->deadline() <= now) return std::nullopt;
  LeaseEntry* entry = ExpireIfDue(place, key, now);
  if (entry == nullptr) return std::nullopt;
  return View(entry);
}

LeaseView Engine::Impl::View(const LeaseEntry* entry) const {
  uint32_t waiters = 0;
  if (entry->has_waiters()) {
    // The has-waiters bit means a non-empty queue, never an empty one.
    const WaitQueue* queue = queues_.Find(entry->key());
    LOCKD_CHECK(queue != nullptr && queue->size > 0);
    waiters = queue->size;
  }
  std::optional<MonoTime> deadline = entry->lease_deadline();
  views_.any = true;
  views_.max_token = std::max(views_.max_token, entry->token);
  if (!deadline) {
    views_.no_deadline = true;
  } else if (!views_.max_deadline || *views_.max_deadline < *deadline) {
    views_.max_deadline = deadline;
  }
  return LeaseView{.key = entry->key(),
                   .holder = entry->holder(),
                   .token = entry->token,
                   .deadline = deadline,
                   .waiters = waiters};
}

uint64_t Engine::Impl::Scan(uint64_t cursor, size_t count, MonoTime now,
                            const std::function<void(const LeaseView&)>& visit) {
  uint64_t partition = cursor >> kCursorSlotBits;
  size_t slot = static_cast<size_t>(cursor & kCursorSlotMask);
  // As Redis: a page ends once it holds `count` keys or after 10 * count
  // slots, whichever comes first, so a sparse keyspace is not walked a few
  // slots per call. Empty partitions are passed over for free: a key held
  // throughout the scan is in its table, so that table is not empty when
  // the scan reaches it.
  const size_t want = count == 0 ? 1 : count;
  const size_t max_slots = want > SIZE_MAX / 10 ? SIZE_MAX : want * 10;
  size_t keys = 0;
  size_t slots = 0;
  auto page_full = [&] { return keys >= want || slots >= max_slots; };
  // A full page that happens to end after the last key says so (cursor 0)
  // instead of costing the client one more, empty, call.
  auto any_after = [&](uint64_t p) {
    for (++p; p < tables_.size(); ++p) {
      if (tables_[p].size() > 0) return true;
    }
    return false;
  };
  while (partition < tables_.size()) {
    const LeaseTable& table = tables_[partition];
    if (table.size() > 0 && slot < table.capacity()) {
      const size_t base = slots;
      // Leases past their deadline are skipped, not expired: the visit must
      // see a table that does not change under it.
      size_t next = table.ScanUntil(
          slot,
          [&](const LeaseEntry* entry) {
            if (now < entry->deadline()) {
              visit(View(entry));
              ++keys;
            }
          },
          [&](size_t seen) {
            slots = base + seen;
            return page_full();
          });
      if (next < table.capacity()) {
        if (!table.AnyFrom(next) && !any_after(partition)) return 0;
        return (partition << kCursorSlotBits) | next;
      }
      slots = base + (next - slot);
    }
    if (page_full() && !any_after(partition)) return 0;
    ++partition;
    slot = 0;
    if (page_full()) break;
  }
  return partition < tables_.size() ? partition << kCursorSlotBits : 0;
}

// --- Engine: the public surface forwards to Impl.

Engine::Engine(const EngineOptions& options, WaitListener* waits, ChangeListener* changes)
    : impl_(std::make_unique<Impl>(options, waits, changes)) {}

Engine::~Engine() = default;

AcquireResult Engine::Acquire(std::string_view key, std::string_view holder, int64_t ttl_ms,
                              MonoTime now, int64_t wait_ms, void* wait_context) {
  return impl_->Acquire(key, holder, ttl_ms, now, wait_ms, wait_context);
}

bool Engine::Renew(std::string_view key, std::string_view holder, Token token, int64_t ttl_ms,
                   MonoTime now) {
  return impl_->Renew(key, holder, token, ttl_ms, now);
}

bool Engine::Release(std::string_view key, std::string_view holder, Token token, MonoTime now) {
  return impl_->Release(key, holder, token, now);
}

std::optional<LeaseView> Engine::Find(std::string_view key, MonoTime now) {
  return impl_->Find(key, now);
}

void Engine::CancelWait(Waiter* waiter) { impl_->CancelWait(waiter); }

uint64_t Engine::Scan(uint64_t cursor, size_t count, MonoTime now,
                      const std::function<void(const LeaseView&)>& visit) {
  return impl_->Scan(cursor, count, now, visit);
}

std::optional<MonoTime> Engine::NextWakeup() const {
  if (impl_->passive_) return std::nullopt;
  std::optional<int64_t> us = impl_->wheel_.NextWakeup();
  if (!us) return std::nullopt;
  return MonoTime{*us};
}

bool Engine::Advance(MonoTime now) { return impl_->passive_ ? false : impl_->Advance(now); }

void Engine::set_passive(bool passive) { impl_->passive_ = passive; }
bool Engine::passive() const { return impl_->passive_; }

Engine::Views Engine::TakeViews() { return std::exchange(impl_->views_, Views{}); }

size_t Engine::size() const { return impl_->size_; }
size_t Engine::waiter_count() const { return impl_->waiter_count_; }
size_t Engine::leases_without_deadline() const { return impl_->no_deadline_; }
Token Engine::last_token() const { return impl_->last_token_; }

bool Engine::tokens_exhausted() const { return impl_->TokensExhausted(); }

void Engine::RaiseLastToken(Token token) {
  LOCKD_CHECK(token <= kMaxToken);
  if (token > impl_->last_token_) impl_->last_token_ = token;
}

void Engine::Restore(std::string_view key, std::string_view holder, Token token,
                     std::optional<MonoTime> deadline, MonoTime now) {
  impl_->Restore(key, holder, token, deadline, now);
}

void Engine::Remove(std::string_view key) { impl_->Remove(key); }

void Engine::Prefetch(std::string_view key) const {
  uint64_t hash = impl_->hasher_(key);
  impl_->tables_[(hash >> 32) & impl_->partition_mask_].Prefetch(hash);
}

void Engine::ReserveLeases(size_t count) {
  // Keys spread evenly over partitions; a little slack for the unevenness.
  size_t per_partition = count / impl_->tables_.size() + count / impl_->tables_.size() / 16 + 1;
  for (LeaseTable& table : impl_->tables_) table.Reserve(per_partition);
}

void Engine::ForEachLease(const std::function<void(const LeaseView&)>& visit) const {
  for (const LeaseTable& table : impl_->tables_) {
    table.ScanFrom(0, table.capacity(), [&](const LeaseEntry* entry) {
      visit(LeaseView{.key = entry->key(),
                      .holder = entry->holder(),
                      .token = entry->token,
                      .deadline = entry->lease_deadline()});
    });
  }
}

void Engine::CloseGrantsUntil(MonoTime until) { impl_->grants_closed_until_ = until; }

std::optional<MonoTime> Engine::grants_closed_until() const {
  if (impl_->grants_closed_until_.us == 0) return std::nullopt;
  return impl_->grants_closed_until_;
}

const EngineStats& Engine::stats() const { return impl_->stats_; }
void Engine::ResetStats() { impl_->stats_ = EngineStats{}; }

void Engine::set_max_waiters_per_key(uint32_t max_waiters) {
  impl_->options_.max_waiters_per_key = max_waiters;
}

}  // namespace lockd
