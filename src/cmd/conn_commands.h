// Helpers of the connection commands that other command families share.
#pragma once

#include <string>

#include "cmd/session.h"
#include "lockd/clock.h"

namespace lockd {

// One line of CLIENT LIST / CLIENT INFO, in Redis 7.2's field order.
std::string DescribeClient(const Session& session, MonoTime now);

}  // namespace lockd
