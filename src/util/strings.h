// Small string helpers with Redis's rules, shared by the parser, the command
// handlers and the configuration reader so that "an integer" or "the same
// name" means one thing everywhere.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace lockd {

// Redis's string2ll: an optional '-', then digits without a leading zero (or a
// lone "0"); no '+', no spaces, no "-0", fewer than 21 bytes, within int64.
// Inline: the request parser calls it for every length header.
inline bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() >= 21) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == s.size()) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  if (s.size() - i <= 18) {
    // At most 18 digits cannot overflow: no range check per digit (the
    // common case, e.g. a TTL or a key count on every command).
    for (; i < s.size(); ++i) {
      const unsigned digit = static_cast<unsigned>(s[i] - '0');
      if (digit > 9) return false;
      v = v * 10 + digit;
    }
    *out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > kMax + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > kMax) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

inline char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

inline std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

}  // namespace lockd
