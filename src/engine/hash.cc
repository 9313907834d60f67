// RandomHashSeed: where the engine's hash seed comes from when the options
// do not fix one. The kernel's getrandom() is the source; if it is not
// available the seed still varies per process (time and address bits), which
// is weaker but never fails.
#include "engine/hash.h"

#include <sys/random.h>
#include <time.h>

#include <cstdint>

namespace lockd {

uint64_t RandomHashSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(seed)) &&
      seed != 0) {
    return seed;
  }
  // getrandom failed (very old kernel, or entropy not yet initialised at
  // boot): mix the clock with a stack address, which ASLR randomises.
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t mixed = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 32) ^
                   reinterpret_cast<uintptr_t>(&seed);
  return hash_internal::SplitMix(mixed) | 1;
}

}  // namespace lockd
