// The crash driver: rounds of concurrent clients acquiring,
// renewing and releasing on a small key space under appendfsync always, each
// round ended by SIGKILL at a random moment and followed by a restart in the
// same directory. After each restart the state is checked against what the
// clients were told:
//   1. an acknowledged lease that was neither released nor past its deadline
//      is held by the same holder with the same token (and its deadline was
//      not moved);
//   2. a lease known to be released or expired is not held, and no key is
//      held by a (holder, token) no client was granted or had in flight;
//   3. the first token after the restart is above every token seen;
//   4. a new grant's token is above every token acknowledged before it was
//      asked for (tokens rise in real-time order, across restarts too).
// Some rounds start a BGREWRITEAOF, and the kill comes during or after it.
// Each op without WAIT goes out in one of three forms with the same meaning:
// the LOCK.* command, an EVAL script built of the Redis key commands (GET,
// SET PX, PEXPIRE, DEL) and LOCK.FENCE, or the LOCK.* command inside
// MULTI/EXEC; so acknowledged script and transaction effects are held to
// the same rules.
//
// The model: one server is linearizable, but the order in which replies reach
// different threads is not the order of the server, so nothing here relies on
// a cross-thread order except through tokens (which the server orders) and
// real time (an op sent after another was acknowledged came after it). Each
// holder name belongs to one thread, whose own ops are in order. An op whose
// reply did not arrive before the kill may or may not have happened: its key
// is only checked against rule 2's "in flight" allowance.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

constexpr int kRounds = 30;
constexpr int kThreads = 8;
constexpr int kKeys = 64;
// Covers the server's millisecond rounding, and the gap between the test's
// steady clock and the wall clock the log's deadlines are kept in.
constexpr int64_t kMarginMs = 300;

int64_t NowMs() {
  return std::chrono::duration_cast<Millis>(Clock::now().time_since_epoch()).count();
}

std::string KeyName(int i) { return "crash:k" + std::to_string(i); }
std::string HolderName(int thread) { return "c" + std::to_string(thread); }

enum class OpType { kAcquire, kRenew, kRelease };

// One command a client thread sent, and what came back.
struct Op {
  OpType type = OpType::kAcquire;
  int thread = 0;
  std::string key;
  int64_t token_arg = 0;  // kRenew, kRelease
  int64_t ttl_ms = 0;     // kAcquire, kRenew
  int64_t wait_ms = 0;    // kAcquire: 0 for no WAIT
  int64_t sent_ms = 0;
  int64_t acked_ms = 0;
  // Highest token acknowledged to anyone when this op was sent.
  int64_t max_before = 0;
  bool acked = false;    // a reply arrived; otherwise in flight at the kill
  bool granted = false;  // kAcquire: an integer came back
  int64_t result = 0;    // kAcquire: the token; kRenew, kRelease: 0 or 1
};

// The EVAL forms: LOCK.ACQUIRE (no WAIT), LOCK.RENEW and LOCK.RELEASE
// spelled with the Redis key commands, each atomic as a script.
constexpr char kAcquireScript[] =
    "local h = redis.call('GET', KEYS[1]) "
    "if h == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "return redis.call('LOCK.FENCE', KEYS[1]) end "
    "if h then return false end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return redis.call('LOCK.FENCE', KEYS[1])";
constexpr char kRenewScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] and "
    "redis.call('LOCK.FENCE', KEYS[1]) == tonumber(ARGV[2]) then "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) return 1 end return 0";
constexpr char kReleaseScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] and "
    "redis.call('LOCK.FENCE', KEYS[1]) == tonumber(ARGV[2]) then "
    "redis.call('DEL', KEYS[1]) return 1 end return 0";

enum class Form { kLock, kScript, kTransaction };

std::string Describe(const Op& op) {
  std::string s = op.type == OpType::kAcquire ? "ACQUIRE"
                  : op.type == OpType::kRenew ? "RENEW"
                                              : "RELEASE";
  s += " " + op.key + " " + HolderName(op.thread);
  if (op.type != OpType::kAcquire) s += " " + std::to_string(op.token_arg);
  if (op.type != OpType::kRelease) s += " ttl " + std::to_string(op.ttl_ms);
  if (op.wait_ms > 0) s += " WAIT " + std::to_string(op.wait_ms);
  s += " sent@" + std::to_string(op.sent_ms);
  if (!op.acked) return s + " (no reply)";
  s += " acked@" + std::to_string(op.acked_ms) + " -> ";
  if (op.type == OpType::kAcquire) return s + (op.granted ? std::to_string(op.result) : "nil");
  return s + std::to_string(op.result);
}

// A lease as the test knows it: deadline bounds in steady milliseconds.
struct Lease {
  std::string holder;
  int64_t token = 0;
  int64_t deadline_lo = 0;
  int64_t deadline_hi = 0;
};

// Shared by the client threads of one run.
struct Shared {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> max_acked{0};
  std::mutex mu;
  std::vector<std::string> violations;

  void Violation(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    violations.push_back(what);
  }
  void RaiseMax(int64_t token) {
    int64_t seen = max_acked.load();
    while (token > seen && !max_acked.compare_exchange_weak(seen, token)) {
    }
  }
};

// One client: its own connection and holder name; `held` is what it believes
// it holds (key → token). Records every op it sends in `ops`.
void RunClient(int thread, int port, uint64_t seed, std::map<std::string, int64_t> held,
               Shared* shared, std::vector<Op>* ops) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Client c(port, 5000);
  if (!c.ok()) return;
  const std::string holder = HolderName(thread);
  while (!shared->stop.load()) {
    Op op;
    op.thread = thread;
    int64_t dice = pick(0, 99);
    if (!held.empty() && dice < 40) {
      auto it = std::next(held.begin(), pick(0, static_cast<int64_t>(held.size()) - 1));
      op.type = dice < 25 ? OpType::kRelease : OpType::kRenew;
      op.key = it->first;
      op.token_arg = it->second;
    } else {
      op.type = OpType::kAcquire;
      op.key = KeyName(static_cast<int>(pick(0, kKeys - 1)));
      if (pick(0, 99) < 30) op.wait_ms = pick(20, 150);
    }
    if (op.type != OpType::kRelease) op.ttl_ms = pick(5000, 30000);

    const Form form = op.wait_ms > 0 ? Form::kLock : static_cast<Form>(pick(0, 2));
    std::vector<std::string> args;
    switch (op.type) {
      case OpType::kAcquire:
        args = {"LOCK.ACQUIRE", op.key, holder, std::to_string(op.ttl_ms)};
        if (op.wait_ms > 0) args.insert(args.end(), {"WAIT", std::to_string(op.wait_ms)});
        break;
      case OpType::kRenew:
        args = {"LOCK.RENEW", op.key, holder, std::to_string(op.token_arg),
                std::to_string(op.ttl_ms)};
        break;
      case OpType::kRelease:
        args = {"LOCK.RELEASE", op.key, holder, std::to_string(op.token_arg)};
        break;
    }
    if (form == Form::kScript) {
      switch (op.type) {
        case OpType::kAcquire:
          args = {"EVAL", kAcquireScript, "1", op.key, holder, std::to_string(op.ttl_ms)};
          break;
        case OpType::kRenew:
          args = {"EVAL", kRenewScript, "1", op.key, holder, std::to_string(op.token_arg),
                  std::to_string(op.ttl_ms)};
          break;
        case OpType::kRelease:
          args = {"EVAL", kReleaseScript, "1", op.key, holder, std::to_string(op.token_arg)};
          break;
      }
    }
    op.max_before = shared->max_acked.load();
    op.sent_ms = NowMs();
    Reply r;
    if (form == Form::kTransaction) {
      if (c.Cmd({"MULTI"}) && c.Cmd(args)) r = c.Cmd({"EXEC"});
    } else {
      r = c.Cmd(args);
    }
    op.acked_ms = NowMs();
    if (!r) {
      // The server is gone (the kill): this op may or may not have happened.
      ops->push_back(op);
      return;
    }
    op.acked = true;
    // EXEC's reply is an array holding the command's.
    const redisReply* v = r.get();
    if (form == Form::kTransaction) v = r.size() == 1 ? r.at(0) : nullptr;
    const bool is_int = v != nullptr && v->type == REDIS_REPLY_INTEGER;
    const bool is_nil = v != nullptr && v->type == REDIS_REPLY_NIL;
    if (op.type == OpType::kAcquire) {
      if (is_int) {
        op.granted = true;
        op.result = v->integer;
      } else if (!is_nil) {
        op.acked = false;
        shared->Violation("unexpected reply " + r.Describe() + " to " + Describe(op));
      }
    } else if (is_int && (v->integer == 0 || v->integer == 1)) {
      op.result = v->integer;
    } else {
      op.acked = false;
      shared->Violation("unexpected reply " + r.Describe() + " to " + Describe(op));
    }
    ops->push_back(op);
    if (!op.acked) return;

    // Rule 4, and the thread's own view of what it holds.
    auto mine = held.find(op.key);
    switch (op.type) {
      case OpType::kAcquire:
        if (op.granted) {
          bool reacquire = mine != held.end() && mine->second == op.result;
          if (!reacquire && op.result <= op.max_before) {
            shared->Violation("token " + std::to_string(op.result) + " not above " +
                              std::to_string(op.max_before) +
                              ", acknowledged before: " + Describe(op));
          }
          shared->RaiseMax(op.result);
          held[op.key] = op.result;
        } else {
          held.erase(op.key);
        }
        break;
      case OpType::kRenew:
        if (op.result == 0) held.erase(op.key);
        break;
      case OpType::kRelease:
        held.erase(op.key);
        break;
    }
  }
}

// What one round did, for the checks.
struct RoundRecord {
  std::vector<Op> ops;                   // all threads' ops; each thread's in its own order
  std::map<std::string, Lease> initial;  // the leases observed at its start
};

// What the test expects of one key after the restart.
struct Expectation {
  enum Kind { kAny, kHeld, kFree } kind = kAny;
  Lease lease;      // kHeld
  std::string why;  // for messages
};

// Rule 1 and the first half of rule 2 for one key that no op left in flight.
Expectation Expect(const std::string& key, const RoundRecord& round, int64_t info_sent_ms,
                   int64_t info_recv_ms) {
  // The lease with the highest token the clients know of: the last grant.
  Lease g;
  int g_thread = -1;
  size_t g_index = 0;
  bool from_op = false;
  auto initial = round.initial.find(key);
  if (initial != round.initial.end()) g = initial->second;
  for (size_t i = 0; i < round.ops.size(); ++i) {
    const Op& op = round.ops[i];
    if (op.key != key || op.type != OpType::kAcquire || !op.acked || !op.granted) continue;
    if (op.result > g.token) {
      g = Lease{HolderName(op.thread), op.result, op.sent_ms + op.ttl_ms, op.acked_ms + op.ttl_ms};
      g_index = i;
      from_op = true;
    }
  }
  Expectation e;
  if (g.token == 0) {
    e.kind = Expectation::kFree;
    e.why = "never granted";
    return e;
  }
  for (int t = 0; t < kThreads; ++t) {
    if (HolderName(t) == g.holder) g_thread = t;
  }
  // Only the holder's own thread acts on the lease; follow its ops in order.
  enum { kAlive, kReleased, kLost } state = kAlive;
  e.why = "granted " + g.holder + " " + std::to_string(g.token);
  for (size_t i = from_op ? g_index + 1 : 0; i < round.ops.size(); ++i) {
    const Op& op = round.ops[i];
    if (op.thread != g_thread || op.key != key || !op.acked) continue;
    if (op.type == OpType::kAcquire) {
      if (op.granted && op.result == g.token) {
        g.deadline_lo = op.sent_ms + op.ttl_ms;
        g.deadline_hi = op.acked_ms + op.ttl_ms;
        e.why += "; " + Describe(op);
      } else if (!op.granted) {
        state = kLost;
      }
    } else if (op.token_arg == g.token) {
      e.why += "; " + Describe(op);
      if (op.type == OpType::kRenew && op.result == 1) {
        g.deadline_lo = op.sent_ms + op.ttl_ms;
        g.deadline_hi = op.acked_ms + op.ttl_ms;
      } else if (op.type == OpType::kRelease && op.result == 1) {
        state = kReleased;
      } else {
        state = kLost;
      }
    }
  }
  e.lease = g;
  if (state == kReleased) {
    e.kind = Expectation::kFree;
  } else if (state == kAlive && g.deadline_lo - kMarginMs > info_recv_ms) {
    e.kind = Expectation::kHeld;
  } else if (state == kAlive && g.deadline_hi + kMarginMs < info_sent_ms) {
    e.kind = Expectation::kFree;
    e.why += "; deadline passed";
  }
  return e;
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments under load loses no acknowledged lease") {
  std::random_device rd;
  const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };

  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  // Small auto-rewrite thresholds, so that rewrites also start on their own
  // and some kills land in them.
  options.extra = {"--appendfsync",
                   "always",
                   "--auto-aof-rewrite-percentage",
                   "50",
                   "--auto-aof-rewrite-min-size",
                   "16kb"};
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());

  // Every (key, holder) ever granted or observed, by token.
  std::map<int64_t, std::pair<std::string, std::string>> known;
  int64_t max_seen = 0;
  std::map<std::string, Lease> observed;
  int total_ops = 0, total_acked = 0, rewrites = 0, held_checks = 0, free_checks = 0;

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    Shared shared;
    shared.max_acked = max_seen;
    RoundRecord record;
    record.initial = observed;
    std::vector<std::vector<Op>> ops(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      std::map<std::string, int64_t> held;
      for (const auto& [key, lease] : observed) {
        if (lease.holder == HolderName(t)) held[key] = lease.token;
      }
      threads.emplace_back(RunClient, t, srv->port(), seed + static_cast<uint64_t>(round * 100 + t),
                           held, &shared, &ops[t]);
    }

    // Every third round asks for a rewrite and is killed during or after it.
    std::string rewrite_note;
    if (round % 3 == 2) {
      std::this_thread::sleep_for(Millis(pick(5, 100)));
      Client admin(srv->port(), 5000);
      Reply r = admin.Cmd({"BGREWRITEAOF"});
      CHECK_MESSAGE((r.str() == "Background append only file rewriting started" ||
                     r.str() == "ERR Background append only file rewriting already in progress"),
                    r.Describe());
      if (pick(0, 1) == 0) {
        rewrite_note = "killed during the rewrite";
        std::this_thread::sleep_for(Millis(pick(0, 3)));
      } else {
        rewrite_note = "killed after the rewrite";
        bool done = WaitFor(
            [&] {
              return InfoField(admin.Cmd({"INFO", "persistence"}).str(),
                               "aof_rewrite_in_progress") == "0";
            },
            10000, 5);
        CHECK(done);
        std::this_thread::sleep_for(Millis(pick(0, 50)));
        ++rewrites;
      }
    } else {
      std::this_thread::sleep_for(Millis(pick(5, 300)));
    }
    CAPTURE(rewrite_note);
    srv->Kill();
    shared.stop = true;
    for (std::thread& t : threads) t.join();
    for (std::vector<Op>& v : ops) record.ops.insert(record.ops.end(), v.begin(), v.end());

    std::set<std::string> in_flight;
    for (const Op& op : record.ops) {
      ++total_ops;
      if (op.acked) {
        ++total_acked;
        if (op.type == OpType::kAcquire && op.granted) {
          max_seen = std::max(max_seen, op.result);
          auto [it, fresh] =
              known.emplace(op.result, std::make_pair(op.key, HolderName(op.thread)));
          if (!fresh && it->second != std::make_pair(op.key, HolderName(op.thread))) {
            shared.Violation("token " + std::to_string(op.result) + " granted twice: " +
                             it->second.first + "/" + it->second.second + " and " + Describe(op));
          }
        }
      } else {
        in_flight.insert(op.key);
      }
    }

    srv = std::make_unique<TestServer>(options);
    REQUIRE_MESSAGE(srv->started(), "restart after round ", round, ": ", srv->start_error());
    auto c = srv->Connect();
    REQUIRE(c->ok());

    std::map<std::string, Lease> now_held;
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = KeyName(k);
      int64_t sent = NowMs();
      Reply r = c->Cmd({"LOCK.INFO", key});
      int64_t recv = NowMs();
      std::optional<Lease> seen;
      if (!r.is_nil()) {
        std::optional<LockInfo> info = ParseLockInfo(r);
        REQUIRE_MESSAGE(info.has_value(), key, ": ", r.Describe());
        if (info->ttl_ms < 0) shared.Violation(key + " has no deadline after restart");
        seen = Lease{info->holder, info->token, sent + info->ttl_ms - 1, recv + info->ttl_ms + 1};
        now_held[key] = *seen;
      }
      std::string seen_text = seen ? seen->holder + " " + std::to_string(seen->token) + " ttl " +
                                         std::to_string(seen->deadline_lo - sent)
                                   : "free";

      // Rule 2: nobody holds what no client was granted or had in flight.
      if (seen) {
        auto it = known.find(seen->token);
        if (it != known.end()) {
          if (it->second != std::make_pair(key, seen->holder)) {
            shared.Violation(key + " is held by " + seen_text + ", but that token was granted on " +
                             it->second.first + " to " + it->second.second);
          }
        } else {
          bool explained = false;
          for (const Op& op : record.ops) {
            if (!op.acked && op.type == OpType::kAcquire && op.key == key &&
                HolderName(op.thread) == seen->holder && seen->token > op.max_before) {
              explained = true;
            }
          }
          if (!explained) shared.Violation(key + " is held by an unknown lease: " + seen_text);
          known.emplace(seen->token, std::make_pair(key, seen->holder));
        }
        max_seen = std::max(max_seen, seen->token);
      }

      // Rule 1 (and 2 for released or expired leases), unless an op on the
      // key was in flight.
      if (in_flight.count(key) != 0) continue;
      Expectation e = Expect(key, record, sent, recv);
      if (e.kind == Expectation::kHeld) {
        ++held_checks;
        if (!seen || seen->holder != e.lease.holder || seen->token != e.lease.token) {
          shared.Violation(key + " should be held (" + e.why + ") but is " + seen_text);
        } else if (seen->deadline_lo > e.lease.deadline_hi + kMarginMs) {
          shared.Violation(key + "'s deadline moved later: " + seen_text + " (" + e.why + ")");
        }
      } else if (e.kind == Expectation::kFree && !seen) {
        ++free_checks;
      } else if (e.kind == Expectation::kFree && seen) {
        shared.Violation(key + " should be free (" + e.why + ") but is " + seen_text);
      }
    }

    // Rule 3: the first grant after the restart is above everything seen.
    Reply probe = c->Cmd({"LOCK.ACQUIRE", "crash:probe", "probe", "1000"});
    if (!probe.is_int()) {
      shared.Violation("probe acquire after restart: " + probe.Describe());
    } else {
      if (probe.integer() <= max_seen) {
        shared.Violation("first token after restart " + std::to_string(probe.integer()) +
                         " not above " + std::to_string(max_seen));
      }
      max_seen = std::max(max_seen, probe.integer());
      known.emplace(probe.integer(), std::make_pair("crash:probe", "probe"));
      c->Cmd({"LOCK.RELEASE", "crash:probe", "probe", std::to_string(probe.integer())});
    }

    std::string report;
    for (const std::string& v : shared.violations) report += "\n  " + v;
    if (!shared.violations.empty()) {
      report += "\nops of this round:";
      for (const Op& op : record.ops) report += "\n  " + Describe(op);
    }
    REQUIRE_MESSAGE(shared.violations.empty(), "round ", round, ":", report);
    observed = now_held;
  }
  MESSAGE("crash: ", kRounds, " rounds, ", total_ops, " ops (", total_acked, " acknowledged), ",
          rewrites, " completed rewrites before a kill; ", held_checks, " leases and ", free_checks,
          " free keys checked; log ", ReadWholeFile(dir.path + "/appendonly.aof").size(), " bytes");
  // The driver must have exercised something.
  CHECK(total_acked > kRounds * 10);
  CHECK(held_checks > kRounds * 5);
}
