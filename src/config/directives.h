// The table of configuration directives: for each, its name, how many
// arguments it takes, whether CONFIG SET may change it while the server
// runs, and how to validate, store and show its value. Every public function
// of lockd/config.h works from this one table, so a directive added here is
// parsed, shown by CONFIG GET and settable (or refused) by CONFIG SET at once.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/compat_directives.h"
#include "lockd/config.h"

namespace lockd::config_internal {

struct Directive {
  const char* name;
  int min_args;
  int max_args;  // -1: no upper bound (the setter checks what it needs)
  bool runtime_mutable;
  // CONFIG SET gives one string; true splits it on spaces into arguments.
  bool multi_arg;
  // Validates `args` and stores them in `*config`. Returns "" on success or
  // Redis's reason (e.g. "argument must be 'yes' or 'no'"). On failure
  // `*config` is left untouched.
  std::string (*set)(Config* config, const std::vector<std::string>& args);
  // The value as CONFIG GET shows it.
  std::string (*get)(const Config& config);
  // For an alias, the directive it stands for; nullptr otherwise.
  const char* alias_of = nullptr;
  // For a Redis directive accepted for compatibility only: its rule (then
  // `set` and `get` are null).
  const CompatSpec* compat = nullptr;
};

// Validates and stores `args` for `d` ("" or Redis's reason), and shows its
// value, whichever kind of directive it is.
std::string SetDirectiveValue(const Directive& d, Config* config,
                              const std::vector<std::string>& args);
std::string GetDirectiveValue(const Directive& d, const Config& config);

// Every directive, in the order CONFIG GET lists them: lockd's own, then the
// Redis compatibility ones. Aliases (Redis 7's lua-time-limit for
// busy-reply-threshold) are entries of their own that read and write the
// same field.
std::span<const Directive> AllDirectives();

// Case-insensitive lookup; nullptr when unknown.
const Directive* FindDirective(std::string_view name);

}  // namespace lockd::config_internal
