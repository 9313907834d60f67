// Invariant checks. LOCKD_CHECK stays on in release builds: a broken lease
// invariant must stop the server rather than let two holders share a key.
// LOCKD_DCHECK is for checks too costly for the hot path; it compiles away
// unless LOCKD_DEBUG is defined.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace lockd::internal {

[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "lockd: invariant failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace lockd::internal

#define LOCKD_CHECK(cond)                                                       \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) ::lockd::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

#ifdef LOCKD_DEBUG
#define LOCKD_DCHECK(cond) LOCKD_CHECK(cond)
#else
#define LOCKD_DCHECK(cond) \
  do {                     \
    (void)sizeof(cond);    \
  } while (0)
#endif
