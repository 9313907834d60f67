// Glob matching with Redis's stringmatchlen rules, for KEYS, SCAN MATCH,
// CONFIG GET and the like. Binary-safe, and linear-ish in the worst case:
// unlike a recursive matcher it cannot be made to run for minutes by a
// pattern such as "a*a*a*a*a*a*a*b".
#pragma once

#include <string_view>

namespace lockd {

// Whether `text` matches `pattern`:
//   *        any run of bytes, including none
//   ?        any one byte
//   [abc]    one of the bytes listed; [^abc] none of them; [a-z] a range
//            (reversed ranges such as [z-a] work); \x inside [] is x
//   \x       the byte x itself
// Everything else matches itself, ignoring ASCII case when `nocase`. As in
// Redis, an unterminated class runs to the end of the pattern, and a trailing
// '\' matches a '\'. Bytes compare as unsigned values.
bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace lockd
