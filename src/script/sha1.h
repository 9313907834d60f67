// SHA-1 of a script body, as the 40 lowercase hex digits that name it in the
// script cache (EVALSHA, SCRIPT LOAD, redis.sha1hex). FIPS 180-1; used only
// as a name, never for security.
#pragma once

#include <string_view>

namespace lockd::script {

// Writes 40 hex digits to out[0..39] (no terminator).
void Sha1Hex(std::string_view data, char out[40]);

}  // namespace lockd::script
