// GlobMatch: Redis's stringmatchlen semantics with an iterative matcher.
//
// Every element other than '*' consumes exactly one byte of text, so when an
// element fails it is enough to go back to the most recent '*' and let it
// swallow one more byte: earlier stars never need to be revisited. That
// bounds the work by O(pattern * text) instead of Redis's exponential
// recursion (which Redis caps with a nesting limit and an early exit).
#include "util/glob.h"

#include <cstddef>

namespace lockd {
namespace {

unsigned char Lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

bool SameByte(unsigned char a, unsigned char b, bool nocase) {
  return nocase ? Lower(a) == Lower(b) : a == b;
}

// Matches the single non-star element starting at pattern[p] against byte
// `c`. Sets `*next` to the index just past the element whether or not it
// matched, since an element's extent never depends on the text.
bool MatchElement(std::string_view pattern, size_t p, unsigned char c, bool nocase, size_t* next) {
  const size_t n = pattern.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(pattern[k]); };
  switch (pattern[p]) {
    case '?':
      *next = p + 1;
      return true;
    case '\\':
      // A trailing backslash is an ordinary byte.
      if (p + 1 < n) p++;
      *next = p + 1;
      return SameByte(at(p), c, nocase);
    case '[': {
      p++;
      const bool negate = p < n && pattern[p] == '^';
      if (negate) p++;
      bool match = false;
      // The scan follows stringmatchlen byte for byte so that odd classes
      // ("[a-]", "[]") mean what they mean in Redis.
      while (true) {
        if (p < n && pattern[p] == '\\' && n - p >= 2) {
          p++;
          if (at(p) == c) match = true;  // Redis compares escapes exactly
        } else if (p < n && pattern[p] == ']') {
          break;
        } else if (p >= n) {
          // Unterminated: the class ends with the pattern.
          p--;
          break;
        } else if (n - p >= 3 && pattern[p + 1] == '-') {
          unsigned char lo = at(p);
          unsigned char hi = at(p + 2);
          unsigned char x = c;
          if (lo > hi) {
            const unsigned char t = lo;
            lo = hi;
            hi = t;
          }
          if (nocase) {
            lo = Lower(lo);
            hi = Lower(hi);
            x = Lower(x);
          }
          p += 2;
          if (x >= lo && x <= hi) match = true;
        } else if (SameByte(at(p), c, nocase)) {
          match = true;
        }
        p++;
      }
      *next = p + 1;
      return negate ? !match : match;
    }
    default:
      *next = p + 1;
      return SameByte(at(p), c, nocase);
  }
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t p = 0;
  size_t t = 0;
  // Where to resume after the most recent '*': the pattern index after it,
  // and the text index it has swallowed up to.
  size_t star_p = kNone;
  size_t star_t = 0;

  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') p++;
      if (p == pattern.size()) return true;  // a trailing star takes the rest
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next;
    if (p < pattern.size() &&
        MatchElement(pattern, p, static_cast<unsigned char>(text[t]), nocase, &next)) {
      p = next;
      t++;
      continue;
    }
    if (star_p == kNone) return false;
    // Invariant: the pattern up to the last star matched a prefix of the
    // text ending before star_t, and no placement of the rest matched from
    // star_t. So the star takes one more byte and the rest is retried.
    star_t++;
    t = star_t;
    p = star_p;
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

}  // namespace lockd
