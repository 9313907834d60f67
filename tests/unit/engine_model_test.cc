// A randomized, model-based test of the engine: thousands of seeded
// sequences of acquire / acquire-with-wait / renew / release / find /
// cancel / SET (every condition and deadline mode) / DEL / a deadline set,
// removed or in the past / FLUSHALL / clock moves (some crossing wheel levels, some without running the
// timers) over a few keys and holders, each step checked against a small
// reference model built from std::map and std::deque: replies, listener
// calls, leases, waiter counts, stats and the wheel's next wakeup.
//
// The model processes due events in time order (a wait that ends at the
// same µs as a lease ends first); the engine may fire due timers in any
// order, so after Advance the listener calls are compared per key (changes)
// and as a set (wait outcomes). Set LOCKD_TEST_SEED to replay a seed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lockd/engine.h"

namespace lockd {
namespace {

// No deadline (SET without one, PERSIST) in the model.
constexpr int64_t kNone = INT64_MAX;

std::string Us(int64_t us) { return us == kNone ? "none" : std::to_string(us); }

// doctest prints strings, not containers: join them for readable failures.
std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n  " + line;
  return out;
}
std::string Describe(const LeaseView& v) {
  return std::string(v.holder) + " " + std::to_string(v.token) + " " +
         Us(v.deadline ? v.deadline->us : kNone) + " w" + std::to_string(v.waiters);
}

struct ModelWaiter {
  int id;
  std::string holder;
  int64_t ttl_ms;
  int64_t until_us;
};

struct ModelLease {
  std::string holder;
  Token token;
  int64_t deadline_us;
  std::deque<ModelWaiter> waiters;
};

// The obviously-correct version of the lock model, including the engine's rule
// for late processing: a key freed at F goes to the first waiter whose wait
// ends after F, and a timer is due once its deadline's ms tick has come.
class Model {
 public:
  explicit Model(uint32_t max_waiters) : max_waiters_(max_waiters) {}

  std::string Acquire(const std::string& k, const std::string& h, int64_t ttl, int64_t now,
                      int64_t wait, int id) {
    SettleOnAccess(k, now);
    auto it = keys_.find(k);
    if (it == keys_.end()) {
      ModelLease& l = keys_[k];
      l = ModelLease{h, ++last_token_, now + ttl * 1000, {}};
      ++stats_.grants;
      Log("grant", k, l);
      return "granted " + std::to_string(l.token);
    }
    ModelLease& l = it->second;
    if (l.holder == h) {
      l.deadline_us = now + ttl * 1000;
      ++stats_.renewals;
      Log("extend", k, l);
      return "reacquired " + std::to_string(l.token);
    }
    if (wait == 0) return "busy";
    if (l.waiters.size() >= max_waiters_) return "too-many";
    l.waiters.push_back(ModelWaiter{id, h, ttl, now + wait * 1000});
    return "queued";
  }

  bool Renew(const std::string& k, const std::string& h, Token t, int64_t ttl, int64_t now) {
    if (!SettleOnAccess(k, now)) return false;
    auto it = keys_.find(k);
    if (it == keys_.end() || it->second.holder != h || it->second.token != t) return false;
    it->second.deadline_us = now + ttl * 1000;
    ++stats_.renewals;
    Log("extend", k, it->second);
    return true;
  }

  bool Release(const std::string& k, const std::string& h, Token t, int64_t now) {
    if (!SettleOnAccess(k, now)) return false;
    auto it = keys_.find(k);
    if (it == keys_.end() || it->second.holder != h || it->second.token != t) return false;
    ++stats_.releases;
    events.push_back("free " + k + " release");
    HandOff(k, now, now);
    return true;
  }

  std::string Find(const std::string& k, int64_t now) {
    SettleOnAccess(k, now);
    auto it = keys_.find(k);
    return it == keys_.end() ? "free" : Describe(it->second);
  }

  void Cancel(int id) {
    for (auto& [k, l] : keys_) {
      for (auto w = l.waiters.begin(); w != l.waiters.end(); ++w) {
        if (w->id == id) {
          l.waiters.erase(w);
          return;
        }
      }
    }
    FAIL("model: no waiter " << id);
  }

  // SET: "notset", "set" (the key ended up free) or "set <token>".
  std::string Set(const std::string& k, const std::string& v, SetCondition cond,
                  const std::string& compare, SetDeadlineMode mode, int64_t at, int64_t now) {
    SettleOnAccess(k, now);
    auto it = keys_.find(k);
    bool held = it != keys_.end();
    bool pass = cond == SetCondition::kNone || (cond == SetCondition::kIfFree && !held) ||
                (cond == SetCondition::kIfHeld && held) ||
                (cond == SetCondition::kIfEquals && held && it->second.holder == compare);
    if (!pass) return "notset";
    int64_t deadline = mode == SetDeadlineMode::kAt                ? at
                       : mode == SetDeadlineMode::kKeep && held ? it->second.deadline_us
                                                                 : kNone;
    if (deadline != kNone && deadline <= now) {
      if (held) {
        ++stats_.deletes;
        events.push_back("free " + k + " delete");
        HandOff(k, now, now);
      }
      return "set";
    }
    if (!held) {
      ModelLease& l = keys_[k];
      l = ModelLease{v, ++last_token_, deadline, {}};
      ++stats_.grants;
      Log("grant", k, l);
      return "set " + std::to_string(l.token);
    }
    ModelLease& l = it->second;
    l.deadline_us = deadline;
    if (l.holder == v) {
      ++stats_.renewals;
      Log("extend", k, l);
      return "set " + std::to_string(l.token);
    }
    l.holder = v;
    l.token = ++last_token_;
    ++stats_.grants;
    Log("grant", k, l);
    // The waiters at the head with the new holder: a re-acquire for them.
    while (!l.waiters.empty()) {
      ModelWaiter w = l.waiters.front();
      if (w.until_us <= now) {
        TimeOut(l, l.waiters.begin());
        continue;
      }
      if (w.holder != l.holder) break;
      l.waiters.pop_front();
      l.deadline_us = now + w.ttl_ms * 1000;
      ++stats_.renewals;
      Log("extend", k, l);
      events.push_back("granted #" + std::to_string(w.id) + " " + std::to_string(l.token));
    }
    return "set " + std::to_string(l.token);
  }

  bool Delete(const std::string& k, int64_t now) {
    SettleOnAccess(k, now);
    if (keys_.count(k) == 0) return false;
    ++stats_.deletes;
    events.push_back("free " + k + " delete");
    HandOff(k, now, now);
    return true;
  }

  bool SetDeadline(const std::string& k, int64_t deadline, int64_t now) {
    SettleOnAccess(k, now);
    auto it = keys_.find(k);
    if (it == keys_.end()) return false;
    if (deadline != kNone && deadline <= now) return Delete(k, now);
    it->second.deadline_us = deadline;
    ++stats_.renewals;
    Log("extend", k, it->second);
    return true;
  }

  size_t FlushAll(int64_t now) {
    std::vector<std::string> keys;
    for (auto& [k, l] : keys_) keys.push_back(k);
    size_t freed = 0;
    for (const std::string& k : keys) {
      SettleOnAccess(k, now);
      if (keys_.count(k) == 0) continue;
      ++stats_.deletes;
      events.push_back("free " + k + " delete");
      HandOff(k, now, now);
      ++freed;
    }
    return freed;
  }

  // Runs every timer due at `now`, in time order.
  void Advance(int64_t now) {
    const int64_t now_tick = now / 1000;
    auto due = [&](int64_t t) { return t != kNone && (t + 999) / 1000 <= now_tick; };
    std::vector<std::string> keys;
    for (auto& [k, l] : keys_) keys.push_back(k);
    for (const std::string& k : keys) {
      for (;;) {
        auto it = keys_.find(k);
        if (it == keys_.end()) break;
        ModelLease& l = it->second;
        auto first = l.waiters.end();
        for (auto w = l.waiters.begin(); w != l.waiters.end(); ++w) {
          if (due(w->until_us) && (first == l.waiters.end() || w->until_us < first->until_us))
            first = w;
        }
        bool lease_due = due(l.deadline_us);
        if (first != l.waiters.end() && (!lease_due || first->until_us <= l.deadline_us)) {
          TimeOut(l, first);
        } else if (lease_due) {
          Expire(k, now);
        } else {
          break;
        }
      }
    }
  }

  // The earliest tick (in µs) at which some timer is due, or INT64_MAX.
  int64_t EarliestDue() const {
    int64_t best = INT64_MAX;
    auto tick_us = [](int64_t t) { return (t + 999) / 1000 * 1000; };
    for (auto& [k, l] : keys_) {
      if (l.deadline_us != kNone) best = std::min(best, tick_us(l.deadline_us));
      for (const ModelWaiter& w : l.waiters) best = std::min(best, tick_us(w.until_us));
    }
    return best;
  }

  // Leases held at `now`, as Scan shows them, one "key: lease" per line.
  std::string Held(int64_t now) const {
    std::string out;
    for (auto& [k, l] : keys_) {
      if (now < l.deadline_us) out += "\n  " + k + ": " + Describe(l);
    }
    return out;
  }
  size_t size() const { return keys_.size(); }
  size_t without_deadline() const {
    size_t n = 0;
    for (auto& [k, l] : keys_) n += l.deadline_us == kNone;
    return n;
  }
  size_t waiters() const {
    size_t n = 0;
    for (auto& [k, l] : keys_) n += l.waiters.size();
    return n;
  }
  const ModelLease* lease(const std::string& k) const {
    auto it = keys_.find(k);
    return it == keys_.end() ? nullptr : &it->second;
  }
  std::vector<int> WaiterIds() const {
    std::vector<int> ids;
    for (auto& [k, l] : keys_) {
      for (const ModelWaiter& w : l.waiters) ids.push_back(w.id);
    }
    return ids;
  }
  const EngineStats& stats() const { return stats_; }
  Token last_token() const { return last_token_; }
  // Renumbers tokens issued by an Advance (see CanonicalTokens).
  void RelabelTokens(const std::map<Token, Token>& relabel) {
    for (auto& [k, l] : keys_) {
      auto it = relabel.find(l.token);
      if (it != relabel.end()) l.token = it->second;
    }
  }

  std::vector<std::string> events;

 private:
  static std::string Describe(const ModelLease& l) {
    return l.holder + " " + std::to_string(l.token) + " " + Us(l.deadline_us) + " w" +
           std::to_string(l.waiters.size());
  }
  void Log(const char* kind, const std::string& k, const ModelLease& l) {
    events.push_back(std::string(kind) + " " + k + " " + l.holder + " " + std::to_string(l.token) +
                     " " + Us(l.deadline_us));
  }
  // Returns false if the lease on k had expired (and now has been expired).
  bool SettleOnAccess(const std::string& k, int64_t now) {
    auto it = keys_.find(k);
    if (it == keys_.end() || now < it->second.deadline_us) return true;
    Expire(k, now);
    return false;
  }
  void Expire(const std::string& k, int64_t now) {
    ++stats_.expiries;
    events.push_back("free " + k + " expire");
    HandOff(k, keys_[k].deadline_us, now);
  }
  void TimeOut(ModelLease& l, std::deque<ModelWaiter>::iterator w) {
    ++stats_.wait_timeouts;
    events.push_back("timeout #" + std::to_string(w->id));
    l.waiters.erase(w);
  }
  void HandOff(const std::string& k, int64_t free_at, int64_t now) {
    ModelLease& l = keys_[k];
    bool granted = false;
    while (!l.waiters.empty()) {
      ModelWaiter w = l.waiters.front();
      if (w.until_us <= free_at) {
        TimeOut(l, l.waiters.begin());
        continue;
      }
      if (granted && w.holder != l.holder) break;
      l.waiters.pop_front();
      l.deadline_us = now + w.ttl_ms * 1000;
      if (!granted) {
        l.holder = w.holder;
        l.token = ++last_token_;
        ++stats_.grants;
        ++stats_.handoffs;
        Log("grant", k, l);
        granted = true;
      } else {
        ++stats_.renewals;
        Log("extend", k, l);
      }
      events.push_back("granted #" + std::to_string(w.id) + " " + std::to_string(l.token));
    }
    if (!granted) keys_.erase(k);
  }

  uint32_t max_waiters_;
  std::map<std::string, ModelLease> keys_;
  Token last_token_ = 0;
  EngineStats stats_;
};

// Records the engine's listener calls in the model's format.
class Recorder : public WaitListener, public ChangeListener {
 public:
  void OnWaitGranted(void* context, Token token) override {
    int id = static_cast<int>(reinterpret_cast<intptr_t>(context));
    events.push_back("granted #" + std::to_string(id) + " " + std::to_string(token));
    ended.push_back(id);
  }
  void OnWaitTimedOut(void* context) override {
    int id = static_cast<int>(reinterpret_cast<intptr_t>(context));
    events.push_back("timeout #" + std::to_string(id));
    ended.push_back(id);
  }
  void OnChange(const Change& c) override {
    if (c.kind == ChangeKind::kFree) {
      events.push_back("free " + std::string(c.key) +
                       (c.cause == FreeCause::kRelease  ? " release"
                        : c.cause == FreeCause::kDelete ? " delete"
                                                        : " expire"));
      return;
    }
    // Tokens strictly increase at every grant, whatever the key.
    if (c.kind == ChangeKind::kGrant) {
      CHECK(c.token > max_granted);
      max_granted = c.token;
    }
    events.push_back(std::string(c.kind == ChangeKind::kGrant ? "grant " : "extend ") +
                     std::string(c.key) + " " + std::string(c.holder) + " " +
                     std::to_string(c.token) + " " + Us(c.deadline ? c.deadline->us : kNone));
  }
  std::vector<std::string> events;
  std::vector<int> ended;
  Token max_granted = 0;
};

std::vector<std::string> Fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string field; in >> field;) out.push_back(field);
  return out;
}

// Tokens granted by one Advance (or FLUSHALL) to different keys are numbered
// in the order the timers fired (the table order), which is unspecified (and
// meaningless: tokens need only increase). Maps the i-th token the model
// granted on a key to the i-th the engine granted on it, checking that both
// granted the same keys as often and the same set of tokens.
std::map<Token, Token> CanonicalTokens(const std::vector<std::string>& engine,
                                       const std::vector<std::string>& model) {
  auto grants = [](const std::vector<std::string>& events) {
    std::map<std::string, std::vector<Token>> by_key;
    for (const std::string& e : events) {
      std::vector<std::string> f = Fields(e);
      if (f[0] == "grant") by_key[f[1]].push_back(std::stoull(f[3]));
    }
    return by_key;
  };
  std::map<std::string, std::vector<Token>> ours = grants(engine), theirs = grants(model);
  std::map<Token, Token> relabel;
  std::set<Token> a, b;
  for (auto& [key, tokens] : ours) a.insert(tokens.begin(), tokens.end());
  for (auto& [key, tokens] : theirs) {
    CHECK(ours[key].size() == tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      relabel[tokens[i]] = i < ours[key].size() ? ours[key][i] : tokens[i];
      b.insert(tokens[i]);
    }
  }
  CHECK(a == b);
  return relabel;
}

// After an Advance, timers may have fired in any order: compare the changes
// per key (in order) and the wait outcomes as a set, with the model's new
// tokens renamed to the engine's.
void CheckSameUpToTimerOrder(const std::vector<std::string>& engine, std::vector<std::string> model,
                             const std::map<Token, Token>& relabel) {
  for (std::string& e : model) {
    std::vector<std::string> f = Fields(e);
    size_t token_field = f[0] == "granted" ? 2 : (f[0] == "grant" || f[0] == "extend") ? 3 : 0;
    if (token_field == 0) continue;
    auto it = relabel.find(std::stoull(f[token_field]));
    if (it == relabel.end()) continue;
    f[token_field] = std::to_string(it->second);
    e.clear();
    for (const std::string& field : f) e += (e.empty() ? "" : " ") + field;
  }
  auto split = [](const std::vector<std::string>& events, std::vector<std::string>* changes,
                  std::vector<std::string>* waits) {
    for (const std::string& e : events) {
      bool wait = e.rfind("granted #", 0) == 0 || e.rfind("timeout #", 0) == 0;
      (wait ? waits : changes)->push_back(e);
    }
    std::stable_sort(
        changes->begin(), changes->end(),
        [](const std::string& a, const std::string& b) { return Fields(a)[1] < Fields(b)[1]; });
    std::sort(waits->begin(), waits->end());
  };
  std::vector<std::string> engine_changes, engine_waits, model_changes, model_waits;
  split(engine, &engine_changes, &engine_waits);
  split(model, &model_changes, &model_waits);
  CHECK(Join(engine_changes) == Join(model_changes));
  CHECK(Join(engine_waits) == Join(model_waits));
}

uint64_t TestSeed() {
  if (const char* env = std::getenv("LOCKD_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

// One random sequence of `steps` operations.
void RunSequence(std::mt19937_64& rng, int steps) {
  static const char* kKeys[] = {"k0", "k1", "k2", "k3"};
  static const char* kHolders[] = {"alice", "bob", "carol", "a-much-longer-holder-name-than-most"};
  static const int64_t kTtls[] = {1, 2, 5, 20, 63, 64, 65, 100, 1000, 4096, 70'000};
  static const int64_t kWaits[] = {1, 3, 10, 50, 64, 200, 5000, 300'000};
  static const int64_t kSteps[] = {1,      500,    999,    1000,      1001,       7'000,
                                   63'000, 64'000, 65'000, 4'096'000, 262'144'000};
  static const uint32_t kBudgets[] = {1, 2, 3, 7, 2048};
  static const uint32_t kMaxWaiters[] = {1, 2, 3, 100};

  auto pick = [&](const auto& array) { return array[rng() % std::size(array)]; };
  EngineOptions options;
  options.partitions = rng() % 2 == 0 ? 64 : 1;
  options.timer_budget = pick(kBudgets);
  options.max_waiters_per_key = pick(kMaxWaiters);
  options.hash_seed = rng() | 1;
  Recorder rec;
  Engine engine(options, &rec, &rec);
  Model model(options.max_waiters_per_key);
  // Start anywhere, including off a millisecond boundary.
  int64_t now = static_cast<int64_t>(rng() % 10'000'000'000ull);
  std::map<int, Waiter*> waiters;
  int next_id = 1;
  bool run_timers = rng() % 4 != 0;  // some sequences leave timers to the accesses

  for (int step = 0; step < steps; ++step) {
    rec.events.clear();
    rec.ended.clear();
    model.events.clear();
    std::string key = pick(kKeys);
    std::string holder = pick(kHolders);
    const ModelLease* lease = model.lease(key);
    bool after_advance = false;
    int op = static_cast<int>(rng() % 100);
    CAPTURE(step);
    CAPTURE(op);
    if (op < 25) {
      int64_t ttl = pick(kTtls);
      bool wait = rng() % 2 == 0;
      int64_t wait_ms = wait ? pick(kWaits) : 0;
      int id = next_id++;
      AcquireResult r = engine.Acquire(key, holder, ttl, MonoTime{now}, wait_ms,
                                       reinterpret_cast<void*>(static_cast<intptr_t>(id)));
      std::string expected = model.Acquire(key, holder, ttl, now, wait_ms, id);
      static const char* kNames[] = {"granted", "reacquired", "busy", "queued", "too-many"};
      std::string got = kNames[static_cast<int>(r.outcome)];
      if (r.outcome == AcquireOutcome::kGranted || r.outcome == AcquireOutcome::kReacquired) {
        got += " " + std::to_string(r.token);
      }
      CHECK(got == expected);
      if (r.outcome == AcquireOutcome::kQueued) waiters[id] = r.waiter;
    } else if (op < 40) {
      // Mostly the right holder and token, sometimes not.
      bool right = lease != nullptr && rng() % 4 != 0;
      std::string h = right ? lease->holder : holder;
      Token t = right ? lease->token : rng() % (model.last_token() + 2);
      int64_t ttl = pick(kTtls);
      CHECK(engine.Renew(key, h, t, ttl, MonoTime{now}) == model.Renew(key, h, t, ttl, now));
    } else if (op < 55) {
      bool right = lease != nullptr && rng() % 4 != 0;
      std::string h = right ? lease->holder : holder;
      Token t = right ? lease->token : rng() % (model.last_token() + 2);
      CHECK(engine.Release(key, h, t, MonoTime{now}) == model.Release(key, h, t, now));
    } else if (op < 62) {
      std::optional<LeaseView> v = engine.Find(key, MonoTime{now});
      CHECK((v ? Describe(*v) : "free") == model.Find(key, now));
    } else if (op >= 67 && op < 87) {
      // The key-writing operations (these take part of the clock moves' share).
      int64_t at = now + static_cast<int64_t>(rng() % 2'000'000) - 200'000;  // some in the past
      if (op < 77) {
        static const SetCondition kConds[] = {SetCondition::kNone, SetCondition::kIfFree,
                                              SetCondition::kIfHeld, SetCondition::kIfEquals};
        static const SetDeadlineMode kModes[] = {SetDeadlineMode::kNone, SetDeadlineMode::kAt,
                                                 SetDeadlineMode::kAt, SetDeadlineMode::kKeep};
        SetCondition cond = pick(kConds);
        SetDeadlineMode mode = pick(kModes);
        std::string compare = lease != nullptr && rng() % 2 == 0 ? lease->holder : pick(kHolders);
        SetOptions o{.condition = cond, .compare = compare, .deadline_mode = mode,
                     .deadline = MonoTime{at}, .get_old = true};
        SetResult r = engine.Set(key, holder, o, MonoTime{now});
        std::string expected = model.Set(key, holder, cond, compare, mode, at, now);
        std::string got = r.outcome == SetOutcome::kNotSet ? "notset"
                          : r.token == 0                    ? "set"
                                                            : "set " + std::to_string(r.token);
        CHECK(got == expected);
      } else if (op < 81) {
        CHECK(engine.Delete(key, MonoTime{now}) == model.Delete(key, now));
      } else if (op < 86) {
        int64_t d = rng() % 3 == 0 ? kNone : at;
        std::optional<MonoTime> deadline;
        if (d != kNone) deadline = MonoTime{d};
        CHECK(engine.SetDeadline(key, deadline, MonoTime{now}) == model.SetDeadline(key, d, now));
      } else {
        CHECK(engine.FlushAll(MonoTime{now}) == model.FlushAll(now));
        after_advance = true;  // keys are flushed in table order
      }
    } else if (op < 67) {
      std::vector<int> ids = model.WaiterIds();
      if (!ids.empty()) {
        int id = ids[rng() % ids.size()];
        engine.CancelWait(waiters.at(id));
        waiters.erase(id);
        model.Cancel(id);
      }
    } else {
      now += static_cast<int64_t>(rng() % static_cast<uint64_t>(pick(kSteps))) + 1;
      if (run_timers || rng() % 8 == 0) {
        int calls = 0;
        while (engine.Advance(MonoTime{now})) {
          REQUIRE(engine.NextWakeup().has_value());
          REQUIRE(engine.NextWakeup()->us <= now);
          REQUIRE(++calls < 100000);
        }
        model.Advance(now);
        after_advance = true;
      }
    }

    if (after_advance) {
      std::map<Token, Token> relabel = CanonicalTokens(rec.events, model.events);
      CheckSameUpToTimerOrder(rec.events, model.events, relabel);
      model.RelabelTokens(relabel);
    } else {
      CHECK(Join(rec.events) == Join(model.events));
    }
    for (int id : rec.ended) waiters.erase(id);

    // The whole state agrees: leases held now (via Scan, which changes
    // nothing), counts, stats, tokens, and a wakeup no later than needed.
    std::map<std::string, std::string> held;  // Scan's order is the table's
    uint64_t cursor = 0;
    do {
      size_t count = rng() % 4 == 0 ? 1 + rng() % 50 : 100000;
      cursor = engine.Scan(cursor, count, MonoTime{now},
                           [&](const LeaseView& v) { held[std::string(v.key)] = Describe(v); });
    } while (cursor != 0);
    std::string scanned;
    for (const auto& [k, lease] : held) scanned += "\n  " + k + ": " + lease;
    REQUIRE(scanned == model.Held(now));
    auto describe = [](size_t size, size_t waiters, Token last, const EngineStats& st) {
      return std::to_string(size) + " " + std::to_string(waiters) + " " + std::to_string(last) +
             " | " + std::to_string(st.grants) + " " + std::to_string(st.renewals) + " " +
             std::to_string(st.releases) + " " + std::to_string(st.expiries) + " " +
             std::to_string(st.handoffs) + " " + std::to_string(st.wait_timeouts) + " " +
             std::to_string(st.deletes);
    };
    REQUIRE(describe(engine.size(), engine.waiter_count(), engine.last_token(), engine.stats()) ==
            describe(model.size(), model.waiters(), model.last_token(), model.stats()));
    REQUIRE(waiters.size() == model.waiters());
    REQUIRE(engine.leases_without_deadline() == model.without_deadline());
    int64_t earliest = model.EarliestDue();
    if (earliest == INT64_MAX) {
      REQUIRE_FALSE(engine.NextWakeup().has_value());
    } else {
      REQUIRE(engine.NextWakeup().has_value());
      REQUIRE(engine.NextWakeup()->us <= earliest);
    }
  }
}

TEST_CASE("engine model: random operation sequences match the reference model") {
  uint64_t seed = TestSeed();
  MESSAGE("engine model test seed: " << seed << " (LOCKD_TEST_SEED=" << seed << " replays it)");
  std::mt19937_64 rng(seed);
  for (int sequence = 0; sequence < 2000; ++sequence) {
    CAPTURE(seed);
    CAPTURE(sequence);
    RunSequence(rng, 150);
  }
}

}  // namespace
}  // namespace lockd
