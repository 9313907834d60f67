// Value parsers for configuration directives, plus ParseMemory from
// lockd/config.h. Strictness matches redis-server so that a file accepted by
// one is accepted by the other with the same meaning.
#include "config/values.h"

#include <limits>

#include "lockd/config.h"

namespace lockd {
namespace config_internal {
namespace {

// Accumulates decimal digits into an unsigned 64-bit value; false on a
// non-digit, an empty string or overflow.
bool ParseDigits(std::string_view digits, uint64_t* value) {
  if (digits.empty()) return false;
  uint64_t v = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

}  // namespace

bool ParseOctal(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > 21) return false;  // 21 octal digits overflow int64
  uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return false;
    v = v * 8 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *value = static_cast<int64_t>(v);
  return true;
}

bool ParseYesNo(std::string_view text, bool* value) {
  if (EqualsIgnoreCase(text, "yes")) {
    *value = true;
    return true;
  }
  if (EqualsIgnoreCase(text, "no")) {
    *value = false;
    return true;
  }
  return false;
}

}  // namespace config_internal

bool ParseMemory(std::string_view text, int64_t* bytes) {
  // Split at the first non-digit: digits, then an optional unit. Like Redis's
  // memtoull there is no sign, no space and no fraction ("1.5mb" is refused).
  size_t digits_end = 0;
  while (digits_end < text.size() && text[digits_end] >= '0' && text[digits_end] <= '9') {
    digits_end++;
  }
  const std::string_view unit = text.substr(digits_end);
  uint64_t multiplier;
  if (unit.empty() || EqualsIgnoreCase(unit, "b")) {
    multiplier = 1;
  } else if (EqualsIgnoreCase(unit, "k")) {
    multiplier = 1000;
  } else if (EqualsIgnoreCase(unit, "kb")) {
    multiplier = 1024;
  } else if (EqualsIgnoreCase(unit, "m")) {
    multiplier = 1000ULL * 1000;
  } else if (EqualsIgnoreCase(unit, "mb")) {
    multiplier = 1024ULL * 1024;
  } else if (EqualsIgnoreCase(unit, "g")) {
    multiplier = 1000ULL * 1000 * 1000;
  } else if (EqualsIgnoreCase(unit, "gb")) {
    multiplier = 1024ULL * 1024 * 1024;
  } else {
    return false;
  }
  // Redis takes "" as 0; an empty value is far more likely a mistake, so it
  // is refused here.
  uint64_t count = 0;
  if (!config_internal::ParseDigits(text.substr(0, digits_end), &count)) return false;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (count > kMax / multiplier) return false;
  *bytes = static_cast<int64_t>(count * multiplier);
  return true;
}

}  // namespace lockd
