// Engine::Scan pages as Redis's SCAN fills them: up to COUNT keys per call
// across partitions, empty partitions passed over, so a small keyspace is
// returned in one call with cursor 0.
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lockd/engine.h"

namespace lockd {
namespace {

constexpr MonoTime kT0{5'000'000'000};

class NoWaits : public WaitListener {
 public:
  void OnWaitGranted(void*, Token) override {}
  void OnWaitTimedOut(void*) override {}
};

TEST_CASE("scan page: a few keys in 64 partitions come back in one call") {
  NoWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  for (uint64_t count : {1, 10}) {
    CAPTURE(count);
    std::vector<std::string> seen;
    uint64_t cursor = engine.Scan(0, count, kT0, [&](const LeaseView& v) {
      seen.emplace_back(v.key);
    });
    // An empty keyspace ends at once.
    CHECK(cursor == 0);
    CHECK(seen.empty());
  }
  std::set<std::string> keys;
  for (int i = 0; i < 7; ++i) {
    keys.insert("key:" + std::to_string(i));
    engine.Acquire("key:" + std::to_string(i), "h", 10'000, kT0);
  }
  std::set<std::string> seen;
  uint64_t cursor =
      engine.Scan(0, 10, kT0, [&](const LeaseView& v) { seen.insert(std::string(v.key)); });
  CHECK(cursor == 0);
  CHECK(seen == keys);
}

TEST_CASE("scan page: a page that ends with the last key ends the scan") {
  NoWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  engine.Acquire("only", "h", 10'000, kT0);
  int visited = 0;
  CHECK(engine.Scan(0, 1, kT0, [&](const LeaseView&) { ++visited; }) == 0);
  CHECK(visited == 1);
}

TEST_CASE("scan page: every page but the last holds at least COUNT keys") {
  NoWaits waits;
  EngineOptions options;
  options.hash_seed = 7;
  Engine engine(options, &waits, nullptr);
  std::set<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.insert("key:" + std::to_string(i));
    engine.Acquire("key:" + std::to_string(i), "h", 10'000, kT0);
  }
  for (size_t count : {3, 10, 50}) {
    CAPTURE(count);
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int calls = 0;
    do {
      size_t page = 0;
      cursor = engine.Scan(cursor, count, kT0, [&](const LeaseView& v) {
        seen.insert(std::string(v.key));
        ++page;
      });
      ++calls;
      if (cursor != 0) CHECK(page >= count);
    } while (cursor != 0 && calls < 10'000);
    CHECK(seen == keys);
    // Pages are full: about keys / count calls, not one per partition.
    CHECK(static_cast<size_t>(calls) <= keys.size() / count + 1);
  }
}

TEST_CASE("scan page: a cursor past the end, as SCAN -1 sends, ends the scan") {
  NoWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  engine.Acquire("a", "h", 10'000, kT0);
  int visited = 0;
  CHECK(engine.Scan(UINT64_MAX, 10, kT0, [&](const LeaseView&) { ++visited; }) == 0);
  CHECK(visited == 0);
}

}  // namespace
}  // namespace lockd
