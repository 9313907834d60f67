// The server log, in redis-server's line format:
//   <pid>:M 27 Nov 2026 10:00:00.000 * Ready to accept connections tcp
// (role M, local time with milliseconds, level mark '.' debug, '-' verbose,
// '*' notice, '#' warning). Lines go to standard output, or are appended to
// the log file, which is opened for each line as Redis does so that a rotated
// file is picked up without a signal. Safe to call from any thread.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "lockd/clock.h"
#include "lockd/config.h"
#include "lockd/status.h"

namespace lockd {

// Like Redis's LOG_MAX_LEN: a message is cut to this many bytes so that no
// client-supplied value can produce a giant line.
inline constexpr size_t kLogMaxMessage = 1024 - 1;

// Sets the level and destination. An empty `logfile` means standard output;
// otherwise the file is opened once here to check that it can be appended to
// (the error names it), then opened for each line.
[[nodiscard]] Status LogInit(LogLevel level, const std::string& logfile);

void LogSetLevel(LogLevel level);
LogLevel LogGetLevel();

// Whether a message at `level` would be written. Never true for kNothing,
// which is only a threshold ("log nothing").
bool LogEnabled(LogLevel level);

// Writes `message` at `level` if enabled.
void LogMessage(LogLevel level, std::string_view message);

// Formats and writes only when `level` is enabled:
//   Log(LogLevel::kNotice, "Ready to accept connections {}", "tcp");
template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (!LogEnabled(level)) return;
  LogMessage(level, fmt::format(format, std::forward<Args>(args)...));
}

// One log line, newline included, for `pid` at wall time `when` in the local
// time zone. Exposed so that tests can check the format byte for byte.
std::string FormatLogLine(int pid, LogLevel level, WallTime when, std::string_view message);

}  // namespace lockd
