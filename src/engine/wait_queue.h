// Waiters and wait queues: the clients blocked in LOCK.ACQUIRE ... WAIT.
//
// Each key with waiters has one WaitQueue, a FIFO of Waiters doubly linked
// through the waiters themselves, so a cancel unlinks in O(1). Waits are
// rare next to leases, so queues live in a side map keyed by the key, and
// the lease entry's has-waiters bit spares the hot path that lookup.
// Invariant: a queue exists only while it is non-empty and its key is held,
// and then exactly that key's entry has the has-waiters bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/hash.h"
#include "engine/timing_wheel.h"

namespace lockd {

struct WaitQueue;

// Declared opaque in lockd/engine.h; owned by the engine from Acquire's
// kQueued until it is granted, timed out or cancelled.
struct Waiter {
  TimerNode node;  // first: the wheel hands back this waiter; deadline = wait timeout
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  WaitQueue* queue = nullptr;
  void* context = nullptr;
  int64_t ttl_ms = 0;  // the lease to grant, counted from the grant
  std::string holder;
};

struct WaitQueue {
  std::string key;
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  uint32_t size = 0;

  void PushBack(Waiter* waiter);
  // Unlinks `waiter` from this queue (its timer is the caller's business).
  void Remove(Waiter* waiter);
};

// The queues of all keys, found by key. The map's keys view the queues'
// own `key` strings, which live as long as the entries.
class WaitQueues {
 public:
  explicit WaitQueues(const StringHasher& hasher);
  ~WaitQueues();
  WaitQueues(const WaitQueues&) = delete;
  WaitQueues& operator=(const WaitQueues&) = delete;

  WaitQueue* Find(std::string_view key) const;
  // The queue for `key`, made empty if there is none.
  WaitQueue* FindOrCreate(std::string_view key);
  // Drops an empty queue.
  void Erase(WaitQueue* queue);

  size_t size() const { return queues_.size(); }
  // Calls visit(waiter) for every queued waiter (for teardown).
  template <typename Visit>
  void ForEachWaiter(Visit&& visit) const {
    for (const auto& [key, queue] : queues_) {
      for (Waiter* w = queue->head; w != nullptr;) {
        Waiter* next = w->next;
        visit(w);
        w = next;
      }
    }
  }

 private:
  struct KeyHash {
    const StringHasher* hasher;
    size_t operator()(std::string_view key) const { return static_cast<size_t>((*hasher)(key)); }
  };
  std::unordered_map<std::string_view, std::unique_ptr<WaitQueue>, KeyHash> queues_;
};

}  // namespace lockd
