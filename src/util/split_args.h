// Splitting one line into arguments with the quoting rules of Redis's
// sdssplitargs, shared by inline commands (resp) and redis.conf lines
// (config): "double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
// 'single quotes' with only \' escaped, and a closing quote that must be
// followed by whitespace or the end of the line. The unquoted bytes go back to
// back into one reused string, so a stream of inline commands allocates
// nothing once that string has grown to the longest line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockd {

// Replaces *storage with the unquoted arguments of `line`, back to back, and
// *spans with each one's (offset, length) in *storage. Returns false on
// unbalanced quotes or a closing quote followed by something other than
// whitespace; the outputs are then unspecified. `line` holds no NUL byte: the
// parser never hands one over, as Redis's strchr-based line search never does.
bool SplitArgs(std::string_view line, std::string* storage,
                     std::vector<std::pair<size_t, size_t>>* spans);

// The inverse, as Redis's sdscatrepr: `arg` in double quotes, with escapes for
// '"', '\', control bytes and non-printable bytes, so that echoing client or
// file bytes in a log line or an error shows exactly which bytes were read.
std::string QuoteArg(std::string_view arg);

}  // namespace lockd
