// A recorded history: every operation a client sent to a lockd server, with
// the real-time bounds the client measured around it and the reply it got.
//
// Times are CLOCK_MONOTONIC microseconds (std::chrono::steady_clock), the
// clock the server keeps its deadlines in, so an operation's bounds contain
// the `now` the server decided it with. An operation whose reply never came
// (the connection was closed, or the server was killed) is *optional*: it may
// or may not have taken effect, at any time after its invocation and before
// its `response_us` (the kill's time, or kForever).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lincheck {

constexpr int64_t kForever = std::numeric_limits<int64_t>::max() / 4;
constexpr int kNoHolder = -1;

enum class OpKind {
  kAcquire,       // LOCK.ACQUIRE key holder ttl [WAIT wait]: token or nil
  kRenew,         // LOCK.RENEW key holder token ttl: 1 or 0
  kRelease,       // LOCK.RELEASE key holder token: 1 or 0
  kFence,         // LOCK.FENCE key: token or nil
  kInfo,          // LOCK.INFO key: nil or holder, token, ttl_ms, waiters
  kSetNxPx,       // SET key holder NX PX ttl: OK (value 1) or nil
  kGet,           // GET key: the holder or nil
  kDel,           // DEL key: 1 or 0
  kPexpire,       // PEXPIRE key ttl: 1 or 0
  kEvalRelease,   // redis-py's release script (compare holder, DEL): 1 or 0
  kMultiAcquire,  // MULTI, LOCK.ACQUIRE key holder ttl, LOCK.FENCE key, EXEC
  kCrash,         // the server was SIGKILLed and restarted (every key sees it)
};

const char* OpKindName(OpKind kind);

struct Op {
  OpKind kind = OpKind::kFence;
  int client = 0;
  std::string key;
  int holder = kNoHolder;   // holders are "h<number>" on the wire
  int64_t token_arg = 0;    // kRenew, kRelease
  int64_t ttl_ms = 0;       // kAcquire, kRenew, kSetNxPx, kPexpire, kMultiAcquire
  int64_t wait_ms = 0;      // kAcquire: 0 for no WAIT
  // A CLIENT UNBLOCK from another connection may end this wait early.
  bool unblockable = false;

  int64_t invoke_us = 0;
  int64_t response_us = kForever;
  bool known = false;  // a reply arrived; otherwise the op is optional

  // The reply. Integer replies (tokens, 0/1, OK as 1) in `value`; a holder
  // (GET, INFO) in `holder_seen`.
  bool nil = true;
  int64_t value = 0;
  int holder_seen = kNoHolder;
  int64_t info_ttl_ms = 0;
  int64_t info_waiters = 0;
  // kMultiAcquire: the second reply (the fence), `nil` / `value` being the
  // acquire's.
  bool nil2 = true;
  int64_t value2 = 0;
};

struct History {
  std::vector<Op> ops;
};

// One line per op, for failure reports.
std::string DescribeOp(const Op& op, int64_t origin_us);
std::string DescribeHistory(const std::vector<Op>& ops);

}  // namespace lincheck
