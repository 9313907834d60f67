// GET /metrics and GET /healthz: the Prometheus text exposition (format
// 0.0.4) of what INFO reports — locks, commands, clients, memory, the log —
// and the health verdict. Read-only: nothing here changes state.
#pragma once

#include <string>

#include "cmd/commands.h"
#include "lockd/clock.h"

namespace lockd::http {

std::string RenderMetrics(Commands& commands, MonoTime now);

// Why the server cannot serve right now ("loading", the log's error); empty
// when it can.
std::string Unhealthy(Commands& commands);

}  // namespace lockd::http
