// Configuration as text and by name: redis.conf parsing, ApplyDirective,
// CONFIG GET and CONFIG SET, all driven by the directive table. Errors are
// returned as Status with Redis's wording; nothing here exits or logs.
#include "lockd/config.h"

#include <fmt/format.h>

#include "config/config_files.h"
#include "config/directives.h"
#include "config/split_args.h"
#include "config/values.h"
#include "util/glob.h"
#include "util/strings.h"

namespace lockd {
namespace {

using config_internal::Directive;
using config_internal::FindDirective;

std::string JoinArgs(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); i++) {
    if (i > 0) out.push_back(' ');
    out += args[i];
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kBlanks);
  return s.substr(begin, end - begin + 1);
}

// Splits CONFIG SET's single value into arguments for a multi-argument
// directive. Redis splits on single spaces; runs of spaces are taken as one
// here, which only accepts more.
std::vector<std::string> SplitOnSpaces(std::string_view value) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && value[i] == ' ') i++;
    const size_t start = i;
    while (i < value.size() && value[i] != ' ') i++;
    if (i > start) out.emplace_back(value.substr(start, i - start));
  }
  return out;
}

bool IsProtected(const Directive& d) {
  return std::string_view(d.name) == "dir" || std::string_view(d.name) == "dbfilename";
}

bool ProtectedConfigsAllowed(const Config& config) {
  const auto it = config.compat.find("enable-protected-configs");
  return it != config.compat.end() && it->second != "no";
}

Status UnknownForConfigSet(std::string_view name) {
  return Status::Error(
      fmt::format("Unknown option or number of arguments for CONFIG SET - '{}'", name));
}

}  // namespace

Status ApplyDirective(Config* config, std::string_view name,
                      const std::vector<std::string>& given_args) {
  const std::string lower = ToLowerAscii(name);
  const Directive* d = FindDirective(lower);
  if (d == nullptr && lower == "user") {
    // Checked against the ACL rules at start (acl::Registry::LoadAtStartup);
    // here only what Redis checks while reading the file.
    if (given_args.empty()) {
      return Status::Error("Wrong number of arguments for 'user' (expected at least 1, got 0)");
    }
    for (const std::vector<std::string>& line : config->acl_users) {
      if (line[0] == given_args[0]) {
        return Status::Error(fmt::format(
            "Error in user declaration '{}': Duplicate user found. A user can only be defined "
            "once in config files",
            given_args[0]));
      }
    }
    config->acl_users.push_back(given_args);
    return Status::Ok();
  }
  if (d == nullptr) {
    if (config_internal::IsIgnoredRedisDirective(lower, given_args.size())) return Status::Ok();
    if (lower == "rename-command" || lower == "loadmodule" ||
        lower == "sentinel") {
      // Redis knows these, but taking them without their effect would leave
      // a renamed (disabled) command, a user or a module silently missing.
      return Status::Error(fmt::format("'{}' is not supported by lockd", lower));
    }
    return Status::Error(
        fmt::format("Bad directive or wrong number of arguments: unknown directive '{}'", lower));
  }
  // As redis-server's loader: a directive that takes several arguments,
  // given exactly one non-empty argument, has that argument split again
  // like a config line. This is how `--bind "127.0.0.1 -::1"`,
  // `--save "900 1"` and `bind "127.0.0.1 -::1"` in a file all work, and
  // how a value printed by CONFIG GET reads back in.
  std::vector<std::string> split;
  if (d->multi_arg && given_args.size() == 1 && !given_args[0].empty()) {
    if (!SplitConfigArgs(given_args[0], &split)) {
      return Status::Error("Unbalanced quotes in configuration line");
    }
  } else {
    split = given_args;
  }
  const std::vector<std::string>& args = split;
  const int count = static_cast<int>(args.size());
  if (count < d->min_args || (d->max_args >= 0 && count > d->max_args)) {
    const std::string expected =
        d->max_args < 0 ? fmt::format("at least {}", d->min_args) : std::to_string(d->min_args);
    return Status::Error(fmt::format("Wrong number of arguments for '{}' (expected {}, got {})",
                                     lower, expected, count));
  }
  const std::string reason = config_internal::SetDirectiveValue(*d, config, args);
  if (!reason.empty()) {
    return Status::Error(
        fmt::format("Invalid argument '{}' for '{}': {}", JoinArgs(args), lower, reason));
  }
  return Status::Ok();
}

namespace {

// Deep enough for any real layout, shallow enough that a file including
// itself ends with an error instead of exhausting the stack.
constexpr int kMaxIncludeDepth = 16;

Status ParseConfigTextAt(std::string_view text, std::string_view origin, int depth,
                         Config* config);

// `include <pattern>`: the files are read at this point of the parent, so
// that later lines override them and they override earlier ones, as in Redis.
Status ApplyInclude(const std::string& pattern, int depth, Config* config) {
  if (depth >= kMaxIncludeDepth) {
    return Status::Error(fmt::format("Too many nested includes (more than {}) at '{}'",
                                     kMaxIncludeDepth, pattern));
  }
  std::vector<std::pair<std::string, std::string>> files;
  if (Status s = config_internal::ReadIncludedFiles(pattern, &files); !s.ok()) return s;
  for (const auto& [path, text] : files) {
    if (Status s = ParseConfigTextAt(text, path, depth + 1, config); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ParseConfigText(std::string_view text, std::string_view origin, Config* config) {
  return ParseConfigTextAt(text, origin, 0, config);
}

namespace {

Status ParseConfigTextAt(std::string_view text, std::string_view origin, int depth,
                         Config* config) {
  Config updated = *config;
  std::vector<std::string> args;
  int line_number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    line_number++;

    if (line.empty() || line[0] == '#') continue;
    std::string error;
    if (!SplitConfigArgs(line, &args)) {
      error = "Unbalanced quotes in configuration line";
    } else if (args.empty()) {
      continue;
    } else if (EqualsIgnoreCase(args[0], "include") && args.size() == 2) {
      // An error inside the included file names that file and line already.
      if (Status s = ApplyInclude(args[1], depth, &updated); !s.ok()) return s;
      continue;
    } else {
      const std::vector<std::string> rest(args.begin() + 1, args.end());
      if (Status s = ApplyDirective(&updated, args[0], rest); !s.ok()) error = s.message();
    }
    if (!error.empty()) {
      return Status::Error(
          fmt::format("Reading the configuration file '{}', at line {}\n"
                      ">>> '{}'\n{}",
                      origin, line_number, line, error));
    }
  }
  *config = std::move(updated);
  return Status::Ok();
}

}  // namespace

bool IsConfigName(std::string_view name) { return FindDirective(name) != nullptr; }

bool IsConfigMutableAtRuntime(std::string_view name) {
  const Directive* d = FindDirective(name);
  return d != nullptr && d->runtime_mutable;
}

std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Directive& d : config_internal::AllDirectives()) {
    if (GlobMatch(pattern, d.name, /*nocase=*/true)) out.emplace_back(d.name, config_internal::GetDirectiveValue(d, config));
  }
  return out;
}

Status ConfigSetAtRuntime(Config* config, std::string_view name, std::string_view value) {
  std::string failed_name;
  return ConfigSetManyAtRuntime(config, {{std::string(name), std::string(value)}}, &failed_name);
}

Status ConfigSetManyAtRuntime(Config* config,
                              const std::vector<std::pair<std::string, std::string>>& pairs,
                              std::string* failed_name) {
  // First every name is checked, in order, as Redis does before it touches
  // any value: unknown, immutable and repeated names fail the whole call.
  std::vector<const Directive*> directives;
  for (const auto& [name, value] : pairs) {
    const Directive* d = FindDirective(name);
    failed_name->clear();
    if (d == nullptr) return UnknownForConfigSet(name);
    *failed_name = name;
    // dir and dbfilename are Redis's protected configs: refused unless
    // enable-protected-configs allows them (lockd cannot change dir while
    // running either way; that is then the immutable error).
    if (IsProtected(*d) && !ProtectedConfigsAllowed(*config)) {
      return Status::Error("can't set protected config");
    }
    if (!d->runtime_mutable) return Status::Error("can't set immutable config");
    for (const Directive* seen : directives) {
      // As in Redis 7.0, an alias is a directive of its own here:
      // busy-reply-threshold and lua-time-limit in one call is no repeat.
      if (seen == d) return Status::Error("duplicate parameter");
    }
    directives.push_back(d);
  }
  // Then the values, on a copy, so that a bad one leaves `*config` untouched.
  Config updated = *config;
  for (size_t i = 0; i < pairs.size(); i++) {
    const Directive* d = directives[i];
    const std::string& value = pairs[i].second;
    const std::vector<std::string> args =
        d->multi_arg ? SplitOnSpaces(value) : std::vector<std::string>{value};
    // Redis names the directive as its table spells it (lower case), not
    // as the client did.
    *failed_name = d->name;
    const std::string reason = config_internal::SetDirectiveValue(*d, &updated, args);
    if (!reason.empty()) return Status::Error(reason);
  }
  failed_name->clear();
  *config = std::move(updated);
  return Status::Ok();
}

const char* AppendFsyncName(AppendFsync v) {
  switch (v) {
    case AppendFsync::kAlways:
      return "always";
    case AppendFsync::kEverySec:
      return "everysec";
    case AppendFsync::kNo:
      return "no";
  }
  return "unknown";
}

int64_t CompatInt(const Config& config, const char* name, int64_t fallback) {
  auto it = config.compat.find(name);
  int64_t v;
  return it != config.compat.end() && ParseInt64(it->second, &v) ? v : fallback;
}

const char* ReplicaAckName(ReplicaAck v) {
  switch (v) {
    case ReplicaAck::kReservations:
      return "reservations";
    case ReplicaAck::kAlways:
      return "always";
  }
  return "unknown";
}

const char* LogLevelName(LogLevel v) {
  switch (v) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kVerbose:
      return "verbose";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kNothing:
      return "nothing";
  }
  return "unknown";
}

const char* TlsAuthClientsName(TlsAuthClients v) {
  switch (v) {
    case TlsAuthClients::kNo:
      return "no";
    case TlsAuthClients::kYes:
      return "yes";
    case TlsAuthClients::kOptional:
      return "optional";
  }
  return "unknown";
}

}  // namespace lockd
