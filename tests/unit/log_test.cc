// Tests for the server log: the exact line format for each level (in a fixed
// time zone), filtering by level, formatting only when enabled, appending to
// a file, and whole lines under concurrent writers.
#include "util/log.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Counts how often it is formatted, to prove disabled levels skip formatting.
struct Counted {
  int* formats;
};

}  // namespace

template <>
struct fmt::formatter<Counted> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  auto format(const Counted& c, fmt::format_context& ctx) const {
    ++*c.formats;
    return fmt::format_to(ctx.out(), "{}", *c.formats);
  }
};

namespace lockd {
namespace {

// Sets TZ for the lifetime of the object, so that local time is predictable.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) {
      had_ = true;
      old_ = old;
    }
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  bool had_ = false;
  std::string old_;
};

// A log file in /tmp, and the logger pointed at it, restored to standard
// output at notice afterwards.
class ScopedLogFile {
 public:
  explicit ScopedLogFile(LogLevel level) {
    char name[] = "/tmp/lockd-log-test-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path_ = name;
    REQUIRE(LogInit(level, path_).ok());
  }
  ~ScopedLogFile() {
    (void)LogInit(LogLevel::kNotice, "");
    std::remove(path_.c_str());
  }
  std::string Read() const {
    std::ifstream in(path_);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(Read());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// 27 Nov 2026 10:00:00 UTC.
constexpr int64_t kNov27 = 1795773600;

TEST_CASE("FormatLogLine is Redis's line, byte for byte") {
  ScopedTimeZone utc("UTC");
  const WallTime t{kNov27 * 1'000'000 + 123'456};
  CHECK(FormatLogLine(4242, LogLevel::kDebug, t, "d") == "4242:M 27 Nov 2026 10:00:00.123 . d\n");
  CHECK(FormatLogLine(4242, LogLevel::kVerbose, t, "v") == "4242:M 27 Nov 2026 10:00:00.123 - v\n");
  CHECK(FormatLogLine(4242, LogLevel::kNotice, t, "Ready to accept connections tcp") ==
        "4242:M 27 Nov 2026 10:00:00.123 * Ready to accept connections tcp\n");
  CHECK(FormatLogLine(4242, LogLevel::kWarning, t, "w") == "4242:M 27 Nov 2026 10:00:00.123 # w\n");
}

TEST_CASE("FormatLogLine pads day, time and milliseconds") {
  ScopedTimeZone utc("UTC");
  // 5 Jan 2026 03:04:05.007 UTC.
  const WallTime t{1767582245LL * 1'000'000 + 7'999};
  CHECK(FormatLogLine(1, LogLevel::kNotice, t, "x") == "1:M 05 Jan 2026 03:04:05.007 * x\n");
  // Just before the epoch: the milliseconds are still 0..999.
  CHECK(FormatLogLine(1, LogLevel::kNotice, WallTime{-1}, "x") ==
        "1:M 31 Dec 1969 23:59:59.999 * x\n");
}

TEST_CASE("FormatLogLine uses local time") {
  ScopedTimeZone tz("JST-9");  // UTC+9, no daylight saving
  const WallTime t{kNov27 * 1'000'000};
  CHECK(FormatLogLine(7, LogLevel::kNotice, t, "x") == "7:M 27 Nov 2026 19:00:00.000 * x\n");
}

TEST_CASE("FormatLogLine cuts long messages as Redis does") {
  ScopedTimeZone utc("UTC");
  const std::string line = FormatLogLine(1, LogLevel::kNotice, WallTime{0}, std::string(5000, 'x'));
  CHECK(line == "1:M 01 Jan 1970 00:00:00.000 * " + std::string(kLogMaxMessage, 'x') + "\n");
}

TEST_CASE("LogEnabled follows the level") {
  LogSetLevel(LogLevel::kNotice);
  CHECK_FALSE(LogEnabled(LogLevel::kDebug));
  CHECK_FALSE(LogEnabled(LogLevel::kVerbose));
  CHECK(LogEnabled(LogLevel::kNotice));
  CHECK(LogEnabled(LogLevel::kWarning));
  CHECK_FALSE(LogEnabled(LogLevel::kNothing));
  LogSetLevel(LogLevel::kDebug);
  CHECK(LogEnabled(LogLevel::kDebug));
  CHECK(LogGetLevel() == LogLevel::kDebug);
  LogSetLevel(LogLevel::kNothing);
  CHECK_FALSE(LogEnabled(LogLevel::kWarning));
  LogSetLevel(LogLevel::kNotice);
}

TEST_CASE("Log writes enabled levels to the file, with the process id") {
  ScopedLogFile file(LogLevel::kNotice);
  Log(LogLevel::kDebug, "debug {}", 1);
  Log(LogLevel::kVerbose, "verbose {}", 2);
  Log(LogLevel::kNotice, "notice {}", 3);
  Log(LogLevel::kWarning, "warning {}", 4);
  LogSetLevel(LogLevel::kDebug);
  Log(LogLevel::kDebug, "debug {}", 5);
  Log(LogLevel::kVerbose, "verbose {}", 6);
  LogSetLevel(LogLevel::kWarning);
  Log(LogLevel::kNotice, "notice {}", 7);
  Log(LogLevel::kWarning, "warning {}", 8);
  LogSetLevel(LogLevel::kNothing);
  Log(LogLevel::kWarning, "warning {}", 9);

  const std::vector<std::string> lines = file.Lines();
  REQUIRE(lines.size() == 5);
  const std::string prefix = std::to_string(getpid()) + ":M ";
  for (const std::string& line : lines) {
    INFO(line);
    CHECK(line.rfind(prefix, 0) == 0);
    // "<pid>:M dd Mon yyyy hh:mm:ss.mmm <mark> <message>"
    CHECK(line[prefix.size() + 2] == ' ');
    CHECK(line[prefix.size() + 6] == ' ');
    CHECK(line[prefix.size() + 11] == ' ');
    CHECK(line[prefix.size() + 14] == ':');
    CHECK(line[prefix.size() + 17] == ':');
    CHECK(line[prefix.size() + 20] == '.');
    CHECK(line[prefix.size() + 24] == ' ');
  }
  CHECK(EndsWith(lines[0], " * notice 3"));
  CHECK(EndsWith(lines[1], " # warning 4"));
  CHECK(EndsWith(lines[2], " . debug 5"));
  CHECK(EndsWith(lines[3], " - verbose 6"));
  CHECK(EndsWith(lines[4], " # warning 8"));
}

TEST_CASE("a disabled level does not format its arguments") {
  ScopedLogFile file(LogLevel::kWarning);
  int formats = 0;
  Log(LogLevel::kNotice, "value {}", Counted{&formats});
  CHECK(formats == 0);
  Log(LogLevel::kWarning, "value {}", Counted{&formats});
  CHECK(formats == 1);
  CHECK(EndsWith(file.Read(), " # value 1\n"));
}

TEST_CASE("LogMessage takes the text as it is") {
  ScopedLogFile file(LogLevel::kNotice);
  LogMessage(LogLevel::kNotice, "braces {} stay");
  LogMessage(LogLevel::kVerbose, "filtered");
  CHECK(EndsWith(file.Read(), " * braces {} stay\n"));
  CHECK(file.Lines().size() == 1);
}

TEST_CASE("the log file is appended to, never truncated") {
  ScopedLogFile file(LogLevel::kNotice);
  {
    std::ofstream out(file.path());
    out << "earlier line\n";
  }
  Log(LogLevel::kNotice, "after");
  REQUIRE(LogInit(LogLevel::kNotice, file.path()).ok());
  Log(LogLevel::kNotice, "after init");
  const std::vector<std::string> lines = file.Lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "earlier line");
  CHECK(EndsWith(lines[1], " * after"));
  CHECK(EndsWith(lines[2], " * after init"));
}

TEST_CASE("LogInit names a log file it cannot open") {
  Status s = LogInit(LogLevel::kNotice, "/nonexistent-dir/lockd.log");
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("'/nonexistent-dir/lockd.log'") != std::string::npos);
  // The previous destination and level are kept.
  CHECK(LogGetLevel() == LogLevel::kNotice);
}

TEST_CASE("lines from two threads never interleave") {
  ScopedLogFile file(LogLevel::kNotice);
  constexpr int kPerThread = 2000;
  auto writer = [](char tag) {
    for (int i = 0; i < kPerThread; i++) Log(LogLevel::kNotice, "{} {}", std::string(200, tag), i);
  };
  std::thread a(writer, 'a');
  std::thread b(writer, 'b');
  a.join();
  b.join();
  const std::vector<std::string> lines = file.Lines();
  REQUIRE(lines.size() == 2 * kPerThread);
  int a_lines = 0;
  for (const std::string& line : lines) {
    const size_t mark = line.find(" * ");
    REQUIRE(mark != std::string::npos);
    const std::string body = line.substr(mark + 3, 200);
    const bool all_a = body == std::string(200, 'a');
    CHECK((all_a || body == std::string(200, 'b')));
    a_lines += all_a;
  }
  CHECK(a_lines == kPerThread);
}

}  // namespace
}  // namespace lockd
