// The channel registry and message delivery (see pubsub.h).
#include "cmd/pubsub.h"

#include <algorithm>

#include "util/glob.h"

namespace lockd {

namespace {

// Adds `session` under `name` in `index` and `name` to `mine`, unless there.
template <typename Index>
bool Add(Index& index, std::vector<std::string>& mine, Session& session, std::string_view name) {
  auto it = index.find(name);
  if (it == index.end()) {
    it = index.emplace(std::string(name), std::vector<Session*>{}).first;
  } else if (std::find(it->second.begin(), it->second.end(), &session) != it->second.end()) {
    return false;
  }
  it->second.push_back(&session);
  mine.emplace_back(name);
  return true;
}

// Takes `session` out of the index entry of `name` (not out of its own
// list); false when it was not there.
template <typename Index>
bool Unlist(Index& index, Session& session, std::string_view name) {
  auto it = index.find(name);
  if (it == index.end()) return false;
  std::vector<Session*>& sessions = it->second;
  auto pos = std::find(sessions.begin(), sessions.end(), &session);
  if (pos == sessions.end()) return false;
  sessions.erase(pos);
  if (sessions.empty()) index.erase(it);
  return true;
}

template <typename Index>
bool Remove(Index& index, std::vector<std::string>& mine, Session& session, std::string_view name) {
  if (!Unlist(index, session, name)) return false;
  mine.erase(std::find(mine.begin(), mine.end(), name));
  return true;
}

// A push in RESP3, an array in RESP2: the shape of every pub/sub message.
void PushHeader(Session& session, size_t n) {
  if (session.protocol() == 3) {
    session.reply.Raw(">");
    session.reply.Raw(std::to_string(n));
    session.reply.Raw("\r\n");
  } else {
    session.reply.Array(n);
  }
}

}  // namespace

bool PubSub::Subscribe(Session& session, std::string_view channel) {
  return Add(channels_, session.channels, session, channel);
}

bool PubSub::Unsubscribe(Session& session, std::string_view channel) {
  return Remove(channels_, session.channels, session, channel);
}

bool PubSub::PSubscribe(Session& session, std::string_view pattern) {
  return Add(patterns_, session.patterns, session, pattern);
}

bool PubSub::PUnsubscribe(Session& session, std::string_view pattern) {
  return Remove(patterns_, session.patterns, session, pattern);
}

void PubSub::UnsubscribeAll(Session& session) {
  // One pass over the session's own lists: removing names one by one would
  // search the list each time, and a client closing with 100,000 channels
  // held the loop for seconds.
  UnsubscribeAll(session, false, nullptr);
  UnsubscribeAll(session, true, nullptr);
}

void PubSub::UnsubscribeAll(Session& session, bool patterns,
                            const std::function<void(std::string_view, size_t)>& each) {
  std::vector<std::string> names;
  names.swap(patterns ? session.patterns : session.channels);
  const size_t others = patterns ? session.channels.size() : session.patterns.size();
  for (size_t i = 0; i < names.size(); ++i) {
    if (patterns) {
      Unlist(patterns_, session, names[i]);
    } else {
      Unlist(channels_, session, names[i]);
    }
    if (each) each(names[i], others + names.size() - i - 1);
  }
}

void PubSub::Delivered(Session& session) {
  session.awaits_commit = true;
  server_->SessionHasOutput(session);
}

size_t PubSub::Publish(std::string_view channel, std::string_view message) {
  size_t receivers = 0;
  if (auto it = channels_.find(channel); it != channels_.end()) {
    for (Session* s : it->second) {
      PushHeader(*s, 3);
      s->reply.Bulk("message");
      s->reply.Bulk(channel);
      s->reply.Bulk(message);
      Delivered(*s);
      ++receivers;
    }
  }
  for (const auto& [pattern, sessions] : patterns_) {
    if (!GlobMatch(pattern, channel)) continue;
    for (Session* s : sessions) {
      PushHeader(*s, 4);
      s->reply.Bulk("pmessage");
      s->reply.Bulk(pattern);
      s->reply.Bulk(channel);
      s->reply.Bulk(message);
      Delivered(*s);
      ++receivers;
    }
  }
  return receivers;
}

std::vector<std::string> PubSub::Channels(std::string_view pattern) const {
  std::vector<std::string> out;
  for (const auto& [name, sessions] : channels_) {
    if (GlobMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

size_t PubSub::NumSub(std::string_view channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.size();
}

void PubSub::ReplySubscription(Session& session, std::string_view kind, std::string_view name,
                               bool null_name) {
  ReplySubscription(session, kind, name, session.channels.size() + session.patterns.size(),
                    null_name);
}

void PubSub::ReplySubscription(Session& session, std::string_view kind, std::string_view name,
                               size_t count, bool null_name) {
  PushHeader(session, 3);
  session.reply.Bulk(kind);
  if (null_name) {
    session.reply.Null();
  } else {
    session.reply.Bulk(name);
  }
  session.reply.Integer(static_cast<int64_t>(count));
}

}  // namespace lockd
