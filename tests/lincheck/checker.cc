// The per-key search and the global token check of checker.h.
//
// Time is honest. Each op is placed at a point p inside [invoke, response]:
// the server decides every command with a clock reading `now` taken after the
// request arrived and before the reply left, on the clock the client measured
// with, and those readings never go backwards in the order it runs commands.
// The search keeps `t`, the earliest point the last placed step can have, and
// places each next step as early as its constraints allow (earliest is never
// worse for what follows). A lease granted at p with ttl T ends at
// E = p' + T for the unknown exact p' in [p, response], so the model carries E
// as a window [e_lo, e_hi] and narrows it as replies show the key held
// (E > p) or report its ttl; an expiry is an event the search may place at any
// point of the window, and must place before any op at or past e_hi.
// The server's timer may fire late, but it decides a freed key's next holder
// as of the deadline, so lateness changes no outcome: it only delays when the
// new holder's lease starts, which the model bounds by that waiter's reply.
// Waits are two steps: the op enqueues at its point, and later leaves (its
// timeout, a CLIENT UNBLOCK, a disconnect) or is handed the key by whatever
// frees it, in the same step, head of the queue first.
#include "checker.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_set>

namespace lincheck {

namespace {

// Slack for reading two clocks at nearly the same moment (the client's
// steady_clock around a request, the server's CLOCK_MONOTONIC inside it).
constexpr int64_t kClockMarginUs = 200;
// A restart turns monotonic deadlines into wall-clock ones (rounded up to the
// millisecond, with a wall/monotonic pair read once per loop iteration) and
// back: a surviving lease's deadline may move by this much either way.
constexpr int64_t kRestartSlackUs = 5'000;
constexpr int64_t kLongAgo = -kForever;

struct Waiter {
  int op = 0;
  int64_t leave_lo = 0;  // earliest point it can leave without a grant
  bool operator==(const Waiter&) const = default;
};

struct Model {
  int holder = kNoHolder;
  int64_t token = 0;        // 0: not known yet (no reply showed it)
  int64_t token_floor = 0;  // the current lease's token is above this
  int64_t e_lo = 0;         // the current lease's deadline lies in [e_lo, e_hi]
  int64_t e_hi = 0;
  int64_t last_token = 0;   // largest token known on this key
  std::vector<Waiter> queue;
  int64_t t = kLongAgo;
};

struct GrantRecord {
  int64_t token;
  int holder;
};

struct Node {
  Model m;
  std::vector<uint64_t> started;
  std::vector<uint64_t> done;
  std::vector<GrantRecord> grants;
};

bool Bit(const std::vector<uint64_t>& bits, int i) { return (bits[i / 64] >> (i % 64)) & 1; }
void SetBit(std::vector<uint64_t>& bits, int i) { bits[i / 64] |= uint64_t{1} << (i % 64); }

int64_t AddUs(int64_t base, int64_t delta) {
  return base >= kForever ? kForever : std::min(base + delta, kForever);
}

class KeyChecker {
 public:
  KeyChecker(std::vector<const Op*> ops, const CheckOptions& options)
      : ops_(std::move(ops)), options_(options), words_((ops_.size() + 63) / 64) {}

  Verdict Run(std::vector<GrantRecord>* grants) {
    Node root;
    root.started.assign(words_, 0);
    root.done.assign(words_, 0);
    if (Dfs(root, grants)) return Verdict::kOk;
    return unknown_ ? Verdict::kUnknown : Verdict::kViolation;
  }
  int64_t states() const { return states_; }

 private:
  bool Required(int i) const { return ops_[i]->known || ops_[i]->kind == OpKind::kCrash; }
  bool Mut(Mutation m) const { return options_.mutation == m; }

  std::string MemoKey(const Node& n) const {
    std::string k;
    auto put = [&k](const void* p, size_t len) { k.append(static_cast<const char*>(p), len); };
    put(n.started.data(), n.started.size() * 8);
    put(n.done.data(), n.done.size() * 8);
    const Model& m = n.m;
    int64_t fields[] = {m.holder, m.token, m.token_floor, m.e_lo, m.e_hi, m.last_token, m.t};
    put(fields, sizeof(fields));
    for (const Waiter& w : m.queue) {
      put(&w.op, sizeof(w.op));
      put(&w.leave_lo, sizeof(w.leave_lo));
    }
    return k;
  }

  bool Dfs(const Node& n, std::vector<GrantRecord>* grants) {
    if (unknown_) return false;
    bool all = true;
    for (size_t i = 0; i < ops_.size() && all; ++i) {
      if (Required(i) && !Bit(n.done, i)) all = false;
    }
    if (all) {
      *grants = n.grants;
      return true;
    }
    if (!seen_.insert(MemoKey(n)).second) return false;
    if (++states_ > options_.max_states_per_key) {
      unknown_ = true;
      return false;
    }
    std::vector<Node> next;
    Expand(n, &next);
    for (const Node& c : next) {
      if (Dfs(c, grants)) return true;
      if (unknown_) return false;
    }
    return false;
  }

  // Every state one step after `n`.
  void Expand(const Node& n, std::vector<Node>* out) {
    // Every required item not done yet must still fit before its response.
    int64_t horizon = kForever;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (Required(i) && !Bit(n.done, i)) horizon = std::min(horizon, ops_[i]->response_us);
    }
    if (n.m.t > horizon) return;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (Bit(n.started, i)) continue;
      const Op& op = *ops_[i];
      int64_t p = std::max(n.m.t, op.invoke_us);
      if (p > op.response_us || p > horizon) continue;
      ApplyOp(n, static_cast<int>(i), p, out);
    }
    const Model& m = n.m;
    if (m.holder != kNoHolder && !Mut(Mutation::kNoExpiry)) {
      int64_t x = std::max(m.t, m.e_lo);
      if (x <= m.e_hi && x <= horizon) {
        Node c = n;
        c.m.t = x;
        if (Free(c, x)) out->push_back(std::move(c));
      }
    }
    for (size_t q = 0; q < m.queue.size(); ++q) {
      const Waiter& w = m.queue[q];
      const Op& op = *ops_[w.op];
      if (op.known && !op.nil) continue;  // it was granted: it cannot leave
      int64_t x = std::max(m.t, w.leave_lo);
      if (x > op.response_us || x > horizon) continue;
      Node c = n;
      c.m.t = x;
      c.m.queue.erase(c.m.queue.begin() + q);
      SetBit(c.done, w.op);
      out->push_back(std::move(c));
    }
  }

  // The deadline window of a lease whose ttl starts at a point in [p, response].
  void SetDeadline(Model& m, int64_t p, int64_t response_us, int64_t ttl_ms) {
    m.e_lo = p + ttl_ms * 1000 - kClockMarginUs;
    m.e_hi = AddUs(response_us, ttl_ms * 1000 + kClockMarginUs);
  }

  // A grant to a new holder; token 0 when the reply that would show it is
  // unknown. False when the token breaks the per-key order.
  bool Grant(Node& c, int holder, int64_t token) {
    Model& m = c.m;
    if (token != 0) {
      bool ok = Mut(Mutation::kTokenReuse) ? (m.last_token == 0 || token == m.last_token)
                                           : token > m.last_token;
      if (!ok) return false;
      m.last_token = token;
      c.grants.push_back({token, holder});
    }
    m.holder = holder;
    m.token = token;
    m.token_floor = m.last_token;
    return true;
  }

  // A reply showed the current lease's token.
  bool Learn(Node& c, int64_t token) {
    Model& m = c.m;
    if (m.token != 0) return m.token == token;
    bool ok = Mut(Mutation::kTokenReuse) ? (m.token_floor == 0 || token == m.token_floor)
                                         : token > m.token_floor;
    if (!ok) return false;
    m.token = token;
    m.last_token = std::max(m.last_token, token);
    c.grants.push_back({token, m.holder});
    return true;
  }

  // The key frees at point f; its head waiter is granted in the same step.
  bool Free(Node& c, int64_t f) {
    Model& m = c.m;
    m.holder = kNoHolder;
    m.token = 0;
    m.e_lo = m.e_hi = 0;
    if (m.queue.empty()) return true;
    size_t pick = Mut(Mutation::kServeTail) ? m.queue.size() - 1 : 0;
    Waiter w = m.queue[pick];
    m.queue.erase(m.queue.begin() + pick);
    const Op& op = *ops_[w.op];
    if (op.known && op.nil) return false;  // it was still waiting: it had to be served
    if (!Grant(c, op.holder, op.known ? op.value : 0)) return false;
    SetDeadline(m, f, op.response_us, op.ttl_ms);
    SetBit(c.done, w.op);
    return true;
  }

  void Finish(Node& c, int i, int64_t p) {
    c.m.t = p;
    SetBit(c.started, i);
    SetBit(c.done, i);
  }

  // LOCK.ACQUIRE without waiting, as a step of its own or inside MULTI.
  // `known`/`nil`/`value` are the reply.
  bool AcquireNow(Node& c, const Op& op, int64_t p, bool known, bool nil, int64_t value) {
    Model& m = c.m;
    if (m.holder == kNoHolder) {
      if (known && nil) return false;
      if (!Grant(c, op.holder, known ? value : 0)) return false;
      SetDeadline(m, p, op.response_us, op.ttl_ms);
      return true;
    }
    if (m.holder == op.holder) {
      if (known && (nil || !Learn(c, value))) return false;
      SetDeadline(m, p, op.response_us, op.ttl_ms);
      return true;
    }
    return !known || nil;
  }

  void ApplyOp(const Node& n, int i, int64_t p, std::vector<Node>* out) {
    const Op& op = *ops_[i];
    Node c = n;
    Model& m = c.m;
    bool held = m.holder != kNoHolder;
    if (held && op.kind != OpKind::kCrash) {
      // Every access settles the key first: a lease at or past its deadline
      // is gone, so the expiry event must come before this op.
      if (!Mut(Mutation::kNoExpiry)) {
        if (p >= m.e_hi) return;
        m.e_lo = std::max(m.e_lo, p + 1);
      }
    }
    bool known = op.known;
    bool mine = held && m.holder == op.holder;
    switch (op.kind) {
      case OpKind::kAcquire:
        if (held && !mine && op.wait_ms > 0) {
          // Queued: it leaves at its timeout, or earlier when it can be
          // unblocked or its reply is unknown (the client disconnected).
          int64_t leave_lo = (!known || op.unblockable)
                                 ? p
                                 : p + op.wait_ms * 1000 - kClockMarginUs;
          m.queue.push_back({i, leave_lo});
          m.t = p;
          SetBit(c.started, i);
          out->push_back(std::move(c));
          return;
        }
        if (!AcquireNow(c, op, p, known, op.nil, op.value)) return;
        break;
      case OpKind::kMultiAcquire:
        if (!AcquireNow(c, op, p, known, op.nil, op.value)) return;
        if (known) {
          if (op.nil2 != (m.holder == kNoHolder)) return;
          if (!op.nil2 && !Learn(c, op.value2)) return;
        }
        break;
      case OpKind::kRenew:
      case OpKind::kRelease: {
        // Success needs the holder and the token; an unknown token may be it.
        bool can_succeed = mine && (m.token == op.token_arg ||
                                    (m.token == 0 && op.token_arg > m.token_floor));
        bool can_fail = !mine || m.token == 0 || m.token != op.token_arg;
        if ((!known || op.value == 1) && can_succeed) {
          Node s = c;
          bool ok = s.m.token != 0 || Learn(s, op.token_arg);
          if (ok && op.kind == OpKind::kRenew) SetDeadline(s.m, p, op.response_us, op.ttl_ms);
          if (ok && op.kind == OpKind::kRelease) ok = Free(s, p);
          if (ok) {
            Finish(s, i, p);
            out->push_back(std::move(s));
          }
        }
        if ((!known || op.value == 0) && can_fail) break;
        return;
      }
      case OpKind::kFence:
        if (known) {
          if (op.nil != !held) return;
          if (held && !Learn(c, op.value)) return;
        }
        break;
      case OpKind::kInfo:
        if (known) {
          if (op.nil != !held) return;
          if (held) {
            if (op.holder_seen != m.holder || !Learn(c, op.value)) return;
            if (op.info_waiters != static_cast<int64_t>(m.queue.size())) return;
            if (op.info_ttl_ms < 0) return;  // every lease here has a deadline
            // ttl_ms = ceil((E - now) / 1 ms) at the op's point in [p, response].
            m.e_lo = std::max(m.e_lo, p + (op.info_ttl_ms - 1) * 1000 + 1 - kClockMarginUs);
            m.e_hi = std::min(m.e_hi, AddUs(op.response_us, op.info_ttl_ms * 1000 + kClockMarginUs));
            if (m.e_lo > m.e_hi) return;
          }
        }
        break;
      case OpKind::kSetNxPx:
        if (!held) {
          if (known && op.nil) return;
          if (!Grant(c, op.holder, 0)) return;
          SetDeadline(m, p, op.response_us, op.ttl_ms);
        } else if (known && !op.nil) {
          return;
        }
        break;
      case OpKind::kGet:
        if (known) {
          if (op.nil != !held) return;
          if (held && op.holder_seen != m.holder) return;
        }
        break;
      case OpKind::kDel:
        if (known && op.value != (held ? 1 : 0)) return;
        if (held && !Free(c, p)) return;
        break;
      case OpKind::kPexpire:
        if (known && op.value != (held ? 1 : 0)) return;
        if (held) SetDeadline(m, p, op.response_us, op.ttl_ms);
        break;
      case OpKind::kEvalRelease:
        if (known && op.value != (mine ? 1 : 0)) return;
        if (mine && !Free(c, p)) return;
        break;
      case OpKind::kCrash:
        // The waiters' connections died with the server: none of them can
        // have had a reply, and none is waiting any more.
        for (const Waiter& w : m.queue) {
          if (ops_[w.op]->known) return;
          SetBit(c.done, w.op);
        }
        m.queue.clear();
        if (held && Mut(Mutation::kCrashForgets)) {
          m.holder = kNoHolder;
          m.token = 0;
        } else if (held) {
          m.e_lo -= kRestartSlackUs;
          m.e_hi = AddUs(m.e_hi, kRestartSlackUs);
        }
        break;
    }
    Finish(c, i, p);
    out->push_back(std::move(c));
  }

  std::vector<const Op*> ops_;
  CheckOptions options_;
  size_t words_;
  std::unordered_set<std::string> seen_;
  int64_t states_ = 0;
  bool unknown_ = false;
};

// Tokens come from one counter: each is issued once, and they rise in the
// order of the grants. Each grant of token T on key K to holder H lies in a
// window that holds whatever order the per-key searches picked:
//   - it is before the first reply that showed T;
//   - it is after the invocation of every op on K that showed a smaller token
//     (that op saw K held by a lease T had not replaced yet);
//   - it is inside some op of H on K that can be granted (an acquire, a wait,
//     SET NX, the MULTI), so after the earliest invocation among those still
//     running after the previous bound.
// Tokens then need increasing points inside their windows (a greedy pass in
// token order decides it).
std::string CheckTokens(const History& history,
                        const std::vector<std::pair<std::string, GrantRecord>>& grants) {
  auto shows = [](const Op& op, std::vector<int64_t>* out) {
    out->clear();
    if (!op.known) return;
    switch (op.kind) {
      case OpKind::kAcquire:
      case OpKind::kFence:
      case OpKind::kInfo:
        if (!op.nil) out->push_back(op.value);
        break;
      case OpKind::kMultiAcquire:
        if (!op.nil) out->push_back(op.value);
        if (!op.nil2) out->push_back(op.value2);
        break;
      default:
        break;
    }
  };
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history.ops) by_key[op.key].push_back(&op);

  struct Window {
    std::string key;
    int64_t lo = kLongAgo;
    int64_t hi = kForever;
  };
  std::map<int64_t, Window> windows;
  std::vector<int64_t> shown;
  for (const auto& [key, g] : grants) {
    Window w;
    w.key = key;
    for (const Op* op : by_key[key]) {
      shows(*op, &shown);
      for (int64_t t : shown) {
        if (t < g.token) w.lo = std::max(w.lo, op->invoke_us);
        if (t == g.token) w.hi = std::min(w.hi, op->response_us);
      }
    }
    int64_t cause = kForever;
    for (const Op* op : by_key[key]) {
      bool can_grant = op->kind == OpKind::kAcquire || op->kind == OpKind::kSetNxPx ||
                       op->kind == OpKind::kMultiAcquire;
      if (can_grant && op->holder == g.holder && op->response_us >= w.lo) {
        cause = std::min(cause, op->invoke_us);
      }
    }
    if (cause < kForever) w.lo = std::max(w.lo, cause);
    auto [it, fresh] = windows.emplace(g.token, w);
    if (!fresh) {
      return "token " + std::to_string(g.token) + " was issued twice (keys " + it->second.key +
             " and " + key + ")";
    }
  }
  int64_t point = kLongAgo;
  int64_t raised_by = 0;  // the token whose window set `point`
  for (const auto& [token, w] : windows) {
    if (w.lo > point) {
      point = w.lo;
      raised_by = token;
    }
    if (point > w.hi) {
      const Window& other = windows[raised_by];
      std::string detail = "token " + std::to_string(token) + " (key " + w.key +
                           ") was shown before token " + std::to_string(raised_by) + " (key " +
                           other.key + ") could have been issued\n";
      std::vector<Op> involved;
      for (const Op& op : history.ops) {
        if (op.key == w.key || op.key == other.key || op.kind == OpKind::kCrash) {
          involved.push_back(op);
        }
      }
      return detail + DescribeHistory(involved);
    }
  }
  return "";
}

}  // namespace

const char* MutationName(Mutation m) {
  switch (m) {
    case Mutation::kNone: return "none";
    case Mutation::kServeTail: return "waiter served out of order";
    case Mutation::kTokenReuse: return "token reused";
    case Mutation::kNoExpiry: return "lease never expires (grants after it look early)";
    case Mutation::kCrashForgets: return "a restart loses the leases";
  }
  return "?";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kViolation: return "violation";
    case Verdict::kUnknown: return "unknown";
  }
  return "?";
}

CheckResult CheckHistory(const History& history, const CheckOptions& options) {
  std::map<std::string, std::vector<const Op*>> by_key;
  std::vector<const Op*> crashes;
  for (const Op& op : history.ops) {
    if (op.kind == OpKind::kCrash) {
      crashes.push_back(&op);
    } else {
      by_key[op.key].push_back(&op);
    }
  }
  CheckResult result;
  std::vector<std::pair<std::string, GrantRecord>> all_grants;
  for (auto& [key, ops] : by_key) {
    ops.insert(ops.end(), crashes.begin(), crashes.end());
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke_us < b->invoke_us; });
    KeyChecker checker(ops, options);
    std::vector<GrantRecord> grants;
    Verdict v = checker.Run(&grants);
    result.states += checker.states();
    if (v != Verdict::kOk) {
      std::vector<Op> copy;
      for (const Op* op : ops) copy.push_back(*op);
      result.verdict = v;
      result.detail = std::string(v == Verdict::kUnknown ? "search bound exceeded" : "no linearization") +
                      " for key " + key + " (" + std::to_string(ops.size()) + " ops, " +
                      std::to_string(checker.states()) + " states)\n" + DescribeHistory(copy);
      return result;
    }
    for (const GrantRecord& g : grants) all_grants.emplace_back(key, g);
  }
  std::string tokens = CheckTokens(history, all_grants);
  if (!tokens.empty()) {
    result.verdict = Verdict::kViolation;
    result.detail = tokens;
  }
  return result;
}

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kAcquire: return "ACQUIRE";
    case OpKind::kRenew: return "RENEW";
    case OpKind::kRelease: return "RELEASE";
    case OpKind::kFence: return "FENCE";
    case OpKind::kInfo: return "INFO";
    case OpKind::kSetNxPx: return "SETNXPX";
    case OpKind::kGet: return "GET";
    case OpKind::kDel: return "DEL";
    case OpKind::kPexpire: return "PEXPIRE";
    case OpKind::kEvalRelease: return "EVALREL";
    case OpKind::kMultiAcquire: return "MULTIACQ";
    case OpKind::kCrash: return "CRASH";
  }
  return "?";
}

std::string DescribeOp(const Op& op, int64_t origin_us) {
  std::ostringstream s;
  auto at = [&](int64_t us) {
    if (us >= kForever) return std::string("inf");
    return std::to_string((us - origin_us) / 1000) + "." + std::to_string((us - origin_us) % 1000 / 100);
  };
  s << "[" << at(op.invoke_us) << ", " << at(op.response_us) << "] c" << op.client << " "
    << OpKindName(op.kind) << " " << op.key;
  if (op.holder != kNoHolder) s << " h" << op.holder;
  if (op.token_arg != 0) s << " tok=" << op.token_arg;
  if (op.ttl_ms != 0) s << " ttl=" << op.ttl_ms;
  if (op.wait_ms != 0) s << " wait=" << op.wait_ms << (op.unblockable ? "(unblockable)" : "");
  s << " -> ";
  if (!op.known) {
    s << "?";
  } else if (op.nil) {
    s << "nil";
  } else {
    s << op.value;
  }
  if (op.kind == OpKind::kInfo && op.known && !op.nil) {
    s << " holder=h" << op.holder_seen << " ttl_ms=" << op.info_ttl_ms << " waiters=" << op.info_waiters;
  }
  if (op.kind == OpKind::kGet && op.known && !op.nil) s << " (h" << op.holder_seen << ")";
  if (op.kind == OpKind::kMultiAcquire && op.known) s << ", fence " << (op.nil2 ? "nil" : std::to_string(op.value2));
  return s.str();
}

std::string DescribeHistory(const std::vector<Op>& ops) {
  int64_t origin = kForever;
  for (const Op& op : ops) origin = std::min(origin, op.invoke_us);
  std::string out;
  for (const Op& op : ops) out += "  " + DescribeOp(op, origin) + "\n";
  return out;
}

}  // namespace lincheck
