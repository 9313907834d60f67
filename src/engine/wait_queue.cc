// WaitQueue links and the map of queues by key. The queues only order and
// find waiters; the engine decides when a waiter is granted or times out.
#include "engine/wait_queue.h"

#include "util/check.h"

namespace lockd {

void WaitQueue::PushBack(Waiter* waiter) {
  LOCKD_DCHECK(waiter->queue == nullptr);
  waiter->queue = this;
  waiter->prev = tail;
  waiter->next = nullptr;
  if (tail != nullptr) {
    tail->next = waiter;
  } else {
    head = waiter;
  }
  tail = waiter;
  ++size;
}

void WaitQueue::Remove(Waiter* waiter) {
  LOCKD_CHECK(waiter->queue == this && size > 0);
  if (waiter->prev != nullptr) {
    waiter->prev->next = waiter->next;
  } else {
    head = waiter->next;
  }
  if (waiter->next != nullptr) {
    waiter->next->prev = waiter->prev;
  } else {
    tail = waiter->prev;
  }
  waiter->prev = nullptr;
  waiter->next = nullptr;
  waiter->queue = nullptr;
  --size;
}

WaitQueues::WaitQueues(const StringHasher& hasher) : queues_(16, KeyHash{&hasher}) {}

// The engine deletes the waiters first; the queues go with the map.
WaitQueues::~WaitQueues() = default;

WaitQueue* WaitQueues::Find(std::string_view key) const {
  auto it = queues_.find(key);
  return it == queues_.end() ? nullptr : it->second.get();
}

WaitQueue* WaitQueues::FindOrCreate(std::string_view key) {
  if (WaitQueue* queue = Find(key)) return queue;
  auto queue = std::make_unique<WaitQueue>();
  queue->key.assign(key);
  WaitQueue* raw = queue.get();
  queues_.emplace(std::string_view(raw->key), std::move(queue));
  return raw;
}

void WaitQueues::Erase(WaitQueue* queue) {
  LOCKD_CHECK(queue->size == 0 && queue->head == nullptr);
  // Find first, then erase by iterator: the map's key views the queue's own
  // string, which the erase destroys.
  auto it = queues_.find(std::string_view(queue->key));
  LOCKD_CHECK(it != queues_.end() && it->second.get() == queue);
  queues_.erase(it);
}

}  // namespace lockd
