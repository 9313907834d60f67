// The slow command log (see slowlog.h).
#include "cmd/slowlog.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/strings.h"

namespace lockd {

void SlowLog::Add(const std::vector<std::string_view>& argv, int64_t micros, int64_t unix_seconds,
                  std::string_view addr, std::string_view name, size_t max_len) {
  SlowLogEntry entry;
  entry.id = next_id_++;
  entry.unix_seconds = unix_seconds;
  entry.micros = micros;
  size_t until = argv.size();
  const size_t hidden = RedactedFrom(argv, &until);
  // Past 32 arguments the last slot says how many more there were.
  const size_t shown = std::min(argv.size(), kMaxArgs);
  for (size_t i = 0; i < shown; ++i) {
    if (shown != argv.size() && i == shown - 1) {
      entry.argv.push_back(fmt::format("... ({} more arguments)", argv.size() - shown + 1));
      break;
    }
    if (i >= hidden && i < until) {
      entry.argv.emplace_back("(redacted)");
    } else if (argv[i].size() > kMaxArgBytes) {
      entry.argv.push_back(fmt::format("{}... ({} more bytes)", argv[i].substr(0, kMaxArgBytes),
                                       argv[i].size() - kMaxArgBytes));
    } else {
      entry.argv.emplace_back(argv[i]);
    }
  }
  entry.addr.assign(addr);
  entry.name.assign(name);
  entries_.push_front(std::move(entry));
  Trim(max_len);
}

void SlowLog::Trim(size_t max_len) {
  while (entries_.size() > max_len) entries_.pop_back();
}

size_t RedactedFrom(const std::vector<std::string_view>& argv, size_t* until) {
  *until = argv.size();
  if (argv.empty()) return 0;
  if (EqualsIgnoreCase(argv[0], "auth")) return 1;
  // ACL SETUSER: the user and its rules (passwords among them), as Redis.
  if (argv.size() >= 3 && EqualsIgnoreCase(argv[0], "acl") &&
      EqualsIgnoreCase(argv[1], "setuser")) {
    return 2;
  }
  if (EqualsIgnoreCase(argv[0], "hello")) {
    for (size_t i = 2; i + 2 < argv.size(); ++i) {
      if (EqualsIgnoreCase(argv[i], "auth")) {
        *until = i + 3;
        return i + 1;
      }
    }
  }
  return argv.size();
}

}  // namespace lockd
