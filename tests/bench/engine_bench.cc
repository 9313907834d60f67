// engine_bench: the engine's own speed and memory, without the network.
// Prints exactly these machine-readable lines on stdout (bench scripts grep
// them); human notes go to stderr:
//   engine_bytes_per_lock <number>    RSS growth per held lock, 1M locks
//   engine_pairs_per_sec <integer>    acquire + release pairs, random keys
//   engine_expire_1m_ms <number>      Advance time to expire 1M leases due within 1 s
//   engine_max_advance_us <integer>   the longest single Advance call meanwhile
// Keys and holders are 17 bytes, as in the memory target.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lockd/engine.h"

namespace lockd {
namespace {

using Clock = std::chrono::steady_clock;

class NoWaits : public WaitListener {
 public:
  void OnWaitGranted(void*, Token) override {}
  void OnWaitTimedOut(void*) override {}
};

// Resident set size in bytes, from /proc/self/statm.
size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// A 17-byte key or holder for index i, written into `buf` (18 bytes, for
// snprintf's terminator; no allocation, so memory figures see only the engine).
std::string_view Name17(char* buf, const char* prefix, uint64_t i) {
  std::snprintf(buf, 18, "%s%0*llu", prefix, static_cast<int>(17 - std::strlen(prefix)),
                static_cast<unsigned long long>(i));
  return std::string_view(buf, 17);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void MemoryPerLock() {
  NoWaits waits;
  const MonoTime now{1'000'000'000};
  char key[18], holder[18];
  Engine engine(EngineOptions{}, &waits, nullptr);
  size_t before = ResidentBytes();
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    engine.Acquire(Name17(key, "key:", i), Name17(holder, "holder:", i % 1000), 30'000, now);
  }
  size_t after = ResidentBytes();
  std::printf("engine_bytes_per_lock %.1f\n", static_cast<double>(after - before) / 1e6);
  std::fflush(stdout);
}

void PairsPerSecond() {
  NoWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  // The pool is one contiguous array of 17-byte keys (1.7 MB), as keys sit
  // in a connection's input buffer, rather than 100k separate strings.
  constexpr size_t kPool = 100'000;
  std::vector<char> pool(kPool * 17 + 1);
  for (uint64_t i = 0; i < kPool; ++i) Name17(&pool[i * 17], "seat:", i * 7919);
  std::vector<char> holders(64 * 17 + 1);
  for (uint64_t i = 0; i < 64; ++i) Name17(&holders[i * 17], "client-", i);

  SystemClock clock;
  uint64_t pairs = 0;
  uint64_t x = 0x9e3779b97f4a7c15ULL;  // xorshift64: random keys for ~1 ns each
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(2);
  for (;;) {
    // The engine is handed `now`, as the server does once per loop turn.
    MonoTime now = clock.Now();
    for (int i = 0; i < 4096; ++i, ++pairs) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      size_t k = static_cast<size_t>(((x >> 32) * kPool) >> 32);
      std::string_view key(&pool[k * 17], 17);
      std::string_view holder(&holders[(pairs & 63) * 17], 17);
      AcquireResult r = engine.Acquire(key, holder, 30'000, now);
      if (!engine.Release(key, holder, r.token, now)) std::abort();
    }
    if (Clock::now() >= end) break;
  }
  double elapsed = Seconds(Clock::now() - start);
  std::printf("engine_pairs_per_sec %llu\n", static_cast<unsigned long long>(pairs / elapsed));
  std::fflush(stdout);
}

void Expire1M() {
  NoWaits waits;
  Engine engine(EngineOptions{}, &waits, nullptr);
  const MonoTime t0{2'000'000'000};
  char key[18], holder[18];
  // Deadlines spread over one second, 30 s out, from many different start
  // times (i µs apart), so they sit on several wheel levels at first.
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    engine.Acquire(Name17(key, "exp:", i), Name17(holder, "holder:", i % 1000), 30'000 + (i % 1000),
                   t0);
  }
  // Drive the wheel as the server's loop does: wake at NextWakeup (time
  // moves on by itself, simulated here), run Advance until it is done.
  Clock::duration total{};
  Clock::duration longest{};
  size_t calls = 0;
  while (engine.size() > 0) {
    std::optional<MonoTime> next = engine.NextWakeup();
    if (!next) std::abort();
    bool more = true;
    while (more) {
      auto before = Clock::now();
      more = engine.Advance(*next);
      auto took = Clock::now() - before;
      total += took;
      longest = std::max(longest, took);
      ++calls;
    }
  }
  std::printf("engine_expire_1m_ms %.1f\n", Seconds(total) * 1e3);
  std::printf("engine_max_advance_us %lld\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::microseconds>(longest).count()));
  std::fprintf(stderr, "(expiry: %zu Advance calls, %llu expiries)\n", calls,
               static_cast<unsigned long long>(engine.stats().expiries));
}

}  // namespace
}  // namespace lockd

int main() {
  // Memory first, while the heap is fresh.
  lockd::MemoryPerLock();
  lockd::PairsPerSecond();
  lockd::Expire1M();
  return 0;
}
