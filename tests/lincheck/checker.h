// The linearizability checker: is there one order of a history's operations,
// each placed at a point inside its real-time bounds, in which the contract's
// lock register (model.cc's rules) gives every reply the client saw?
//
// It is a Wing–Gong / Lowe search with a memo of (linearized set, model state)
// as porcupine keeps, run per key (a key's lock is independent of the others),
// then one global check of the fencing tokens across keys: no token issued
// twice, and tokens rising in the order the grants were linearized. A search
// that exceeds its bound is "unknown", never a pass.
#pragma once

#include <cstdint>
#include <string>

#include "history.h"

namespace lincheck {

// Deliberate breakages of the model, to show that the checker catches a model
// that disagrees with the server (controls; kNone is the real model).
enum class Mutation {
  kNone,
  kServeTail,   // a freed key goes to the newest waiter instead of the oldest
  kTokenReuse,  // a new grant keeps the previous holder's token
  kNoExpiry,    // leases never expire, so a grant after a deadline looks early
  kCrashForgets,  // a restart loses the leases (as if the log were not replayed)
};
const char* MutationName(Mutation m);

enum class Verdict { kOk, kViolation, kUnknown };
const char* VerdictName(Verdict v);

struct CheckOptions {
  Mutation mutation = Mutation::kNone;
  // Search nodes per key before the verdict is "unknown".
  int64_t max_states_per_key = 3'000'000;
};

struct CheckResult {
  Verdict verdict = Verdict::kOk;
  std::string detail;  // for a violation or unknown: the key and its ops
  int64_t states = 0;  // search nodes visited, all keys
};

CheckResult CheckHistory(const History& history, const CheckOptions& options = {});

}  // namespace lincheck
