// Log state (level, destination) and line formatting. The level is an atomic
// so the hot path's "is debug on?" check takes no lock; a mutex serialises
// the writes so that lines from the loop and a background thread never
// interleave, and it guards the file name, which LogInit may change.
#include "util/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

namespace lockd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};
std::mutex g_mutex;
std::string g_logfile;  // guarded by g_mutex; empty: standard output

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char LevelMark(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return '.';
    case LogLevel::kVerbose:
      return '-';
    case LogLevel::kNotice:
      return '*';
    case LogLevel::kWarning:
      return '#';
    case LogLevel::kNothing:
      break;
  }
  return '#';
}

// Writes all of `data` to `fd`, retrying short writes; a log line that cannot
// be written is dropped, as in Redis, since there is nowhere to report it.
void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

int OpenForAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

WallTime WallNow() {
  timeval tv;
  ::gettimeofday(&tv, nullptr);
  return WallTime{static_cast<int64_t>(tv.tv_sec) * 1'000'000 + tv.tv_usec};
}

}  // namespace

Status LogInit(LogLevel level, const std::string& logfile) {
  if (!logfile.empty()) {
    const int fd = OpenForAppend(logfile);
    if (fd < 0) {
      return Status::Error(
          fmt::format("Can't open the log file '{}': {}", logfile, std::strerror(errno)));
    }
    ::close(fd);
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_logfile = logfile;
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  return Status::Ok();
}

void LogSetLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel LogGetLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kNothing &&
         static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

std::string FormatLogLine(int pid, LogLevel level, WallTime when, std::string_view message) {
  // Floor division so that a time before the epoch still has 0..999 ms.
  int64_t seconds = when.us / 1'000'000;
  int64_t micros = when.us % 1'000'000;
  if (micros < 0) {
    seconds--;
    micros += 1'000'000;
  }
  const time_t t = static_cast<time_t>(seconds);
  tm local{};
  ::localtime_r(&t, &local);
  if (message.size() > kLogMaxMessage) message = message.substr(0, kLogMaxMessage);
  // The month comes from a table rather than strftime's %b so that a locale
  // set by a library can never change the format.
  return fmt::format("{}:M {:02d} {} {:d} {:02d}:{:02d}:{:02d}.{:03d} {} {}\n", pid, local.tm_mday,
                     kMonths[local.tm_mon], local.tm_year + 1900, local.tm_hour, local.tm_min,
                     local.tm_sec, micros / 1000, LevelMark(level), message);
}

void LogMessage(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  const std::string line = FormatLogLine(static_cast<int>(::getpid()), level, WallNow(), message);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_logfile.empty()) {
    WriteAll(STDOUT_FILENO, line);
    return;
  }
  // One write(2) with O_APPEND puts the whole line at the end of the file even
  // if another process (or logrotate's copytruncate) touches it.
  const int fd = OpenForAppend(g_logfile);
  if (fd < 0) return;
  WriteAll(fd, line);
  ::close(fd);
}

}  // namespace lockd
