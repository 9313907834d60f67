// The log's name, as the directory remembers it. Tokens and leases live in
// the files of one appendfilename (the log and its .tokens file); a run
// under another name in the same directory would start below the tokens
// issued so far and without the leases. `dir/lockd.logname` records the name
// of the last run, and a start under another name is refused while that
// name's files exist.
#pragma once

#include <string>

#include "lockd/status.h"

namespace lockd::aof {

// In the working directory (`dir`): the appendfilename of the last run.
inline constexpr const char* kLogNameFile = "lockd.logname";

// Checks `appendfilename` against the recorded name, then records it
// durably. Runs after the directory lock is taken and before the log is read.
Status CheckLogName(const std::string& appendfilename);

}  // namespace lockd::aof
