// Redis 7.0 directives that lockd accepts only so that existing redis.conf
// files load (Debian's /etc/redis/redis.conf among them): each is validated
// as redis-server validates it (type, enum, range, error text), stored as
// text and shown by CONFIG GET, and has no effect. The few whose Redis
// meaning would silently mislead (cluster-enabled, replicaof) are
// accepted only at their "off" value. The table itself is generated from
// Redis 7.0's src/config.c and the defaults its CONFIG GET prints.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lockd/config.h"

namespace lockd::config_internal {

enum class CompatType { kBool, kString, kEnum, kNumber, kSpecial };
enum class StringCheck { kNone, kDbFilename, kAofDirname };

// Flags of a kNumber directive, as Redis's numeric config flags.
inline constexpr int kMemoryValue = 1;    // "64mb" etc. (memtoull)
inline constexpr int kPercentValue = 2;   // "50%", stored negative
inline constexpr int kUnsignedRange = 8;  // bounds compared as unsigned, shown with %llu

struct CompatEnumValue {
  const char* name;
  int id;  // names sharing an id are synonyms; CONFIG GET shows the first
};

struct CompatRule {
  int64_t lo = 0;
  uint64_t hi = 0;
  int flags = 0;
  std::vector<CompatEnumValue> values;
  StringCheck check = StringCheck::kNone;
};

struct CompatSpec {
  const char* name;
  const char* alias;  // Redis's second name (slaveof for replicaof), or nullptr
  bool runtime_mutable;
  bool multi_arg;
  CompatType type;
  const char* default_value;  // as CONFIG GET shows it
  CompatRule rule;
};

std::span<const CompatSpec> CompatDirectives();

// Validates `args` as Redis does and stores the value CONFIG GET will show
// in `config->compat`. Returns "" or Redis's reason.
std::string SetCompat(const CompatSpec& spec, Config* config, const std::vector<std::string>& args);

// The stored value, or the default.
std::string GetCompat(const CompatSpec& spec, const Config& config);

// Names redis-server 7.0 still reads and ignores (deprecated directives).
bool IsIgnoredRedisDirective(std::string_view name, size_t arg_count);

}  // namespace lockd::config_internal
