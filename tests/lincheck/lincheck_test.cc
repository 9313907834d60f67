// Real histories from build/lockd-server, checked for linearizability, and
// the controls that show the checker can fail: broken models must be caught
// on the same kind of histories.
//
// Sizes come from the environment, so that `make test` runs a short pass and
// `make check` (scripts/check.sh) a long one with the same code:
//   LINCHECK_HISTORIES        plain histories (default 24)
//   LINCHECK_CRASH_HISTORIES  crash histories (default 2)
//   LINCHECK_KILLS            SIGKILL + restart cycles per crash history (2)
//   LINCHECK_SEED             first seed (default: from the clock; printed)
// Each test case prints one "lincheck:" line with its counts; a violation or
// an unknown verdict fails the case and leaves the history in
// $BUILD/lincheck-failures/.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "../integration/harness.h"
#include "checker.h"
#include "recorder.h"

using namespace lincheck;

namespace {

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoll(v, nullptr, 10) : fallback;
}

uint64_t FirstSeed() {
  static const uint64_t seed = static_cast<uint64_t>(EnvInt(
      "LINCHECK_SEED", std::chrono::system_clock::now().time_since_epoch().count() % 1000000000));
  return seed;
}

void SaveFailure(const std::string& what, uint64_t seed, const std::string& detail) {
  const char* build = std::getenv("BUILD");
  std::string dir = std::string(build != nullptr && *build != '\0' ? build : "build") +
                    "/lincheck-failures";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/" + what + "-" + std::to_string(seed) + ".txt";
  std::ofstream(path) << detail;
  MESSAGE(what, " (seed ", seed, "): ", path, "\n", detail.substr(0, 4000));
}

struct Tally {
  int64_t histories = 0;
  int64_t ops = 0;
  int64_t violations = 0;
  int64_t unknown = 0;
  int64_t states = 0;
  int64_t kills = 0;
  // What the histories exercised.
  int64_t waits_granted = 0;
  int64_t waits_null = 0;
  int64_t unanswered = 0;
};

void Count(Tally& t, const History& h, const CheckResult& r) {
  ++t.histories;
  t.ops += static_cast<int64_t>(h.ops.size());
  t.states += r.states;
  if (r.verdict == Verdict::kViolation) ++t.violations;
  if (r.verdict == Verdict::kUnknown) ++t.unknown;
  for (const Op& op : h.ops) {
    if (!op.known) {
      ++t.unanswered;
    } else if (op.kind == OpKind::kAcquire && op.wait_ms > 0) {
      ++(op.nil ? t.waits_null : t.waits_granted);
    }
  }
}

void Print(const char* what, const Tally& t, uint64_t seed) {
  std::printf("lincheck: %s histories=%lld ops=%lld kills=%lld violations=%lld unknown=%lld "
              "states=%lld waits_granted=%lld waits_null=%lld unanswered=%lld seed=%llu\n",
              what, static_cast<long long>(t.histories), static_cast<long long>(t.ops),
              static_cast<long long>(t.kills), static_cast<long long>(t.violations),
              static_cast<long long>(t.unknown), static_cast<long long>(t.states),
              static_cast<long long>(t.waits_granted), static_cast<long long>(t.waits_null),
              static_cast<long long>(t.unanswered), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
}

RecordOptions Options(uint64_t seed, int index) {
  RecordOptions o;
  o.seed = seed + static_cast<uint64_t>(index);
  o.key_prefix = "lc" + std::to_string(o.seed) + ":";
  return o;
}

}  // namespace

TEST_CASE("lincheck: concurrent histories against the server are linearizable") {
  START_SERVER(server);
  uint64_t seed = FirstSeed();
  Tally t;
  int64_t n = EnvInt("LINCHECK_HISTORIES", 24);
  for (int i = 0; i < n; ++i) {
    RecordOptions o = Options(seed, i);
    std::string error;
    History h = RecordHistory(server.port(), o, &error);
    REQUIRE_MESSAGE(error.empty(), error);
    CheckResult r = CheckHistory(h);
    Count(t, h, r);
    if (i == 0 && std::getenv("LINCHECK_DUMP") != nullptr) {
      std::ofstream(std::getenv("LINCHECK_DUMP")) << DescribeHistory(h.ops);
    }
    if (r.verdict != Verdict::kOk) {
      SaveFailure(std::string("history-") + VerdictName(r.verdict), o.seed, r.detail);
    }
  }
  Print("plain", t, seed);
  CHECK(t.violations == 0);
  CHECK(t.unknown == 0);
}

TEST_CASE("lincheck: histories across SIGKILL and restart are linearizable") {
  uint64_t seed = FirstSeed() + 500000;
  Tally t;
  int64_t n = EnvInt("LINCHECK_CRASH_HISTORIES", 2);
  int kills = static_cast<int>(EnvInt("LINCHECK_KILLS", 2));
  int forgets_caught = 0;
  for (int i = 0; i < n; ++i) {
    RecordOptions o = Options(seed, i);
    o.kills = kills;
    o.ops_per_client = 45;
    // Some leases long enough to outlive a restart, so that what the log
    // kept is seen again.
    o.ttl_max_ms = 400;
    std::string error;
    History h = RecordCrashHistory(o, &error);
    REQUIRE_MESSAGE(error.empty(), error);
    CheckResult r = CheckHistory(h);
    Count(t, h, r);
    for (const Op& op : h.ops) t.kills += op.kind == OpKind::kCrash;
    if (r.verdict != Verdict::kOk) {
      SaveFailure(std::string("crash-") + VerdictName(r.verdict), o.seed, r.detail);
    }
    CheckOptions forgets;
    forgets.mutation = Mutation::kCrashForgets;
    forgets_caught += CheckHistory(h, forgets).verdict == Verdict::kViolation;
  }
  Print("crash", t, seed);
  std::printf("lincheck: crash control: a model that loses leases at a restart rejects %d of %lld "
              "crash histories\n",
              forgets_caught, static_cast<long long>(n));
  std::fflush(stdout);
  CHECK(t.kills == n * kills);
  CHECK(t.violations == 0);
  CHECK(t.unknown == 0);
}

TEST_CASE("lincheck: broken models are caught on real histories") {
  START_SERVER(server);
  uint64_t seed = FirstSeed() + 900000;
  const Mutation mutations[] = {Mutation::kServeTail, Mutation::kTokenReuse, Mutation::kNoExpiry};
  bool caught[3] = {false, false, false};
  int tried = 0;
  // A mutation shows only in a history that exercises it (two waiters queued
  // apart, a second grant of a key, a grant after an expiry): record until
  // each one is caught, within a bound.
  for (int i = 0; i < 40 && !(caught[0] && caught[1] && caught[2]); ++i) {
    std::string error;
    History h = RecordHistory(server.port(), Options(seed, i), &error);
    REQUIRE_MESSAGE(error.empty(), error);
    ++tried;
    for (int m = 0; m < 3; ++m) {
      if (caught[m]) continue;
      CheckOptions o;
      o.mutation = mutations[m];
      caught[m] = CheckHistory(h, o).verdict == Verdict::kViolation;
    }
  }
  // A broken history: one key's grant given another key's token.
  std::string error;
  History h = RecordHistory(server.port(), Options(seed, 99), &error);
  REQUIRE(error.empty());
  bool duplicate_caught = false;
  Op* first = nullptr;
  for (Op& op : h.ops) {
    if (op.kind != OpKind::kAcquire || !op.known || op.nil) continue;
    if (first == nullptr) {
      first = &op;
    } else if (op.key != first->key && op.value != first->value) {
      op.value = first->value;
      duplicate_caught = CheckHistory(h).verdict == Verdict::kViolation;
      break;
    }
  }
  // A model that forgets leases at a restart, on crash histories (a lease
  // must outlive the restart and be seen again for it to show).
  bool forgets_caught = false;
  for (int i = 0; i < 10 && !forgets_caught; ++i) {
    RecordOptions o = Options(seed + 50000, i);
    o.kills = 2;
    o.ops_per_client = 45;
    o.ttl_max_ms = 400;
    History crash = RecordCrashHistory(o, &error);
    REQUIRE_MESSAGE(error.empty(), error);
    ++tried;
    CheckOptions forgets;
    forgets.mutation = Mutation::kCrashForgets;
    forgets_caught = CheckHistory(crash, forgets).verdict == Verdict::kViolation;
  }
  int total = 5;
  int count = caught[0] + caught[1] + caught[2] + duplicate_caught + forgets_caught;
  std::printf("lincheck: controls caught=%d of %d (serve-tail %d, token-reuse %d, no-expiry %d, "
              "duplicate-token %d, crash-forgets %d) histories=%d\n",
              count, total, caught[0], caught[1], caught[2], duplicate_caught, forgets_caught,
              tried);
  std::fflush(stdout);
  for (int m = 0; m < 3; ++m) CHECK_MESSAGE(caught[m], MutationName(mutations[m]));
  CHECK(duplicate_caught);
  CHECK_MESSAGE(forgets_caught, MutationName(Mutation::kCrashForgets));
}

// A measurement of the checker's strength, not a pass/fail control: how many
// single-reply corruptions of real histories it rejects. Some corruptions are
// still consistent with the contract (a refused renew said to have worked, on
// a lease nobody looked at again), so this is printed, not asserted.
TEST_CASE("lincheck: corrupted replies in real histories are mostly rejected") {
  START_SERVER(server);
  uint64_t seed = FirstSeed() + 950000;
  std::mt19937_64 rng(seed);
  int tried = 0;
  int caught = 0;
  int64_t n = EnvInt("LINCHECK_CORRUPT_HISTORIES", 4);
  for (int i = 0; i < n; ++i) {
    std::string error;
    History h = RecordHistory(server.port(), Options(seed, i), &error);
    REQUIRE_MESSAGE(error.empty(), error);
    REQUIRE(CheckHistory(h).verdict == Verdict::kOk);
    for (int k = 0; k < 25; ++k) {
      History bad = h;
      Op& op = bad.ops[std::uniform_int_distribution<size_t>(0, bad.ops.size() - 1)(rng)];
      if (!op.known) continue;
      if (op.kind == OpKind::kAcquire || op.kind == OpKind::kFence) {
        if (op.nil) {
          op.nil = false;
          op.value = 1'000'000'000;
        } else {
          op.value += 1;
        }
      } else if (op.kind == OpKind::kGet || op.kind == OpKind::kSetNxPx) {
        op.nil = !op.nil;
        op.value = 1;
        op.holder_seen = op.holder_seen == kNoHolder ? op.client * 1000 + 1 : kNoHolder;
      } else if (op.kind == OpKind::kRenew || op.kind == OpKind::kRelease ||
                 op.kind == OpKind::kDel || op.kind == OpKind::kEvalRelease) {
        op.value = 1 - op.value;
      } else {
        continue;
      }
      ++tried;
      caught += CheckHistory(bad).verdict != Verdict::kOk;
    }
  }
  std::printf("lincheck: corrupted replies caught=%d of %d\n", caught, tried);
  std::fflush(stdout);
  CHECK(tried > 0);
}
