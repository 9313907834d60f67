// The checker on small hand-written histories, linearizable and not, and the
// model mutations on histories that tell them apart: a checker that passes
// everything would fail here.
#include <doctest/doctest.h>

#include "checker.h"

using namespace lincheck;

namespace {

constexpr int64_t kMs = 1000;

// Builders: times in milliseconds, holders and tokens as numbers.
Op Base(OpKind kind, const std::string& key, int holder, double inv_ms, double res_ms) {
  Op op;
  op.kind = kind;
  op.key = key;
  op.holder = holder;
  op.client = holder;
  op.invoke_us = static_cast<int64_t>(inv_ms * kMs);
  op.response_us = static_cast<int64_t>(res_ms * kMs);
  op.known = true;
  return op;
}
Op Int(Op op, int64_t v) {
  op.nil = false;
  op.value = v;
  return op;
}
Op Acquire(const std::string& key, int holder, int64_t ttl, double inv, double res, int64_t token,
           int64_t wait = 0) {
  Op op = Base(OpKind::kAcquire, key, holder, inv, res);
  op.ttl_ms = ttl;
  op.wait_ms = wait;
  return token > 0 ? Int(op, token) : op;
}
Op Release(const std::string& key, int holder, int64_t token, double inv, double res, int64_t r) {
  Op op = Base(OpKind::kRelease, key, holder, inv, res);
  op.token_arg = token;
  return Int(op, r);
}
Op Renew(const std::string& key, int holder, int64_t token, int64_t ttl, double inv, double res,
         int64_t r) {
  Op op = Base(OpKind::kRenew, key, holder, inv, res);
  op.token_arg = token;
  op.ttl_ms = ttl;
  return Int(op, r);
}
Op Fence(const std::string& key, double inv, double res, int64_t token) {
  Op op = Base(OpKind::kFence, key, kNoHolder, inv, res);
  return token > 0 ? Int(op, token) : op;
}
Op Info(const std::string& key, double inv, double res, int holder, int64_t token, int64_t ttl,
        int64_t waiters) {
  Op op = Int(Base(OpKind::kInfo, key, kNoHolder, inv, res), token);
  op.holder_seen = holder;
  op.info_ttl_ms = ttl;
  op.info_waiters = waiters;
  return op;
}
Op Unknown(Op op, double res_ms) {
  op.known = false;
  op.nil = true;
  op.value = 0;
  op.response_us = res_ms < 0 ? kForever : static_cast<int64_t>(res_ms * kMs);
  return op;
}
Op Crash(double at_ms) {
  Op op;
  op.kind = OpKind::kCrash;
  op.invoke_us = op.response_us = static_cast<int64_t>(at_ms * kMs);
  op.known = true;
  return op;
}

Verdict Check(std::vector<Op> ops, Mutation m = Mutation::kNone) {
  History h{std::move(ops)};
  CheckOptions o;
  o.mutation = m;
  CheckResult r = CheckHistory(h, o);
  if (r.verdict != Verdict::kOk) {
    std::string why = std::string(VerdictName(r.verdict)) + ": " + r.detail;
    MESSAGE(why);
  }
  return r.verdict;
}

// A holds k; B, then C wait (INFO shows B alone queued before C asks, then
// both queued before the release); A's release hands k to B, B's to C.
std::vector<Op> FifoHistory(int64_t b_token, int64_t c_token) {
  return {
      Acquire("k", 1, 1000, 0, 1, 5),
      Acquire("k", 2, 1000, 2, b_token == 6 ? 22 : 30, b_token, 500),
      Info("k", 3, 4, 1, 5, 997, 1),
      Acquire("k", 3, 1000, 5, c_token == 6 ? 22 : 30, c_token, 500),
      Info("k", 6, 7, 1, 5, 994, 2),
      Release("k", 1, 5, 20, 21, 1),
      Release("k", b_token == 6 ? 2 : 3, 6, 25, 26, 1),
  };
}

}  // namespace

TEST_CASE("lincheck checker: acquire, refuse, release, re-grant in order") {
  std::vector<Op> h = {
      Acquire("k", 1, 1000, 0, 1, 5),
      Acquire("k", 2, 1000, 2, 3, 0),
      Release("k", 1, 5, 4, 5, 1),
      Acquire("k", 2, 1000, 6, 7, 6),
      Fence("k", 8, 9, 6),
  };
  CHECK(Check(h) == Verdict::kOk);
  CHECK(Check(h, Mutation::kTokenReuse) == Verdict::kViolation);
}

TEST_CASE("lincheck checker: re-acquire keeps the token, renew and wrong tokens") {
  CHECK(Check({Acquire("k", 1, 50, 0, 1, 5), Acquire("k", 1, 50, 2, 3, 5),
               Renew("k", 1, 5, 50, 4, 5, 1), Renew("k", 1, 4, 50, 6, 7, 0),
               Release("k", 1, 4, 8, 9, 0), Fence("k", 10, 11, 5)}) == Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 50, 0, 1, 5), Acquire("k", 1, 50, 2, 3, 6)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 50, 0, 1, 5), Renew("k", 1, 4, 50, 2, 3, 1)}) ==
        Verdict::kViolation);
}

TEST_CASE("lincheck checker: a lease granted before its expiry is a violation") {
  // ttl 10 from a point in [0, 1]: the deadline is in [10, 11] ms.
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 10, 5, 6, 6)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 10, 20, 21, 6)}) == Verdict::kOk);
  // Close to the deadline: either side is possible.
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 10, 10.5, 10.6, 6)}) ==
        Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 10, 10.5, 10.6, 0)}) ==
        Verdict::kOk);
  // The model that never expires calls the late grant early.
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 10, 20, 21, 6)},
              Mutation::kNoExpiry) == Verdict::kViolation);
}

TEST_CASE("lincheck checker: a lease reported held after its deadline is a violation") {
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Fence("k", 20, 21, 5)}) == Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Fence("k", 20, 21, 0)}) == Verdict::kOk);
  // A renewal moves the deadline.
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Renew("k", 1, 5, 30, 5, 6, 1),
               Fence("k", 20, 21, 5)}) == Verdict::kOk);
  // INFO's ttl_ms narrows the deadline: 3 ms left at [2, 3] means it ends by 6.2 ms.
  CHECK(Check({Acquire("k", 1, 100, 0, 1, 5), Info("k", 2, 3, 1, 5, 3, 0)}) == Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 100, 0, 1, 5), Info("k", 2, 3, 1, 5, 99, 0)}) == Verdict::kOk);
}

TEST_CASE("lincheck checker: tokens are unique and rise across keys") {
  CHECK(Check({Acquire("a", 1, 100, 0, 1, 5), Acquire("b", 2, 100, 2, 3, 5)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("a", 1, 100, 0, 1, 9), Acquire("b", 2, 100, 2, 3, 7)}) ==
        Verdict::kViolation);
  // Concurrent grants may take their tokens in either order.
  CHECK(Check({Acquire("a", 1, 100, 0, 3, 9), Acquire("b", 2, 100, 1, 2, 7)}) == Verdict::kOk);
  // Per key, a later grant has a larger token.
  CHECK(Check({Acquire("k", 1, 100, 0, 1, 9), Release("k", 1, 9, 2, 3, 1),
               Acquire("k", 2, 100, 4, 5, 7)}) == Verdict::kViolation);
}

TEST_CASE("lincheck checker: waiters are served first come, first served") {
  CHECK(Check(FifoHistory(6, 7)) == Verdict::kOk);
  CHECK(Check(FifoHistory(7, 6)) == Verdict::kViolation);
  CHECK(Check(FifoHistory(6, 7), Mutation::kServeTail) == Verdict::kViolation);
}

TEST_CASE("lincheck checker: wait timeouts, hand-offs at expiry, a waiter passed over") {
  // B's wait of 10 ms cannot end with null before 10 ms have passed...
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Acquire("k", 2, 10, 2, 13, 0, 10)}) ==
        Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Acquire("k", 2, 10, 2, 5, 0, 10)}) ==
        Verdict::kViolation);
  // ...unless CLIENT UNBLOCK ended it.
  Op unblocked = Acquire("k", 2, 10, 2, 5, 0, 10);
  unblocked.unblockable = true;
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), unblocked}) == Verdict::kOk);
  // A waiter still waiting when the key frees gets it; the key cannot go to
  // someone else meanwhile.
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Acquire("k", 2, 100, 2, 50, 0, 100),
               Release("k", 1, 5, 10, 11, 1), Acquire("k", 3, 100, 20, 21, 6)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Acquire("k", 2, 100, 2, 12, 6, 100),
               Release("k", 1, 5, 10, 11, 1), Acquire("k", 3, 100, 20, 21, 0)}) ==
        Verdict::kOk);
  // Expiry hands the key to the waiter, not before the deadline.
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 100, 2, 15, 6, 100)}) ==
        Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), Acquire("k", 2, 100, 2, 5, 6, 100)}) ==
        Verdict::kViolation);
  // A waiter whose connection closed (no reply) may or may not have been granted.
  Op dropped = Unknown(Acquire("k", 2, 30, 2, 3, 0, 100), -1);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), dropped, Fence("k", 20, 21, 6)}) == Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 10, 0, 1, 5), dropped, Fence("k", 20, 21, 0)}) == Verdict::kOk);
}

TEST_CASE("lincheck checker: the Redis view of the same lock") {
  Op set = Int(Base(OpKind::kSetNxPx, "k", 1, 0, 1), 1);
  set.ttl_ms = 100;
  Op get = Base(OpKind::kGet, "k", kNoHolder, 2, 3);
  get.nil = false;
  get.holder_seen = 1;
  Op fence = Fence("k", 4, 5, 8);
  Op pexpire = Int(Base(OpKind::kPexpire, "k", kNoHolder, 6, 7), 1);
  pexpire.ttl_ms = 5;
  Op late = Fence("k", 20, 21, 0);
  CHECK(Check({set, get, fence, pexpire, late}) == Verdict::kOk);
  Op stale = Fence("k", 20, 21, 8);
  CHECK(Check({set, get, fence, pexpire, stale}) == Verdict::kViolation);
  Op eval_other = Int(Base(OpKind::kEvalRelease, "k", 2, 8, 9), 0);
  Op eval_mine = Int(Base(OpKind::kEvalRelease, "k", 1, 8, 9), 1);
  Op del = Int(Base(OpKind::kDel, "k", kNoHolder, 10, 11), 0);
  set.ttl_ms = 1000;
  CHECK(Check({set, fence, eval_other, Fence("k", 12, 13, 8)}) == Verdict::kOk);
  CHECK(Check({set, fence, eval_mine, del, Fence("k", 12, 13, 0)}) == Verdict::kOk);
  CHECK(Check({set, fence, eval_mine, Fence("k", 12, 13, 8)}) == Verdict::kViolation);
  Op multi = Int(Base(OpKind::kMultiAcquire, "k", 3, 14, 15), 0);
  multi.ttl_ms = 100;
  multi.nil = true;
  multi.nil2 = false;
  multi.value2 = 8;
  CHECK(Check({set, fence, multi}) == Verdict::kOk);
  multi.value2 = 9;
  CHECK(Check({set, fence, multi}) == Verdict::kViolation);
}

TEST_CASE("lincheck checker: crashes keep acknowledged leases and raise tokens") {
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Crash(10), Fence("k", 20, 21, 5)}) ==
        Verdict::kOk);
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Crash(10), Fence("k", 20, 21, 0)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Crash(10), Fence("k", 20, 21, 5)},
              Mutation::kCrashForgets) == Verdict::kViolation);
  // In flight at the kill: it happened before the crash, or never.
  Op in_flight = Unknown(Acquire("j", 2, 1000, 5, 6, 0), 9.999);
  CHECK(Check({in_flight, Crash(10), Fence("j", 20, 21, 6)}) == Verdict::kOk);
  CHECK(Check({in_flight, Crash(10), Fence("j", 20, 21, 0)}) == Verdict::kOk);
  // It cannot take effect after the restart.
  CHECK(Check({in_flight, Crash(10), Fence("j", 20, 21, 0), Fence("j", 22, 23, 6)}) ==
        Verdict::kViolation);
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Crash(10), Acquire("j", 2, 1000, 20, 21, 3)}) ==
        Verdict::kViolation);
  // A waiter's reply cannot have come from a server that is gone.
  CHECK(Check({Acquire("k", 1, 1000, 0, 1, 5), Acquire("k", 2, 100, 2, 30, 0, 100), Crash(10)}) ==
        Verdict::kViolation);
}

TEST_CASE("lincheck checker: a search over its bound is unknown, not a pass") {
  std::vector<Op> h;
  for (int i = 0; i < 12; ++i) h.push_back(Fence("k", 0, 100, 0));
  History history{h};
  CheckOptions o;
  o.max_states_per_key = 5;
  CHECK(CheckHistory(history, o).verdict == Verdict::kUnknown);
  o.max_states_per_key = 1'000'000;
  CHECK(CheckHistory(history, o).verdict == Verdict::kOk);
}
