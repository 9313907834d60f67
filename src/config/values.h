// Parsing of single directive values, with Redis's rules: integers as
// string2ll (no sign '+', no spaces, no leading zeros), memory sizes as
// memtoull, octal as the unixsocketperm reader, yes/no without case. Each
// parser returns false rather than guessing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lockd::config_internal {

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLowerAscii(std::string_view s);

// "-12", "0", "42": Redis's string2ll. Rejects "", "+1", " 1", "01", "-0" and
// anything outside int64.
bool ParseStrictInt64(std::string_view text, int64_t* value);

// "755", "0700": octal digits only, at most int64.
bool ParseOctal(std::string_view text, int64_t* value);

// "yes" / "no", any case.
bool ParseYesNo(std::string_view text, bool* value);

}  // namespace lockd::config_internal
