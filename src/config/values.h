// Parsing of single directive values, with Redis's rules: integers as
// string2ll (no sign '+', no spaces, no leading zeros), memory sizes as
// memtoull, octal as the unixsocketperm reader, yes/no without case. Each
// parser returns false rather than guessing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// ParseInt64, EqualsIgnoreCase and ToLowerAscii come from here.
#include "util/strings.h"

namespace lockd::config_internal {

// "755", "0700": octal digits only, at most int64.
bool ParseOctal(std::string_view text, int64_t* value);

// "yes" / "no", any case.
bool ParseYesNo(std::string_view text, bool* value);

}  // namespace lockd::config_internal
