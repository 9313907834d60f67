// lock-bind-holder-to-user: a lock's holder bound to the ACL user that took
// it. The binding lives in the holder the engine stores, "\0<user>\0<holder>",
// so the log, its rewrite and replication carry it with no record of their
// own, and the engine stays unaware of users. Usernames hold no NUL byte, so
// the form is unambiguous; while the directive is on every holder a client
// sends is stored in it (even one that starts with NUL), and what clients
// are shown (GET, LOCK.INFO, SET ... GET) is always the holder they sent.
#pragma once

#include <string>
#include <string_view>

namespace lockd::acl {

// The stored form of `holder` taken by `user`, written into `*buf`.
std::string_view BindHolder(std::string_view user, std::string_view holder, std::string* buf);

// The holder as its client sent it (the stored form without its user).
std::string_view VisibleHolder(std::string_view stored);

// The user a stored holder is bound to; false when it is not bound (taken
// while the directive was off).
bool BoundUser(std::string_view stored, std::string_view* user);

}  // namespace lockd::acl
