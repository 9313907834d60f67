// Argument helpers shared by the command handlers: Redis's strict integer
// parsing (string2ll: no spaces, no '+', no leading zeros) and
// case-insensitive comparison.
#pragma once

#include <cstdint>
#include <string_view>

namespace lockd {

// Parses a decimal int64 exactly as Redis's string2ll accepts it.
bool ParseInt64(std::string_view s, int64_t* out);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace lockd
