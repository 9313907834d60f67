// Engine invariants as the fuzz targets check them, from the public API only
// (lockd/engine.h lists them): the lease count, the token counter, deadline
// bookkeeping, and that the timing wheel never leaves a lease held more than
// a millisecond past its deadline once Advance has caught up. A broken
// invariant aborts with a message, so libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lockd/engine.h"

namespace lockd::fuzz {

[[noreturn]] inline void Broken(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "invariant broken: %s %s\n", what, detail.c_str());
  std::abort();
}

struct LeaseCopy {
  std::string key;
  std::string holder;
  Token token = 0;
  std::optional<MonoTime> deadline;
};

inline std::vector<LeaseCopy> Leases(const Engine& engine) {
  std::vector<LeaseCopy> out;
  engine.ForEachLease([&](const LeaseView& l) {
    out.push_back({std::string(l.key), std::string(l.holder), l.token, l.deadline});
  });
  return out;
}

// `distinct_tokens`: no two keys share a token, which holds when every
// lease came from a grant (not from a replayed log, which may say anything).
inline void CheckEngine(Engine& engine, MonoTime now, bool distinct_tokens) {
  std::vector<LeaseCopy> leases = Leases(engine);
  if (leases.size() != engine.size()) Broken("size() differs from the leases in the tables");
  std::set<std::string> keys;
  std::set<Token> tokens;
  size_t without_deadline = 0;
  for (const LeaseCopy& l : leases) {
    if (!keys.insert(l.key).second) Broken("a key is held twice", l.key);
    if (l.token == 0 || l.token > engine.last_token()) Broken("token outside 1..last_token", l.key);
    if (distinct_tokens && !tokens.insert(l.token).second) Broken("two keys share a token", l.key);
    if (!l.deadline) ++without_deadline;
  }
  if (without_deadline != engine.leases_without_deadline()) {
    Broken("leases_without_deadline() is wrong");
  }
  // A lease is never reported held at or after its deadline.
  for (const LeaseCopy& l : leases) {
    std::optional<LeaseView> found = engine.Find(l.key, now);
    if (found && found->deadline && found->deadline->us <= now.us) {
      Broken("Find reports a lease past its deadline", l.key);
    }
  }
}

// Runs the timers until nothing is due at `now`, then checks that no lease
// is left more than a millisecond past its deadline (timers fire late by at
// most the rounding to the millisecond, never early).
inline void DrainTimers(Engine& engine, MonoTime now) {
  int rounds = 0;
  while (engine.Advance(now)) {
    if (++rounds > 1'000'000) Broken("Advance never catches up");
  }
  engine.ForEachLease([&](const LeaseView& l) {
    if (l.deadline && l.deadline->us + 1000 <= now.us) {
      Broken("a lease outlived its deadline after Advance", std::string(l.key));
    }
  });
}

}  // namespace lockd::fuzz
