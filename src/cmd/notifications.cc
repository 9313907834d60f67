// Keyspace and lock notifications (see notifications.h).
#include "cmd/notifications.h"

namespace lockd {

uint32_t ParseNotifyFlags(std::string_view value) {
  uint32_t flags = 0;
  for (char c : value) {
    switch (c) {
      case 'A':
        flags |= kNotifyGeneric | kNotifyString | kNotifyExpired;
        break;
      case 'K':
        flags |= kNotifyKeyspace;
        break;
      case 'E':
        flags |= kNotifyKeyevent;
        break;
      case 'g':
        flags |= kNotifyGeneric;
        break;
      case '$':
        flags |= kNotifyString;
        break;
      case 'x':
        flags |= kNotifyExpired;
        break;
      case 'L':
        flags |= kNotifyLock;
        break;
      default:
        break;
    }
  }
  return flags;
}

void Notifier::Notify(uint32_t type, std::string_view event, std::string_view key) {
  // As Redis: nothing unless the class and at least one of K and E are on.
  if (!(flags_ & type) || !(flags_ & (kNotifyKeyspace | kNotifyKeyevent))) return;
  if (pubsub_->empty()) return;
  if (flags_ & kNotifyKeyspace) {
    channel_.assign("__keyspace@0__:");
    channel_.append(key);
    pubsub_->Publish(channel_, event);
  }
  if (flags_ & kNotifyKeyevent) {
    channel_.assign("__keyevent@0__:");
    channel_.append(event);
    pubsub_->Publish(channel_, key);
  }
}

void Notifier::OnChange(const Change& change, ChangeSource source) {
  switch (change.kind) {
    case ChangeKind::kFree:
      if (change.cause == FreeCause::kExpire) {
        Notify(kNotifyExpired, "expired", change.key);
        Notify(kNotifyLock, "lock.expired", change.key);
      } else {
        // A key set to expire in the past is deleted: Redis says "del".
        if (change.cause == FreeCause::kDelete && source != ChangeSource::kFlush) {
          Notify(kNotifyGeneric, "del", change.key);
        }
        Notify(kNotifyLock, "lock.release", change.key);
      }
      last_freed_.assign(change.key);
      return;
    case ChangeKind::kGrant:
    case ChangeKind::kExtend: {
      const bool handoff =
          change.kind == ChangeKind::kGrant && !last_freed_.empty() && last_freed_ == change.key;
      last_freed_.clear();
      if (source == ChangeSource::kSet) {
        Notify(kNotifyString, "set", change.key);
      } else if (source == ChangeSource::kExpire) {
        Notify(kNotifyGeneric, "expire", change.key);
      } else if (source == ChangeSource::kPersist) {
        Notify(kNotifyGeneric, "persist", change.key);
      }
      const char* event = handoff                             ? "lock.handoff"
                          : change.kind == ChangeKind::kGrant ? "lock.grant"
                                                              : "lock.renew";
      Notify(kNotifyLock, event, change.key);
      return;
    }
  }
}

}  // namespace lockd
