// SlowLog: the commands that took at least `slowlog-log-slower-than`
// microseconds, newest first, at most `slowlog-max-len` of them, each with
// Redis 7.0's fields: id, unix time, duration, arguments (at most 32, each cut
// to 128 bytes, with Redis's "... (N more ...)" markers), client address and
// name. Memory is bounded by max-len times the trimmed entry size.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace lockd {

struct SlowLogEntry {
  uint64_t id = 0;
  int64_t unix_seconds = 0;
  int64_t micros = 0;
  std::vector<std::string> argv;
  std::string addr;
  std::string name;
};

class SlowLog {
 public:
  // Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
  static constexpr size_t kMaxArgs = 32;
  static constexpr size_t kMaxArgBytes = 128;

  // Adds an entry, dropping the oldest past `max_len` (0 keeps none).
  // Passwords are shown as "(redacted)" (RedactedFrom).
  void Add(const std::vector<std::string_view>& argv, int64_t micros, int64_t unix_seconds,
           std::string_view addr, std::string_view name, size_t max_len);
  // Drops the oldest entries past `max_len` (after CONFIG SET).
  void Trim(size_t max_len);
  void Reset() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  // Newest first.
  const std::deque<SlowLogEntry>& entries() const { return entries_; }

 private:
  std::deque<SlowLogEntry> entries_;  // newest at the front
  uint64_t next_id_ = 0;
};

// Which arguments of a command Redis hides in SLOWLOG and MONITOR: AUTH's
// (all after the name) and HELLO's AUTH username and password. Returns the
// first hidden index, or argv.size() when none; `*until` gets the end of the
// hidden range (argv.size() but for HELLO).
size_t RedactedFrom(const std::vector<std::string_view>& argv, size_t* until);

}  // namespace lockd
