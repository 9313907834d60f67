// PubSub: the channel and pattern registry behind SUBSCRIBE, PSUBSCRIBE and
// PUBLISH, and the one place messages are written to subscribers (in RESP2 a
// "message" array, in RESP3 a push), so keyspace notifications and PUBLISH
// deliver the same way.
//
// Invariant: a session is listed under a channel (pattern) exactly when the
// channel (pattern) is in its Session::channels (patterns); a channel or
// pattern with no subscriber has no entry. Sessions leave through
// UnsubscribeAll before they are destroyed.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cmd/server_hooks.h"
#include "cmd/session.h"

namespace lockd {

class PubSub {
 public:
  explicit PubSub(ServerHooks* server) : server_(server) {}
  PubSub(const PubSub&) = delete;
  PubSub& operator=(const PubSub&) = delete;

  // Each returns whether the subscription changed (false: already there, or
  // not there to remove).
  bool Subscribe(Session& session, std::string_view channel);
  bool Unsubscribe(Session& session, std::string_view channel);
  bool PSubscribe(Session& session, std::string_view pattern);
  bool PUnsubscribe(Session& session, std::string_view pattern);
  // Drops every subscription of a closing session, without replies.
  void UnsubscribeAll(Session& session);
  // Drops every channel (or pattern) subscription in one pass, calling
  // `each` (may be null) with each name and the subscriptions left after it.
  void UnsubscribeAll(Session& session, bool patterns,
                      const std::function<void(std::string_view, size_t)>& each);

  // Sends `message` to the subscribers of `channel` and of every matching
  // pattern; returns how many received it (a client matching twice counts
  // twice, as in Redis).
  size_t Publish(std::string_view channel, std::string_view message);
  // Whether anyone could receive a message at all: notifications skip
  // building channel names when no one listens.
  bool empty() const { return channels_.empty() && patterns_.empty(); }

  // PUBSUB CHANNELS / NUMSUB / NUMPAT.
  std::vector<std::string> Channels(std::string_view pattern) const;
  size_t NumSub(std::string_view channel) const;
  size_t NumPat() const { return patterns_.size(); }
  size_t NumChannels() const { return channels_.size(); }

  // The subscription confirmations: [kind, name, count] as an array in
  // RESP2 and a push in RESP3; a null name when UNSUBSCRIBE had nothing to
  // remove.
  static void ReplySubscription(Session& session, std::string_view kind, std::string_view name,
                                bool null_name = false);
  static void ReplySubscription(Session& session, std::string_view kind, std::string_view name,
                                size_t count, bool null_name);

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  // An output appended to `session` while another may be running: it
  // waits for the iteration's commit like any reply and is flushed by the
  // server.
  void Delivered(Session& session);

  ServerHooks* server_;
  std::unordered_map<std::string, std::vector<Session*>, KeyHash, std::equal_to<>> channels_;
  // Ordered so that pattern messages go out in a stable order.
  std::map<std::string, std::vector<Session*>, std::less<>> patterns_;
};

}  // namespace lockd
