// Splitting one redis.conf line into arguments, with the quoting rules of
// Redis's sdssplitargs (also used for inline commands and redis-cli input):
// "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with
// only \' escaped, and a closing quote that must be followed by a space or
// the end of the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lockd {

// Splits `line` into `*args` (replacing its contents). Returns false on
// unbalanced quotes or a closing quote followed by something other than
// whitespace, as redis-server does; `*args` is then unspecified.
bool SplitConfigArgs(std::string_view line, std::vector<std::string>* args);

}  // namespace lockd
